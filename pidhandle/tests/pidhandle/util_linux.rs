//! `PID:inode` against the real clients: Debian sid's util-linux 2.42
//! `getino` and `waitpid`, run through their own C library's loader from the
//! root `cargo xtask test` unpacks (`PIDKIT_UTIL_LINUX_ROOT`).
//!
//! Both directions: `getino -p` output restores to the same process, a
//! pidkit pair is accepted by `waitpid`, which returns when that process
//! exits; a stale pair (the PID forced onto a new process) is refused by
//! both.

#![allow(
    clippy::unwrap_used,
    reason = "a failed step must fail the test loudly"
)]

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use pidkit_pidhandle::{Error, PidHandle, PidInode, Signal, State, probe};
use testkit::{ChildGuard, Isolation, sleeper, watchdog};

const LIMIT: Duration = Duration::from_secs(120);

/// The unpacked util-linux root; `None` where this kernel cannot have
/// `PID:inode`, or (after `testkit::require`, which fails the test under
/// CI) when `cargo xtask test` did not provide the tools.
fn tools() -> Option<PathBuf> {
    if !(pidkit_pidhandle::probe().usable() && probe().pidfs) {
        // The sandbox modes and kernels before 6.9 have no PID:inode, so
        // nothing to run the tools against; the refusal there is tested in
        // `pid_inode`.
        assert!(
            testkit::sandbox().is_some() || !probe().pidfs,
            "{:?}",
            probe()
        );
        return None;
    }
    let root = std::env::var_os("PIDKIT_UTIL_LINUX_ROOT").map(PathBuf::from);
    let found = root.as_ref().is_some_and(|r| {
        r.join("usr/bin/getino").exists()
            && r.join("usr/bin/waitpid").exists()
            && r.join("usr/lib64/ld-linux-x86-64.so.2").exists()
    });
    let what = format!(
        "util-linux 2.42 getino and waitpid under PIDKIT_UTIL_LINUX_ROOT ({root:?}; \
         cargo xtask test fetches them from Debian sid)"
    );
    if !testkit::require(found, &what) {
        return None;
    }
    root
}

/// `tool` of the util-linux root, started through that root's loader.
fn tool(root: &std::path::Path, tool: &str) -> Command {
    let mut cmd = Command::new(root.join("usr/lib64/ld-linux-x86-64.so.2"));
    cmd.arg("--library-path")
        .arg(format!(
            "{0}/usr/lib/x86_64-linux-gnu:{0}/lib/x86_64-linux-gnu",
            root.display()
        ))
        .arg(root.join("usr/bin").join(tool))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// `getino -p pid`: the pair util-linux prints for `pid`.
fn getino(root: &std::path::Path, pid: u32) -> PidInode {
    let mut cmd = tool(root, "getino");
    cmd.arg("-p").arg(pid.to_string());
    let (status, out) = testkit::run_with_limit(cmd, LIMIT);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        status.success(),
        "getino -p {pid}: {status}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.trim_end_matches('\n').parse().unwrap()
}

/// Waits (bounded by the test's watchdog) until `process` holds a pidfd:
/// `waitpid` has opened the process it waits for.
fn wait_for_a_pidfd(process: u32) {
    testkit::wait_until(|| {
        std::fs::read_dir(format!("/proc/{process}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().contains("pidfd"))
            })
    });
}

#[test]
fn getino_output_restores_to_the_same_process() {
    let _w = watchdog("getino_restores", LIMIT);
    let Some(root) = tools() else { return };
    let child = sleeper();
    let handle = PidHandle::from_child(child.child()).unwrap();
    let theirs = getino(&root, child.id());
    // util-linux and pidkit write the same pair for one process.
    assert_eq!(theirs, handle.pid_inode().unwrap());
    let restored = PidHandle::from_pid_inode(&theirs).unwrap();
    assert_eq!(restored.pidfs_id(), handle.pidfs_id());
    assert_eq!(restored.state().unwrap(), State::Running);
    restored.kill(Signal::KILL).unwrap();
    assert_eq!(child.wait().signal(), Some(9));
    assert!(matches!(
        PidHandle::from_pid_inode(&theirs),
        Err(Error::NoSuchPidInode { .. })
    ));
}

#[test]
fn waitpid_takes_a_pidkit_pair_and_returns_when_the_process_exits() {
    let _w = watchdog("waitpid_returns", LIMIT);
    let Some(root) = tools() else { return };
    let child = sleeper();
    let pair = PidHandle::from_child(child.child())
        .unwrap()
        .pid_inode()
        .unwrap();
    let mut cmd = tool(&root, "waitpid");
    cmd.arg(pair.to_string());
    let mut waiter = ChildGuard::spawn(&mut cmd);
    wait_for_a_pidfd(waiter.id());
    // Still waiting: the process has not exited.
    assert!(waiter.child_mut().try_wait().unwrap().is_none());
    PidHandle::from_pid_inode(&pair)
        .unwrap()
        .kill(Signal::TERM)
        .unwrap();
    let out = waiter.into_inner().wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "waitpid {pair}: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(child.wait().signal(), Some(15));
}

testkit::isolated_test!(
    /// A's pair, once B has A's PID: `waitpid` refuses it (an error naming
    /// the PID, not a wait on B), pidkit refuses it, and `getino` prints B's
    /// own pair, which pidkit restores to B.
    stale_pair_is_refused_by_waitpid_and_pidkit,
    Isolation::PidNamespace,
    LIMIT,
    || {
        let _w = watchdog("util_linux_stale", LIMIT);
        assert_eq!(std::process::id(), 1, "not PID 1 of a new namespace");
        let Some(root) = tools() else { return };
        for round in 0..10 {
            let a = sleeper();
            let pid = a.id();
            let stale = getino(&root, pid);
            PidHandle::from_pid_inode(&stale)
                .unwrap()
                .kill(Signal::KILL)
                .unwrap();
            assert_eq!(a.wait().signal(), Some(9), "round {round}");
            let b = testkit::spawn_with_pid(Command::new("sleep").arg("1000"), pid);
            assert_eq!(b.id(), pid, "B did not get A's PID");

            let mut cmd = tool(&root, "waitpid");
            cmd.arg(stale.to_string());
            let (status, out) = testkit::run_with_limit(cmd, LIMIT);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!status.success(), "round {round}: waitpid took {stale}");
            assert!(stderr.contains(&pid.to_string()), "{stderr}");

            assert!(matches!(
                PidHandle::from_pid_inode(&stale),
                Err(Error::NoSuchPidInode { pid: p, .. }) if p == pid
            ));
            let fresh = getino(&root, pid);
            assert_ne!(fresh, stale);
            let restored = PidHandle::from_pid_inode(&fresh).unwrap();
            assert_eq!(restored.state().unwrap(), State::Running);
            restored.kill(Signal::KILL).unwrap();
            assert_eq!(b.wait().signal(), Some(9));
        }
        eprintln!("10 forced reuses: every stale pair refused by waitpid and by pidkit");
    },
);
