//! Resource exhaustion and scale: a full file descriptor table
//! (`RLIMIT_NOFILE` reached, so `pidfd_open` gives `EMFILE`), and 100,000
//! handles made and dropped, 10,000 restored from text, without a leaked
//! descriptor.
//!
//! Each body runs in a process of its own (`testkit::run_isolated`), so the
//! lowered limit and the descriptor counts concern nothing else. The bodies
//! are written for both paths (pidfds, and the `/proc` fallback that the
//! `_fallback` variants and `cargo xtask test`'s sandbox modes take).

#![allow(
    clippy::unwrap_used,
    reason = "a failed step must fail the test loudly"
)]

use std::error::Error as _;
use std::time::Duration;

use pidkit_pidhandle::{Error, Identity, PidHandle, Signal, State, probe};
use testkit::{Isolation, SeccompMode, fill_fd_table, sleeper, watchdog};

/// Time limit of every test (and of every isolated re-run).
const LIMIT: Duration = Duration::from_secs(120);

/// Asserts that `e` is the I/O error of a full descriptor table, naming `pid`:
/// never "no such process", never a parse error.
#[track_caller]
fn assert_emfile(e: &Error, pid: u32, what: &str) {
    assert!(matches!(e, Error::Io { .. }), "{what}: {e:?}");
    assert!(testkit::is_emfile(e), "{what}: {e:?}");
    let message = e.to_string();
    assert!(message.contains(&pid.to_string()), "{what}: {message}");
    assert!(e.source().is_some(), "{what}: {e:?}");
}

/// The first thing this process does with pidkit happens with the table
/// full: every way to get a handle is an I/O error naming the PID, and once
/// descriptors are free again everything works as if nothing had happened,
/// on the pidfd path where there is one (the probe's answer was not kept).
fn first_use_body() {
    let _w = watchdog("first_use", LIMIT);
    let child = sleeper();
    let pid = child.id();
    // Everything the test needs from /proc, read before the table fills.
    let start = testkit::start_ticks_once_named(pid, "sleep");
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let text = format!("pidkit-pid:v1:pid={pid}:boot={}:start={start}", boot.trim());
    let possible = testkit::pidfds_possible();
    let baseline = testkit::open_fd_count();

    let full = fill_fd_table();
    let new = PidHandle::new(pid);
    let from_child = PidHandle::from_child(child.child());
    let restored = text.parse::<PidHandle>();
    // Parsing alone needs no descriptor.
    let id = text.parse::<Identity>();
    drop(full);

    for (what, r) in [
        ("new", new),
        ("from_child", from_child),
        ("restore", restored),
    ] {
        match r {
            Err(e) => assert_emfile(&e, pid, what),
            Ok(h) => panic!("{what} with no free descriptor gave {h:?}"),
        }
    }
    assert_eq!(id.unwrap().pid(), pid);

    let h = PidHandle::new(pid).unwrap();
    assert_eq!(h.pidfd().is_some(), possible, "{h:?} {:?}", probe());
    assert_eq!(h.state().unwrap(), State::Running);
    let r: PidHandle = text.parse().unwrap();
    assert_eq!(r.to_string(), text);
    assert_eq!(r.state().unwrap(), State::Running);
    r.kill(Signal::ZERO).unwrap();
    drop((h, r));
    assert_eq!(
        testkit::open_fd_count(),
        baseline,
        "{:?}",
        testkit::open_fds()
    );
}

testkit::isolated_tests!(first_use_body, LIMIT;
    first_use_with_a_full_fd_table: Isolation::Process,
    first_use_with_a_full_fd_table_fallback: Isolation::Seccomp(SeccompMode::Enosys),
);

