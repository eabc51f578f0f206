//! PID reuse forced for real (private PID namespaces, `ns_last_pid`), the
//! Go #67641 race (signalling through a closed and reused fd number), and fd
//! leaks.

#![allow(
    clippy::unwrap_used,
    reason = "a failed step must fail the test loudly"
)]

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use pidkit_pidhandle::{Error, PidFd, PidHandle, Signal, State, probe};
use testkit::{ChildGuard, Isolation, SeccompMode, sleeper, watchdog};

/// Time limit of every test (and of every isolated re-run).
const LIMIT: Duration = Duration::from_secs(120);

/// Forced reuses per path: the bar is 200 immediate reuses with no
/// pause, on every kernel of the matrix.
const ROUNDS: usize = 200;

/// Spawns `sleep` with exactly `pid` (asserted), right away: no pause, so
/// on kernels without pidfs ids B often starts in the clock tick A started
/// in, and start ticks alone could not tell them apart.
fn spawn_b(pid: u32) -> ChildGuard {
    let b = testkit::spawn_with_pid(Command::new("sleep").arg("1000"), pid);
    assert_eq!(b.id(), pid, "B did not get A's PID");
    b
}

/// The forced-reuse rounds, for whichever path this process takes.
fn reuse_body(expect_pidfd: bool) {
    let _w = watchdog("reuse", LIMIT);
    assert_eq!(
        pidkit_pidhandle::probe().usable(),
        expect_pidfd && testkit::sandbox().is_none(),
        "{:?}",
        probe()
    );
    assert_eq!(std::process::id(), 1, "not PID 1 of a new namespace");
    let mut same_tick = 0;
    for round in 0..ROUNDS {
        let a = sleeper();
        let pid = a.id();
        let held = PidHandle::from_child(a.child()).unwrap();
        assert_eq!(held.pidfd().is_some(), pidkit_pidhandle::probe().usable());
        // Odd rounds ask for the text only after A is reaped and B has its
        // PID: the text of a handle made in A's start tick must not match B.
        let early = round % 2 == 0;
        let early_text = early.then(|| held.to_string());
        // The text carries the pidfs file handle exactly where the kernel
        // can open one (restore checks it against the pidfs id).
        assert_eq!(
            held.to_string().contains(":fh="),
            pidkit_pidhandle::probe().usable() && probe().pidfs_file_handles,
            "{held} {:?}",
            probe()
        );
        let restored_early: Option<PidHandle> = early_text.as_ref().map(|t| t.parse().unwrap());
        if let Some(r) = &restored_early {
            assert_eq!(r.state().unwrap(), State::Running);
        }
        let a_ticks = testkit::start_ticks(pid).unwrap();

        held.kill(Signal::KILL).unwrap();
        assert_eq!(a.wait().signal(), Some(9), "round {round}");

        // B gets A's number on purpose, at once.
        let b = spawn_b(pid);
        if testkit::start_ticks(pid).unwrap() == a_ticks {
            same_tick += 1;
        }
        let text = early_text.unwrap_or_else(|| held.to_string());

        // Neither the handle held across the reuse, nor one restored before
        // it, nor one restored after it may signal B.
        let restored_late: PidHandle = text.parse().unwrap();
        let mut handles = vec![("held", &held), ("restored after reuse", &restored_late)];
        if let Some(r) = &restored_early {
            handles.push(("restored before reuse", r));
        }
        for (what, h) in handles {
            assert_eq!(h.state().unwrap(), State::Gone, "round {round}: {what}");
            assert!(!h.is_alive().unwrap(), "round {round}: {what}");
            testkit::assert_gone_error!(h.kill(Signal::ZERO), pid);
            testkit::assert_gone_error!(h.kill(Signal::KILL), pid);
            testkit::assert_gone_error!(h.kill(Signal::TERM), pid);
        }
        assert!(restored_late.to_string().ends_with(":gone"));

        // B is untouched: its own fresh handle works, and when we end it
        // with SIGUSR2 that is the signal it dies of (a stray SIGKILL or
        // SIGTERM above would have won).
        let fresh = PidHandle::from_child(b.child()).unwrap();
        assert_ne!(fresh.to_string(), text, "round {round}");
        assert!(!text.ends_with(":gone") || !early, "round {round}: {text}");
        assert_eq!(fresh.state().unwrap(), State::Running, "round {round}");
        let fresh_restored: PidHandle = fresh.to_string().parse().unwrap();
        fresh_restored.kill(Signal::USR2).unwrap();
        assert_eq!(
            b.wait().signal(),
            Some(Signal::USR2.as_raw()),
            "round {round}: B was hit by a stale handle"
        );

        // A handle made for a free PID stays gone when the PID is taken.
        if round % 10 == 0 {
            let free = pid + 100;
            let ghost = PidHandle::new(free).unwrap();
            testkit::assert_handle_gone!(&ghost);
            let ghost_text = ghost.to_string();
            let c = spawn_b(free);
            testkit::assert_handle_gone!(&ghost);
            testkit::assert_handle_gone!(&ghost_text.parse::<PidHandle>().unwrap());
            PidHandle::from_child(c.child())
                .unwrap()
                .kill(Signal::USR2)
                .unwrap();
            assert_eq!(c.wait().signal(), Some(Signal::USR2.as_raw()));
        }
    }
    // How often B shared A's start tick: the case start ticks alone cannot
    // tell apart, and that every round above still refused.
    eprintln!("{ROUNDS} immediate reuses, {same_tick} with B in A's start tick, 0 wrong signals");
}

