//! What the blocking and the async Redis stores share: the keys, the scripts, each call's
//! arguments, the decoding of replies and the classification of failures.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::{ErrorKind, RedisError, Script, ScriptInvocation, ServerErrorKind, Value};
use smallvec::SmallVec;

use crate::live::{Completion, Timestamp};
use crate::store::change::reconcile;
use crate::store::error::check_respondent;
use crate::store::{
    Change, ChangeKind, Count, Counter, CounterId, Hold, Layout, Released, StoreError,
};

use super::{LAYOUT_VERSION, RedisOptions};

/// The scripts, one per operation, hashed once per process.
pub(super) struct Scripts {
    pub join: Script,
    pub hold: Script,
    pub commit: Script,
    pub release: Script,
    pub release_all: Script,
    pub expire: Script,
    pub read: Script,
    pub purge: Script,
    pub save_interview: Script,
    pub load_interview: Script,
    pub set_max: Script,
    pub changes: Script,
}

pub(super) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    join: Script::new(include_str!("lua/join.lua")),
    hold: Script::new(include_str!("lua/hold.lua")),
    commit: Script::new(include_str!("lua/commit.lua")),
    release: Script::new(include_str!("lua/release.lua")),
    release_all: Script::new(include_str!("lua/release_all.lua")),
    expire: Script::new(include_str!("lua/expire.lua")),
    read: Script::new(include_str!("lua/read.lua")),
    purge: Script::new(include_str!("lua/purge.lua")),
    save_interview: Script::new(include_str!("lua/save_interview.lua")),
    load_interview: Script::new(include_str!("lua/load_interview.lua")),
    set_max: Script::new(include_str!("lua/set_max.lua")),
    changes: Script::new(include_str!("lua/changes.lua")),
});

/// A survey's keys. All carry the hash tag `{survey}`, so they live in one Cluster slot and
/// a script may touch them together.
#[derive(Clone, Debug)]
pub(super) struct Keys {
    /// Hash: `version`, `n`, `name:<i>`, `max:<i>`.
    pub meta: String,
    /// Hash: `m<i>` max, `p<i>` pending, `c<i>` completed of counter `i`.
    pub counts: String,
    /// Hash: respondent → their holds and completes.
    pub resp: String,
    /// Sorted set: `<category>:<respondent>` of each hold, scored by its deadline.
    pub due: String,
    /// Prefix of the string keys `<prefix><respondent>` holding saved interviews (each with
    /// its own expiry, so a sweep never has to find them).
    pub interview: String,
    /// List: the administrative changes, `counter from to kind`, in order.
    pub changes: String,
}

impl Keys {
    pub fn new(survey: &str) -> Keys {
        let key = |what: &str| format!("qr:v{LAYOUT_VERSION}:{{{survey}}}:{what}");
        Keys {
            meta: key("meta"),
            counts: key("counts"),
            resp: key("resp"),
            due: key("due"),
            interview: key("iv:"),
            changes: key("changes"),
        }
    }
}

/// Deadlines are kept below 10^13 ms past the server's now (about 317 years): Lua keeps them
/// as exact doubles and writes them with 14 significant digits.
const MAX_TTL_MS: u64 = 10_000_000_000_000;

/// One script call: which script, its keys and arguments, and whether it writes (so a lost
/// reply leaves its outcome unknown).
pub(super) struct Call {
    pub script: &'static Script,
    pub keys: SmallVec<[String; 4]>,
    pub args: Vec<String>,
    pub writes: bool,
}

impl Call {
    fn new(script: &'static Script, keys: &[&str], writes: bool) -> Call {
        Call {
            script,
            keys: keys.iter().map(|k| k.to_string()).collect(),
            args: Vec::new(),
            writes,
        }
    }

