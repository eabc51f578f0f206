//! Adopting across a forced PID reuse, for real: in a private PID namespace
//! a process A is pinned with a [`PidHandle`] and adopted, A dies and is
//! reaped, and at once (no pause) a newcomer B gets A's PID through
//! `ns_last_pid`. Nothing adopted or pinned before the reuse, and no handle
//! restored from A's text, may reach B: adopting them is [`Error::Gone`],
//! signalling the processes adopted before is an error, and B dies of the
//! one signal we send it at the end (a stray `SIGKILL` or `SIGTERM` would
//! have won).
//!
//! On kernels without pidfs ids (before 6.9, or `PIDKIT_HIDE_FEATURES=pidfs`)
//! a handle's identity is A's start time in clock ticks, and B often starts
//! in the same tick, where start ticks alone would let a signal go astray.
//! Without pidfds at all (`cargo xtask test`'s seccomp modes) a non-child cannot be
//! adopted ([`Error::NoPidfd`]); the rounds then check that documented
//! answer and that no handle reaches B.

use std::io::{self, BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use pidkit_monitor::{AdoptError, Error, Exit, Monitor, Process, Signal};
use pidkit_monitor::{PidHandle, State};
use pidkit_pidfd::probe;
use testkit::{ChildGuard, Isolation, watchdog};

/// Forced reuses per variant: 200 immediate reuses with no pause, on every
/// kernel of the matrix.
const ROUNDS: usize = 200;
/// Backstop for one variant (times `PIDKIT_TEST_TIME_SCALE`); the host needs
/// a few seconds.
const LIMIT: Duration = Duration::from_secs(150);

/// Who A is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kin {
    /// Our own child: adopting it makes the monitor its reaper.
    Child,
    /// A shell's background `sleep`: the shell reaps it.
    Grandchild,
}

/// A, and what ends and reaps it.
enum Original {
    /// Our child, still in std's hands (reaped by std or by the monitor).
    Child(ChildGuard),
    /// The shell that started A in the background and reaps it (`wait $!`).
    Grandchild { sh: ChildGuard },
}

/// The start time of process `pid` in clock ticks (field 22 of
/// `/proc/<pid>/stat`), if it exists.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Starts A: `(what reaps it, A's PID)`.
fn start_a(kin: Kin) -> (Original, u32) {
    match kin {
        Kin::Child => {
            let a = ChildGuard::spawn(
                Command::new("sleep")
                    .arg("1000")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null()),
            );
            let pid = a.id();
            (Original::Child(a), pid)
        }
        Kin::Grandchild => {
            let mut sh = ChildGuard::spawn(
                Command::new("sh")
                    .arg("-c")
                    .arg("sleep 1000 >/dev/null 2>&1 & echo $!; wait $!")
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null()),
            );
            let mut line = String::new();
            BufReader::new(sh.child_mut().stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            (Original::Grandchild { sh }, line.trim().parse().unwrap())
        }
    }
}

/// Asserts that `result` is [`Error::Gone`] for `pid`.
fn assert_adopt_gone(result: Result<Process, AdoptError>, pid: u32, what: &str) {
    let err = match result {
        Ok(p) => panic!("{what}: adopted process {} across the reuse", p.pid()),
        Err(e) => e,
    };
    assert_eq!(err.error().kind(), io::ErrorKind::NotFound, "{what}: {err}");
    assert!(
        matches!(err.error(), Error::Gone { pid: p } if *p == pid),
        "{what}: {err:?}"
    );
    // The refused handle comes back, for its pid.
    assert_eq!(err.into_inner().pid(), pid, "{what}");
}

