//! Costs of pidkit-pidhandle against the raw system calls, measured side by
//! side in one run (`cargo bench -p pidkit-pidhandle`). Compare within a
//! group: each group's first entries are the raw floor, the last the handle.
//!
//! The process is pinned to one CPU. `pidfd_open` costs several times more
//! when no other pidfd to the process is open (pidfs sets up the process's
//! inode), so every open-related group runs twice: `cold` (no other pidfd to
//! the target is open, as after a supervisor restart) and `warm` (the bench
//! holds one extra pidfd to the target); floor and handle always run in the
//! same condition.
//!
//! Signal 0 through a pidfd is sent with `PidFd::kill` (one
//! `pidfd_send_signal` syscall through libc's `syscall()`; rustix's wrapper
//! cannot send signal 0) on an fd opened with rustix's `pidfd_open`: that is
//! the floor of the restore groups, and the handle uses the same call.
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use pidkit_pidhandle::{PidFd, PidHandle, Signal, State};
use rustix::process::{Pid, PidfdFlags};

fn pin_to_one_cpu() {
    let mut set = rustix::thread::CpuSet::new();
    set.set(0);
    let _ = rustix::thread::sched_setaffinity(None, &set);
}

/// The raw floor of a restore: `pidfd_open` + `fstat` + signal 0 + `close`.
fn raw_open_fstat_signal(rpid: Pid) {
    let fd = rustix::process::pidfd_open(rpid, PidfdFlags::empty()).expect("pidfd_open");
    black_box(rustix::fs::fstat(&fd).expect("fstat").st_ino);
    pidkit_pidfd::low_level::pidfd_unchecked(fd)
        .kill(Signal::ZERO)
        .expect("signal");
}

/// The podman-style check: the start time from `/proc/<pid>/stat`, then
/// `kill(pid, 0)`.
fn podman_style(pid: u32, rpid: Pid, want: u64) {
    let start = testkit::start_ticks(pid).expect("the target runs");
    assert_eq!(start, want);
    rustix::process::test_kill_process(rpid).expect("kill");
}

fn benches(c: &mut Criterion) {
    pin_to_one_cpu();
    assert!(
        pidkit_pidhandle::probe().usable(),
        "the benches measure the pidfd path"
    );
    let mut child = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .expect("spawn sleep");
    let pid = child.id();
    let rpid = Pid::from_raw(pid as i32).expect("pid");
    let held = PidHandle::from_child(&child).expect("handle");
    let text = held.to_string();
    // The same identity without the pidfs file handle: restored by
    // `pidfd_open` + pidfs-id check, as on kernels before 6.17.
    let text_by_pid = match text.split_once(":fh=") {
        Some((head, _)) => head.to_owned(),
        None => text.clone(),
    };
    let file_handle = held.identity().file_handle();
    let start_ticks = testkit::start_ticks(pid).expect("the target runs");
    // The raw baselines use the handle's own pidfd: the kernel's cost of a
    // call differs measurably from one pidfd to another of the same process
    // (seen here: ~100 ns on poll), which is not the wrapper's doing.
    let raw_fd: &PidFd = held.pidfd().expect("pidfd path");

    let mut g = c.benchmark_group("held_kill_zero");
    g.bench_function("raw kill(pid, 0)", |b| {
        b.iter(|| rustix::process::test_kill_process(black_box(rpid)).expect("kill"))
    });
    g.bench_function("raw pidfd_send_signal(0)", |b| {
        b.iter(|| black_box(raw_fd).kill(Signal::ZERO).expect("send"))
    });
    g.bench_function("PidHandle::kill(ZERO)", |b| {
        b.iter(|| black_box(&held).kill(Signal::ZERO).expect("kill"))
    });
    g.finish();

    let mut g = c.benchmark_group("state_running");
    g.bench_function("raw poll(pidfd, 0)", |b| {
        b.iter(|| {
            let mut fds = [rustix::event::PollFd::new(
                black_box(raw_fd),
                rustix::event::PollFlags::IN,
            )];
            let zero = rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            black_box(rustix::event::poll(&mut fds, Some(&zero)).expect("poll"))
        })
    });
    g.bench_function("PidHandle::state", |b| {
        b.iter(|| assert_eq!(black_box(&held).state().expect("state"), State::Running))
    });
    g.finish();

    let mut g = c.benchmark_group("text");
    g.bench_function("Identity::from_str", |b| {
        b.iter(|| {
            black_box(
                black_box(text.as_str())
                    .parse::<pidkit_pidhandle::Identity>()
                    .expect("parse"),
            )
        })
    });
    g.bench_function("PidHandle::to_string", |b| {
        b.iter(|| black_box(black_box(&held).to_string()))
    });
    g.finish();

    // `held` has a pidfd to the child: drop it for `cold`.
    drop(held);
    for warm in [false, true] {
        let extra = warm.then(|| PidFd::from_child(&child).expect("pidfd"));
        let cond = if warm { "warm" } else { "cold" };

        let mut g = c.benchmark_group(format!("restore_kill_zero_{cond}"));
        g.bench_function("raw pidfd_open+fstat+send(0)+close", |b| {
            b.iter(|| raw_open_fstat_signal(black_box(rpid)))
        });
        g.bench_function("podman-style /proc stat + kill(pid, 0)", |b| {
            b.iter(|| podman_style(black_box(pid), rpid, start_ticks))
        });
        if let Some(fh) = &file_handle {
            g.bench_function("raw open_by_handle_at+send(0)+close", |b| {
                b.iter(|| {
                    PidFd::open_file_handle(black_box(fh))
                        .expect("open_by_handle_at")
                        .kill(Signal::ZERO)
                        .expect("signal")
                })
            });
            g.bench_function("parse::<PidHandle>+kill(ZERO)+drop, file handle", |b| {
                b.iter(|| {
                    let h: PidHandle = black_box(text.as_str()).parse().expect("restore");
                    h.kill(Signal::ZERO).expect("kill");
                })
            });
        }
        g.bench_function(
            "parse::<PidHandle>+kill(ZERO)+drop, pidfd_open+verify",
            |b| {
                b.iter(|| {
                    let h: PidHandle = black_box(text_by_pid.as_str()).parse().expect("restore");
                    h.kill(Signal::ZERO).expect("kill");
                })
            },
        );
        g.finish();

        let mut g = c.benchmark_group(format!("new_{cond}"));
        g.bench_function("raw pidfd_open+fstat+close", |b| {
            b.iter(|| {
                let fd = rustix::process::pidfd_open(black_box(rpid), PidfdFlags::empty())
                    .expect("pidfd_open");
                black_box(rustix::fs::fstat(&fd).expect("fstat").st_ino);
            })
        });
        g.bench_function("PidHandle::new+drop", |b| {
            b.iter(|| drop(PidHandle::new(black_box(pid)).expect("new")))
        });
        g.finish();
        drop(extra);
    }

    let _ = child.kill();
    let _ = child.wait();
}

criterion_group! {
    name = group;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    targets = benches
}
criterion_main!(group);
