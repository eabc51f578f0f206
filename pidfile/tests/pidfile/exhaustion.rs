//! A full file descriptor table (`RLIMIT_NOFILE` reached): claiming,
//! reading and pinning the holder of a pidfile are clear errors naming the
//! pidfile (and the PID, where one is involved), never a panic, never "not
//! there" or "holder gone" for what is there; nothing leaks, and all works
//! again once descriptors are free. The body runs in a process of its own
//! (`testkit::run_isolated`), so the lowered limit touches no other test; it
//! is written for both the pidfd path and the `/proc` fallback.

use std::error::Error as _;
use std::fs;
use std::time::Duration;

use camino::Utf8Path;
use pidkit_pidfile::LockOp as Op;
use pidkit_pidfile::{
    Error, LockError, PidFileRead, Signal, State, claim_for_current_process, read,
};
use pidkit_pidhandle::probe;
use testkit::helper::serial;
use testkit::{Isolation, SeccompMode, fill_fd_table, temp_lock, watchdog};

const LIMIT: Duration = Duration::from_secs(60);

/// Asserts that `r` is the lock file error of step `op` on `path`, `EMFILE`.
#[track_caller]
fn assert_file_emfile<T: std::fmt::Debug>(r: Result<T, Error>, path: &Utf8Path, op: Op) {
    match r {
        Err(e @ Error::Lock(LockError::Io { .. })) => {
            assert_eq!(e.path(), path);
            let Error::Lock(inner) = &e else {
                unreachable!()
            };
            assert_eq!(inner.op(), Some(op), "{e:?}");
            assert!(testkit::is_emfile(&e), "{e:?}");
            assert!(e.to_string().contains(path.as_str()), "{e}");
        }
        other => panic!("expected EMFILE at {op:?} on {path}, got {other:?}"),
    }
}

/// Asserts that pinning the holder, or proving that it holds the lock,
/// failed for want of descriptors: an error naming the pidfile and the PID,
/// not "holder gone" or "not the holder".
#[track_caller]
fn assert_pin_emfile<T: std::fmt::Debug>(r: Result<T, Error>, path: &Utf8Path, pid: u32) {
    match r {
        Err(e @ Error::CannotVerify { .. }) => {
            assert_eq!(e.path(), path);
            assert!(testkit::is_emfile(&e), "{e:?}");
            let shown = e.to_string();
            assert!(shown.contains(path.as_str()), "{shown}");
            assert!(shown.contains(&pid.to_string()), "{shown}");
        }
        Err(e @ Error::Handle { .. }) => {
            assert_eq!(e.path(), path);
            assert!(testkit::is_emfile(&e), "{e:?}");
            let shown = e.to_string();
            assert!(shown.contains(path.as_str()), "{shown}");
            assert!(shown.contains(&pid.to_string()), "{shown}");
            let source = e.source().unwrap().to_string();
            assert!(source.contains(&pid.to_string()), "{source}");
        }
        other => panic!("expected a pin error with EMFILE, got {other:?}"),
    }
}

