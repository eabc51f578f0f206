//! Helpers shared by the integration tests.

#![allow(dead_code, reason = "each test file uses a different subset")]

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

/// Field 22 of `/proc/<pid>/stat` (start ticks), read without the parser
/// under test: the fields after the last `)`. With `Some(comm)`, first waits
/// (bounded by the caller's watchdog) until the process has exec'd into
/// `comm`: a freshly spawned child may still carry its parent's name.
pub(crate) fn start_ticks_known_comm(pid: u32, comm: Option<&str>) -> u64 {
    loop {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let close = text.rfind(')').unwrap();
        let name = &text[text.find('(').unwrap() + 1..close];
        if comm.is_none_or(|c| c == name) {
            return text[close + 2..]
                .split(' ')
                .nth(19)
                .unwrap()
                .parse()
                .unwrap();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Asserts that `r` is `Err(Gone { pid })`.
#[track_caller]
pub(crate) fn assert_no_such_process(r: Result<(), Error>, pid: u32) {
    match r {
        Err(Error::Gone { pid: p }) if p == pid => {}
        other => panic!("expected Gone for pid {pid}, got {other:?}"),
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

/// `testkit::run_isolated_env` with this crate's time limit, in a fresh
/// process or as PID 1 of a new PID namespace. Returns false (outside CI)
/// when the namespace needs root we do not have.
pub(crate) fn run_isolated_env(
    test_name: &str,
    pid_namespace: bool,
    env: &[(&str, &str)],
    body: impl FnOnce(),
) -> bool {
    let how = if pid_namespace {
        testkit::Isolation::PidNamespace
    } else {
        testkit::Isolation::Process
    };
    testkit::run_isolated_env(test_name, how, LIMIT, env, body)
}
