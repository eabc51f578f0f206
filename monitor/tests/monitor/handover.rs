//! Who reaps a waited process: a waiter takes its pidfd out of the reaper's
//! epoll set and reaps it itself, and cleans up after itself; a waiter that
//! gives up hands an unsettled process back, and the reaper then reaps it
//! with nobody waiting. Each test waits for the observable fact
//! ([`Monitor::watched`], the recorded exit), bounded by a watchdog.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use pidkit_monitor::{Backend, Monitor, Process, Signal};
use testkit::watchdog;

const LIMIT: Duration = Duration::from_secs(60);

/// A child that exits with the code it reads from its stdin.
fn start_reader(monitor: &Monitor) -> Process {
    monitor
        .start(
            Command::new("sh")
                .args(["-c", "read code; exit $code"])
                .stdin(Stdio::piped()),
        )
        .unwrap()
}

/// Tells a [`start_reader`] child to exit with `code`.
fn finish(p: &mut Process, code: i32) {
    let mut stdin = p.stdin().unwrap();
    writeln!(stdin, "{code}").unwrap();
}

/// Waits until the monitor watches `n` processes (only the reaper thread or
/// a waiter changes it).
fn until_watched(monitor: &Monitor, n: usize) {
    testkit::wait_until(|| monitor.watched() == n);
}

/// Whether this monitor has a reaper (the fallback has a watcher thread
/// per child, which counts until it ends, just after recording the exit).
fn has_reaper(monitor: &Monitor) -> bool {
    monitor.backend() == Backend::Epoll
}

/// Nothing left to watch once an exit was taken: at once with the reaper
/// (the waiter took the entry out), as soon as the watcher threads end in
/// the fallback.
fn assert_cleaned_up(monitor: &Monitor, round: i32) {
    if has_reaper(monitor) {
        assert_eq!(monitor.watched(), 0, "round {round}");
    } else {
        until_watched(monitor, 0);
    }
}

#[test]
fn a_waiter_cleans_up_after_itself() {
    let _w = watchdog("a_waiter_cleans_up_after_itself", LIMIT);
    let monitor = Monitor::new().unwrap();
    for round in 0..20 {
        let p = monitor.start(&mut Command::new("true")).unwrap();
        assert!(monitor.watched() <= 1, "round {round}");
        assert_eq!(p.wait().unwrap().code(), 0);
        // Nothing left for the reaper thread: the waiter took the entry out.
        assert_cleaned_up(&monitor, round);
        assert_eq!(p.wait().unwrap().code(), 0, "recorded once");
    }
}

#[test]
fn a_waiter_that_gives_up_hands_the_process_back() {
    let _w = watchdog("a_waiter_that_gives_up_hands_the_process_back", LIMIT);
    let monitor = Monitor::new().unwrap();
    for round in 0..10 {
        let mut p = start_reader(&monitor);
        assert_eq!(p.wait_timeout(Duration::from_millis(1)).unwrap(), None);
        assert!(p.try_wait().unwrap().is_none(), "round {round}");
        finish(&mut p, round);
        if has_reaper(&monitor) {
            // Nobody waits now: only the reaper thread can reap and drop it.
            until_watched(&monitor, 0);
            let exit = p
                .try_wait()
                .unwrap()
                .expect("recorded by the reaper thread");
            assert_eq!(exit.code(), round);
        } else {
            assert_eq!(p.wait().unwrap().code(), round);
        }
    }
}

#[test]
fn many_waiters_one_gives_up_the_others_get_the_same_exit() {
    let _w = watchdog("many_waiters", LIMIT);
    let monitor = Monitor::new().unwrap();
    let mut q = start_reader(&monitor);
    let mut stdin = q.stdin().unwrap();
    let shared = Arc::new(q);
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let p = Arc::clone(&shared);
            std::thread::spawn(move || p.wait().unwrap())
        })
        .collect();
    // One more waiter that gives up, while the others may be waiting.
    assert_eq!(shared.wait_timeout(Duration::from_millis(1)).unwrap(), None);
    // And another process's waiter meanwhile.
    let mut p = start_reader(&monitor);
    finish(&mut p, 3);
    assert_eq!(p.wait().unwrap().code(), 3);
    writeln!(stdin, "5").unwrap();
    let exits: Vec<_> = waiters.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(exits.iter().all(|e| e.code() == 5), "{exits:?}");
    assert!(exits.windows(2).all(|w| w[0] == w[1]), "one recorded exit");
    assert_eq!(shared.wait().unwrap(), exits[0]);
    assert_cleaned_up(&monitor, 0);
}