    /// The invocation to send (built anew for each attempt).
    pub fn invocation(&self) -> ScriptInvocation<'static> {
        let mut inv = self.script.prepare_invoke();
        for k in &self.keys {
            inv.key(k.as_str());
        }
        for a in &self.args {
            inv.arg(a.as_str());
        }
        inv
    }

    pub fn join(keys: &Keys, layout: &Layout) -> Call {
        let mut call = Call::new(
            &SCRIPTS.join,
            &[&keys.meta, &keys.counts, &keys.changes],
            true,
        );
        call.args.push(LAYOUT_VERSION.to_string());
        call.args.push(layout.len().to_string());
        for c in layout.counters() {
            call.args.push(c.name.clone());
            call.args.push(c.max.to_string());
        }
        call
    }

    fn respondent(script: &'static Script, keys: &Keys, respondent: &str) -> Call {
        let mut call = Call::new(script, &[&keys.counts, &keys.resp, &keys.due], true);
        call.args.push(respondent.to_string());
        call
    }

    /// The hold call, after checking the respondent and counters; a counter named twice is
    /// sent once (it takes one slot).
    pub fn hold(
        keys: &Keys,
        layout: &Layout,
        respondent: &str,
        category: u32,
        counters: &[CounterId],
        ttl_ms: u64,
    ) -> Result<Call, StoreError> {
        check_respondent(respondent)?;
        layout.check_counters(counters)?;
        let mut call = Call::respondent(&SCRIPTS.hold, keys, respondent);
        call.args.push(category.to_string());
        call.args.push(ttl_ms.min(MAX_TTL_MS).to_string());
        let mut seen: SmallVec<[CounterId; 8]> = SmallVec::new();
        for &c in counters {
            if !seen.contains(&c) {
                seen.push(c);
                call.args.push(c.to_string());
            }
        }
        Ok(call)
    }

    /// The commit or release call of one respondent's category.
    pub fn of_category(
        script: &'static Script,
        keys: &Keys,
        respondent: &str,
        category: u32,
    ) -> Result<Call, StoreError> {
        check_respondent(respondent)?;
        let mut call = Call::respondent(script, keys, respondent);
        call.args.push(category.to_string());
        Ok(call)
    }

    pub fn release_all(keys: &Keys, respondent: &str) -> Result<Call, StoreError> {
        check_respondent(respondent)?;
        Ok(Call::respondent(&SCRIPTS.release_all, keys, respondent))
    }

    pub fn expire(keys: &Keys, batch: u32) -> Call {
        let mut call = Call::new(
            &SCRIPTS.expire,
            &[&keys.counts, &keys.resp, &keys.due],
            true,
        );
        call.args.push(batch.max(1).to_string());
        call
    }

    pub fn save_interview(
        keys: &Keys,
        respondent: &str,
        state: &str,
        ttl_ms: u64,
    ) -> Result<Call, StoreError> {
        check_respondent(respondent)?;
        let key = format!("{}{respondent}", keys.interview);
        let mut call = Call::new(&SCRIPTS.save_interview, &[&key], true);
        call.args.push(state.to_string());
        call.args.push(ttl_ms.clamp(1, MAX_TTL_MS).to_string());
        Ok(call)
    }

    pub fn load_interview(keys: &Keys, respondent: &str) -> Result<Call, StoreError> {
        check_respondent(respondent)?;
        let key = format!("{}{respondent}", keys.interview);
        Ok(Call::new(&SCRIPTS.load_interview, &[&key], false))
    }

    pub fn read(keys: &Keys) -> Call {
        Call::new(&SCRIPTS.read, &[&keys.counts], false)
    }

    pub fn purge(keys: &Keys) -> Call {
        Call::new(
            &SCRIPTS.purge,
            &[
                &keys.meta,
                &keys.counts,
                &keys.resp,
                &keys.due,
                &keys.changes,
            ],
            true,
        )
    }

    pub fn set_max(
        keys: &Keys,
        layout: &Layout,
        counter: CounterId,
        max: u32,
        kind: ChangeKind,
    ) -> Result<Call, StoreError> {
        layout.check_counters(&[counter])?;
        // Not idempotent (a repeat records a second change): a lost reply is indeterminate.
        let mut call = Call::new(
            &SCRIPTS.set_max,
            &[&keys.counts, &keys.meta, &keys.changes],
            true,
        );
        call.args.push(counter.to_string());
        call.args.push(max.to_string());
        call.args.push(kind.as_str().to_string());
        Ok(call)
    }

    pub fn changes(keys: &Keys) -> Call {
        Call::new(&SCRIPTS.changes, &[&keys.changes], false)
    }
}

fn protocol(detail: impl Into<String>, source: Option<RedisError>) -> StoreError {
    StoreError::Protocol {
        detail: detail.into(),
        source: source.map(|e| Arc::new(e) as _),
    }
}

fn ints(v: Value, what: &str) -> Result<Vec<i64>, StoreError> {
    redis::from_redis_value(v).map_err(|e| StoreError::Protocol {
        detail: format!("{what}: reply is not a list of integers"),
        source: Some(Arc::new(e)),
    })
}

fn fields(v: Value, what: &str) -> Result<HashMap<String, String>, StoreError> {
    redis::from_redis_value(v).map_err(|e| StoreError::Protocol {
        detail: format!("{what}: reply is not a hash"),
        source: Some(Arc::new(e)),
    })
}

fn to_u32(v: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| protocol(format!("{what}: {v} is out of range"), None))
}

fn to_time(v: i64) -> Result<Timestamp, StoreError> {
    u64::try_from(v)
        .map(Timestamp)
        .map_err(|_| protocol(format!("hold: deadline {v} is negative"), None))
}

