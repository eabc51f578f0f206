//! What the lock file and PID file benchmarks share (feature `criterion`):
//! criterion's settings, and the claim group that starts with the two raw
//! claim sequences of [`raw`], so that both crates measure their
//! claim against the same baselines.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};

use crate::raw;

/// Criterion's settings for the lock file and PID file benchmarks: short
/// warm-up and measurement, 50 samples.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(50)
}

/// Opens the benchmark group `name` of claim+drop and measures in it, on the
/// file `raw_name` in `dir`, the raw claim ([`raw::claim`]) and the raw claim
/// with the parent directory's `fsync` ([`raw::claim_full`], every system
/// call a pidkit claim makes), each writing what `content` returns (called
/// once per claim, as a program formats what it writes). The caller adds
/// pidkit's own claim and finishes the group.
pub fn claim_group<'a, C: AsRef<str>>(
    c: &'a mut Criterion,
    name: &str,
    dir: &Path,
    raw_name: &str,
    content: impl Fn() -> C,
) -> BenchmarkGroup<'a, WallTime> {
    let raw_path = dir.join(raw_name);
    let mut g = c.benchmark_group(name);
    g.bench_function("raw open+flock+ftruncate+pwrite+fsync+close", |b| {
        b.iter(|| drop(raw::claim(black_box(&raw_path), content().as_ref())))
    });
    g.bench_function("raw ... + fsync(parent dir)", |b| {
        b.iter(|| {
            drop(raw::claim_full(
                black_box(&raw_path),
                dir,
                content().as_ref(),
            ))
        })
    });
    g
}
