//! Snapshot files written atomically, with a sequence number: [`SnapshotFiles`].

use std::error::Error as StdError;
use std::fs::{self, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Digits of the zero-padded sequence number in a file name.
const DIGITS: usize = 12;

/// Why a snapshot file could not be written, listed or read. A failed write leaves the
/// directory's snapshots as they were (its temporary file is removed).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SnapshotFileError {
    /// `prefix` or `extension` is empty or holds a character that cannot be in one file
    /// name segment (`/`, `\`, `.` in the prefix, a NUL, …).
    #[error("snapshot file {field} `{value}` is not a plain file name part: {reason}")]
    Name {
        /// `prefix` or `extension`.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `keep` is 0: every snapshot would be pruned, the one just written included.
    #[error("snapshot files: keep is 0, at least the newest snapshot must be kept")]
    KeepZero,
    /// The sequence number reached `u64::MAX`; no newer snapshot can be numbered.
    #[error("snapshot files in {}: the sequence number is exhausted", dir.display())]
    SequenceExhausted {
        /// The directory.
        dir: PathBuf,
    },
    /// The caller's serialiser failed ([`SnapshotFiles::write_with`]); nothing was written.
    #[error("snapshot {}: the serialiser failed: {source}", path.display())]
    Serialize {
        /// The snapshot that was being written.
        path: PathBuf,
        /// The serialiser's error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// A file-system call failed.
    #[error("snapshot files: cannot {operation} {}: {source}", path.display())]
    Io {
        /// What was being done: `create`, `write`, `sync`, `rename`, `list`, `read`, `remove`.
        operation: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

fn io_error(operation: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SnapshotFileError {
    let path = path.to_path_buf();
    move |source| SnapshotFileError::Io {
        operation,
        path,
        source,
    }
}

/// One snapshot file: its sequence number and path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SnapshotFile {
    /// The sequence number: one more than the newest before it (the first is 1).
    pub sequence: u64,
    /// Where it is.
    pub path: PathBuf,
}

/// Snapshot files written atomically, with a sequence number: a crash at any moment leaves
/// the newest complete snapshot as the newest one found, never a truncated one.
///
/// [`SnapshotFiles`] keeps `PREFIX-SEQUENCE.EXT` files in one directory (the sequence zero
/// padded to 12 digits, so names sort as numbers do). A write goes to a temporary file in the
/// same directory, is flushed and fsynced, renamed to its final name (atomic on one file
/// system), and the directory is fsynced so the rename itself survives a power cut. Only
/// then are older snapshots pruned to the newest `keep`. A crash before the rename leaves a
/// stray temporary file that no reader takes for a snapshot and the next write removes.
///
/// One writer per directory: two processes writing the same directory could pick the same
/// sequence number (give each node its own directory).
///
/// ```
/// use quotaroute::state::SnapshotFiles;
/// # let dir = std::env::temp_dir().join(format!("quotaroute-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let files = SnapshotFiles::new(&dir, "survey-42", "json")?.keep(3)?;
/// let first = files.write(br#"{"wave": 1}"#)?;
/// let second = files.write_with(|w| w.write_all(br#"{"wave": 2}"#))?;
/// assert_eq!(second.sequence, first.sequence + 1);
/// // On start-up: the newest complete snapshot.
/// let (newest, bytes) = files.read_latest()?.expect("two were written");
/// assert_eq!(newest, second);
/// assert_eq!(bytes, br#"{"wave": 2}"#);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotFiles {
    dir: PathBuf,
    prefix: String,
    extension: String,
    keep: usize,
}

fn check_name(field: &'static str, value: &str, dots: bool) -> Result<(), SnapshotFileError> {
    let reason = if value.is_empty() {
        Some("it is empty")
    } else if value
        .chars()
        .any(|c| matches!(c, '/' | '\\' | '\0' | ':') || c.is_control())
    {
        Some("it holds a path separator or control character")
    } else if !dots && value.contains('.') {
        Some("it holds a `.` (the sequence number is read up to the extension's dot)")
    } else if value.starts_with('.') {
        Some("it starts with `.`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(SnapshotFileError::Name {
            field,
            value: value.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

impl SnapshotFiles {
    /// Snapshots named `PREFIX-SEQUENCE.EXTENSION` in `dir` (which must exist), the newest 10
    /// kept.
    ///
    /// # Errors
    /// [`SnapshotFileError::Name`] for an empty prefix or extension, or one with a path
    /// separator, a control character or a leading `.` (and a `.` anywhere in the prefix).
    pub fn new(
        dir: impl Into<PathBuf>,
        prefix: &str,
        extension: &str,
    ) -> Result<SnapshotFiles, SnapshotFileError> {
        check_name("prefix", prefix, false)?;
        check_name("extension", extension, true)?;
        Ok(SnapshotFiles {
            dir: dir.into(),
            prefix: prefix.to_owned(),
            extension: extension.to_owned(),
            keep: 10,
        })
    }

    /// Keeps the newest `keep` snapshots after each write (default 10).
    ///
    /// # Errors
    /// [`SnapshotFileError::KeepZero`] for 0.
    pub fn keep(mut self, keep: usize) -> Result<SnapshotFiles, SnapshotFileError> {
        if keep == 0 {
            return Err(SnapshotFileError::KeepZero);
        }
        self.keep = keep;
        Ok(self)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of snapshot `sequence`.
    pub fn path_of(&self, sequence: u64) -> PathBuf {
        self.dir.join(format!(
            "{}-{sequence:0DIGITS$}.{}",
            self.prefix, self.extension
        ))
    }

    /// The sequence number in a snapshot's file name, or `None` for any other file
    /// (temporary files included).
    fn sequence_of(&self, name: &str) -> Option<u64> {
        let digits = name
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('-')?
            .strip_suffix(self.extension.as_str())?
            .strip_suffix('.')?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    /// Whether a file name is one of this set's temporary files.
    fn is_temporary(&self, name: &str) -> bool {
        name.strip_prefix('.')
            .and_then(|n| n.strip_prefix(self.prefix.as_str()))
            .is_some_and(|n| n.starts_with('-') && n.ends_with(".tmp"))
    }

    /// Every snapshot in the directory, newest first. Temporary files and other files are
    /// left out.
    ///
    /// # Errors
    /// [`SnapshotFileError::Io`] when the directory cannot be read.
    pub fn list(&self) -> Result<Vec<SnapshotFile>, SnapshotFileError> {
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_error("list", &self.dir))? {
            let entry = entry.map_err(io_error("list", &self.dir))?;
            let name = entry.file_name();
            if let Some(sequence) = name.to_str().and_then(|n| self.sequence_of(n)) {
                found.push(SnapshotFile {
                    sequence,
                    path: entry.path(),
                });
            }
        }
        found.sort_unstable_by(|a, b| b.cmp(a));
        Ok(found)
    }

    /// The newest snapshot, if any.
    ///
    /// # Errors
    /// As [`list`](Self::list).
    pub fn latest(&self) -> Result<Option<SnapshotFile>, SnapshotFileError> {
        Ok(self.list()?.into_iter().next())
    }

    /// The newest snapshot and its bytes, if any. If it does not parse (a disk fault: a
    /// crash cannot leave a truncated one), try the older ones from [`list`](Self::list).
    ///
    /// # Errors
    /// As [`list`](Self::list); [`SnapshotFileError::Io`] when the file cannot be read.
    pub fn read_latest(&self) -> Result<Option<(SnapshotFile, Vec<u8>)>, SnapshotFileError> {
        let Some(file) = self.latest()? else {
            return Ok(None);
        };
        let bytes = fs::read(&file.path).map_err(io_error("read", &file.path))?;
        Ok(Some((file, bytes)))
    }

    /// Writes `bytes` as the next snapshot (see [`write_with`](Self::write_with)).
    ///
    /// # Errors
    /// As [`write_with`](Self::write_with).
    pub fn write(&self, bytes: &[u8]) -> Result<SnapshotFile, SnapshotFileError> {
        self.write_with(|w| w.write_all(bytes))
    }

    /// Writes the next snapshot (sequence: the newest's + 1, or 1) with `serialise`, which
    /// gets a buffered writer (e.g. `|w| serde_json::to_writer(w, &snapshot)`): to a
    /// temporary file, flushed, fsynced, renamed to its final name, the directory fsynced;
    /// then the oldest beyond `keep` and any stray temporary files are removed.
    ///
    /// # Errors
    /// [`SnapshotFileError::Serialize`] when `serialise` fails; [`SnapshotFileError::Io`]
    /// when a file-system call fails; [`SnapshotFileError::SequenceExhausted`]. The new
    /// snapshot is then not written (its temporary file is removed) and the older ones are
    /// untouched. A failure while pruning, after the snapshot is in place, is reported as
    /// [`SnapshotFileError::Io`] with operation `remove`: the new snapshot is written then.
    pub fn write_with<F, E>(&self, serialise: F) -> Result<SnapshotFile, SnapshotFileError>
    where
        F: FnOnce(&mut dyn Write) -> Result<(), E>,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        let existing = self.list()?;
        let sequence = match existing.first() {
            None => 1,
            Some(newest) => newest.sequence.checked_add(1).ok_or_else(|| {
                SnapshotFileError::SequenceExhausted {
                    dir: self.dir.clone(),
                }
            })?,
        };
        let path = self.path_of(sequence);
        let temporary = self.dir.join(format!(
            ".{}-{sequence:0DIGITS$}.{}.{}.tmp",
            self.prefix,
            self.extension,
            std::process::id()
        ));
        let written = self.write_temporary(&temporary, &path, serialise);
        let renamed = written
            .and_then(|()| fs::rename(&temporary, &path).map_err(io_error("rename", &temporary)));
        if let Err(e) = renamed {
            // Best effort: a leftover is ignored by readers and removed by the next write.
            let _ = fs::remove_file(&temporary);
            return Err(e);
        }
        sync_dir(&self.dir)?;
        self.prune(&existing)?;
        Ok(SnapshotFile { sequence, path })
    }

    /// Creates, fills, flushes and fsyncs the temporary file.
    fn write_temporary<F, E>(
        &self,
        temporary: &Path,
        path: &Path,
        serialise: F,
    ) -> Result<(), SnapshotFileError>
    where
        F: FnOnce(&mut dyn Write) -> Result<(), E>,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(temporary)
            .map_err(io_error("create", temporary))?;
        let mut out = BufWriter::new(file);
        serialise(&mut out).map_err(|e| SnapshotFileError::Serialize {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        let file = out
            .into_inner()
            .map_err(|e| io_error("write", temporary)(e.into_error()))?;
        file.sync_all().map_err(io_error("sync", temporary))
    }

    /// Removes the snapshots beyond `keep` (counting the one just written) and every stray
    /// temporary file of this set.
    fn prune(&self, before: &[SnapshotFile]) -> Result<(), SnapshotFileError> {
        for old in before.iter().skip(self.keep.saturating_sub(1)) {
            match fs::remove_file(&old.path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io_error("remove", &old.path)(e));
                }
                _ => {}
            }
        }
        for entry in fs::read_dir(&self.dir).map_err(io_error("list", &self.dir))? {
            let entry = entry.map_err(io_error("list", &self.dir))?;
            if entry
                .file_name()
                .to_str()
                .is_some_and(|n| self.is_temporary(n))
            {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(())
    }
}

/// Fsyncs a directory, so a rename in it survives a power cut. (Only where a directory can be
/// opened as a file; elsewhere the rename is as durable as the file system makes it.)
fn sync_dir(dir: &Path) -> Result<(), SnapshotFileError> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("sync", dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests;
