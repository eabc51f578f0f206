//! The monitor against what it replaces, measured side by side in one run.
//! `cargo bench -p pidkit-monitor`.
//!
//! - `spawn_wait_seq`: spawn `/bin/true` and wait for it, one at a time:
//!   `std::process::Command` (spawn + `Child::wait`), a thread-per-child
//!   monitor written here (go-runc's model: a thread per child blocked in
//!   `wait`, handing the exit over a channel), and [`Monitor`].
//! - `spawn_wait_8`: the same with 8 children in flight.
//! - `exit_latency`: from "kill the child" to "its exit is in our hands",
//!   everything pinned to one CPU (a cross-CPU wake would otherwise be most
//!   of what is measured): raw `pidfd_send_signal` +
//!   `poll(pidfd)` + `waitid(P_PIDFD)` against [`Process::kill`] +
//!   [`Process::wait`].
//!
//! - `exit_latency_async`: the same on a `current_thread` tokio runtime (on
//!   CPU 0): `tokio::process::Child::start_kill` + `wait().await` against
//!   [`Process::kill`] + `Process::wait_async().await`.
//! - `spawn_await_1` / `spawn_await_8`: spawn `/bin/true` and await it on a
//!   `current_thread` runtime, 1 and 8 in flight: `tokio::process` against
//!   [`Monitor`] + `wait_async`.
//!
//! After the criterion groups, a short interleaved run prints the medians
//! and their ratios in one place (`summary:` lines on stderr).
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use std::future::Future;
use std::hint::black_box;
use std::io;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pidkit_monitor::{Backend, Monitor, Process, Signal};
use pidkit_pidfd::PidFd;

fn true_cmd() -> Command {
    let mut cmd = Command::new("/bin/true");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// go-runc's default monitor: a thread per child, blocked in `wait`, sending
/// the exit over a channel.
fn thread_per_child_start(cmd: &mut Command) -> io::Result<mpsc::Receiver<io::Result<ExitStatus>>> {
    let mut child = cmd.spawn()?;
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    Ok(rx)
}

fn std_once(cmd: &mut Command) {
    let status = cmd.spawn().expect("spawn").wait().expect("wait");
    assert!(status.success());
}

fn thread_once(cmd: &mut Command) {
    let rx = thread_per_child_start(cmd).expect("spawn");
    assert!(rx.recv().expect("exit").expect("wait").success());
}

fn monitor_once(m: &Monitor, cmd: &mut Command) {
    let exit = m.start(cmd).expect("start").wait().expect("wait");
    assert!(exit.success());
}

fn std_many(cmd: &mut Command, n: usize) {
    let children: Vec<_> = (0..n).map(|_| cmd.spawn().expect("spawn")).collect();
    for mut c in children {
        assert!(c.wait().expect("wait").success());
    }
}

fn thread_many(cmd: &mut Command, n: usize) {
    let rxs: Vec<_> = (0..n)
        .map(|_| thread_per_child_start(cmd).expect("spawn"))
        .collect();
    for rx in rxs {
        assert!(rx.recv().expect("exit").expect("wait").success());
    }
}

fn monitor_many(m: &Monitor, cmd: &mut Command, n: usize) {
    let procs: Vec<Process> = (0..n).map(|_| m.start(cmd).expect("start")).collect();
    for p in &procs {
        assert!(p.wait().expect("wait").success());
    }
}

fn spawn_wait(c: &mut Criterion) {
    let m = Monitor::new().expect("monitor");
    let fallback = Monitor::with_backend(Backend::ThreadPerChild).expect("monitor");
    let mut cmd = true_cmd();

    let mut g = c.benchmark_group("spawn_wait_seq");
    g.throughput(Throughput::Elements(1));
    g.bench_function("std Command spawn+wait", |b| b.iter(|| std_once(&mut cmd)));
    g.bench_function("thread-per-child (go-runc model)", |b| {
        b.iter(|| thread_once(&mut cmd))
    });
    g.bench_function(format!("Monitor ({:?})", m.backend()), |b| {
        b.iter(|| monitor_once(&m, &mut cmd))
    });
    g.bench_function("Monitor (ThreadPerChild fallback)", |b| {
        b.iter(|| monitor_once(&fallback, &mut cmd))
    });
    g.finish();

    let n = 8;
    let mut g = c.benchmark_group("spawn_wait_8");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("std Command spawn+wait", n), |b| {
        b.iter(|| std_many(&mut cmd, n))
    });
    g.bench_function(
        BenchmarkId::new("thread-per-child (go-runc model)", n),
        |b| b.iter(|| thread_many(&mut cmd, n)),
    );
    g.bench_function(
        BenchmarkId::new(format!("Monitor ({:?})", m.backend()), n),
        |b| b.iter(|| monitor_many(&m, &mut cmd, n)),
    );
    g.bench_function(
        BenchmarkId::new("Monitor (ThreadPerChild fallback)", n),
        |b| b.iter(|| monitor_many(&fallback, &mut cmd, n)),
    );
    g.finish();
}

