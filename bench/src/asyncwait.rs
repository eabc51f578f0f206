//! Awaiting exits on tokio (`pidkit-monitor`'s `tokio` feature) against
//! `tokio::process` on the same runtime: exit latency, spawn+await
//! throughput, and the memory each awaited process costs.

use std::future::Future;
use std::hint::black_box;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use pidkit_monitor::{Monitor, Process};
use rustix::process::{Pid, Signal, kill_process};

use crate::cases::{pin, settle};
use crate::measure::interleave;
use crate::spawn;
use crate::{Config, Row};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn sleep_cmd() -> Command {
    let mut c = Command::new("sleep");
    c.arg("1000").stdin(Stdio::null());
    c
}

fn kill9(pid: u32) {
    kill_process(Pid::from_raw(pid as i32).expect("pid"), Signal::KILL).expect("kill");
}

/// Resident memory of this process, in bytes (`/proc/self/statm`).
fn rss() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    pages * rustix::param::page_size() as f64
}

/// The rows: pidkit's awaited exits against tokio::process's.
pub(crate) fn rows(cfg: &Config) -> Result<Vec<Row>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let monitor = Monitor::new()?;
    let mut rows = Vec::new();

    pin(Some(0));
    let n = cfg.samples(300);
    let mut ours = || -> f64 {
        let p = monitor.start(&mut sleep_cmd()).expect("start");
        rt.block_on(async {
            // Polled once before the exit, as tokio's child is registered
            // at spawn: both wait in the reactor when the kill comes.
            let mut waiting = p.wait_async();
            std::future::poll_fn(|cx| {
                let _ = std::pin::Pin::new(&mut waiting).poll(cx);
                std::task::Poll::Ready(())
            })
            .await;
            settle();
            let t0 = Instant::now();
            kill9(p.pid());
            let exit = waiting.await.expect("wait_async");
            let t = t0.elapsed();
            black_box(exit);
            t.as_nanos() as f64
        })
    };
    let mut theirs = || -> f64 {
        rt.block_on(async {
            let mut c = tokio::process::Command::from(sleep_cmd())
                .spawn()
                .expect("spawn");
            let pid = c.id().expect("pid");
            settle();
            let t0 = Instant::now();
            kill9(pid);
            let st = c.wait().await.expect("wait");
            let t = t0.elapsed();
            black_box(st);
            t.as_nanos() as f64
        })
    };
    let (a, b) = interleave(cfg.budget(3.0), n / 4, n, &mut ours, &mut theirs);
    rows.push(
        Row::new(
            "async wait",
            "exit latency on a current_thread runtime: Process::wait_async vs tokio Child::wait",
            a,
            b,
        )
        .latency(),
    );
    pin(None);

    for in_flight in [1usize, 8] {
        let mut ours = || -> f64 {
            rt.block_on(async {
                let t0 = Instant::now();
                for _ in 0..spawn::BATCH / in_flight {
                    let ps: Vec<Process> = (0..in_flight)
                        .map(|_| monitor.start(&mut spawn::true_cmd()).expect("start"))
                        .collect();
                    for p in &ps {
                        p.wait_async().await.expect("wait_async");
                    }
                }
                t0.elapsed().as_nanos() as f64 / spawn::BATCH as f64
            })
        };
        let (a, b) = interleave(cfg.budget(3.0), 20, 100_000, &mut ours, &mut || {
            spawn::tokio_sample(&rt, in_flight)
        });
        let what = if in_flight == 1 {
            "sequential".to_owned()
        } else {
            format!("{in_flight} in flight")
        };
        rows.push(Row::new(
            "async wait",
            &format!(
                "spawn+await, {what}, per child: Monitor::start + wait_async vs tokio::process"
            ),
            a,
            b,
        ));
    }

    rows.push(footprint(cfg)?);
    Ok(rows)
}

