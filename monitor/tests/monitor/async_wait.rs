//! `Process::wait_async` (feature `tokio`, enabled for the test suite by the
//! crate's dev-dependency on itself) on real processes: both runtime
//! flavours, cancellation at every point the future can be dropped, many
//! waiters, exits racing registration, forced PID reuse, the fallback under
//! seccomp, and 10,000 processes awaited at once.
//!
//! Under `cargo xtask test`'s seccomp modes (`PIDKIT_SANDBOX`) pidfds are
//! refused and every monitor runs on its fallback: the same tests then
//! check the same guarantees with the exit pipe.

use std::future::Future;
use std::io::{self};
use std::pin::Pin;
use std::process::Command;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use pidkit_monitor::PidHandle;
use pidkit_monitor::{Backend, Error, Exit, Monitor, Process, Signal, WaitFuture};
use pidkit_pidfd::probe;
use testkit::{Isolation, SeccompMode, watchdog};
use tokio::runtime::{Builder, Runtime};

const LIMIT: Duration = Duration::from_secs(120);

fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Polls `f` once, in `rt`'s context, with a waker that does nothing.
fn poll_once<F: Future + Unpin>(rt: &Runtime, f: &mut F) -> Poll<F::Output> {
    let _in_rt = rt.enter();
    Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}

/// Lets `rt`'s reactor run once, then polls `f` once from inside `rt`.
fn drive_and_poll<F: Future + Unpin>(rt: &Runtime, f: &mut F) -> Poll<F::Output> {
    rt.block_on(async {
        tokio::task::yield_now().await;
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx))).await
    })
}

/// The monitors the bodies run on here: the default, and the fallback.
fn monitors() -> Vec<Monitor> {
    vec![
        Monitor::new().unwrap(),
        Monitor::with_backend(Backend::ThreadPerChild).unwrap(),
    ]
}

/// What must hold on every monitor and runtime: codes, signals, the same
/// exit from every later wait, sync or async.
fn basics(m: &Monitor, rt: &Runtime) {
    let p = m.start(&mut testkit::sh_cmd("exit 7")).unwrap();
    let exit = rt.block_on(p.wait_async()).unwrap();
    assert_eq!((exit.code(), exit.pid), (7, p.pid()));
    assert_eq!(p.wait().unwrap(), exit);
    assert_eq!(rt.block_on(p.wait_async()).unwrap(), exit);
    assert_eq!(p.try_wait().unwrap(), Some(exit));
    testkit::assert_no_zombie_of_ours(p.pid());

    let p = m.start(&mut testkit::sleep_cmd()).unwrap();
    let exit = rt.block_on(async {
        let waiting = p.wait_async();
        p.kill(Signal::TERM).unwrap();
        waiting.await
    });
    let exit = exit.unwrap();
    assert_eq!((exit.code(), exit.signal()), (143, Some(Signal::TERM)));
    assert_eq!(p.wait().unwrap(), exit);
    assert!(p.kill(Signal::TERM).is_err());

    // Spawned tasks, many processes with distinct codes.
    let procs: Vec<Arc<Process>> = (0..40)
        .map(|i| Arc::new(m.start(&mut testkit::sh_cmd(&format!("exit {i}"))).unwrap()))
        .collect();
    let exits = await_each(rt, &procs);
    for (i, (p, exit)) in procs.iter().zip(&exits).enumerate() {
        assert_eq!((exit.code(), exit.pid), (i as i32, p.pid()));
        assert_eq!(p.wait().unwrap(), *exit);
    }
}

#[test]
fn current_thread_runtime() {
    let _w = watchdog("current_thread", LIMIT);
    for m in monitors() {
        basics(&m, &current_thread());
    }
}

#[test]
fn multi_thread_runtime() {
    let _w = watchdog("multi_thread", LIMIT);
    for m in monitors() {
        basics(&m, &multi_thread());
    }
}

#[test]
fn tokio_main_style_runtime_and_the_global_monitor() {
    let _w = watchdog("global", LIMIT);
    #[tokio::main(flavor = "current_thread")]
    async fn run() -> Result<Exit, pidkit_monitor::Error> {
        Monitor::global()
            .start(&mut testkit::sh_cmd("exit 5"))?
            .wait_async()
            .await
    }
    assert_eq!(run().unwrap().code(), 5);
}