/// Pins the calling thread (and so the threads and children it creates
/// afterwards) to CPU 0; returns the previous mask to restore.
fn pin_to_cpu0() -> rustix::thread::CpuSet {
    let before = rustix::thread::sched_getaffinity(None).expect("getaffinity");
    let mut one = rustix::thread::CpuSet::new();
    one.set(0);
    rustix::thread::sched_setaffinity(None, &one).expect("setaffinity");
    before
}

/// Blocks until `pid` sleeps in `sleep` (exec done, state S), so that the
/// timed part sees a settled child.
fn until_settled(pid: u32) {
    while !testkit::stat(pid).is_some_and(|s| s.comm == "sleep" && s.state == 'S') {
        std::thread::yield_now();
    }
}

/// Raw floor: kill through the pidfd, poll it, reap it. Returns the time
/// from the kill to the reaped status.
fn raw_latency() -> Duration {
    let mut child = testkit::sleep_cmd().spawn().expect("spawn");
    let fd = PidFd::from_child(&child).expect("pidfd");
    until_settled(child.id());
    let t0 = Instant::now();
    fd.kill(Signal::KILL).expect("kill");
    fd.wait_exited().expect("poll");
    let status = fd.wait().expect("waitid");
    let elapsed = t0.elapsed();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    // Reaped through the pidfd; std has nothing left to do.
    let _ = child.try_wait();
    elapsed
}

fn monitor_latency(m: &Monitor) -> Duration {
    let p = m.start(&mut testkit::sleep_cmd()).expect("start");
    until_settled(p.pid());
    let t0 = Instant::now();
    p.kill(Signal::KILL).expect("kill");
    let exit = p.wait().expect("wait");
    let elapsed = t0.elapsed();
    assert_eq!(exit.code(), 137);
    elapsed
}

fn exit_latency(c: &mut Criterion) {
    if !pidkit_pidfd::probe().usable() {
        eprintln!("exit_latency: pidfds unavailable here; skipped");
        return;
    }
    let before = pin_to_cpu0();
    // Created after pinning: its reaper thread runs on the same CPU.
    let m = Monitor::new().expect("monitor");
    let mut g = c.benchmark_group("exit_latency");
    g.bench_function("raw pidfd_send_signal+poll+waitid", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| raw_latency()).sum())
    });
    g.bench_function("Monitor kill+wait", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| monitor_latency(&m)).sum())
    });
    g.finish();
    if selected("summary/exit_latency") {
        summary_latency(&m);
    }
    drop(m);
    rustix::thread::sched_setaffinity(None, &before).expect("restore affinity");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn summary_latency(m: &Monitor) {
    let (mut raw, mut mon) = (Vec::new(), Vec::new());
    for _ in 0..400 {
        raw.push(raw_latency());
        mon.push(monitor_latency(m));
    }
    let (r, mo) = (median(raw), median(mon));
    eprintln!(
        "summary: exit latency p50 (1 CPU): raw {r:.2?}, Monitor {mo:.2?}: {:.3}x the raw floor",
        mo.as_secs_f64() / r.as_secs_f64()
    );
}

