//! Sampling and statistics: interleaved A/B samples and their percentiles.

use std::time::{Duration, Instant};

/// Summary of one series of samples (nanoseconds).
#[derive(Clone, Debug)]
pub(crate) struct Stats {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) min: f64,
    pub(crate) runs: usize,
}

/// Percentiles by nearest rank on a sorted copy.
pub(crate) fn stats(samples: &[f64]) -> Stats {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let pick = |q: f64| -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        let idx = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[idx]
    };
    Stats {
        p50: pick(0.50),
        p99: pick(0.99),
        min: v.first().copied().unwrap_or(f64::NAN),
        runs: v.len(),
    }
}

/// Runs `f` `iters` times and returns the mean cost of one call in ns.
pub(crate) fn per_op(iters: u32, f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(iters)
}

/// How many calls of `f` fill about `target`.
pub(crate) fn calibrate(f: &mut dyn FnMut(), target: Duration) -> u32 {
    let mut iters = 1u32;
    loop {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        let took = start.elapsed();
        if took >= target / 4 || iters >= 1 << 24 {
            let per = took.as_secs_f64() / f64::from(iters);
            return ((target.as_secs_f64() / per.max(1e-9)) as u32).clamp(1, 1 << 24);
        }
        iters *= 4;
    }
}

/// Alternates samples of `a` and `b` (A B A B ...) until `budget` is spent or
/// both have `max_samples`. Each closure returns one sample in ns.
pub(crate) fn interleave(
    budget: Duration,
    min_samples: usize,
    max_samples: usize,
    a: &mut dyn FnMut() -> f64,
    b: &mut dyn FnMut() -> f64,
) -> (Vec<f64>, Vec<f64>) {
    let start = Instant::now();
    let (mut va, mut vb) = (Vec::new(), Vec::new());
    while va.len() < max_samples && (va.len() < min_samples || start.elapsed() < budget) {
        // Alternate which side goes first so neither always runs warm.
        if va.len() % 2 == 0 {
            va.push(a());
            vb.push(b());
        } else {
            vb.push(b());
            va.push(a());
        }
    }
    (va, vb)
}

/// Batched per-call cost of two closures, interleaved.
pub(crate) fn interleave_batched(
    budget: Duration,
    a: &mut dyn FnMut(),
    b: &mut dyn FnMut(),
) -> (Vec<f64>, Vec<f64>) {
    let sample = Duration::from_millis(2);
    let ia = calibrate(a, sample);
    let ib = calibrate(b, sample);
    let mut sa = || per_op(ia, a);
    let mut sb = || per_op(ib, b);
    interleave(budget, 20, 100_000, &mut sa, &mut sb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = stats(&v);
        assert_eq!((s.p50, s.p99, s.min, s.runs), (50.0, 99.0, 1.0, 100));
        assert!(stats(&[]).p50.is_nan());
    }
}
