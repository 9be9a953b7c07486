use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{SnapshotFile, SnapshotFileError, SnapshotFiles};

/// A fresh directory under the system's temporary directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "quotaroute-snapshots-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn writes_are_numbered_the_newest_is_read_and_old_ones_pruned() {
    let dir = Dir::new();
    let files = SnapshotFiles::new(&dir.0, "snapshot", "json")
        .unwrap()
        .keep(2)
        .unwrap();
    assert_eq!(files.latest().unwrap(), None);
    assert!(files.read_latest().unwrap().is_none());
    for i in 1..=4u64 {
        let written = files.write(format!("{{\"n\": {i}}}").as_bytes()).unwrap();
        assert_eq!(written.sequence, i);
        assert_eq!(written.path, files.path_of(i));
    }
    assert_eq!(
        dir.names(),
        ["snapshot-000000000003.json", "snapshot-000000000004.json"]
    );
    let (newest, bytes) = files.read_latest().unwrap().unwrap();
    assert_eq!(newest.sequence, 4);
    assert_eq!(bytes, b"{\"n\": 4}");
    let listed: Vec<u64> = files.list().unwrap().iter().map(|f| f.sequence).collect();
    assert_eq!(listed, [4, 3]);
}

#[test]
fn a_crash_mid_write_never_leaves_a_truncated_newest_snapshot() {
    let dir = Dir::new();
    let files = SnapshotFiles::new(&dir.0, "survey", "json").unwrap();
    files.write(b"{\"complete\": true}").unwrap();
    // A crash during the next write: its temporary file holds half a document and was never
    // renamed.
    let stray = dir.0.join(".survey-000000000002.json.999999.tmp");
    fs::write(&stray, b"{\"compl").unwrap();
    let (newest, bytes) = files.read_latest().unwrap().unwrap();
    assert_eq!(newest.sequence, 1);
    assert_eq!(bytes, b"{\"complete\": true}");
    // The next write takes sequence 2 and clears the leftover.
    let next = files.write(b"{\"complete\": 2}").unwrap();
    assert_eq!(next.sequence, 2);
    assert!(!stray.exists());
    assert_eq!(
        dir.names(),
        ["survey-000000000001.json", "survey-000000000002.json"]
    );
}

#[test]
fn a_failing_serialiser_writes_nothing_and_leaves_no_temporary_file() {
    let dir = Dir::new();
    let files = SnapshotFiles::new(&dir.0, "s", "json").unwrap();
    files.write(b"one").unwrap();
    let failed = files
        .write_with(|w| {
            w.write_all(b"half a snap")?;
            Err(std::io::Error::other("the serialiser gave up"))
        })
        .unwrap_err();
    match &failed {
        SnapshotFileError::Serialize { path, source } => {
            assert_eq!(path, &files.path_of(2));
            assert!(source.to_string().contains("gave up"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(dir.names(), ["s-000000000001.json"]);
    assert_eq!(files.read_latest().unwrap().unwrap().1, b"one");
}

#[test]
fn other_files_are_not_snapshots() {
    let dir = Dir::new();
    for name in [
        "snapshot-12.txt",
        "snapshot-.json",
        "snapshot-1x.json",
        "snapshots-000000000009.json",
        "other-000000000008.json",
        "snapshot-99999999999999999999999.json",
        "snapshot-000000000007.json.tmp",
    ] {
        fs::write(dir.0.join(name), b"x").unwrap();
    }
    fs::write(dir.0.join("snapshot-5.json"), b"five").unwrap();
    let files = SnapshotFiles::new(&dir.0, "snapshot", "json").unwrap();
    assert_eq!(
        files.latest().unwrap(),
        Some(SnapshotFile {
            sequence: 5,
            path: dir.0.join("snapshot-5.json")
        })
    );
    assert_eq!(files.write(b"six").unwrap().sequence, 6);
    // Others' files stay.
    assert!(dir.0.join("other-000000000008.json").exists());
    assert!(dir.0.join("snapshot-000000000007.json.tmp").exists());
}

#[test]
fn bad_names_and_keep_are_refused_naming_the_field() {
    for (prefix, extension, field) in [
        ("", "json", "prefix"),
        ("a/b", "json", "prefix"),
        ("a.b", "json", "prefix"),
        (".hidden", "json", "prefix"),
        ("ok", "", "extension"),
        ("ok", "js/on", "extension"),
    ] {
        match SnapshotFiles::new("/nowhere", prefix, extension) {
            Err(SnapshotFileError::Name {
                field: f, value, ..
            }) => {
                assert_eq!(f, field, "{prefix:?} {extension:?}");
                assert_eq!(value, if field == "prefix" { prefix } else { extension });
            }
            other => panic!("{prefix:?} {extension:?}: {other:?}"),
        }
    }
    assert!(matches!(
        SnapshotFiles::new("/nowhere", "ok", "json.gz")
            .unwrap()
            .keep(0),
        Err(SnapshotFileError::KeepZero)
    ));
}

#[test]
fn a_missing_directory_is_an_io_error_naming_it() {
    let dir = Dir::new();
    let missing = dir.0.join("not-there");
    let files = SnapshotFiles::new(&missing, "s", "json").unwrap();
    match files.write(b"x").unwrap_err() {
        SnapshotFileError::Io {
            operation, path, ..
        } => {
            assert_eq!(operation, "list");
            assert_eq!(path, missing);
        }
        other => panic!("{other:?}"),
    }
}