testkit::isolated_test!(
    forced_pid_reuse_pidfd,
    Isolation::PidNamespace,
    LIMIT,
    || reuse_body(true),
);

testkit::isolated_test!(
    forced_pid_reuse_pidfd_without_pidfs,
    Isolation::PidNamespace,
    LIMIT,
    env: &[("PIDKIT_HIDE_FEATURES", "pidfs")],
    || {
            assert!(!probe().pidfs);
            reuse_body(true);
        },
);

testkit::isolated_test!(
    forced_pid_reuse_pidfd_without_file_handles,
    Isolation::PidNamespace,
    LIMIT,
    env: &[("PIDKIT_HIDE_FEATURES", "file_handles")],
    || {
            assert!(!probe().pidfs_file_handles);
            reuse_body(true);
        },
);

testkit::isolated_test!(
    /// Text with a file handle, restored where file handles are hidden: the
    /// `fh=` field is ignored and the pidfs id decides, exactly as for text
    /// without it, across 200 immediate reuses.
    file_handle_text_restores_by_pidfs_id_where_handles_are_hidden,
    Isolation::PidNamespace,
    LIMIT,
    env: &[("PIDKIT_HIDE_FEATURES", "file_handles")],
    || {
            let _w = watchdog("fh_hidden", LIMIT);
            if !pidkit_pidhandle::probe().usable() || !probe().pidfs {
                // Nothing to restore by pidfs id here: the sandbox and
                // pidfs-less runs are covered by the other reuse tests.
                assert!(testkit::sandbox().is_some() || !probe().pidfs);
                return;
            }
            assert!(!probe().pidfs_file_handles);
            for round in 0..ROUNDS {
                let a = sleeper();
                let pid = a.id();
                let held = PidHandle::from_child(a.child()).unwrap();
                let plain = held.to_string();
                assert!(!plain.contains(":fh="), "{plain}");
                // The handle a kernel with file handles would have written
                // (the pidfs form: the id in eight little-endian bytes).
                let ino = held.identity().pidfs_id().unwrap();
                let hex: String = ino
                    .to_le_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let text = format!("{plain}:fh=fe.{hex}");
                let live: PidHandle = text.parse().unwrap();
                assert_eq!(live.state().unwrap(), State::Running, "round {round}");
                assert_eq!(live.to_string(), text);
                held.kill(Signal::KILL).unwrap();
                assert_eq!(a.wait().signal(), Some(9), "round {round}");
                let b = spawn_b(pid);
                let late: PidHandle = text.parse().unwrap();
                for h in [&live, &late] {
                    assert_eq!(h.state().unwrap(), State::Gone, "round {round}");
                    testkit::assert_gone_error!(h.kill(Signal::KILL), pid);
                }
                PidHandle::from_child(b.child())
                    .unwrap()
                    .kill(Signal::USR2)
                    .unwrap();
                assert_eq!(
                    b.wait().signal(),
                    Some(Signal::USR2.as_raw()),
                    "round {round}"
                );
            }
        },
);

