//! A full file descriptor table (`RLIMIT_NOFILE` reached, so `pidfd_open`
//! gives `EMFILE`): errors, never panics, never "no such process" for a live
//! process, nothing leaked, and everything works again once descriptors are
//! free. Each body runs in a process of its own (`testkit::run_isolated`), so
//! the lowered limit touches no other test.
//!
//! Under `cargo xtask test`'s seccomp modes the pidfd calls fail with the
//! sandbox's errno before the kernel looks for a free descriptor; the tests
//! assert that errno there.

#![allow(
    clippy::unwrap_used,
    reason = "a failed step must fail the test loudly"
)]

use std::io;
use std::time::Duration;

use pidkit_pidfd::{PidFd, Signal, probe};
use testkit::{Isolation, SeccompMode, fill_fd_table, sh, sleeper, watchdog};

const LIMIT: Duration = Duration::from_secs(60);
const EMFILE: i32 = 24;

/// The errno a pidfd call that needs a new descriptor fails with when the
/// table is full: `EMFILE`, or the sandbox's errno.
fn refusal() -> i32 {
    match testkit::sandbox() {
        None => EMFILE,
        Some(SeccompMode::Enosys) => 38,
        Some(SeccompMode::Eperm) => 1,
    }
}

#[track_caller]
fn assert_errno<T: std::fmt::Debug>(r: io::Result<T>, errno: i32) {
    match r {
        Err(e) => {
            assert_eq!(e.raw_os_error(), Some(errno), "{e}");
            assert_ne!(e.kind(), io::ErrorKind::NotFound, "{e}");
        }
        Ok(v) => panic!("expected errno {errno}, got Ok({v:?})"),
    }
}

/// The probe's first run, and every call that needs a descriptor, with the
/// table full; then with one descriptor free; then with the limit restored.
fn body() {
    let _w = watchdog("emfile", LIMIT);
    let child = sleeper();
    let pid = child.id();
    let free = {
        let c = sh("exit 0");
        let p = c.id();
        c.wait();
        p
    };
    let held = if testkit::sandbox().is_none() {
        Some(PidFd::open(pid).unwrap())
    } else {
        None
    };
    let baseline = testkit::open_fd_count();

    let mut full = fill_fd_table();
    // Nothing has asked for the probe yet in this process: it runs now.
    let first = probe().clone();
    assert!(!first.usable());
    if testkit::sandbox().is_none() {
        let e = first.resource_error().expect("the probe saw EMFILE");
        assert_eq!(e.raw_os_error(), Some(EMFILE), "{first:?}");
    } else {
        assert!(first.resource_error().is_none(), "{first:?}");
    }
    assert_errno(PidFd::open(pid), refusal());
    match PidFd::open(free) {
        // The kernel looks the PID up before it allocates the descriptor.
        Err(e) if testkit::sandbox().is_none() => {
            assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
        }
        other => assert_errno(other, refusal()),
    }
    if let Some(fd) = &held {
        assert_errno(fd.try_clone(), EMFILE);
        assert_errno(fd.get_fd(0), EMFILE);
        // What needs no new descriptor still works.
        fd.kill(Signal::ZERO).unwrap();
        assert!(!fd.has_exited().unwrap());
        assert!(fd.try_wait().unwrap().is_none());
    }

    full.leave_free(1);
    match testkit::sandbox() {
        None => {
            let fd = PidFd::open(pid).unwrap();
            fd.kill(Signal::ZERO).unwrap();
            // The one free descriptor is taken again.
            assert_errno(fd.try_clone(), EMFILE);
        }
        Some(_) => assert_errno(PidFd::open(pid), refusal()),
    }
    drop(full);

    // The probe found the table full the first time: that answer was not
    // kept, and the real one is given now.
    let now = probe();
    assert!(now.resource_error().is_none(), "{now:?}");
    let hidden = now.hidden.contains(&pidkit_pidfd::Feature::Pidfd);
    assert_eq!(now.usable(), testkit::pidfds_work() && !hidden, "{now:?}");
    assert_eq!(now.usable(), testkit::sandbox().is_none() && !hidden);
    if let Some(fd) = &held {
        let info = fd.info().unwrap();
        assert_eq!(info.pid, Some(pid));
        drop(PidFd::open(pid).unwrap().try_clone().unwrap());
    }
    drop(held);
    assert_eq!(
        testkit::open_fd_count(),
        baseline - usize::from(testkit::sandbox().is_none()),
        "{:?}",
        testkit::open_fds()
    );
    drop(child);
}

testkit::isolated_test!(
    emfile_is_an_error_and_the_probe_tries_again,
    Isolation::Process,
    LIMIT,
    body,
);

/// The `/proc/self/fdinfo` fallback of `info()` needs a descriptor too.
fn fdinfo_body() {
    let _w = watchdog("emfile_fdinfo", LIMIT);
    if testkit::sandbox().is_some() {
        return;
    }
    let child = sleeper();
    let fd = PidFd::open(child.id()).unwrap();
    assert!(probe().usable());
    let full = fill_fd_table();
    if probe().get_info {
        assert_eq!(fd.info().unwrap().pid, Some(child.id()));
    } else {
        assert_errno(fd.info(), EMFILE);
    }
    drop(full);
    assert_eq!(fd.info().unwrap().pid, Some(child.id()));
}

testkit::isolated_test!(
    emfile_in_info_is_an_error,
    Isolation::Process,
    LIMIT,
    fdinfo_body,
);

/// The fdinfo fallback itself, with the ioctl hidden.
#[test]
fn emfile_in_the_fdinfo_fallback_is_an_error() {
    let _w = watchdog("emfile_fdinfo_fallback", LIMIT);
    testkit::run_isolated_env(
        "emfile_in_the_fdinfo_fallback_is_an_error",
        Isolation::Process,
        LIMIT,
        &[("PIDKIT_HIDE_FEATURES", "get_info")],
        fdinfo_body,
    );
}
