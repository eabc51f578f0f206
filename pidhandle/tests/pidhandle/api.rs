//! Integration tests for pidkit-pidhandle on real processes.
//!
//! Every child is guarded (killed and reaped on drop) and every test arms a
//! watchdog. The tests are written for both paths: with pidfds, and the
//! `/proc` fallback that `cargo xtask test` exercises by running the whole
//! suite under a seccomp filter (`PIDKIT_SANDBOX`); where behaviour differs
//! between the two, the test asserts what the current path must do.

#![allow(
    clippy::unwrap_used,
    reason = "a failed step must fail the test loudly"
)]

use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use pidkit_pidhandle::{BootId, Error, Identity, PidFd, PidHandle, Signal, State, probe};
use testkit::{ChildGuard, Isolation, SeccompMode, sh, sleeper, watchdog};

/// Time limit of every test (and of every isolated re-run).
const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn running_child_is_pinned_and_refused_after_reap() {
    let _w = watchdog("running", LIMIT);
    let child = sleeper();
    let pid = child.id();
    let h = PidHandle::from_child(child.child()).unwrap();
    assert_eq!(h.pid(), pid);
    assert_eq!(h.state().unwrap(), State::Running);
    assert!(h.is_alive().unwrap());
    h.kill(Signal::ZERO).unwrap();
    assert_eq!(h.pidfd().is_some(), pidkit_pidhandle::probe().usable());
    if let Some(fd) = h.pidfd() {
        assert_eq!(fd.info().unwrap().pid, Some(pid));
    }
    h.kill(Signal::TERM).unwrap();
    assert_eq!(child.wait().signal(), Some(Signal::TERM.as_raw()));
    testkit::assert_handle_gone!(&h);
    // Restoring its text now also gives a gone handle.
    testkit::assert_handle_gone!(&h.to_string().parse::<PidHandle>().unwrap());
}

#[test]
fn zombie_is_exited_not_alive_and_reaped_is_gone() {
    let _w = watchdog("zombie", LIMIT);
    let child = sh("exit 3");
    let h = PidHandle::from_child(child.child()).unwrap();
    assert!(h.wait_exited_timeout(Duration::from_secs(60)).unwrap());
    assert_eq!(h.state().unwrap(), State::Exited);
    assert!(!h.is_alive().unwrap());
    // A zombie accepts signals, which do nothing.
    h.kill(Signal::ZERO).unwrap();
    h.kill(Signal::TERM).unwrap();
    // A handle made for the zombie, and one restored, see the same.
    let late = PidHandle::new(h.pid()).unwrap();
    assert_eq!(late.state().unwrap(), State::Exited);
    let restored: PidHandle = h.to_string().parse().unwrap();
    assert_eq!(restored.state().unwrap(), State::Exited);
    assert_eq!(restored.to_string(), h.to_string());
    assert_eq!(child.wait().code(), Some(3));
    for handle in [&h, &late, &restored] {
        testkit::assert_handle_gone!(handle);
        assert!(handle.wait_exited_timeout(Duration::ZERO).unwrap());
    }
}

#[test]
fn stopped_process_is_running() {
    let _w = watchdog("stopped", LIMIT);
    let child = sleeper();
    let h = PidHandle::from_child(child.child()).unwrap();
    h.kill(Signal::STOP).unwrap();
    assert_eq!(h.state().unwrap(), State::Running);
    assert!(!h.wait_exited_timeout(Duration::from_millis(20)).unwrap());
    h.kill(Signal::CONT).unwrap();
    h.kill(Signal::KILL).unwrap();
    h.wait_exited().unwrap();
    assert_eq!(child.wait().signal(), Some(9));
}

#[test]
fn missing_pid_gives_a_handle_gone_forever() {
    let _w = watchdog("missing", LIMIT);
    let pid = testkit::free_pid();
    let h = PidHandle::new(pid).unwrap();
    testkit::assert_handle_gone!(&h);
    assert!(h.pidfd().is_none());
    assert!(h.identity().is_gone());
    let text = h.to_string();
    assert_eq!(text, format!("pidkit-pid:v1:pid={pid}:gone"));
    let restored: PidHandle = text.parse().unwrap();
    testkit::assert_handle_gone!(&restored);
    assert_eq!(restored.to_string(), text);
    // Even while some process has the number (here: ourselves).
    let me = std::process::id();
    let ghost: PidHandle = format!("pidkit-pid:v1:pid={me}:gone").parse().unwrap();
    testkit::assert_handle_gone!(&ghost);
    ghost.wait_exited().unwrap();
}