/// Drops the future at each point it can be dropped, then waits again
/// (sync and async): the exit is the process's, recorded once.
fn cancellation(m: &Monitor, rt: &Runtime) {
    // 1. Before its first poll.
    let p = m.start(&mut testkit::sh_cmd("exit 3")).unwrap();
    drop(p.wait_async());
    let exit = p.wait().unwrap();
    assert_eq!(exit.code(), 3);
    assert_eq!(rt.block_on(p.wait_async()).unwrap(), exit);

    // 2. Registered with the reactor, process still running.
    let p = m.start(&mut testkit::sleep_cmd()).unwrap();
    let mut f = p.wait_async();
    assert!(poll_once(rt, &mut f).is_pending(), "{f:?}");
    assert!(format!("{f:?}").contains("exit fd"), "{f:?}");
    drop(f);
    p.kill(Signal::KILL).unwrap();
    let exit = rt.block_on(p.wait_async()).unwrap();
    assert_eq!(exit.code(), 137);
    assert_eq!(p.wait().unwrap(), exit);

    // 3. Registered, process exited (the exit fd is readable: readiness is
    //    due or delivered), not yet reaped by the future: dropped there.
    let p = m.start(&mut testkit::sleep_cmd()).unwrap();
    let mut f = p.wait_async();
    assert!(poll_once(rt, &mut f).is_pending());
    p.kill(Signal::KILL).unwrap();
    testkit::block_until_readable(p.exit_fd());
    // Let the reactor see it, without polling the future.
    rt.block_on(tokio::task::yield_now());
    drop(f);
    let exit = p.wait().unwrap();
    assert_eq!((exit.code(), exit.pid), (137, p.pid()));
    assert_eq!(rt.block_on(p.wait_async()).unwrap(), exit);
    testkit::assert_no_zombie_of_ours(p.pid());

    // 4. As 3, waiting again asynchronously first.
    let p = m.start(&mut testkit::sleep_cmd()).unwrap();
    let mut f = p.wait_async();
    assert!(poll_once(rt, &mut f).is_pending());
    p.kill(Signal::TERM).unwrap();
    testkit::block_until_readable(p.exit_fd());
    drop(f);
    let exit = rt.block_on(p.wait_async()).unwrap();
    assert_eq!(exit.code(), 143);
    assert_eq!(p.wait().unwrap(), exit);

    // 5. Cancelled by `select!` while another waiter goes on, many times
    //    over one process's life.
    let p = Arc::new(m.start(&mut testkit::sleep_cmd()).unwrap());
    let exit = rt.block_on(async {
        let keeper = tokio::spawn(p.wait_async());
        for _ in 0..50 {
            tokio::select! {
                biased;
                _ = tokio::task::yield_now() => {}
                r = p.wait_async() => panic!("the process is still running: {r:?}"),
            }
        }
        p.kill(Signal::KILL).unwrap();
        keeper.await.unwrap()
    });
    let exit = exit.unwrap();
    assert_eq!(exit.code(), 137);
    assert_eq!(p.wait().unwrap(), exit);
    assert_eq!(rt.block_on(p.wait_async()).unwrap(), exit);
}

#[test]
fn cancellation_at_every_await_point() {
    let _w = watchdog("cancel", LIMIT);
    for m in monitors() {
        cancellation(&m, &current_thread());
        cancellation(&m, &multi_thread());
    }
}

/// A hundred tasks on two runtimes and a thread wait for one process; all
/// get the same exit.
fn many_waiters(m: &Monitor) {
    let p = Arc::new(m.start(&mut testkit::sleep_cmd()).unwrap());
    let (ct, mt) = (current_thread(), multi_thread());
    let sync = {
        let p = Arc::clone(&p);
        std::thread::spawn(move || p.wait().unwrap())
    };
    let mt_tasks: Vec<_> = (0..50).map(|_| mt.spawn(p.wait_async())).collect();
    let exits = ct.block_on(async {
        let local: Vec<_> = (0..50).map(|_| tokio::spawn(p.wait_async())).collect();
        // Every task has registered (or found the exit) before the kill.
        tokio::task::yield_now().await;
        p.kill(Signal::KILL).unwrap();
        let mut out = Vec::new();
        for t in local.into_iter().chain(mt_tasks) {
            out.push(t.await.unwrap().unwrap());
        }
        out
    });
    let first = sync.join().unwrap();
    assert_eq!(first.code(), 137);
    assert_eq!(exits.len(), 100);
    assert!(exits.iter().all(|e| *e == first), "{exits:?} vs {first:?}");
    testkit::assert_no_zombie_of_ours(p.pid());
}