fn summary_spawn() {
    let m = Monitor::new().expect("monitor");
    let mut cmd = true_cmd();
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed()
    };
    for (n, rounds) in [(1usize, 600), (8, 300), (64, 40)] {
        let (mut s, mut t, mut mo) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            s.push(time(&mut || std_many(&mut cmd, n)));
            t.push(time(&mut || thread_many(&mut cmd, n)));
            mo.push(time(&mut || monitor_many(&m, &mut cmd, n)));
        }
        let (s, t, mo) = (median(s), median(t), median(mo));
        eprintln!(
            "summary: spawn+wait x{n} p50: std {s:.2?}, thread-per-child {t:.2?}, Monitor {mo:.2?}; \
             Monitor throughput = {:.3}x std, {:.3}x thread-per-child",
            s.as_secs_f64() / mo.as_secs_f64(),
            t.as_secs_f64() / mo.as_secs_f64()
        );
    }
}

/// Whether the summary `name` should run: only under `cargo bench` (not
/// when the bench binary runs as a test, as `cargo test --all-targets` and
/// nextest do), and only if no filter was given or one matches `name`.
fn selected(name: &str) -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--list") {
        return false;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

fn summaries(_c: &mut Criterion) {
    if selected("summary/spawn_wait") {
        summary_spawn();
    }
}

fn hold_footprint(_c: &mut Criterion) {
    if !selected("summary/footprint") {
        return;
    }
    // Threads and resident memory per held child (the figures the
    // `footprint` example prints in full), for 2,000 sleeping children.
    let status = || {
        let text = std::fs::read_to_string("/proc/self/status").expect("status");
        let field = |name: &str| -> usize {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .expect("field")
        };
        (field("Threads:"), field("VmRSS:"))
    };
    let n = 2000;
    let mut procs = Vec::with_capacity(n);
    let (t0, r0) = status();
    let m = Monitor::new().expect("monitor");
    for _ in 0..n {
        procs.push(m.start(&mut testkit::sleep_cmd()).expect("start"));
    }
    let (t1, r1) = status();
    eprintln!(
        "summary: holding {n} sleeping children ({:?}): +{} threads (monitor included), {:.0} bytes VmRSS per child",
        m.backend(),
        t1.saturating_sub(t0),
        (r1.saturating_sub(r0) * 1024) as f64 / n as f64
    );
    for p in &procs {
        p.kill(Signal::KILL).expect("kill");
    }
    for p in &procs {
        black_box(p.wait().expect("wait"));
    }
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn tokio_sleep_cmd() -> tokio::process::Command {
    tokio::process::Command::from(testkit::sleep_cmd())
}

/// tokio's own: kill, then await the reaped status.
fn tokio_latency(rt: &tokio::runtime::Runtime) -> Duration {
    rt.block_on(async {
        let mut child = tokio_sleep_cmd().spawn().expect("spawn");
        until_settled(child.id().expect("pid"));
        let t0 = Instant::now();
        child.start_kill().expect("kill");
        let status = child.wait().await.expect("wait");
        let elapsed = t0.elapsed();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        elapsed
    })
}

fn monitor_async_latency(rt: &tokio::runtime::Runtime, m: &Monitor) -> Duration {
    rt.block_on(async {
        let p = m.start(&mut testkit::sleep_cmd()).expect("start");
        until_settled(p.pid());
        let t0 = Instant::now();
        p.kill(Signal::KILL).expect("kill");
        let exit = p.wait_async().await.expect("wait");
        let elapsed = t0.elapsed();
        assert_eq!(exit.code(), 137);
        elapsed
    })
}

fn tokio_spawn_await(rt: &tokio::runtime::Runtime, n: usize) {
    rt.block_on(async {
        let children: Vec<_> = (0..n)
            .map(|_| {
                tokio::process::Command::from(true_cmd())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        for mut c in children {
            assert!(c.wait().await.expect("wait").success());
        }
    })
}

fn monitor_spawn_await(rt: &tokio::runtime::Runtime, m: &Monitor, n: usize) {
    rt.block_on(async {
        let procs: Vec<Process> = (0..n)
            .map(|_| m.start(&mut true_cmd()).expect("start"))
            .collect();
        for p in &procs {
            assert!(p.wait_async().await.expect("wait").success());
        }
    })
}

fn tokio_benches(c: &mut Criterion) {
    let m = Monitor::new().expect("monitor");
    let rt = tokio_rt();
    for n in [1usize, 8] {
        let mut g = c.benchmark_group(format!("spawn_await_{n}"));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function("tokio::process spawn+wait", |b| {
            b.iter(|| tokio_spawn_await(&rt, n))
        });
        g.bench_function(
            format!("Monitor ({:?}) start+wait_async", m.backend()),
            |b| b.iter(|| monitor_spawn_await(&rt, &m, n)),
        );
        g.finish();
    }
    drop(m);
    if !pidkit_pidfd::probe().usable() {
        eprintln!("exit_latency_async: pidfds unavailable here; skipped");
        return;
    }
    let before = pin_to_cpu0();
    let m = Monitor::new().expect("monitor");
    let rt = tokio_rt();
    let mut g = c.benchmark_group("exit_latency_async");
    g.bench_function("tokio::process start_kill+wait", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| tokio_latency(&rt)).sum())
    });
    g.bench_function("Monitor kill+wait_async", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| monitor_async_latency(&rt, &m)).sum())
    });
    g.finish();
    if selected("summary/async") {
        let (mut t, mut mo) = (Vec::new(), Vec::new());
        for _ in 0..400 {
            t.push(tokio_latency(&rt));
            mo.push(monitor_async_latency(&rt, &m));
        }
        let (t, mo) = (median(t), median(mo));
        eprintln!(
            "summary: async exit latency p50 (current_thread, 1 CPU): tokio::process {t:.2?}, Monitor wait_async {mo:.2?}: {:.3}x tokio",
            mo.as_secs_f64() / t.as_secs_f64()
        );
    }
    drop(m);
    rustix::thread::sched_setaffinity(None, &before).expect("restore affinity");
    if selected("summary/async") {
        let m = Monitor::new().expect("monitor");
        let time = |f: &mut dyn FnMut()| {
            let t = Instant::now();
            f();
            t.elapsed()
        };
        for (n, rounds) in [(1usize, 600), (8, 300)] {
            let (mut t, mut mo) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                t.push(time(&mut || tokio_spawn_await(&rt, n)));
                mo.push(time(&mut || monitor_spawn_await(&rt, &m, n)));
            }
            let (t, mo) = (median(t), median(mo));
            eprintln!(
                "summary: spawn+await x{n} p50 (current_thread): tokio::process {t:.2?}, Monitor {mo:.2?}; Monitor throughput = {:.3}x tokio::process",
                t.as_secs_f64() / mo.as_secs_f64()
            );
        }
    }
}