#[test]
fn invalid_pids_are_errors() {
    let _w = watchdog("invalid", LIMIT);
    for pid in [0, i32::MAX as u32 + 1, u32::MAX] {
        match PidHandle::new(pid) {
            Err(e @ Error::InvalidPid { .. }) => assert!(e.to_string().contains(&pid.to_string())),
            other => panic!("{pid}: {other:?}"),
        }
    }
}

#[test]
fn round_trip_restores_the_same_process() {
    let _w = watchdog("round_trip", LIMIT);
    let child = sleeper();
    let pid = child.id();
    let h = PidHandle::new(pid).unwrap();
    let text = h.to_string();
    let boot = BootId::current().unwrap();
    assert!(
        text.starts_with(&format!("pidkit-pid:v1:pid={pid}:boot={boot}:")),
        "{text}"
    );
    let id = h.identity();
    assert_eq!(id.pid(), pid);
    assert_eq!(id.boot_id(), Some(boot));
    assert!(!id.is_gone());
    // The decision documented in the crate: pidfs id when the kernel has one
    // (then no start ticks), else start ticks.
    let pidfs = pidkit_pidhandle::probe().usable() && probe().pidfs;
    assert_eq!(id.pidfs_id().is_some(), pidfs, "{text}");
    assert_eq!(id.start_ticks().is_some(), !pidfs, "{text}");
    if let Some(ticks) = id.start_ticks() {
        assert_eq!(ticks, testkit::start_ticks_once_named(pid, "sleep"));
    }
    if let (Some(ino), Some(fd)) = (id.pidfs_id(), h.pidfd()) {
        assert_eq!(fd.pidfs_id().unwrap(), Some(ino));
    }
    assert_eq!(text.parse::<Identity>().unwrap(), *id);

    for _ in 0..3 {
        let restored: PidHandle = text.parse().unwrap();
        assert_eq!(restored.to_string(), text);
        assert_eq!(restored.identity(), id);
        assert_eq!(restored.state().unwrap(), State::Running);
        restored.kill(Signal::ZERO).unwrap();
        assert_eq!(
            restored.pidfd().is_some(),
            pidkit_pidhandle::probe().usable()
        );
    }
    // Handles made any way agree on the text.
    assert_eq!(
        PidHandle::from_child(child.child()).unwrap().to_string(),
        text
    );
    assert_eq!(PidHandle::restore(id).unwrap().to_string(), text);

    let restored: PidHandle = text.parse().unwrap();
    restored.kill(Signal::KILL).unwrap();
    assert_eq!(child.wait().signal(), Some(9));
    testkit::assert_handle_gone!(&restored);
    testkit::assert_handle_gone!(&h);
}

#[test]
fn text_from_another_boot_is_gone() {
    let _w = watchdog("boot", LIMIT);
    let child = sleeper();
    let h = PidHandle::from_child(child.child()).unwrap();
    let text = h.to_string();
    let boot = h.identity().boot_id().unwrap().to_string();
    let flipped: String = boot
        .chars()
        .enumerate()
        .map(|(i, c)| match (i, c) {
            (0, '0') => '1',
            (0, _) => '0',
            _ => c,
        })
        .collect();
    let other = text.replace(&boot, &flipped);
    assert_ne!(other, text);
    let restored: PidHandle = other.parse().unwrap();
    testkit::assert_handle_gone!(&restored);
    // The original process was never touched.
    assert_eq!(h.state().unwrap(), State::Running);
}

#[test]
fn another_process_with_the_pid_is_not_the_recorded_one() {
    let _w = watchdog("other", LIMIT);
    let child = sleeper();
    let h = PidHandle::from_child(child.child()).unwrap();
    let id = h.identity();
    let boot = id.boot_id().unwrap();
    // The same facts, pinned to other numbers (our own PID, init's).
    for pid in [std::process::id(), 1] {
        let text = match (id.pidfs_id(), id.start_ticks()) {
            (Some(ino), _) => format!("pidkit-pid:v1:pid={pid}:boot={boot}:pidfs={ino}"),
            (None, Some(t)) => format!("pidkit-pid:v1:pid={pid}:boot={boot}:start={t}"),
            (None, None) => unreachable!(),
        };
        if id.pidfs_id().is_none() && testkit::start_ticks(pid) == id.start_ticks() {
            // That process started in the same clock tick as the child: by
            // start ticks it *is* what the text describes (the documented
            // limit of tick resolution), so it proves nothing here.
            continue;
        }
        let restored: PidHandle = text.parse().unwrap();
        testkit::assert_handle_gone!(&restored);
    }
    assert!(h.is_alive().unwrap());
}

