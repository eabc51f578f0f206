//! The spawn+wait samples that several rows share: children of `true`,
//! spawned and waited for in batches (one at a time or with a whole batch in
//! flight) through std, pidkit's `Monitor` or `tokio::process`, in
//! nanoseconds per child.

use std::process::{Command, Stdio};
use std::time::Instant;

use pidkit_monitor::Monitor;

/// Children per sample.
pub(crate) const BATCH: usize = 8;

/// `true` with stdin from `/dev/null`, not spawned yet.
pub(crate) fn true_cmd() -> Command {
    let mut c = Command::new("true");
    c.stdin(Stdio::null());
    c
}

/// Nanoseconds per child to spawn and wait for [`BATCH`] children of `true`
/// through std, `in_flight` spawned before the first of them is waited for.
pub(crate) fn std_sample(in_flight: usize) -> f64 {
    let t0 = Instant::now();
    for _ in 0..BATCH / in_flight {
        let cs: Vec<_> = (0..in_flight)
            .map(|_| true_cmd().spawn().expect("spawn"))
            .collect();
        for mut c in cs {
            c.wait().expect("wait");
        }
    }
    t0.elapsed().as_nanos() as f64 / BATCH as f64
}

/// As [`std_sample`], through `monitor` (`start`, then the blocking
/// `wait`).
pub(crate) fn monitor_sample(monitor: &Monitor, in_flight: usize) -> f64 {
    let t0 = Instant::now();
    for _ in 0..BATCH / in_flight {
        let ps: Vec<_> = (0..in_flight)
            .map(|_| monitor.start(&mut true_cmd()).expect("start"))
            .collect();
        for p in &ps {
            monitor.wait(p).expect("wait");
        }
    }
    t0.elapsed().as_nanos() as f64 / BATCH as f64
}

/// As [`std_sample`], through `tokio::process` on `rt`.
pub(crate) fn tokio_sample(rt: &tokio::runtime::Runtime, in_flight: usize) -> f64 {
    rt.block_on(async {
        let t0 = Instant::now();
        for _ in 0..BATCH / in_flight {
            let mut cs: Vec<_> = (0..in_flight)
                .map(|_| {
                    tokio::process::Command::from(true_cmd())
                        .spawn()
                        .expect("spawn")
                })
                .collect();
            for c in &mut cs {
                c.wait().await.expect("wait");
            }
        }
        t0.elapsed().as_nanos() as f64 / BATCH as f64
    })
}
