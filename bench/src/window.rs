//! The sliding window of a job runner (`xargs -P`, `make -j`, a CI
//! executor): one thread keeps `n` children of `true` in flight, waits for
//! the oldest and starts the next as soon as it is done. Unlike the batch
//! rows (start `n`, wait for all `n`), the oldest child has usually exited
//! long before its wait, so these rows measure what it costs to learn of an
//! exit that nobody was waiting for at the time.
//!
//! One sample fills the window, replaces its oldest child [`ROUNDS`] × `n`
//! times and drains it; its figure is nanoseconds per child.

use std::collections::VecDeque;
use std::time::Instant;

use pidkit_monitor::{Monitor, Process};

use crate::cases::pin;
use crate::measure::interleave;
use crate::spawn::true_cmd;
use crate::{Config, Row};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Replacements per sample, in windows.
const ROUNDS: usize = 4;

/// Children one sample starts, for a window of `n`.
fn children(n: usize) -> usize {
    n * (ROUNDS + 1)
}

fn per_child(t0: Instant, n: usize) -> f64 {
    t0.elapsed().as_nanos() as f64 / children(n) as f64
}

/// std's `Command::spawn` + `Child::wait`.
pub(crate) fn std_window(n: usize) -> f64 {
    let t0 = Instant::now();
    let mut window = VecDeque::with_capacity(n);
    for _ in 0..n {
        window.push_back(true_cmd().spawn().expect("spawn"));
    }
    for _ in 0..n * ROUNDS {
        let mut oldest = window.pop_front().expect("a child in flight");
        oldest.wait().expect("wait");
        window.push_back(true_cmd().spawn().expect("spawn"));
    }
    for mut c in window {
        c.wait().expect("wait");
    }
    per_child(t0, n)
}

/// `Monitor::start` + the blocking `Monitor::wait`.
pub(crate) fn monitor_window(monitor: &Monitor, n: usize) -> f64 {
    let start = || monitor.start(&mut true_cmd()).expect("start");
    let t0 = Instant::now();
    let mut window: VecDeque<Process> = (0..n).map(|_| start()).collect();
    for _ in 0..n * ROUNDS {
        let oldest = window.pop_front().expect("a child in flight");
        monitor.wait(&oldest).expect("wait");
        window.push_back(start());
    }
    for p in &window {
        monitor.wait(p).expect("wait");
    }
    per_child(t0, n)
}

/// `Monitor::start` + `Process::wait_async` on `rt`.
pub(crate) fn monitor_async_window(
    rt: &tokio::runtime::Runtime,
    monitor: &Monitor,
    n: usize,
) -> f64 {
    let start = || monitor.start(&mut true_cmd()).expect("start");
    rt.block_on(async {
        let t0 = Instant::now();
        let mut window: VecDeque<Process> = (0..n).map(|_| start()).collect();
        for _ in 0..n * ROUNDS {
            let oldest = window.pop_front().expect("a child in flight");
            oldest.wait_async().await.expect("wait_async");
            window.push_back(start());
        }
        for p in &window {
            p.wait_async().await.expect("wait_async");
        }
        per_child(t0, n)
    })
}

/// `tokio::process` spawn + `Child::wait` on `rt`.
pub(crate) fn tokio_window(rt: &tokio::runtime::Runtime, n: usize) -> f64 {
    let start = || {
        tokio::process::Command::from(true_cmd())
            .spawn()
            .expect("spawn")
    };
    rt.block_on(async {
        let t0 = Instant::now();
        let mut window: VecDeque<_> = (0..n).map(|_| start()).collect();
        for _ in 0..n * ROUNDS {
            let mut oldest = window.pop_front().expect("a child in flight");
            oldest.wait().await.expect("wait");
            window.push_back(start());
        }
        for c in &mut window {
            c.wait().await.expect("wait");
        }
        per_child(t0, n)
    })
}

/// The sliding-window rows: N = 8 and 32, blocking (against std) and
/// awaited on a current_thread runtime (against tokio::process).
pub(crate) fn rows(cfg: &Config) -> Result<Vec<Row>> {
    pin(None);
    let monitor = Monitor::new()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let budget = cfg.budget(3.0);
    let mut rows = Vec::new();
    for n in [8, 32] {
        let (a, b) = interleave(
            budget,
            20,
            100_000,
            &mut || monitor_window(&monitor, n),
            &mut || std_window(n),
        );
        rows.push(Row::new(
            "spawn+wait",
            &format!(
                "sliding window of {n}, per child: Monitor::start + wait vs std::process::Command"
            ),
            a,
            b,
        ));
    }
    for n in [8, 32] {
        let (a, b) = interleave(
            budget,
            20,
            100_000,
            &mut || monitor_async_window(&rt, &monitor, n),
            &mut || tokio_window(&rt, n),
        );
        rows.push(Row::new(
            "async wait",
            &format!(
                "sliding window of {n}, per child: Monitor::start + wait_async vs tokio::process"
            ),
            a,
            b,
        ));
    }
    Ok(rows)
}