/// Spawns `exe`, retrying while a concurrent fork in another test thread
/// still holds the just-copied file open for writing (`ETXTBSY`), until the
/// file is free (bounded by the caller's watchdog).
fn spawn_copied(exe: &std::path::Path) -> ChildGuard {
    let mut child = None;
    testkit::wait_until(|| match Command::new(exe).arg("1000").spawn() {
        Ok(c) => {
            child = Some(c);
            true
        }
        Err(e) if e.raw_os_error() == Some(26) => false,
        Err(e) => panic!("spawn {exe:?}: {e}"),
    });
    ChildGuard::new(child.expect("spawned"))
}

/// Text whose only identity is a pidfs id: verified where pidfs ids can be
/// read; where they cannot (the fallback), an `Unsupported` error naming the
/// pid, never an unverified handle, unless no process has the PID at all.
fn pidfs_only_text_body() {
    let _w = watchdog("pidfs_only", LIMIT);
    let me = std::process::id();
    let boot = BootId::current().unwrap();
    let text = format!("pidkit-pid:v1:pid={me}:boot={boot}:pidfs=1");
    let free = testkit::free_pid();
    let free_text = format!("pidkit-pid:v1:pid={free}:boot={boot}:pidfs=1");
    testkit::assert_handle_gone!(&free_text.parse::<PidHandle>().unwrap());
    if pidkit_pidhandle::probe().usable() && probe().pidfs {
        // pidfs id 1 is not ours: gone.
        testkit::assert_handle_gone!(&text.parse::<PidHandle>().unwrap());
        let mine = PidHandle::new(me).unwrap();
        let restored: PidHandle = mine.to_string().parse().unwrap();
        restored.kill(Signal::ZERO).unwrap();
    } else {
        match text.parse::<PidHandle>() {
            Err(e @ Error::Unsupported { pid, .. }) if pid == me => {
                assert!(e.to_string().contains(&me.to_string()), "{e}");
            }
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }
}

#[test]
fn pidfs_only_text() {
    pidfs_only_text_body();
}

testkit::isolated_test!(
    pidfs_only_text_without_pidfs,
    Isolation::Process,
    LIMIT,
    env: &[("PIDKIT_HIDE_FEATURES", "pidfs")],
    pidfs_only_text_body,
);

testkit::isolated_test!(
    pidfs_only_text_under_seccomp,
    Isolation::Seccomp(SeccompMode::Enosys),
    LIMIT,
    || {
        assert!(!pidkit_pidhandle::probe().usable());
        pidfs_only_text_body();
    },
);

#[test]
fn hostile_strings_are_parse_errors_naming_the_input() {
    let _w = watchdog("hostile", LIMIT);
    let boot = BootId::current().unwrap();
    let me = std::process::id();
    let good = format!("pidkit-pid:v1:pid={me}:boot={boot}:start=5");
    let long = format!("{good}{}", ":start=5".repeat(10_000));
    let table: Vec<(String, &str)> = vec![
        (String::new(), "empty"),
        (" ".into(), "printable"),
        ("\t\n".into(), "printable"),
        (format!(" {good}"), "printable"),
        (format!("{good}\n"), "printable"),
        (me.to_string(), "bare pid"),
        ("1".into(), "bare pid"),
        ("no-proc".into(), "podman"),
        ("start-time:1712345678901".into(), "podman"),
        ("name-to-handle:AAAAAA==".into(), "podman"),
        (good.replace(":v1:", ":v2:"), "unsupported version `v2`"),
        (good.replace(":v1:", ":V1:"), "version"),
        (good.replace(":v1:", ":"), "version"),
        ("pidkit-pid".into(), "truncated"),
        ("pidkit-pid:v1".into(), "truncated"),
        ("pidkit-pid:v1:".into(), "pid="),
        (format!("pidkit-pid:v1:pid={me}"), "truncated"),
        (format!("pidkit-pid:v1:pid={me}:"), "boot="),
        (format!("pidkit-pid:v1:pid={me}:boot={boot}"), "no identity"),
        (
            format!("pidkit-pid:v1:pid={me}:boot={boot}:"),
            "empty field",
        ),
        (format!("{good}:start=5"), "repeated or out of order"),
        (
            format!("pidkit-pid:v1:pid={me}:boot={boot}:start=5:pidfs=3"),
            "repeated or out of order",
        ),
        (
            format!("pidkit-pid:v1:pid={me}:pid={me}:boot={boot}:start=5"),
            "boot=",
        ),
        (
            format!("pidkit-pid:v1:boot={boot}:pid={me}:start=5"),
            "pid=",
        ),
        (format!("{good}:comm=sleep"), "unknown field"),
        (format!("{good}:"), "empty field"),
        (good.replace("start=5", "start"), "no `=`"),
        (good.replace("start=5", "start="), "no value"),
        (good.replace(&format!("pid={me}"), "pid=0"), "not in 1..="),
        (
            good.replace(&format!("pid={me}"), "pid=2147483648"),
            "not in 1..=",
        ),
        (
            good.replace(&format!("pid={me}"), "pid=4294967296"),
            "not in 1..=",
        ),
        (
            good.replace(&format!("pid={me}"), "pid=-1"),
            "not an unsigned decimal",
        ),
        (
            good.replace(&format!("pid={me}"), "pid=+1"),
            "not an unsigned decimal",
        ),
        (
            good.replace(&format!("pid={me}"), "pid=0x10"),
            "not an unsigned decimal",
        ),
        (
            good.replace(&format!("pid={me}"), &format!("pid=0{me}")),
            "leading zero",
        ),
        (
            good.replace("start=5", "start=18446744073709551616"),
            "out of range",
        ),
        (
            good.replace("start=5", "start=99999999999999999999999"),
            "out of range",
        ),
        (
            good.replace("start=5", "start=-5"),
            "not an unsigned decimal",
        ),
        (
            good.replace("start=5", "start=5.0"),
            "not an unsigned decimal",
        ),
        (
            good.replace("start=5", "start=1e3"),
            "not an unsigned decimal",
        ),
        (
            good.replace(&boot.to_string(), &boot.to_string().to_uppercase()),
            "canonical lowercase uuid",
        ),
        (
            good.replace(&boot.to_string(), &boot.to_string().replace('-', "")),
            "canonical lowercase uuid",
        ),
        (
            good.replace(&boot.to_string(), "not-a-uuid"),
            "canonical lowercase uuid",
        ),
        (format!("{good}x"), "not an unsigned decimal"),
        (format!("{good}\0"), "printable"),
        (good.replace(":v1:", ":v1\0:"), "printable"),
        (good.replace("pidkit", "pidkït"), "printable"),
        (good.replace("pidkit-pid", "pidkit-pif"), "prefix"),
        (good.replace("pidkit-pid", "PIDKIT-PID"), "prefix"),
        (
            format!("pidkit-pid:v1:pid={me}:gone:start=5"),
            "after `gone`",
        ),
        (format!("pidkit-pid:v1:pid={me}:gone:"), "after `gone`"),
        (long.clone(), "longer than any valid handle"),
    ];
    for (input, want) in &table {
        for result in [
            input.parse::<PidHandle>().map(|_| ()),
            input.parse::<Identity>().map(|_| ()),
        ] {
            match result {
                Err(
                    ref e @ Error::Parse {
                        input: ref got,
                        ref reason,
                    },
                ) => {
                    assert_eq!(got, input);
                    assert!(
                        reason.contains(want),
                        "{input:?}: reason {reason:?} lacks {want:?}"
                    );
                    let msg = e.to_string();
                    assert!(msg.starts_with("invalid process handle text "), "{msg}");
                    if input.len() <= 100 {
                        assert!(msg.contains(&format!("{input:?}")), "{msg}");
                    } else {
                        assert!(msg.len() < 400, "message not abbreviated: {}", msg.len());
                    }
                }
                other => panic!("{input:?}: expected a parse error, got {other:?}"),
            }
        }
    }
    // The good one is good (the table's baseline), and no hostile input above
    // touched a process: we are alive to say so.
    good.parse::<Identity>().unwrap();
}

/// Every single-character change (replace, delete, insert) of a live
/// handle's text is an error or restores a handle that does not pass for
/// the original: it is gone, or names another PID (whose process it then
/// checked by that PID's own identity). It is never `Ok` for the original
/// process under a text that means something else.
#[test]
fn no_mutation_of_the_text_passes_for_the_original() {
    let _w = watchdog("mutations", LIMIT);
    let child = sleeper();
    let pid = child.id();
    let h = PidHandle::from_child(child.child()).unwrap();
    let text = h.to_string();
    let alphabet: Vec<char> = "0123456789abcdef-:=vpidgonestrkf V+\0".chars().collect();
    let chars: Vec<char> = text.chars().collect();
    let mut variants = Vec::new();
    for i in 0..=chars.len() {
        for &c in &alphabet {
            let mut v = chars.clone();
            v.insert(i, c);
            variants.push(v);
            if i < chars.len() && chars[i] != c {
                let mut v = chars.clone();
                v[i] = c;
                variants.push(v);
            }
        }
        if i < chars.len() {
            let mut v = chars.clone();
            v.remove(i);
            variants.push(v);
        }
    }
    let mut accepted = 0;
    for v in variants {
        let mutated: String = v.into_iter().collect();
        if mutated == text {
            continue;
        }
        match mutated.parse::<PidHandle>() {
            Err(Error::Parse { .. } | Error::Unsupported { .. }) => {}
            Err(e) => panic!("{mutated:?}: unexpected error {e}"),
            Ok(m) => {
                accepted += 1;
                assert_ne!(m.identity(), h.identity());
                if m.state().unwrap() == State::Gone {
                    // Found gone on restore: it says so in its text.
                    assert!(m.identity().is_gone(), "{mutated:?}");
                    assert_eq!(m.to_string(), format!("pidkit-pid:v1:pid={}:gone", m.pid()));
                } else {
                    // Canonical: the text it accepted is the text it prints.
                    assert_eq!(m.to_string(), mutated);
                    assert_ne!(m.pid(), pid, "{mutated:?} passed for the original");
                    // Only start ticks (no pidfs id) can match another PID's
                    // process: one started in the same clock tick.
                    assert!(m.identity().pidfs_id().is_none(), "{mutated:?}");
                }
            }
        }
    }
    assert!(accepted > 0, "no mutation parsed; the test checks nothing");
    assert!(h.is_alive().unwrap());
}

#[test]
fn command_names_with_spaces_and_parentheses() {
    let _w = watchdog("comm", LIMIT);
    let dir = tempfile::tempdir().unwrap();
    for name in ["a) b (c", ") (", "x) S 1 2 3 (y"] {
        let exe = dir.path().join(name);
        std::fs::copy("/bin/sleep", &exe).unwrap();
        let child = spawn_copied(&exe);
        let pid = child.id();
        // The kernel's comm is the file name (at most 15 bytes).
        let comm: String = name.chars().take(15).collect();
        let ticks = testkit::start_ticks_once_named(pid, &comm);
        let h = PidHandle::from_child(child.child()).unwrap();
        if let Some(t) = h.identity().start_ticks() {
            assert_eq!(t, ticks, "{name:?}");
        }
        assert_eq!(h.state().unwrap(), State::Running, "{name:?}");
        let restored: PidHandle = h.to_string().parse().unwrap();
        assert_eq!(restored.state().unwrap(), State::Running, "{name:?}");
        restored.kill(Signal::KILL).unwrap();
        assert_eq!(child.wait().signal(), Some(9));
        testkit::assert_handle_gone!(&restored);
    }
}

testkit::isolated_test!(
    /// The same in a process where start ticks are the identity (pidfs hidden),
    /// so the parsed field is what restoring compares.
    command_names_with_spaces_and_parentheses_without_pidfs,
    Isolation::Process,
    LIMIT,
    env: &[("PIDKIT_HIDE_FEATURES", "pidfs")],
    || {
            assert!(!probe().pidfs);
            command_names_with_spaces_and_parentheses();
        },
);

testkit::isolated_test!(
    command_names_with_spaces_and_parentheses_fallback,
    Isolation::Seccomp(SeccompMode::Eperm),
    LIMIT,
    command_names_with_spaces_and_parentheses,
);

testkit::isolated_test!(
    /// The identity holds no wall-clock time: start ticks count from boot
    /// (`CLOCK_BOOTTIME`), so setting the clock cannot change what a live
    /// process is compared against. Checked by structure: the recorded ticks are
    /// within boot time, far below what any epoch-based value would be, and
    /// equal `/proc/<pid>/stat` field 22.
    start_ticks_count_from_boot_not_from_the_epoch,
    Isolation::Process,
    LIMIT,
    env: &[("PIDKIT_HIDE_FEATURES", "pidfs")],
    || {
            let _w = watchdog("ticks", LIMIT);
            let child = sleeper();
            let h = PidHandle::from_child(child.child()).unwrap();
            let ticks = h.identity().start_ticks().unwrap();
            assert_eq!(ticks, testkit::start_ticks_once_named(child.id(), "sleep"));
            let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
            let hz: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
            let boot = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
            let boot_ticks = boot.tv_sec as u64 * hz + boot.tv_nsec as u64 * hz / 1_000_000_000;
            assert!(ticks <= boot_ticks, "{ticks} > {boot_ticks}");
            let epoch = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                * hz;
            assert!(boot_ticks < epoch);
            // Restoring compares ticks only: equal identity, same text.
            assert_eq!(
                h.to_string().parse::<PidHandle>().unwrap().to_string(),
                h.to_string()
            );
        },
);

#[test]
fn close_is_idempotent_and_touches_no_other_fd() {
    let _w = watchdog("close", LIMIT);
    let child = sleeper();
    let mut h = PidHandle::from_child(child.child()).unwrap();
    let text = h.to_string();
    let other = h.try_clone().unwrap();
    let other_raw = other.pidfd().map(AsRawFd::as_raw_fd);
    h.close().unwrap();
    h.close().unwrap();
    assert!(h.is_closed());
    assert!(h.pidfd().is_none());
    assert!(matches!(h.kill(Signal::ZERO), Err(Error::Closed)));
    assert!(matches!(h.kill(Signal::KILL), Err(Error::Closed)));
    assert!(matches!(h.state(), Err(Error::Closed)));
    assert!(matches!(h.is_alive(), Err(Error::Closed)));
    assert!(matches!(h.wait_exited(), Err(Error::Closed)));
    assert_eq!(h.to_string(), text);
    assert_eq!(h.pid(), child.id());
    // Another handle on the process keeps its own fd, open and working.
    assert_eq!(other.pidfd().map(AsRawFd::as_raw_fd), other_raw);
    other.kill(Signal::ZERO).unwrap();
    assert_eq!(other.state().unwrap(), State::Running);
    if let Some(raw) = other_raw {
        assert!(
            testkit::open_fds().iter().any(|(fd, _)| *fd == raw),
            "closing one handle closed another's fd"
        );
    }
    // A gone handle closes too.
    let mut gone = PidHandle::new(testkit::free_pid()).unwrap();
    gone.close().unwrap();
    assert!(matches!(gone.kill(Signal::ZERO), Err(Error::Closed)));
    drop(child);
}

#[test]
fn try_clone_gives_an_independent_pidfd() {
    let _w = watchdog("try_clone", LIMIT);
    let child = sleeper();
    let h = PidHandle::from_child(child.child()).unwrap();
    let mut c = h.try_clone().unwrap();
    assert_eq!(c.to_string(), h.to_string());
    match (h.pidfd(), c.pidfd()) {
        (Some(a), Some(b)) => {
            assert_ne!(a.as_raw_fd(), b.as_raw_fd());
            assert_eq!(a.pidfs_id().unwrap(), b.pidfs_id().unwrap());
        }
        (None, None) => assert!(!pidkit_pidhandle::probe().usable()),
        other => panic!("{other:?}"),
    }
    c.close().unwrap();
    h.kill(Signal::ZERO).unwrap();
    // into_pidfd: the handle's own fd, still open and working.
    let solo = h.try_clone().unwrap();
    let solo_raw = solo.pidfd().map(AsRawFd::as_raw_fd);
    let own = solo.into_pidfd();
    assert_eq!(own.as_ref().map(AsRawFd::as_raw_fd), solo_raw);
    assert_eq!(own.is_some(), pidkit_pidhandle::probe().usable());
    if let Some(own) = &own {
        own.kill(Signal::ZERO).unwrap();
    }
    assert!(
        PidHandle::new(testkit::free_pid())
            .unwrap()
            .into_pidfd()
            .is_none()
    );
    let dbg = format!("{h:?}");
    assert!(
        dbg.contains(&h.pid().to_string()) && dbg.contains("pidkit-pid:v1"),
        "{dbg}"
    );
}

#[test]
fn from_pidfd_checks_the_pid() {
    let _w = watchdog("from_pidfd", LIMIT);
    if !pidkit_pidhandle::probe().usable() {
        // Sandboxed: no pidfd can be opened to hand over; the refusal is the
        // sandbox's and the constructor is never reached.
        let err = PidFd::open(std::process::id()).unwrap_err();
        assert!(matches!(err.raw_os_error(), Some(1 | 38)), "{err}");
        return;
    }
    let a = sleeper();
    let b = sleeper();
    let h = PidHandle::from_pidfd(a.id(), PidFd::from_child(a.child()).unwrap()).unwrap();
    assert_eq!(h.state().unwrap(), State::Running);
    assert_eq!(
        h.to_string(),
        PidHandle::from_child(a.child()).unwrap().to_string()
    );
    let refused = PidHandle::from_pidfd(a.id(), PidFd::from_child(b.child()).unwrap()).unwrap_err();
    match refused.error() {
        e @ Error::PidMismatch { pid, actual } => {
            assert_eq!((*pid, *actual), (a.id(), b.id()));
            assert!(e.to_string().contains(&b.id().to_string()), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // The refused pidfd is handed back, still b's.
    let back = refused.into_inner();
    assert_eq!(back.info().unwrap().pid, Some(b.id()));
    let fd = PidFd::from_child(b.child()).unwrap();
    let pid = b.id();
    fd.kill(Signal::KILL).unwrap();
    b.wait();
    testkit::assert_handle_gone!(&PidHandle::from_pidfd(pid, fd).unwrap());
    assert!(matches!(
        PidHandle::from_pidfd(0, PidFd::from_child(a.child()).unwrap()).map_err(|e| e.into_error()),
        Err(Error::InvalidPid { pid: 0 })
    ));
}

/// `EPERM` is "permission denied", never "dead": a thread that gave up root
/// cannot signal a root process, but sees it running and can pin and
/// restore it.
#[test]
fn permission_denied_is_not_dead() {
    let _w = watchdog("eperm", LIMIT);
    if !testkit::require(testkit::is_root(), "root, to drop to another uid") {
        return;
    }
    let child = sleeper();
    let pid = child.id();
    let h = PidHandle::from_child(child.child()).unwrap();
    let text = h.to_string();
    std::thread::scope(|s| {
        s.spawn(|| {
            // Only this thread's credentials change (raw setuid, no libc
            // broadcast to the other threads), and the thread ends here.
            rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(65534)).unwrap();
            for handle in [
                h.try_clone().unwrap(),
                PidHandle::new(pid).unwrap(),
                text.parse::<PidHandle>().unwrap(),
            ] {
                assert_eq!(handle.to_string(), text);
                match handle.kill(Signal::TERM) {
                    Err(e @ Error::PermissionDenied { pid: p }) => {
                        assert_eq!(p, pid);
                        assert!(e.to_string().contains(&pid.to_string()));
                    }
                    other => panic!("expected PermissionDenied, got {other:?}"),
                }
                assert!(matches!(
                    handle.kill(Signal::ZERO),
                    Err(Error::PermissionDenied { .. })
                ));
                assert_eq!(handle.state().unwrap(), State::Running);
                assert!(handle.is_alive().unwrap());
            }
        })
        .join()
        .unwrap();
    });
    h.kill(Signal::KILL).unwrap();
    assert_eq!(child.wait().signal(), Some(9));
}

testkit::isolated_tests!(fallback_body, LIMIT;
    every_path_agrees_under_seccomp_enosys: Isolation::Seccomp(SeccompMode::Enosys),
    every_path_agrees_under_seccomp_eperm: Isolation::Seccomp(SeccompMode::Eperm),
);

testkit::isolated_test!(
    every_path_agrees_with_pidfd_hidden,
    Isolation::Process,
    LIMIT,
    env: &[("PIDKIT_HIDE_FEATURES", "pidfd")],
    fallback_body,
);

/// The main behaviours again, in a process where pidfds are unusable.
fn fallback_body() {
    assert!(!pidkit_pidhandle::probe().usable(), "{:?}", probe());
    running_child_is_pinned_and_refused_after_reap();
    zombie_is_exited_not_alive_and_reaped_is_gone();
    stopped_process_is_running();
    missing_pid_gives_a_handle_gone_forever();
    round_trip_restores_the_same_process();
    text_from_another_boot_is_gone();
    close_is_idempotent_and_touches_no_other_fd();
    // Real-time signals need a pidfd; the fallback refuses them plainly.
    let child = sleeper();
    let h = PidHandle::from_child(child.child()).unwrap();
    assert!(h.identity().start_ticks().is_some());
    match h.kill(Signal::from_raw(40).unwrap()) {
        Err(e @ Error::Unsupported { pid, .. }) => {
            assert_eq!(pid, child.id());
            assert!(e.to_string().contains("signal 40"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(h.is_alive().unwrap());
}

testkit::isolated_test!(
    /// Same checks with pidfds but no pidfs ids: start ticks are the identity,
    /// read after the pidfd is open.
    every_path_agrees_without_pidfs,
    Isolation::Process,
    LIMIT,
    env: &[("PIDKIT_HIDE_FEATURES", "pidfs")],
    || {
            assert!(!probe().pidfs);
            running_child_is_pinned_and_refused_after_reap();
            zombie_is_exited_not_alive_and_reaped_is_gone();
            round_trip_restores_the_same_process();
            text_from_another_boot_is_gone();
            another_process_with_the_pid_is_not_the_recorded_one();
            no_mutation_of_the_text_passes_for_the_original();
        },
);

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Restoring arbitrary text never panics; what is not a handle is a
        /// parse error carrying the input.
        #[test]
        fn restore_never_panics(text in "(?s).{0,200}") {
            match text.parse::<PidHandle>() {
                Ok(h) if h.identity().is_gone() => {
                    prop_assert_eq!(h.to_string(), format!("pidkit-pid:v1:pid={}:gone", h.pid()));
                }
                Ok(h) => prop_assert_eq!(h.to_string(), text),
                Err(Error::Parse { input, .. }) => prop_assert_eq!(input, text),
                Err(Error::Unsupported { .. }) => {}
                Err(e) => prop_assert!(false, "{e}"),
            }
        }

        /// Text that is nearly a handle (the right prefix, fields drawn from
        /// the right vocabulary) restores without panicking and only to a
        /// handle that prints it back exactly.
        #[test]
        fn near_handles_restore_canonically(
            fields in proptest::collection::vec(
                "(pid|boot|pidfs|start|gone|v1|v2)(=[0-9a-f+-]{0,12})?", 0..6),
        ) {
            let text = format!("pidkit-pid:{}", fields.join(":"));
            match text.parse::<PidHandle>() {
                Ok(h) => {
                    prop_assert_eq!(h.to_string(), text);
                    prop_assert_eq!(h.state().unwrap(), State::Gone);
                }
                Err(Error::Parse { input, .. }) => prop_assert_eq!(input, text),
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }
}

/// Where the kernel has pidfs file handles (6.17+), text carries one, in
/// the pidfs form (type 0xfe, the pidfs id in eight little-endian bytes); a
/// restore checks the pidfs id through `pidfd_open` and refuses text whose
/// handle names another process: a live child's text restores and signals
/// that child; the same text with the handle of a reaped process spliced in
/// is gone (the pidfs id alone would have matched), and so is one whose PID
/// is another. Elsewhere the text has no `fh=` field.
#[test]
fn file_handle_text_restores_and_spliced_handles_are_refused() {
    let _w = watchdog("file_handle_text_restores", LIMIT);
    let child = sleeper();
    let h = PidHandle::from_child(child.child()).unwrap();
    let text = h.to_string();
    let with_fh = pidkit_pidhandle::probe().usable() && probe().pidfs_file_handles;
    assert_eq!(text.contains(":fh="), with_fh, "{text} {:?}", probe());
    assert_eq!(h.identity().file_handle().is_some(), with_fh);
    if !with_fh {
        return;
    }
    let own = h.identity().file_handle().unwrap();
    assert_eq!(own.handle_type(), 0xfe);
    assert_eq!(
        own.as_bytes(),
        h.identity().pidfs_id().unwrap().to_le_bytes(),
        "{text}"
    );
    // A reaped process's handle, spliced into the live child's text.
    let dead = sh("exit 0");
    let dead_handle = PidHandle::from_child(dead.child()).unwrap();
    let dead_fh = dead_handle
        .identity()
        .file_handle()
        .expect("a handle made with pidfds has a file handle here");
    let dead_text = dead_handle.to_string();
    dead.wait();
    let fh_field = |t: &str| t.split(":fh=").nth(1).unwrap().to_owned();
    let spliced = text.replace(&fh_field(&text), &fh_field(&dead_text));
    assert_ne!(spliced, text);
    let r: PidHandle = spliced.parse().unwrap();
    assert_eq!(r.state().unwrap(), State::Gone, "{spliced}");
    assert!(r.to_string().ends_with(":gone"));
    assert!(PidFd::open_file_handle(&dead_fh).is_err());
    // The same text without the handle is checked by pidfs id: live.
    let without: String = text.split(":fh=").next().unwrap().to_owned();
    let r: PidHandle = without.parse().unwrap();
    assert_eq!(r.state().unwrap(), State::Running, "{without}");
    // The child's own handle, but another PID in the text: gone, not the
    // child under a wrong number.
    let other_pid = text.replace(
        &format!("pid={}:", child.id()),
        &format!("pid={}:", testkit::free_pid()),
    );
    let r: PidHandle = other_pid.parse().unwrap();
    assert_eq!(r.state().unwrap(), State::Gone, "{other_pid}");
    // The real text: the child, signalled through the restored pidfd.
    let r: PidHandle = text.parse().unwrap();
    assert_eq!(r.to_string(), text);
    assert_eq!(r.state().unwrap(), State::Running);
    r.kill(Signal::USR1).unwrap();
    assert_eq!(child.wait().signal(), Some(Signal::USR1.as_raw()));
    assert_eq!(
        text.parse::<PidHandle>().unwrap().state().unwrap(),
        State::Gone
    );
}