/// Resident memory per process awaited, with 10,000 in flight on a
/// `current_thread` runtime: the monitor's entry, the pidfd's reactor
/// registration and the task, against the same children started alone.
fn await_footprint(_c: &mut Criterion) {
    if !selected("summary/await_footprint") {
        return;
    }
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let n: usize = std::env::var("PIDKIT_AWAIT_FOOTPRINT_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let hard = getrlimit(Resource::Nofile).maximum;
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: hard,
            maximum: hard,
        },
    );
    let rss = || -> usize {
        let text = std::fs::read_to_string("/proc/self/status").expect("status");
        text.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    };
    let m = Monitor::new().expect("monitor");
    let rt = tokio_rt();
    let procs: Vec<std::sync::Arc<Process>> = (0..n)
        .map(|_| std::sync::Arc::new(m.start(&mut testkit::sleep_cmd()).expect("start")))
        .collect();
    let r0 = rss();
    let mut waits: Vec<_> = procs.iter().map(|p| p.wait_async()).collect();
    // Each future polled once: registered with the reactor and waiting.
    rt.block_on(std::future::poll_fn(|cx| {
        for w in &mut waits {
            assert!(std::pin::Pin::new(w).poll(cx).is_pending());
        }
        std::task::Poll::Ready(())
    }));
    let r1 = rss();
    eprintln!(
        "summary: {n} processes awaited at once (current_thread): {:.0} bytes VmRSS per awaited process (future + reactor registration; the Process itself not counted), 0 threads",
        (r1.saturating_sub(r0) * 1024) as f64 / n as f64
    );
    for p in &procs {
        p.kill(Signal::KILL).expect("kill");
    }
    rt.block_on(async {
        for w in waits {
            black_box(w.await.expect("wait"));
        }
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(30);
    // The footprint first, while the heap is fresh and no other monitor's
    // reaper thread is still winding down.
    targets = hold_footprint, await_footprint, spawn_wait, exit_latency, summaries, tokio_benches
}
criterion_main!(benches);