/// The forced-reuse rounds for A of kind `kin`.
fn reuse_body(kin: Kin) {
    let _w = watchdog("monitor reuse", LIMIT);
    assert_eq!(std::process::id(), 1, "not PID 1 of a new namespace");
    let pidfds = probe().usable();
    assert_eq!(pidfds, testkit::sandbox().is_none(), "{:?}", probe());
    let m = Monitor::new().unwrap();
    let mut same_tick = 0;
    let mut statuses = 0;
    for round in 0..ROUNDS {
        let (original, pid) = start_a(kin);
        let held = PidHandle::new(pid).unwrap();
        assert_eq!(held.pidfd().is_some(), pidfds, "round {round}");
        let a_ticks = start_ticks(pid).unwrap();
        // Even rounds save A's text now and adopt a handle restored from
        // it; odd rounds adopt (a clone of) the held handle and ask for the
        // text only once B has the PID: without pidfs ids, a text issued
        // right away makes B start in a later tick than A, one asked for
        // late does not.
        let early_text = (round % 2 == 0).then(|| held.to_string());
        let restored: Option<PidHandle> = early_text.as_ref().map(|t| t.parse().unwrap());
        if let Some(r) = &restored {
            assert_eq!(r.state().unwrap(), State::Running, "round {round}");
        }
        let ctx = format!("round {round} ({kin:?}, pid {pid}, {early_text:?})");

        // Before the reuse, adopting works.
        let to_adopt = match &early_text {
            Some(t) => t.parse().unwrap(),
            None => held.try_clone().unwrap(),
        };
        let adopted = match m.adopt(to_adopt) {
            Ok(p) => {
                assert!(pidfds, "{ctx}");
                assert_eq!(p.pid(), pid, "{ctx}");
                assert_eq!(p.is_adopted(), kin == Kin::Grandchild, "{ctx}");
                assert_eq!(p.try_wait().unwrap(), None, "{ctx}");
                Some(p)
            }
            Err(e) => {
                // Without pidfds a non-child cannot be watched.
                assert!(!pidfds, "{ctx}: {e}");
                assert_eq!(e.error().kind(), io::ErrorKind::Unsupported, "{ctx}: {e}");
                assert!(
                    matches!(e.error(), Error::NoPidfd { pid: p } if *p == pid),
                    "{ctx}: {e:?}"
                );
                None
            }
        };

        // A ends with SIGTERM (through the adopted process where there is
        // one) and is reaped; then, at once, B gets its PID.
        match &adopted {
            Some(p) => p.kill(Signal::TERM).unwrap(),
            None => held.kill(Signal::TERM).unwrap(),
        }
        let exit: Option<Result<Exit, Error>> = match original {
            Original::Child(a) => match &adopted {
                // The monitor is A's reaper now: std must never wait for
                // (nor kill) that PID again.
                Some(p) => {
                    drop(a.into_inner());
                    Some(p.wait())
                }
                None => {
                    assert_eq!(a.wait().signal(), Some(Signal::TERM.as_raw()), "{ctx}");
                    None
                }
            },
            Original::Grandchild { sh } => {
                // The shell's `wait $!` reaped A and returned its status.
                assert_eq!(sh.wait().code(), Some(128 + Signal::TERM.as_raw()), "{ctx}");
                adopted.as_ref().map(Process::wait)
            }
        };
        match exit {
            Some(Ok(exit)) => {
                assert_eq!(exit.pid, pid, "{ctx}");
                assert_eq!(exit.signal(), Some(Signal::TERM), "{ctx}: {exit}");
                assert_eq!(exit.code(), 143, "{ctx}");
                statuses += 1;
            }
            // What the API documents for a non-child before Linux 6.15.
            Some(Err(e)) => {
                assert!(kin == Kin::Grandchild && !probe().info_exit, "{ctx}: {e}");
                assert!(
                    matches!(&e, Error::StatusUnavailable { pid: p } if *p == pid),
                    "{ctx}: {e:?}"
                );
            }
            None => {}
        }
        let b = testkit::spawn_with_pid(Command::new("sleep").arg("1000"), pid);
        assert_eq!(b.id(), pid, "{ctx}: B did not get A's PID");
        if start_ticks(pid) == Some(a_ticks) {
            same_tick += 1;
        }
        let text = early_text.unwrap_or_else(|| held.to_string());
        let ctx = format!("{ctx}, text {text}");

        // Nothing from before the reuse reaches B.
        if let Some(p) = &adopted {
            for s in [Signal::ZERO, Signal::KILL, Signal::TERM] {
                let err = p.kill(s).unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::NotFound, "{ctx}: {err}");
                assert!(
                    matches!(&err, Error::Gone { pid: p } if *p == pid),
                    "{ctx}: {err:?}"
                );
            }
        }
        assert_adopt_gone(m.adopt(held.try_clone().unwrap()), pid, &ctx);
        if let Some(r) = restored {
            assert_adopt_gone(m.adopt(r), pid, &ctx);
        }
        assert_adopt_gone(m.adopt(text.parse().unwrap()), pid, &ctx);
        assert_adopt_gone(m.adopt(held.to_string().parse().unwrap()), pid, &ctx);
        assert!(held.kill(Signal::KILL).is_err(), "{ctx}");

        // B was never touched: it dies of our SIGUSR2.
        let fresh = PidHandle::from_child(b.child()).unwrap();
        assert_ne!(fresh.to_string(), text, "{ctx}");
        assert_eq!(fresh.state().unwrap(), State::Running, "{ctx}");
        fresh.kill(Signal::USR2).unwrap();
        assert_eq!(
            b.wait().signal(),
            Some(Signal::USR2.as_raw()),
            "{ctx}: B was hit by something adopted or pinned before the reuse"
        );
    }
    // Every adopted process has been recorded; the monitor lets go of all.
    testkit::wait_until(|| m.watched() == 0);
    eprintln!(
        "{ROUNDS} immediate reuses ({kin:?}), {same_tick} with B in A's start tick, \
         {statuses} exit statuses from adopted processes, 0 wrong signals"
    );
}

testkit::isolated_test!(
    forced_pid_reuse_of_an_adopted_child,
    Isolation::PidNamespace,
    LIMIT * 2,
    || reuse_body(Kin::Child),
);

testkit::isolated_test!(
    forced_pid_reuse_of_an_adopted_grandchild,
    Isolation::PidNamespace,
    LIMIT * 2,
    || reuse_body(Kin::Grandchild),
);