pub(super) fn decode_hold(v: Value) -> Result<Hold, StoreError> {
    match ints(v, "hold")?.as_slice() {
        [0, d] => Ok(Hold::Accepted {
            deadline: to_time(*d)?,
        }),
        [1, d] => Ok(Hold::AlreadyHeld {
            deadline: to_time(*d)?,
        }),
        [2, _] => Ok(Hold::AlreadyCompleted),
        [3, c] => Ok(Hold::Full {
            counter: to_u32(*c, "hold")?,
        }),
        other => Err(protocol(format!("hold: unexpected reply {other:?}"), None)),
    }
}

pub(super) fn decode_commit(v: Value) -> Result<Completion, StoreError> {
    match redis::from_redis_value::<i64>(v) {
        Ok(0) => Ok(Completion::Completed),
        Ok(1) => Ok(Completion::AlreadyCompleted),
        Ok(2) => Ok(Completion::Expired),
        Ok(3) => Ok(Completion::NotReserved),
        Ok(other) => Err(protocol(format!("commit: unexpected reply {other}"), None)),
        Err(e) => Err(StoreError::Protocol {
            detail: "commit: reply is not an integer".into(),
            source: Some(Arc::new(e)),
        }),
    }
}

pub(super) fn decode_release(v: Value) -> Result<bool, StoreError> {
    match redis::from_redis_value::<i64>(v) {
        Ok(live) => Ok(live == 1),
        Err(e) => Err(StoreError::Protocol {
            detail: "release: reply is not an integer".into(),
            source: Some(Arc::new(e)),
        }),
    }
}

pub(super) fn decode_release_all(v: Value) -> Result<Vec<Released>, StoreError> {
    let flat = ints(v, "release_all")?;
    let mut out = Vec::new();
    let mut rest = flat.as_slice();
    while let [category, k, tail @ ..] = rest {
        let k = usize::try_from(*k)
            .ok()
            .filter(|&k| k <= tail.len())
            .ok_or_else(|| protocol("release_all: malformed reply", None))?;
        let counters = tail[..k]
            .iter()
            .map(|&c| to_u32(c, "release_all"))
            .collect::<Result<_, _>>()?;
        out.push(Released {
            category: to_u32(*category, "release_all")?,
            counters,
        });
        rest = &tail[k..];
    }
    if !rest.is_empty() {
        return Err(protocol("release_all: malformed reply", None));
    }
    Ok(out)
}

/// `(released, looked at)` of one sweep batch.
pub(super) fn decode_expire(v: Value) -> Result<(u64, u64), StoreError> {
    match ints(v, "expire")?.as_slice() {
        &[released, seen] if released >= 0 && seen >= 0 => Ok((released as u64, seen as u64)),
        other => Err(protocol(
            format!("expire: unexpected reply {other:?}"),
            None,
        )),
    }
}

pub(super) fn decode_read(v: Value, len: usize, out: &mut Vec<Count>) -> Result<(), StoreError> {
    let mut h = fields(v, "read")?;
    if h.is_empty() {
        return Err(protocol(
            "read: the survey's counters are missing (was it purged?)",
            None,
        ));
    }
    let mut num = |f: String| -> Result<u32, StoreError> {
        let raw = h
            .remove(&f)
            .ok_or_else(|| protocol(format!("read: field {f} missing"), None))?;
        raw.parse::<i64>()
            .map_err(|_| protocol(format!("read: field {f} = {raw:?}"), None))
            .and_then(|v| to_u32(v, "read"))
    };
    out.clear();
    for i in 0..len {
        out.push(Count {
            max: num(format!("m{i}"))?,
            pending: num(format!("p{i}"))?,
            completed: num(format!("c{i}"))?,
        });
    }
    Ok(())
}

pub(super) fn decode_load_interview(v: Value) -> Result<Option<String>, StoreError> {
    match v {
        Value::Nil => Ok(None),
        Value::BulkString(b) => String::from_utf8(b)
            .map(Some)
            .map_err(|_| protocol("load_interview: not UTF-8", None)),
        other => Err(protocol(format!("load_interview: {other:?}"), None)),
    }
}