fn body() {
    let _w = watchdog("emfile", LIMIT);
    let me = std::process::id();
    let (dir, held) = temp_lock("held.pid");
    let stale = held.with_file_name("stale.pid");
    let fresh = held.with_file_name("fresh.pid");
    // The holder: a bare exclusive flock of this process on a descriptor of
    // its own, which reads as another process's (a claim of this process
    // reads as its own, with no owner to prove).
    fs::write(&held, format!("{me}\n")).unwrap();
    let guard = fs::File::open(&held).unwrap();
    assert!(fs4::fs_std::FileExt::try_lock_exclusive(&guard).unwrap());
    fs::write(&stale, "4242\n").unwrap();
    let owner = match read(&held).unwrap() {
        PidFileRead::LockedByOtherProcess(owner) => owner,
        other => panic!("{other:?}"),
    };
    // Warm the caches (probe, boot id) as a running program would have.
    drop(owner.handle().unwrap());
    let baseline = testkit::open_fd_count();

    // No descriptor free.
    let full = fill_fd_table();
    let claim_fresh = claim_for_current_process(&fresh);
    let claim_stale = claim_for_current_process(&stale);
    let claim_held = claim_for_current_process(&held);
    let read_held = read(&held);
    let read_stale = read(&stale);
    let read_missing = read(&fresh);
    let handle = owner.handle();
    let signal = owner.kill(Signal::ZERO);
    drop(full);
    assert_file_emfile(claim_fresh, &fresh, Op::Open);
    assert_file_emfile(claim_stale, &stale, Op::Open);
    assert_file_emfile(claim_held, &held, Op::Open);
    assert_file_emfile(read_held, &held, Op::Open);
    assert_file_emfile(read_stale, &stale, Op::Open);
    assert_file_emfile(read_missing, &fresh, Op::Open);
    assert_pin_emfile(handle, &held, me);
    assert_pin_emfile(signal, &held, me);
    assert!(!fresh.exists(), "a failed claim created the pidfile");
    assert_eq!(fs::read_to_string(&stale).unwrap(), "4242\n");
    assert_eq!(fs::read_to_string(&held).unwrap(), format!("{me}\n"));

    // One descriptor free: a read works; the handle (a pidfd where there
    // are pidfds, then /proc/<pid>/fd and one fdinfo open at once) is an
    // EMFILE error naming the pidfile and the pid; a claim fails at the
    // directory fsync and lets go.
    let mut full = fill_fd_table();
    full.leave_free(1);
    let handle = owner.handle().map(|h| h.state());
    let read_held = read(&held).map(|r| match r {
        PidFileRead::LockedByOtherProcess(o) => o.pid(),
        other => panic!("{other:?}"),
    });
    let claim = claim_for_current_process(&stale);
    drop(full);
    assert_pin_emfile(handle, &held, me);
    assert_eq!(read_held.unwrap(), me);
    assert_file_emfile(claim, &stale, Op::SyncParentDir);
    assert!(matches!(
        read(&stale).unwrap(),
        PidFileRead::NotHeldByAnyProcess(..)
    ));

    // Two free: the proof works without a pidfd (the /proc fallback) and is
    // the same clear error with one.
    let mut full = fill_fd_table();
    full.leave_free(2);
    let handle = owner.handle().map(|h| h.state());
    drop(full);
    if probe().usable() {
        assert_pin_emfile(handle, &held, me);
    } else {
        assert_eq!(handle.unwrap().unwrap(), State::Running);
    }

    // Three free: the holder is pinned and proven on every path.
    let mut full = fill_fd_table();
    full.leave_free(3);
    let handle = owner.handle().map(|h| h.state());
    drop(full);
    assert_eq!(handle.unwrap().unwrap(), State::Running);

    // Descriptors again: everything works.
    let claim = claim_for_current_process(&fresh).unwrap();
    assert_eq!(fs::read_to_string(&fresh).unwrap(), format!("{me}\n"));
    drop(claim);
    owner.kill(Signal::ZERO).unwrap();
    drop(owner);
    drop(guard);
    assert_eq!(
        testkit::open_fd_count(),
        baseline - 2,
        "{:?}",
        testkit::open_fds()
    );
    drop(dir);
}

#[test]
fn emfile_is_a_clear_error_naming_the_pidfile() {
    let _serial = serial();
    testkit::run_isolated(
        "emfile_is_a_clear_error_naming_the_pidfile",
        Isolation::Process,
        LIMIT,
        body,
    );
}

#[test]
fn emfile_is_a_clear_error_naming_the_pidfile_fallback() {
    let _serial = serial();
    testkit::run_isolated(
        "emfile_is_a_clear_error_naming_the_pidfile_fallback",
        Isolation::Seccomp(SeccompMode::Eperm),
        LIMIT,
        body,
    );
}
