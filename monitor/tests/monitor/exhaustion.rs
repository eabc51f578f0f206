//! A full file descriptor table (`RLIMIT_NOFILE` reached): creating a
//! monitor and starting a process are errors naming what ran out, never a
//! panic and never a silent switch to the fallback backend; once descriptors
//! are free again everything works and no descriptor is left behind, and
//! `Monitor::global()` probes again rather than keep the stand-in it gave.
//!
//! The body runs in a process of its own (`testkit::run_isolated`), so that
//! the lowered limit concerns nothing else and `probe()` has not run yet.
//! Where pidfds are refused outright (`cargo xtask test`'s seccomp modes,
//! `PIDKIT_HIDE_FEATURES=pidfd`, the `_fallback` variant) the probe gives a
//! real answer without needing a descriptor, so `Monitor::new` legitimately
//! succeeds with [`Backend::ThreadPerChild`], which needs nothing up front;
//! starting a process still fails.

use std::io;
use std::time::Duration;

use pidkit_monitor::{Backend, Error, Monitor, Process, Signal};
use testkit::{Isolation, SeccompMode, fill_fd_table, watchdog};

const LIMIT: Duration = Duration::from_secs(120);

/// Asserts that `r` is the probe's "out of file descriptors" error.
#[track_caller]
fn assert_out_of_fds(r: Result<Monitor, Error>, what: &str) {
    let e = match r {
        Ok(m) => panic!("{what} with no free descriptor gave {m:?}"),
        Err(e) => e,
    };
    assert!(matches!(&e, Error::OutOfResources { .. }), "{what}: {e:?}");
    assert!(e.to_string().contains("file descriptors"), "{what}: {e}");
    assert!(testkit::is_emfile(&e), "{what}: {e:?}");
}

/// Asserts that starting a process failed on the full table, and that the
/// failure is the spawn's or the watch's I/O error, not a panic.
#[track_caller]
fn assert_start_fails(r: Result<Process, Error>, what: &str) {
    match r {
        Ok(p) => panic!("{what} with no free descriptor started {}", p.pid()),
        Err(e) => assert!(testkit::is_emfile(&e), "{what}: {e:?}"),
    }
}

/// `m` starts a process, signals it and gets its exit.
fn assert_starts_and_kills(m: &Monitor) {
    let p = m.start(&mut testkit::sleep_cmd()).unwrap();
    p.kill(Signal::KILL).unwrap();
    assert_eq!(p.wait().unwrap().signal(), Some(Signal::KILL));
}

fn full_table_body() {
    let _w = watchdog("full_table", LIMIT);
    let possible = testkit::pidfds_possible();
    let expected = if possible {
        Backend::Epoll
    } else {
        Backend::ThreadPerChild
    };
    let baseline = testkit::open_fd_count();
    let threads = testkit::thread_count();

    // First use of pidkit in this process, with the table full.
    let full = fill_fd_table();
    let new = Monitor::new();
    let epoll = Monitor::with_backend(Backend::Epoll);
    // The fallback needs no descriptor up front; starting with it does.
    let fallback = Monitor::with_backend(Backend::ThreadPerChild).unwrap();
    let fallback_start = fallback.start(&mut testkit::sleep_cmd());
    drop(full);

    if possible {
        assert_out_of_fds(new, "Monitor::new");
        assert_out_of_fds(epoll, "Monitor::with_backend(Epoll)");
    } else {
        // The probe was refused (seccomp or hidden), a real answer.
        assert_eq!(new.unwrap().backend(), Backend::ThreadPerChild);
        let e = epoll.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{e}");
    }
    assert_start_fails(fallback_start, "fallback start");
    assert_eq!(fallback.watched(), 0);

    // Descriptors free again: the probe's answer was not kept.
    let m = Monitor::new().unwrap();
    assert_eq!(m.backend(), expected, "{:?}", pidkit_pidfd::probe());
    assert_starts_and_kills(&m);

    // A working monitor, table full again: start and a new monitor fail.
    let before = m.watched();
    let full = fill_fd_table();
    let start = m.start(&mut testkit::sleep_cmd());
    let locked = m.start_locked(&mut testkit::sleep_cmd());
    let again = Monitor::new();
    let watched = m.watched();
    drop(full);
    assert_start_fails(start, "start");
    assert_start_fails(locked, "start_locked");
    // Nothing new is watched (the killed process's entry may be swept
    // meanwhile).
    assert!(
        watched <= before,
        "{before} watched before, {watched} after"
    );
    match again {
        // The probe's answer is cached now; the epoll set cannot be made.
        Err(e) => {
            assert!(possible, "{e:?}");
            assert!(testkit::is_emfile(&e), "{e:?}");
        }
        Ok(n) => {
            assert!(!possible, "{n:?}");
            assert_eq!(n.backend(), Backend::ThreadPerChild);
        }
    }

    // And once more with room: everything works.
    let p = m.start(&mut testkit::sleep_cmd()).unwrap();
    let q = m.start_locked(&mut testkit::sleep_cmd()).unwrap();
    for p in [&p, &q] {
        p.kill(Signal::KILL).unwrap();
        assert_eq!(p.wait().unwrap().signal(), Some(Signal::KILL));
    }
    drop((p, q, m, fallback));

    // The reaper thread ends (closing the epoll set) after its monitor and
    // last process are gone; the watchdog bounds the wait.
    testkit::wait_until(|| {
        testkit::open_fd_count() == baseline && testkit::thread_count() == threads
    });
    assert_eq!(
        testkit::open_fd_count(),
        baseline,
        "{:?}",
        testkit::open_fds()
    );
}