#[cfg(feature = "tokio")]
#[test]
fn an_async_waiter_cleans_up_and_one_dropped_hands_back() {
    let _w = watchdog("async_handover", LIMIT);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let monitor = Monitor::new().unwrap();
    for round in 0..20 {
        let p = monitor.start(&mut Command::new("true")).unwrap();
        assert_eq!(rt.block_on(p.wait_async()).unwrap().code(), 0);
        assert_cleaned_up(&monitor, round);
        // And when the exit is taken without waiting.
        let p = monitor.start(&mut Command::new("true")).unwrap();
        let exit = p.wait().unwrap();
        assert_eq!(p.try_wait().unwrap(), Some(exit));
        assert_cleaned_up(&monitor, round);
    }
    // Dropped before the exit: the process goes back to the reaper thread.
    let mut q = start_reader(&monitor);
    rt.block_on(async {
        let timed_out = tokio::time::timeout(Duration::from_millis(1), q.wait_async()).await;
        assert!(timed_out.is_err(), "{timed_out:?}");
    });
    finish(&mut q, 4);
    if has_reaper(&monitor) {
        until_watched(&monitor, 0);
        assert_eq!(
            q.try_wait()
                .unwrap()
                .expect("recorded by the reaper thread")
                .code(),
            4
        );
    } else {
        assert_eq!(q.wait().unwrap().code(), 4);
    }
}

/// The `SigBlk:` mask in the text of a `/proc/.../status` file.
fn sig_blk(status: &str) -> Option<u64> {
    let mask = status.lines().find_map(|l| l.strip_prefix("SigBlk:"))?;
    u64::from_str_radix(mask.trim(), 16).ok()
}

/// The signal mask of thread `tid` of this process.
fn blocked_signals(tid: &str) -> Option<u64> {
    sig_blk(&std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?)
}

/// The thread ids of this process's helper threads: reapers (every test's
/// monitor) and fallback watcher threads.
fn helper_threads() -> Vec<String> {
    let mut tids = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if matches!(comm.trim(), "pidkit-reaper" | "pidkit-watch") {
            tids.push(task.file_name().to_string_lossy().into_owned());
        }
    }
    tids
}

#[test]
fn helper_threads_block_signals_but_libcs_own() {
    let _w = watchdog("helper_threads_block_signals_but_libcs_own", LIMIT);
    let monitor = Monitor::new().unwrap();
    // A running child, so that the fallback (no pidfds) has its watcher
    // thread now; with pidfds the monitor's reaper is there already.
    let sleeper = monitor.start(Command::new("sleep").arg("1000")).unwrap();
    sleeper.set_kill_on_drop(true);
    let bit = |sig: i32| 1u64 << (sig - 1);
    let wanted = [
        Signal::CHLD,
        Signal::TERM,
        Signal::INT,
        Signal::USR1,
        Signal::HUP,
    ]
    .map(Signal::as_raw);
    // A helper blocks its signals as it starts; wait for that, then check
    // that glibc's internal signals (32 and 33, which `setuid` needs every
    // thread to take) stay open.
    testkit::wait_until(|| {
        let tids = helper_threads();
        !tids.is_empty()
            && tids.iter().all(|tid| {
                // A thread that has ended meanwhile has no status: skip it.
                blocked_signals(tid).is_none_or(|m| wanted.iter().all(|&s| m & bit(s) != 0))
            })
    });
    for tid in helper_threads() {
        if let Some(mask) = blocked_signals(&tid) {
            assert_eq!(mask & (bit(32) | bit(33)), 0, "helper {tid} mask {mask:x}");
        }
    }
    // Children still start with nothing blocked.
    let mut p = monitor
        .start(
            Command::new("sh")
                .args(["-c", "grep SigBlk /proc/self/status"])
                .stdout(Stdio::piped()),
        )
        .unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut p.stdout().unwrap(), &mut out).unwrap();
    assert_eq!(p.wait().unwrap().code(), 0);
    assert_eq!(sig_blk(&out), Some(0), "{out}");
    sleeper.kill(Signal::KILL).unwrap();
    assert_eq!(sleeper.wait().unwrap().signal(), Some(Signal::KILL));
}

#[test]
fn a_burst_of_exits_nobody_waits_for_is_recorded_in_full() {
    let _w = watchdog(
        "a_burst_of_exits_nobody_waits_for_is_recorded_in_full",
        LIMIT,
    );
    let monitor = Monitor::new().unwrap();
    // More than the reaper takes in one look (256 events), so it both
    // gathers and goes straight on with a full buffer.
    let before = std::time::SystemTime::now();
    let processes: Vec<Process> = (0..260)
        .map(|_| monitor.start(&mut Command::new("true")).unwrap())
        .collect();
    until_watched(&monitor, 0);
    for p in &processes {
        let exit = p.try_wait().unwrap().expect("recorded by the reaper");
        assert_eq!(exit.code(), 0, "pid {}", p.pid());
        assert!(exit.timestamp >= before, "pid {}", p.pid());
    }
}
