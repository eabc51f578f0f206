//! util-linux's `PID:inode`: written where the kernel has pidfs inode ids,
//! restored with util-linux's checks, refused for a reaped process, for a
//! PID forced onto a new process, and everywhere without pidfs ids.

#![allow(
    clippy::unwrap_used,
    reason = "a failed step must fail the test loudly"
)]

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use pidkit_pidhandle::{Error, PidHandle, PidInode, Signal, State, probe};
use testkit::{Isolation, sleeper, watchdog};

use crate::pidfs_ids;

const LIMIT: Duration = Duration::from_secs(120);

/// Asserts that `e` is the refusal of the form for want of pidfs ids.
fn assert_no_pidfs(e: &Error, pid: u32) {
    assert!(
        matches!(e, Error::Unsupported { pid: p, reason } if *p == pid && reason.contains("pidfs inode ids")),
        "{e:?}"
    );
}

#[test]
fn round_trip_then_refused_once_reaped() {
    let _w = watchdog("pid_inode_round_trip", LIMIT);
    let child = sleeper();
    let pid = child.id();
    let handle = PidHandle::from_child(child.child()).unwrap();
    if !pidfs_ids() {
        // The sandbox modes (no pidfds) and kernels before 6.9.
        assert!(
            testkit::sandbox().is_some() || !probe().pidfs,
            "{:?}",
            probe()
        );
        assert_no_pidfs(&handle.pid_inode().unwrap_err(), pid);
        let pair = PidInode::new(pid, 1).unwrap();
        assert_no_pidfs(&PidHandle::from_pid_inode(&pair).unwrap_err(), pid);
        handle.kill(Signal::KILL).unwrap();
        child.wait();
        return;
    }
    let pair = handle.pid_inode().unwrap();
    assert_eq!(pair.pid(), pid);
    assert_eq!(Some(pair.inode()), handle.pidfs_id());
    // The text is the inode of the pidfd's own fstat, as getino prints it.
    let fd = pidkit_pidhandle::PidFd::open(pid).unwrap();
    let st = rustix::fs::fstat(&fd).unwrap();
    assert_eq!(pair.to_string(), format!("{pid}:{}", st.st_ino));

    let parsed: PidInode = pair.to_string().parse().unwrap();
    let restored = PidHandle::from_pid_inode(&parsed).unwrap();
    assert_eq!(restored.pid(), pid);
    assert_eq!(restored.state().unwrap(), State::Running);
    // The pidkit identity of the restored handle is the same process's.
    assert_eq!(restored.identity().pidfs_id(), handle.identity().pidfs_id());

    // Another inode for the live PID: refused, naming both.
    let wrong = PidInode::new(pid, pair.inode() ^ 1).unwrap();
    let e = PidHandle::from_pid_inode(&wrong).unwrap_err();
    assert!(
        matches!(e, Error::NoSuchPidInode { pid: p, inode } if p == pid && inode == wrong.inode())
    );
    assert_eq!(
        e.to_string(),
        format!(
            "no process with pid {pid} has pidfs inode {}",
            wrong.inode()
        )
    );

    restored.kill(Signal::KILL).unwrap();
    assert_eq!(child.wait().signal(), Some(9));
    assert!(matches!(
        PidHandle::from_pid_inode(&pair),
        Err(Error::NoSuchPidInode { .. })
    ));
    assert!(matches!(
        restored.kill(Signal::ZERO),
        Err(Error::Gone { .. })
    ));
}

testkit::isolated_test!(
    /// With pidfs hidden (a kernel before 6.9), both directions refuse the
    /// form: never a guess from start ticks.
    refused_without_pidfs_ids,
    Isolation::Process,
    LIMIT,
    env: &[("PIDKIT_HIDE_FEATURES", "pidfs")],
    || {
        let _w = watchdog("pid_inode_hidden", LIMIT);
        assert!(!probe().pidfs);
        let child = sleeper();
        let pid = child.id();
        let handle = PidHandle::from_child(child.child()).unwrap();
        assert_no_pidfs(&handle.pid_inode().unwrap_err(), pid);
        let pair = PidInode::new(pid, 12345).unwrap();
        assert_no_pidfs(&PidHandle::from_pid_inode(&pair).unwrap_err(), pid);
        handle.kill(Signal::KILL).unwrap();
        child.wait();
    },
);

/// Forced reuses: a pair written for A is refused once B has A's PID.
const ROUNDS: usize = 50;

testkit::isolated_test!(
    stale_pid_inode_is_refused_after_forced_reuse,
    Isolation::PidNamespace,
    LIMIT,
    || {
        let _w = watchdog("pid_inode_reuse", LIMIT);
        assert_eq!(std::process::id(), 1, "not PID 1 of a new namespace");
        if !pidfs_ids() {
            assert!(
                testkit::sandbox().is_some() || !probe().pidfs,
                "{:?}",
                probe()
            );
            return;
        }
        for round in 0..ROUNDS {
            let a = sleeper();
            let pid = a.id();
            let pair = PidHandle::from_child(a.child())
                .unwrap()
                .pid_inode()
                .unwrap();
            PidHandle::from_pid_inode(&pair)
                .unwrap()
                .kill(Signal::KILL)
                .unwrap();
            assert_eq!(a.wait().signal(), Some(9), "round {round}");

            let b = testkit::spawn_with_pid(Command::new("sleep").arg("1000"), pid);
            assert_eq!(b.id(), pid, "B did not get A's PID");
            let e = PidHandle::from_pid_inode(&pair).unwrap_err();
            assert!(
                matches!(e, Error::NoSuchPidInode { pid: p, inode } if p == pid && inode == pair.inode()),
                "round {round}: {e:?}"
            );
            // B is untouched, and its own pair is another.
            let b_pair = PidHandle::from_child(b.child())
                .unwrap()
                .pid_inode()
                .unwrap();
            assert_ne!(b_pair, pair);
            assert_eq!(
                PidHandle::from_pid_inode(&b_pair).unwrap().state().unwrap(),
                State::Running
            );
            PidHandle::from_pid_inode(&b_pair)
                .unwrap()
                .kill(Signal::KILL)
                .unwrap();
            assert_eq!(b.wait().signal(), Some(9));
        }
        eprintln!("{ROUNDS} forced reuses, every stale PID:inode refused");
    },
);
