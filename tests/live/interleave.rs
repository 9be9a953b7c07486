//! Exhaustive interleavings of the reservation path's atomic steps.
//!
//! The engine takes a slot with one compare-and-swap loop on the open-slots word
//! (`fetch_update(|v| v.checked_sub(1))`), gives one back by decrementing `pending` the same
//! way and then adding to `open`, and commits by decrementing `pending` and adding to
//! `completed`. Each loop is a load followed by CAS attempts. This test models every such
//! load, CAS and add as one step and runs every possible schedule of several reservers,
//! releasers and committers, checking at every step that completes plus slots held never pass
//! the target and, at the end, that nothing was lost. The same enumeration finds the overfill
//! of check-then-count (read the count, add later), so it can tell.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shared {
    open: i64,
    pending: i64,
    completed: i64,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Reserve, then complete.
    ReserveComplete,
    /// Reserve, then abandon.
    ReserveAbandon,
    /// Abandon a slot held before the run started.
    Release,
    /// Check-then-count: read completed + pending, add later (the broken engine).
    CheckThenCount,
}

#[derive(Clone, Copy, Debug)]
struct Thread {
    kind: Kind,
    pc: u8,
    seen: i64,
    /// Holds a slot it took (for the invariant's bookkeeping).
    holds: bool,
}

const TARGET: i64 = 3;

/// One atomic step of `t`; false when the thread has finished.
fn step(s: &mut Shared, t: &mut Thread) -> bool {
    use Kind::*;
    match (t.kind, t.pc) {
        // take_slot: load, then CAS(open, seen, seen - 1) while seen > 0.
        (ReserveComplete | ReserveAbandon, 0) => {
            t.seen = s.open;
            t.pc = 1;
        }
        (ReserveComplete | ReserveAbandon, 1) => {
            if t.seen == 0 {
                t.pc = 99; // refused: Full
            } else if s.open == t.seen {
                s.open -= 1;
                t.holds = true;
                t.pc = 2;
            } else {
                t.seen = s.open; // CAS failed: retry with the value seen
            }
        }
        (ReserveComplete | ReserveAbandon, 2) => {
            s.pending += 1;
            t.pc = 3;
        }
        // commit / release: untake(pending) as load + CAS, then add.
        (ReserveComplete | ReserveAbandon, 3) | (Release, 0) => {
            t.seen = s.pending;
            t.pc = 4;
        }
        (ReserveComplete | ReserveAbandon | Release, 4) => {
            if t.seen == 0 {
                // The engine's commit/release would find no pending slot and do nothing: a
                // slot would be lost. Every holder counts itself in `pending`, so this must
                // never happen; 98 marks it for the explorer.
                t.pc = 98;
            } else if s.pending == t.seen {
                s.pending -= 1;
                t.pc = 5;
            } else {
                t.seen = s.pending;
            }
        }
        (ReserveComplete, 5) => {
            s.completed += 1;
            t.holds = false;
            t.pc = 99;
        }
        (ReserveAbandon | Release, 5) => {
            s.open += 1;
            t.holds = false;
            t.pc = 99;
        }
        (CheckThenCount, 0) => {
            t.seen = s.completed + s.pending;
            t.pc = 1;
        }
        (CheckThenCount, 1) => {
            if t.seen < TARGET {
                s.pending += 1;
                t.holds = true;
                t.pc = 2;
            } else {
                t.pc = 99;
            }
        }
        (CheckThenCount, 2) => {
            s.pending -= 1;
            s.completed += 1;
            t.holds = false;
            t.pc = 99;
        }
        _ => return false,
    }
    true
}

struct Explorer {
    schedules: u64,
    overfilled: bool,
    lost: bool,
}

/// Slots taken and not given back: completes plus every slot a thread holds, plus the slot
/// held from before the run until a `Release` thread gives it back.
fn taken(s: &Shared, threads: &[Thread]) -> i64 {
    let held_before = threads
        .iter()
        .filter(|t| matches!(t.kind, Kind::Release) && t.pc < 5)
        .count() as i64;
    s.completed + threads.iter().filter(|t| t.holds).count() as i64 + held_before
}

fn explore(s: Shared, threads: &mut Vec<Thread>, out: &mut Explorer) {
    if taken(&s, threads) > TARGET || s.open < 0 {
        out.overfilled = true;
    }
    let mut any = false;
    for i in 0..threads.len() {
        if threads[i].pc >= 98 {
            continue;
        }
        let (mut s2, saved) = (s, threads[i]);
        if step(&mut s2, &mut threads[i]) {
            any = true;
            explore(s2, threads, out);
        }
        threads[i] = saved;
    }
    if !any {
        out.schedules += 1;
        out.lost |= threads.iter().any(|t| t.pc == 98);
        // Nothing lost: every slot is open, pending or completed.
        if s.open + s.pending + s.completed != TARGET || s.pending != 0 {
            out.lost = true;
        }
    }
}

fn run(initial: Shared, kinds: &[Kind]) -> Explorer {
    let mut threads: Vec<Thread> = kinds
        .iter()
        .map(|&kind| Thread {
            kind,
            pc: 0,
            seen: 0,
            holds: false,
        })
        .collect();
    let mut out = Explorer {
        schedules: 0,
        overfilled: false,
        lost: false,
    };
    explore(initial, &mut threads, &mut out);
    out
}

#[test]
fn cas_reservations_never_overfill_in_any_interleaving() {
    // Target 3: 2 completed and 1 slot held by someone about to abandon; three reservers
    // arrive (two will complete, one abandon). Every schedule keeps completes + held slots
    // within the target, and at the end every slot is accounted for.
    let initial = Shared {
        open: 0,
        pending: 1,
        completed: 2,
    };
    let kinds = [
        Kind::ReserveComplete,
        Kind::ReserveComplete,
        Kind::ReserveAbandon,
        Kind::Release,
    ];
    let out = run(initial, &kinds);
    assert!(out.schedules > 10_000, "{} schedules", out.schedules);
    assert!(!out.overfilled);
    assert!(!out.lost);

    // One slot left, three arriving together (as in the live tests' race for the last slot of
    // a limit of 20, scaled down).
    let initial = Shared {
        open: 1,
        pending: 0,
        completed: 2,
    };
    let out = run(initial, &[Kind::ReserveComplete; 3]);
    assert!(!out.overfilled && !out.lost);
}

#[test]
fn the_same_search_finds_check_then_count_overfill() {
    let initial = Shared {
        open: 1,
        pending: 0,
        completed: 2,
    };
    let out = run(initial, &[Kind::CheckThenCount; 3]);
    assert!(
        out.overfilled,
        "check-then-count lets several finishers past the last slot"
    );
}