#[test]
fn many_waiters_on_one_process() {
    let _w = watchdog("many_waiters", LIMIT);
    for m in monitors() {
        many_waiters(&m);
    }
}

/// Awaits every process of `procs` in a task of its own, all at once, and
/// returns their exits in order.
fn await_each(rt: &Runtime, procs: &[Arc<Process>]) -> Vec<Exit> {
    rt.block_on(async {
        let tasks: Vec<_> = procs.iter().map(|p| tokio::spawn(p.wait_async())).collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().unwrap());
        }
        out
    })
}

/// Children that exit at once, awaited from the moment they are started, and
/// children already exited (and maybe reaped by the monitor) before their
/// future is first polled: none missed, each to its own process.
fn racing(m: &Monitor, rt: &Runtime) {
    let procs: Vec<Arc<Process>> = (0..300)
        .map(|i| {
            Arc::new(
                m.start(&mut testkit::sh_cmd(&format!("exit {}", i % 200)))
                    .unwrap(),
            )
        })
        .collect();
    let exits = await_each(rt, &procs);
    for (i, (p, e)) in procs.iter().zip(&exits).enumerate() {
        assert_eq!((e.code(), e.pid), ((i % 200) as i32, p.pid()));
    }
    let procs: Vec<Process> = (0..50)
        .map(|i| m.start(&mut testkit::sh_cmd(&format!("exit {i}"))).unwrap())
        .collect();
    for p in &procs {
        testkit::block_until_readable(p.exit_fd());
    }
    for (i, p) in procs.iter().enumerate() {
        let exit = rt.block_on(p.wait_async()).unwrap();
        assert_eq!((exit.code(), exit.pid), (i as i32, p.pid()));
    }
}

#[test]
fn exits_racing_registration() {
    let _w = watchdog("racing", LIMIT);
    for m in monitors() {
        racing(&m, &current_thread());
        racing(&m, &multi_thread());
    }
}

/// Starts `cmd` with the monitor so that it gets exactly `pid` (in a private
/// PID namespace), and, if `not_ticks` is given, in another clock tick than
/// that: where start ticks are a handle's identity (no pidfds), two
/// processes that got one PID within one tick cannot be told apart, the
/// limit pidhandle documents.
fn start_with_pid(m: &Monitor, cmd: &mut Command, pid: u32, not_ticks: Option<u64>) -> Process {
    for _ in 0..200 {
        testkit::force_next_pid(pid).unwrap();
        let p = m.start(cmd).unwrap();
        if p.pid() == pid && not_ticks.is_none_or(|t| testkit::start_ticks(pid).unwrap() != t) {
            return p;
        }
        p.kill(Signal::KILL).unwrap();
        p.wait().unwrap();
    }
    panic!("could not start a process with PID {pid}");
}

fn pid_reuse_body() {
    let _w = watchdog("reuse", LIMIT);
    let rt = current_thread();
    for m in monitors() {
        let n = 4000;
        // A future made for A before A dies and its PID is reused by B.
        let a = start_with_pid(&m, &mut testkit::sleep_cmd(), n, None);
        let a_ticks = testkit::start_ticks(n).unwrap();
        let a_handle = PidHandle::new(n).unwrap();
        let a_text = a_handle.to_string();
        let mut fa = a.wait_async();
        assert!(poll_once(&rt, &mut fa).is_pending());
        let mut fa_late = a.wait_async();
        a.kill(Signal::TERM).unwrap();
        let a_exit = a.wait().unwrap();
        assert_eq!(a_exit.code(), 143);
        let b = start_with_pid(&m, &mut testkit::sleep_cmd(), n, Some(a_ticks));
        assert_eq!(b.pid(), a.pid());
        let mut fb = b.wait_async();
        // B runs: its future waits; A's futures answer with A's exit.
        assert!(poll_once(&rt, &mut fb).is_pending());
        assert_eq!(rt.block_on(&mut fa).unwrap(), a_exit);
        assert_eq!(rt.block_on(&mut fa_late).unwrap(), a_exit);
        assert!(poll_once(&rt, &mut fb).is_pending(), "{fb:?}");
        // A's handles (held and restored from text) see A gone, at once,
        // while B runs under the same number.
        rt.block_on(a_handle.wait_exited_async()).unwrap();
        let restored: PidHandle = a_text.parse().unwrap();
        rt.block_on(restored.wait_exited_async()).unwrap();
        assert!(poll_once(&rt, &mut fb).is_pending());
        // A handle to B waits for B, not for A.
        let mut fbh = PidHandle::new(n).unwrap().wait_exited_async();
        assert!(poll_once(&rt, &mut fbh).is_pending());
        b.kill(Signal::KILL).unwrap();
        let b_exit = rt.block_on(fb).unwrap();
        assert_eq!((b_exit.code(), b_exit.pid), (137, n));
        rt.block_on(fbh).unwrap();
        assert_eq!(a.wait().unwrap(), a_exit);
    }
}

