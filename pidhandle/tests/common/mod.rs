//! Helpers shared by the integration tests.

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::process::{Command, Stdio};
use std::time::Duration;

use pidkit_pidhandle::{Error, PidHandle, State};

/// Time limit of every test (and of every isolated re-run).
pub(crate) const LIMIT: Duration = Duration::from_secs(120);

/// Whether this run takes the pidfd path (false: the `/proc` fallback).
pub(crate) fn pidfd_path() -> bool {
    pidkit_pidhandle::probe().usable()
}

/// A PID that no process has right now (a reaped child's).
pub(crate) fn free_pid() -> u32 {
    let child = testkit::sh("exit 0");
    let pid = child.id();
    child.wait();
    pid
}

/// Field 22 of `/proc/<pid>/stat`, read for a process whose command name is
/// known exactly (so the fields are found by the known prefix, not by the
/// parser under test).
pub(crate) fn start_ticks_known_comm(pid: u32, comm: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let prefix = format!("{pid} ({comm}) ");
    let rest = text
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{text:?} does not start with {prefix:?}"));
    rest.split(' ').nth(19).unwrap().parse().unwrap()
}

/// Asserts that `r` is `Err(NoSuchProcess { pid })`.
#[track_caller]
pub(crate) fn assert_no_such_process(r: Result<(), Error>, pid: u32) {
    match r {
        Err(Error::NoSuchProcess { pid: p }) if p == pid => {}
        other => panic!("expected NoSuchProcess for pid {pid}, got {other:?}"),
    }
}

/// Asserts that a handle is gone for good: state, liveness, signals.
#[track_caller]
pub(crate) fn assert_gone(h: &PidHandle) {
    assert_eq!(h.state().unwrap(), State::Gone, "{h:?}");
    assert!(!h.is_alive().unwrap());
    assert_no_such_process(h.kill(pidkit_pidhandle::Signal::ZERO), h.pid());
    assert_no_such_process(h.kill(pidkit_pidhandle::Signal::KILL), h.pid());
}

/// Like `testkit::run_isolated`, with extra environment for the re-run
/// (e.g. `PIDKIT_HIDE_FEATURES=pidfs`), optionally as PID 1 of a new PID
/// namespace. Returns false (outside CI) when the namespace needs root we
/// do not have.
pub(crate) fn run_isolated_env(
    test_name: &str,
    pid_namespace: bool,
    env: &[(&str, &str)],
    body: impl FnOnce(),
) -> bool {
    if std::env::var(testkit::ISOLATED_ENV).is_ok_and(|v| v == test_name) {
        // In the re-run: testkit runs the body (and any requested filter).
        return testkit::run_isolated(test_name, testkit::Isolation::Process, LIMIT, body);
    }
    let exe = std::env::current_exe().unwrap();
    let mut cmd;
    if pid_namespace {
        if !testkit::require(testkit::is_root(), "root, to create a PID namespace") {
            return false;
        }
        cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(&exe);
    } else {
        cmd = Command::new(&exe);
    }
    cmd.args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(testkit::ISOLATED_ENV, test_name)
        .env_remove(testkit::SECCOMP_ENV)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (status, out) = testkit::run_with_limit(cmd, LIMIT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.success() && stdout.contains("1 passed"),
        "isolated `{test_name}` ({env:?}) failed: {status}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}