/// Memory per awaited process with many in flight: the growth of a
/// process's resident set while `count` children are started and each is
/// awaited by its own task on a multi-thread runtime, per child.
///
/// Each side is measured in a fresh process of its own (this program run
/// again with `--footprint-child`): measured one after the other in one
/// process, the second would reuse heap the first had freed and look
/// smaller than it is. Two rounds, in both orders.
fn footprint(cfg: &Config) -> Result<Row> {
    let want: u64 = if cfg.samples(1) > 1 { 10_000 } else { 2_000 };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for first in [Side::Pidkit, Side::Tokio] {
        for side in [first, first.other()] {
            let v = run_footprint_child(side, want)?;
            match side {
                Side::Pidkit => ours.push(v),
                Side::Tokio => theirs.push(v),
            }
        }
    }
    Ok(Row::new(
        "async wait",
        &format!(
            "memory per awaited process, {want} in flight (bytes of RSS, each side in a fresh process): wait_async vs tokio::process"
        ),
        ours,
        theirs,
    )
    .bytes())
}

/// Which side a footprint child measures.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Side {
    Pidkit,
    Tokio,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Pidkit => Side::Tokio,
            Side::Tokio => Side::Pidkit,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Side::Pidkit => "pidkit",
            Side::Tokio => "tokio",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Side> {
        match name {
            "pidkit" => Some(Side::Pidkit),
            "tokio" => Some(Side::Tokio),
            _ => None,
        }
    }
}

/// Runs this program with `--footprint-child SIDE COUNT` and reads the bytes
/// per process it prints.
fn run_footprint_child(side: Side, count: u64) -> Result<f64> {
    let out = Command::new(std::env::current_exe()?)
        .args(["--footprint-child", side.name(), &count.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("footprint child for {} failed: {}", side.name(), out.status).into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .trim()
        .parse::<f64>()
        .map_err(|e| format!("footprint child for {} printed {text:?}: {e}", side.name()))?)
}

/// The child's side of [`footprint`]: RSS growth per awaited process of
/// `side`, with `count` (at most what the fd limit allows) in flight.
pub(crate) fn footprint_child(side: Side, count: u64) -> Result<f64> {
    let soft = pidkit_monitor::raise_fd_limit()?;
    let count = count.min(soft.saturating_sub(256)).max(1) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match side {
        Side::Pidkit => {
            let monitor = Monitor::new()?;
            // Warm the path once, so that one-time allocations do not count.
            rt.block_on(async {
                let p = monitor.start(&mut spawn::true_cmd()).expect("start");
                p.wait_async().await.expect("wait");
            });
            let before = rss();
            let procs: Vec<Arc<Process>> = (0..count)
                .map(|_| Arc::new(monitor.start(&mut sleep_cmd()).expect("start")))
                .collect();
            let tasks: Vec<_> = procs.iter().map(|p| rt.spawn(p.wait_async())).collect();
            rt.block_on(async {
                for _ in 0..4 {
                    tokio::task::yield_now().await;
                }
            });
            let per = (rss() - before) / count as f64;
            for p in &procs {
                p.kill(pidkit_monitor::Signal::KILL)?;
            }
            rt.block_on(async {
                for t in tasks {
                    t.await.expect("task").expect("wait_async");
                }
            });
            Ok(per)
        }
        Side::Tokio => {
            rt.block_on(async {
                let mut c = tokio::process::Command::from(spawn::true_cmd())
                    .spawn()
                    .expect("spawn");
                c.wait().await.expect("wait");
            });
            let before = rss();
            let mut pids = Vec::with_capacity(count);
            let tasks: Vec<_> = (0..count)
                .map(|_| {
                    let _guard = rt.enter();
                    let mut c = tokio::process::Command::from(sleep_cmd())
                        .spawn()
                        .expect("spawn");
                    pids.push(c.id().expect("pid"));
                    rt.spawn(async move { c.wait().await })
                })
                .collect();
            rt.block_on(async {
                for _ in 0..4 {
                    tokio::task::yield_now().await;
                }
            });
            let per = (rss() - before) / count as f64;
            for pid in pids {
                kill9(pid);
            }
            rt.block_on(async {
                for t in tasks {
                    let _ = t.await.expect("task");
                }
            });
            Ok(per)
        }
    }
}