testkit::isolated_tests!(pid_reuse_body, LIMIT;
    forced_pid_reuse_never_completes_another_process_future: Isolation::PidNamespace,
    forced_pid_reuse_under_seccomp: Isolation::PidNamespaceSeccomp(SeccompMode::Eperm),
);

fn seccomp_body() {
    let _w = watchdog("seccomp", LIMIT);
    assert!(!probe().usable(), "{:?}", probe());
    let m = Monitor::new().unwrap();
    assert_eq!(m.backend(), Backend::ThreadPerChild);
    for rt in [current_thread(), multi_thread()] {
        basics(&m, &rt);
        cancellation(&m, &rt);
        racing(&m, &rt);
    }
    many_waiters(&m);
}

testkit::isolated_tests!(seccomp_body, LIMIT;
    fallback_under_seccomp_enosys: Isolation::Seccomp(SeccompMode::Enosys),
    fallback_under_seccomp_eperm: Isolation::Seccomp(SeccompMode::Eperm),
);

#[test]
fn adopted_process_awaited() {
    let _w = watchdog("adopted", LIMIT);
    let (sh, gpid) = testkit::grandchild("wait $!");
    let m = Monitor::new().unwrap();
    let Ok(p) = m.adopt(PidHandle::new(gpid).unwrap()) else {
        // Without pidfds a non-child cannot be adopted (documented, and
        // tested in `api`).
        assert!(!probe().usable());
        let _ = PidHandle::new(gpid).unwrap().kill(Signal::KILL);
        return;
    };
    let rt = multi_thread();
    let waiting = rt.spawn(p.wait_async());
    p.kill(Signal::TERM).unwrap();
    let result = rt.block_on(waiting).unwrap();
    if probe().info_exit {
        let exit = result.unwrap();
        assert_eq!((exit.pid, exit.code()), (gpid, 143));
        assert_eq!(p.wait().unwrap(), exit);
    } else {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
        assert_eq!(p.wait().unwrap_err().kind(), io::ErrorKind::Unsupported);
    }
    assert_eq!(sh.wait().code(), Some(143));
}

testkit::isolated_test!(
    adopted_orphan_awaited_until_reparented_and_reaped_with_cancellation,
    Isolation::Process,
    LIMIT,
    || {
        let _w = watchdog("adopted_orphan", LIMIT);
        let m = Monitor::new().unwrap();
        let Some((sh, gpid, p)) = crate::adopted_unreaped_exit(
            "adopted_orphan_awaited_until_reparented_and_reaped_with_cancellation",
            &m,
        ) else {
            return;
        };
        let rt = current_thread();
        // Exited, not reaped by its parent: the future hands over to the
        // monitor and waits for the recorded exit. Drop it there.
        let mut f = p.wait_async();
        testkit::wait_until(|| {
            assert!(drive_and_poll(&rt, &mut f).is_pending());
            format!("{f:?}").contains("recorded")
        });
        drop(f);
        let mut g = p.wait_async();
        testkit::wait_until(|| {
            assert!(drive_and_poll(&rt, &mut g).is_pending());
            format!("{g:?}").contains("recorded")
        });
        // Its parent dies; the orphan comes to us; the monitor reaps it
        // and wakes the waiting task.
        drop(sh);
        let exit = rt.block_on(g).unwrap();
        assert_eq!((exit.pid, exit.signal()), (gpid, Some(Signal::TERM)));
        assert_eq!(rt.block_on(p.wait_async()).unwrap(), exit);
        assert_eq!(p.wait().unwrap(), exit);
        testkit::assert_no_zombie_of_ours(gpid);
    },
);

