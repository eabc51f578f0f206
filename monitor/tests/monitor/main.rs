//! The integration tests of pidkit-monitor, one binary. Bodies that change
//! process-wide state (a lowered `RLIMIT_NOFILE`, hidden kernel features, a
//! PID namespace, a seccomp filter) run in processes of their own through
//! `testkit::run_isolated`.

#![allow(
    clippy::unwrap_used,
    reason = "a failed step must fail the test loudly"
)]

mod api;
mod async_wait;
mod double;
mod example_supervisor;
mod exhaustion;
mod group;
mod handover;
mod reuse;
mod tree;

use pidkit_monitor::{Error, Monitor, PidHandle, Process, Signal};
use pidkit_pidfd::probe;
use testkit::ChildGuard;

/// Where pidfds are unusable (`cargo xtask test`'s seccomp modes) a process
/// cannot be adopted: checks that documented refusal ([`Error::NoPidfd`])
/// and says loudly that `test`, whose subject is an adopted process, did
/// not run. True then (the caller returns); false where pidfds work.
fn adopting_is_refused_here(test: &str) -> bool {
    if probe().usable() {
        return false;
    }
    let child = testkit::sleeper();
    let err = Monitor::new()
        .unwrap()
        .adopt(PidHandle::new(child.id()).unwrap())
        .unwrap_err();
    assert!(
        matches!(err.error(), Error::NoPidfd { pid } if *pid == child.id()),
        "{err}"
    );
    eprintln!("!!! NOT RUN: {test}: no pidfds here; checked that adopting is refused instead");
    true
}

/// A grandchild adopted by `m`, sent `SIGTERM` and exited, whose parent
/// (the returned shell) has not reaped it: no status yet. In a process of
/// its own, which `testkit::unreaped_grandchild` makes a subreaper, so that
/// the zombie comes to us once the shell is dropped. `None`, said loudly,
/// where there is none to have: without pidfds (the refusal to adopt is
/// checked) and without `PIDFD_INFO_EXIT` (no status to wait for; the
/// tests of adopted exits check the error there).
fn adopted_unreaped_exit(test: &str, m: &Monitor) -> Option<(ChildGuard, u32, Process)> {
    if adopting_is_refused_here(test) {
        return None;
    }
    if !probe().info_exit {
        eprintln!("!!! NOT RUN: {test}: no PIDFD_INFO_EXIT (Linux 6.15+), no status to wait for");
        return None;
    }
    let (sh, gpid) = testkit::unreaped_grandchild();
    let p = m.adopt(PidHandle::new(gpid).unwrap()).unwrap();
    assert!(p.is_adopted());
    p.kill(Signal::TERM).unwrap();
    testkit::block_until_readable(p.exit_fd());
    Some((sh, gpid, p))
}