testkit::isolated_tests!(|| reuse_body(false), LIMIT;
    forced_pid_reuse_fallback_enosys: Isolation::PidNamespaceSeccomp(SeccompMode::Enosys),
    forced_pid_reuse_fallback_eperm: Isolation::PidNamespaceSeccomp(SeccompMode::Eperm),
);

/// Go #67641: many threads signal through clones of a handle to a reaped
/// process while other threads drop clones and open and close pidfds of a
/// live decoy, so that fd numbers are reused all the time. If any kill went
/// through a closed-and-reused fd number it would hit the decoy. Every kill
/// must be `Gone`, and the decoy must die of our final signal only.
fn concurrent_body() {
    let _w = watchdog("concurrent", LIMIT);
    let decoy = sleeper();
    let decoy_pid = decoy.id();
    let victim = sleeper();
    let h = PidHandle::from_child(victim.child()).unwrap();
    h.kill(Signal::KILL).unwrap();
    victim.wait();

    let stop = AtomicBool::new(false);
    let kills = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    // Fresh fds, mostly pidfds of the decoy where they exist.
                    if pidkit_pidhandle::probe().usable() {
                        drop(PidFd::open(decoy_pid).unwrap());
                        let d = PidHandle::new(decoy_pid).unwrap();
                        drop(d.try_clone().unwrap());
                        drop(d);
                    } else {
                        drop(std::fs::File::open("/dev/null").unwrap());
                    }
                }
            });
        }
        let killers: Vec<_> = (0..4)
            .map(|t| {
                let (h, kills) = (&h, &kills);
                s.spawn(move || {
                    for i in 0..5_000 {
                        let mut c = match (t + i) % 3 {
                            0 => PidHandle::restore(h.identity()).unwrap(),
                            1 => h.try_clone().unwrap(),
                            _ => h.to_string().parse().unwrap(),
                        };
                        match c.kill(Signal::KILL) {
                            Err(Error::Gone { .. }) => {}
                            other => panic!("kill through a dead handle gave {other:?}"),
                        }
                        assert!(matches!(h.kill(Signal::KILL), Err(Error::Gone { .. })));
                        if i % 2 == 0 {
                            c.close().unwrap();
                            assert!(matches!(c.kill(Signal::KILL), Err(Error::Closed)));
                        }
                        drop(c);
                        kills.fetch_add(2, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for k in killers {
            k.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(kills.load(Ordering::Relaxed), 4 * 5_000 * 2);
    let d = PidHandle::from_child(decoy.child()).unwrap();
    assert_eq!(d.state().unwrap(), State::Running, "the decoy was hit");
    d.kill(Signal::USR2).unwrap();
    assert_eq!(decoy.wait().signal(), Some(Signal::USR2.as_raw()));
}

#[test]
fn concurrent_kills_never_use_a_reused_fd_number() {
    concurrent_body();
}

testkit::isolated_test!(
    concurrent_kills_never_use_a_reused_fd_number_fallback,
    Isolation::Seccomp(SeccompMode::Enosys),
    LIMIT,
    concurrent_body,
);

/// Making, restoring, cloning and dropping many handles (live and gone)
/// leaves the open-fd count where it was. Runs in its own process so other
/// tests' fds do not disturb the count.
fn leak_body() {
    let _w = watchdog("leak", LIMIT);
    let child = sleeper();
    let pid = child.id();
    let gone = testkit::free_pid();
    // Warm up the caches (probe, boot id) before counting.
    let text = PidHandle::new(pid).unwrap().to_string();
    let gone_text = PidHandle::new(gone).unwrap().to_string();
    let before = testkit::open_fd_count();
    for i in 0..10_000 {
        let h = PidHandle::new(pid).unwrap();
        let r: PidHandle = text.parse().unwrap();
        let g: PidHandle = gone_text.parse().unwrap();
        let n = PidHandle::new(gone).unwrap();
        if i % 10 == 0 {
            let mut c = r.try_clone().unwrap();
            let _into = h.try_clone().unwrap().into_pidfd();
            c.close().unwrap();
        }
        r.kill(Signal::ZERO).unwrap();
        drop((h, r, g, n));
    }
    // A reaped process's handles release their fds too.
    let dying = sleeper();
    let handles: Vec<PidHandle> = (0..1000)
        .map(|_| PidHandle::from_child(dying.child()).unwrap())
        .collect();
    handles[0].kill(Signal::KILL).unwrap();
    dying.wait();
    drop(handles);
    let after = testkit::open_fd_count();
    assert_eq!(before, after, "fds leaked: {:?}", testkit::open_fds());
}

testkit::isolated_test!(no_fd_leaks, Isolation::Process, LIMIT, leak_body,);

testkit::isolated_test!(
    no_fd_leaks_fallback,
    Isolation::Seccomp(SeccompMode::Eperm),
    LIMIT,
    leak_body,
);

/// `/proc` mounted with `hidepid` hides other users' processes: a thread
/// that gave up root must not take a hidden process for gone. With pidfs ids
/// nothing needs `/proc`; where start ticks are the identity the answer is
/// an error (`Unsupported` with pidfds, `PermissionDenied` in the fallback,
/// where `kill(pid, 0)` says `EPERM`), never a gone handle.
fn hidepid_body() {
    let _w = watchdog("hidepid", LIMIT);
    for opt in ["remount,hidepid=2", "remount,hidepid=1"] {
        let st = Command::new("mount")
            .args(["-o", opt, "/proc"])
            .status()
            .unwrap();
        assert!(st.success(), "mount -o {opt} /proc");
        let child = sleeper();
        let pid = child.id();
        let text = PidHandle::from_child(child.child()).unwrap().to_string();
        std::thread::scope(|s| {
            s.spawn(|| {
                // hidepid lets the `gid=` group (0 by default) see all, so
                // the groups go too.
                rustix::thread::set_thread_groups(&[]).unwrap();
                rustix::thread::set_thread_gid(rustix::process::Gid::from_raw(65534)).unwrap();
                rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(65534)).unwrap();
                assert!(
                    std::fs::read(format!("/proc/{pid}/stat")).is_err(),
                    "{opt}: /proc/{pid} still readable"
                );
                for result in [PidHandle::new(pid), text.parse::<PidHandle>()] {
                    match result {
                        Ok(h) => {
                            assert!(
                                pidkit_pidhandle::probe().usable() && probe().pidfs,
                                "{opt}: {h:?}"
                            );
                            assert_eq!(h.state().unwrap(), State::Running);
                            assert!(matches!(
                                h.kill(Signal::ZERO),
                                Err(Error::PermissionDenied { .. })
                            ));
                        }
                        Err(Error::Unsupported { pid: p, .. })
                            if pidkit_pidhandle::probe().usable() =>
                        {
                            assert_eq!(p, pid);
                        }
                        Err(Error::PermissionDenied { pid: p }) => assert_eq!(p, pid),
                        Err(e) => panic!("{opt}: {e}"),
                    }
                }
            })
            .join()
            .unwrap();
        });
        // Root still sees and ends it.
        let h: PidHandle = text.parse().unwrap();
        h.kill(Signal::USR2).unwrap();
        assert_eq!(child.wait().signal(), Some(Signal::USR2.as_raw()));
    }
}

testkit::isolated_test!(
    hidden_processes_are_not_gone,
    Isolation::PidNamespace,
    LIMIT,
    hidepid_body,
);

testkit::isolated_test!(
    hidden_processes_are_not_gone_without_pidfs,
    Isolation::PidNamespace,
    LIMIT,
    env: &[("PIDKIT_HIDE_FEATURES", "pidfs")],
    hidepid_body,
);

testkit::isolated_test!(
    hidden_processes_are_not_gone_fallback,
    Isolation::PidNamespaceSeccomp(SeccompMode::Eperm),
    LIMIT,
    hidepid_body,
);