#[test]
fn future_is_static_send_and_unpin() {
    fn check<T: Send + Unpin + 'static>(_: &T) {}
    let _w = watchdog("static", LIMIT);
    let m = Monitor::new().unwrap();
    let p = m.start(&mut testkit::sh_cmd("exit 0")).unwrap();
    let f: WaitFuture = p.wait_async();
    check(&f);
    drop(p);
    assert!(current_thread().block_on(f).unwrap().success());
}

#[test]
fn outside_a_runtime_is_an_error_not_a_panic() {
    let _w = watchdog("no_runtime", LIMIT);
    let p = Monitor::new()
        .unwrap()
        .start(&mut testkit::sleep_cmd())
        .unwrap();
    let mut f = p.wait_async();
    let Poll::Ready(Err(err)) = Pin::new(&mut f).poll(&mut Context::from_waker(Waker::noop()))
    else {
        panic!("expected an error");
    };
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains(&p.pid().to_string()), "{err}");
    // What went wrong is the source, not repeated in the message.
    let cause = std::error::Error::source(&err)
        .expect("a source")
        .to_string();
    assert!(cause.contains("tokio runtime"), "{cause}");
    assert!(!err.to_string().contains(&cause), "{err}");
    p.kill(Signal::KILL).unwrap();
    assert_eq!(p.wait().unwrap().code(), 137);
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit, and (as
/// root, if the hard limit is below `need`) both to `need`.
fn raise_nofile(need: u64) -> bool {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let hard = getrlimit(Resource::Nofile).maximum.unwrap_or(u64::MAX);
    let limit = hard.max(need);
    let raised = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(limit),
            maximum: Some(limit),
        },
    );
    testkit::require(
        raised.is_ok(),
        &format!(
            "RLIMIT_NOFILE: hard limit {hard}, below the {need} this test needs, and raising it failed ({raised:?})"
        ),
    )
}

#[test]
fn ten_thousand_processes_awaited_at_once() {
    let limit = Duration::from_secs(900);
    testkit::run_isolated(
        "ten_thousand_processes_awaited_at_once",
        Isolation::Process,
        limit,
        || {
            let _w = watchdog("ten_thousand", limit);
            let m = Monitor::new().unwrap();
            // Without pidfds the fallback costs a thread per child
            // (documented); a thousand show the same guarantees there.
            let n: usize = if m.backend() == Backend::Epoll {
                testkit::capacity(10_000, 1_000)
            } else {
                testkit::capacity(1_000, 200)
            };
            // A pidfd per process (shared with the reactor), plus room.
            if !raise_nofile(n as u64 + 2048) {
                return;
            }
            let rt = multi_thread();
            // Let the runtime start its worker threads before counting.
            rt.block_on(async { tokio::spawn(async {}).await.unwrap() });
            let threads = testkit::thread_count();
            let t0 = std::time::Instant::now();
            let procs: Vec<Arc<Process>> = (0..n)
                .map(|_| Arc::new(m.start(&mut testkit::sleep_cmd()).unwrap()))
                .collect();
            eprintln!("{n} processes started in {:?}", t0.elapsed());
            let tasks: Vec<_> = procs.iter().map(|p| rt.spawn(p.wait_async())).collect();
            // Every task registered: all are waiting, with no thread each.
            rt.block_on(async {
                for _ in 0..4 {
                    tokio::task::yield_now().await;
                }
            });
            if m.backend() == Backend::Epoll {
                let now = testkit::thread_count();
                assert!(
                    now <= threads + 2,
                    "{n} awaited processes took threads: {threads} -> {now}"
                );
            }
            for p in &procs {
                p.kill(Signal::KILL).unwrap();
            }
            let exits = rt.block_on(async {
                let mut out = Vec::with_capacity(n);
                for t in tasks {
                    out.push(t.await.unwrap().unwrap());
                }
                out
            });
            eprintln!(
                "all {n} exits awaited {:?} after the first start",
                t0.elapsed()
            );
            for (p, e) in procs.iter().zip(&exits) {
                assert_eq!((e.pid, e.code()), (p.pid(), 137));
                assert_eq!(p.wait().unwrap(), *e);
            }
        },
    );
}