/// Checks the survey's meta as stored (the maxes now) and its recorded changes against the
/// layout given ([`reconcile`]): the stored layout when they agree, the typed error when
/// they do not.
pub(super) fn decode_join(v: Value, given: &Layout) -> Result<Layout, StoreError> {
    let Value::Array(mut parts) = v else {
        return Err(protocol(format!("join: {v:?}"), None));
    };
    if parts.len() != 2 {
        return Err(protocol("join: expected meta and changes", None));
    }
    let changes = decode_changes(parts.pop().unwrap_or(Value::Nil))?;
    let h = fields(parts.pop().unwrap_or(Value::Nil), "join")?;
    let survey = given.survey().to_string();
    let version = h.get("version").cloned().unwrap_or_default();
    if version != LAYOUT_VERSION.to_string() {
        return Err(StoreError::Version {
            survey,
            found: version,
            expected: LAYOUT_VERSION,
        });
    }
    let n: usize = h
        .get("n")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| protocol("join: meta has no counter count", None))?;
    let mut counters = Vec::with_capacity(n);
    for i in 0..n {
        let name = h.get(&format!("name:{i}"));
        let max = h.get(&format!("max:{i}")).and_then(|m| m.parse().ok());
        match (name, max) {
            (Some(name), Some(max)) => counters.push(Counter::new(name.as_str(), max)),
            _ => return Err(protocol(format!("join: meta lacks counter {i}"), None)),
        }
    }
    let stored = Layout::new(survey.as_str(), counters)
        .map_err(|e| protocol(format!("join: stored layout is invalid: {e}"), None))?;
    reconcile(given, &stored, &changes)?;
    Ok(stored)
}

/// The changes list: entries `counter from to kind`, the sequence their position + 1.
pub(super) fn decode_changes(v: Value) -> Result<Vec<Change>, StoreError> {
    let entries = match v {
        Value::Array(entries) => entries,
        Value::Nil => Vec::new(),
        other => return Err(protocol(format!("changes: {other:?}"), None)),
    };
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let text = match e {
                Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
                Value::SimpleString(s) => s,
                other => return Err(protocol(format!("changes: entry {other:?}"), None)),
            };
            let w: Vec<&str> = text.split(' ').collect();
            let bad = || protocol(format!("changes: entry {text:?}"), None);
            let [counter, from, to, kind] = w.as_slice() else {
                return Err(bad());
            };
            Ok(Change {
                seq: i as u64 + 1,
                counter: counter.parse().map_err(|_| bad())?,
                from: from.parse().map_err(|_| bad())?,
                to: to.parse().map_err(|_| bad())?,
                kind: ChangeKind::parse(kind).ok_or_else(bad)?,
            })
        })
        .collect()
}

/// The reply of `set_max.lua`, `{seq, from}`, as the change it recorded.
pub(super) fn decode_set_max(
    v: Value,
    counter: CounterId,
    to: u32,
    kind: ChangeKind,
) -> Result<Change, StoreError> {
    let r = ints(v, "set_max")?;
    match r.as_slice() {
        &[seq, from] => Ok(Change {
            seq: u64::try_from(seq).map_err(|_| protocol("set_max: sequence", None))?,
            counter,
            from: to_u32(from, "set_max")?,
            to,
            kind,
        }),
        _ => Err(protocol(format!("set_max: {r:?}"), None)),
    }
}

/// What to do after a failed attempt.
pub(super) enum Failure {
    /// Try again after a backoff; `maybe_applied` when the request may have run.
    Retry { maybe_applied: bool },
    /// Give up with this error.
    Fatal(StoreError),
}

/// Sorts a Redis error: transient ones are retried, the rest reported as they are. `sent`
/// is true when the request had been written to a connection (so a write may have run).
pub(super) fn classify(e: &RedisError, sent: bool) -> Failure {
    match e.kind() {
        ErrorKind::AuthenticationFailed | ErrorKind::Server(ServerErrorKind::NoPerm) => {
            Failure::Fatal(protocol("authentication failed", Some(e.clone())))
        }
        // The server refused the command before running it: loading its AOF after a
        // restart, a Cluster failover in progress, a replica promoted.
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ReadOnly
            | ServerErrorKind::Moved
            | ServerErrorKind::Ask,
        ) => Failure::Retry {
            maybe_applied: false,
        },
        ErrorKind::Io | ErrorKind::ClusterConnectionNotFound => Failure::Retry {
            maybe_applied: sent,
        },
        _ if e.is_timeout() || e.is_connection_dropped() => Failure::Retry {
            maybe_applied: sent,
        },
        _ => Failure::Fatal(protocol(e.to_string(), Some(e.clone()))),
    }
}

/// The wait before retry `attempt` (1 for the first retry): `backoff_base` doubled per
/// retry, at most `backoff_max`.
pub(super) fn backoff(options: &RedisOptions, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    options
        .backoff_base
        .saturating_mul(factor)
        .min(options.backoff_max)
}

/// The error after the last attempt.
pub(super) fn unavailable(attempts: u32, indeterminate: bool, e: RedisError) -> StoreError {
    StoreError::Unavailable {
        attempts,
        indeterminate,
        source: Arc::new(e),
    }
}