testkit::isolated_tests!(full_table_body, LIMIT;
    new_and_start_with_a_full_fd_table: Isolation::Process,
    new_and_start_with_a_full_fd_table_fallback: Isolation::Seccomp(SeccompMode::Enosys),
);

/// `Monitor::global()` first used with a full descriptor table: that call
/// gets a thread-per-child stand-in (the probe could not answer), and the
/// next call, with descriptors free, probes again and keeps the backend the
/// kernel allows. The stand-in's processes still work.
fn global_body() {
    let _w = watchdog("global_retries", LIMIT);
    let possible = testkit::pidfds_possible();
    let expected = if possible {
        Backend::Epoll
    } else {
        Backend::ThreadPerChild
    };
    let full = fill_fd_table();
    let first = Monitor::global();
    let first_backend = first.backend();
    drop(full);
    if possible {
        assert_eq!(first_backend, Backend::ThreadPerChild);
    }
    let second = Monitor::global();
    assert_eq!(second.backend(), expected, "{:?}", pidkit_pidfd::probe());
    assert!(std::ptr::eq(second, Monitor::global()), "not kept");
    if possible {
        assert!(!std::ptr::eq(first, second), "the stand-in was kept");
    }
    for m in [first, second] {
        assert_starts_and_kills(m);
    }
}

testkit::isolated_tests!(global_body, LIMIT;
    global_probes_again_after_a_full_fd_table: Isolation::Process,
    global_probes_again_after_a_full_fd_table_fallback: Isolation::Seccomp(SeccompMode::Enosys),
);

/// Starting children until the soft `RLIMIT_NOFILE` is reached: the failing
/// start is [`Error::FdLimit`] naming the limit and its values, nothing was
/// left running for it, every process started before is still monitored and
/// delivers its own exit, and after [`pidkit_monitor::raise_fd_limit`] starts
/// work again.
fn fd_limit_body() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let _w = watchdog("fd_limit", LIMIT);
    let m = Monitor::new().unwrap();
    let saved = getrlimit(Resource::Nofile);
    let soft = testkit::open_fds().len() as u64 + 40;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(soft),
            maximum: saved.maximum,
        },
    )
    .unwrap();
    let mut started = Vec::new();
    let err = loop {
        match m.start(&mut testkit::sleep_cmd()) {
            Ok(p) => started.push(p),
            Err(e) => break e,
        }
        assert!(
            started.len() < 1000,
            "the lowered limit {soft} was never reached"
        );
    };
    assert!(
        !started.is_empty(),
        "no start succeeded under {soft}: {err}"
    );
    match &err {
        Error::FdLimit { soft: s, hard, .. } => {
            assert_eq!(*s, soft, "{err}");
            assert_eq!(Some(*hard), saved.maximum, "{err}");
        }
        other => panic!("expected FdLimit, got {other:?} ({err})"),
    }
    let text = err.to_string();
    assert!(
        text.contains("RLIMIT_NOFILE") && text.contains(&soft.to_string()),
        "{text}"
    );
    assert!(testkit::is_emfile(&err), "{err:?}");
    assert_eq!(
        m.watched(),
        started.len(),
        "a failed start left something watched"
    );
    // Every process started before is still watched and gets its own exit.
    for p in &started {
        p.kill(Signal::TERM).unwrap();
    }
    for p in &started {
        let exit = p.wait().unwrap();
        assert_eq!(exit.pid, p.pid());
        assert_eq!(exit.signal(), Some(Signal::TERM));
    }
    drop(started);
    // Raised again, starting works.
    let raised = pidkit_monitor::raise_fd_limit().unwrap();
    assert_eq!(Some(raised), saved.maximum.or(Some(u64::MAX)));
    assert_starts_and_kills(&m);
}

testkit::isolated_tests!(fd_limit_body, LIMIT;
    start_at_the_fd_limit_names_it_and_loses_nothing: Isolation::Process,
    start_at_the_fd_limit_names_it_and_loses_nothing_fallback: Isolation::Seccomp(SeccompMode::Enosys),
);