/// Every operation with 0, 1, 2 and 3 free descriptors: each either works
/// (and then pins the right, live process) or is an I/O error naming the
/// PID. A live process is never reported gone or dead; nothing leaks.
fn free_fds_body() {
    let _w = watchdog("free_fds", LIMIT);
    let child = sleeper();
    let pid = child.id();
    let free = testkit::free_pid();
    let base = PidHandle::from_child(child.child()).unwrap();
    let text = base.to_string();
    let gone_text = PidHandle::new(free).unwrap().to_string();
    assert!(gone_text.ends_with(":gone"));
    let baseline = testkit::open_fd_count();

    for k in 0..=3 {
        // A pidfd to hand over (reading its PID back needs a descriptor where
        // the fdinfo fallback of `PidFd::info` is used).
        let spare = base.pidfd().map(|fd| fd.try_clone().unwrap());
        // A handle to give up for its pidfd, which needs no descriptor.
        let own = base.try_clone().unwrap();
        let mut full = fill_fd_table();
        full.leave_free(k);
        let from_pidfd = spare.map(|fd| PidHandle::from_pidfd(pid, fd));
        let made = [
            ("new", PidHandle::new(pid)),
            ("from_child", PidHandle::from_child(child.child())),
            ("restore", text.parse::<PidHandle>()),
            ("try_clone", base.try_clone()),
            ("restore again", PidHandle::restore(base.identity())),
        ];
        let gone_new = PidHandle::new(free);
        let gone_restored = gone_text.parse::<PidHandle>();
        let state = base.state();
        let alive = base.is_alive();
        let signalled = base.kill(Signal::ZERO);
        let into = own.into_pidfd();
        drop(full);

        for (what, r) in made {
            let what = format!("{what} with {k} free");
            match r {
                Ok(h) => {
                    assert_eq!(h.to_string(), text, "{what}");
                    assert_eq!(h.state().unwrap(), State::Running, "{what}");
                    assert_eq!(
                        h.pidfd().is_some(),
                        pidkit_pidhandle::probe().usable(),
                        "{what}"
                    );
                }
                Err(e) => assert_emfile(&e, pid, &what),
            }
        }
        match from_pidfd {
            None => assert!(!pidkit_pidhandle::probe().usable()),
            Some(Ok(h)) => {
                assert_eq!(h.to_string(), text);
                assert_eq!(h.state().unwrap(), State::Running);
            }
            Some(Err(e)) => assert_emfile(e.error(), pid, "from_pidfd"),
        }
        match gone_new {
            // The kernel looks the PID up before it allocates a descriptor.
            Ok(h) => assert_eq!(h.state().unwrap(), State::Gone),
            Err(e) => assert_emfile(&e, free, "new for a free pid"),
        }
        assert_eq!(gone_restored.unwrap().state().unwrap(), State::Gone);
        match state {
            Ok(s) => assert_eq!(s, State::Running, "state with {k} free"),
            Err(e) => assert_emfile(&e, pid, "state"),
        }
        match alive {
            Ok(a) => assert!(a, "is_alive with {k} free"),
            Err(e) => assert_emfile(&e, pid, "is_alive"),
        }
        match signalled {
            Ok(()) => {}
            Err(e) => assert_emfile(&e, pid, "kill(0)"),
        }
        assert_eq!(
            into.is_some(),
            pidkit_pidhandle::probe().usable(),
            "into_pidfd with {k} free"
        );
    }
    // With a pidfd, what needs no new descriptor worked even in a full table.
    if pidkit_pidhandle::probe().usable() {
        let full = fill_fd_table();
        let state = base.state();
        let signalled = base.kill(Signal::ZERO);
        drop(full);
        assert_eq!(state.unwrap(), State::Running);
        signalled.unwrap();
    }
    drop(base);
    assert_eq!(
        testkit::open_fd_count(),
        baseline - usize::from(pidkit_pidhandle::probe().usable()),
        "{:?}",
        testkit::open_fds()
    );
}

testkit::isolated_tests!(free_fds_body, LIMIT;
    every_operation_with_0_to_3_free_fds: Isolation::Process,
    every_operation_with_0_to_3_free_fds_fallback: Isolation::Seccomp(SeccompMode::Eperm),
);

/// 100,000 handles made and dropped (in batches of 1,000 held at once, so
/// descriptor numbers are reused) and 10,000 restored from text (likewise),
/// each checked: the descriptor count ends where it started.
fn scale_body() {
    let _w = watchdog("scale", LIMIT);
    let child = sleeper();
    let pid = child.id();
    let text = PidHandle::from_child(child.child()).unwrap().to_string();
    let baseline = testkit::open_fd_count();
    for _ in 0..testkit::capacity(100, 10) {
        let batch: Vec<PidHandle> = (0..1000).map(|_| PidHandle::new(pid).unwrap()).collect();
        assert_eq!(batch[999].to_string(), text);
        assert_eq!(
            batch[0].pidfd().is_some(),
            pidkit_pidhandle::probe().usable()
        );
    }
    for _ in 0..10 {
        let batch: Vec<PidHandle> = (0..1000).map(|_| text.parse().unwrap()).collect();
        for h in &batch {
            assert!(!h.identity().is_gone());
        }
        batch[999].kill(Signal::ZERO).unwrap();
    }
    assert_eq!(
        testkit::open_fd_count(),
        baseline,
        "{:?}",
        testkit::open_fds()
    );
}

testkit::isolated_tests!(scale_body, LIMIT;
    hundred_thousand_handles_leak_nothing: Isolation::Process,
    hundred_thousand_handles_leak_nothing_fallback: Isolation::Seccomp(SeccompMode::Eperm),
);
