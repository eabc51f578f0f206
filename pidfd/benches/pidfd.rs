//! Micro-costs of the pidfd wrappers against the raw system calls, measured
//! side by side in one run. `cargo bench -p pidkit-pidfd`.
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use pidkit_pidfd::{PidFd, Signal};
use rustix::process::Pid;

/// The benchmark's target process, killed and reaped however the bench ends.
struct Target(std::process::Child);

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal_zero(c: &mut Criterion) {
    if !pidkit_pidfd::probe().usable() {
        eprintln!(
            "pidfds are unavailable here ({:?}); nothing to measure",
            pidkit_pidfd::probe().reason
        );
        return;
    }
    let target = Target(
        std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .expect("spawn sleep"),
    );
    let child = &target.0;
    let pid = child.id();
    let rpid = Pid::from_raw(pid as i32).expect("pid");
    let fd = PidFd::from_child(child).expect("pidfd");
    let mut g = c.benchmark_group("signal_zero");
    g.bench_function("raw kill(pid, 0)", |b| {
        b.iter(|| rustix::process::test_kill_process(black_box(rpid)).expect("kill"))
    });
    g.bench_function("PidFd::kill(ZERO)", |b| {
        b.iter(|| black_box(&fd).kill(Signal::ZERO).expect("send"))
    });
    g.finish();

    // rustix cannot send signal 0 through a pidfd, so the wrapper is also
    // compared with rustix on a harmless real signal (SIGCONT to a sleeper).
    let mut g = c.benchmark_group("signal_cont");
    g.bench_function("raw kill(pid, SIGCONT)", |b| {
        b.iter(|| {
            rustix::process::kill_process(black_box(rpid), rustix::process::Signal::CONT)
                .expect("kill")
        })
    });
    g.bench_function("raw pidfd_send_signal(SIGCONT)", |b| {
        b.iter(|| {
            rustix::process::pidfd_send_signal(black_box(&fd), rustix::process::Signal::CONT)
                .expect("send")
        })
    });
    g.bench_function("PidFd::kill(CONT)", |b| {
        b.iter(|| black_box(&fd).kill(Signal::CONT).expect("send"))
    });
    g.finish();

    let mut g = c.benchmark_group("open");
    let _keep = PidFd::from_child(child).expect("pidfd");
    g.bench_function("raw pidfd_open+close", |b| {
        b.iter(|| {
            drop(
                rustix::process::pidfd_open(black_box(rpid), rustix::process::PidfdFlags::empty())
                    .expect("open"),
            )
        })
    });
    g.bench_function("PidFd::open+drop", |b| {
        b.iter(|| drop(PidFd::open(black_box(pid)).expect("open")))
    });
    g.finish();
    drop(target);
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = signal_zero
}
criterion_main!(benches);
