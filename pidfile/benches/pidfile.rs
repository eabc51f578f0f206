//! Pidfile claim+drop and read, against the raw system-call sequences measured
//! in the same run. `cargo bench -p pidkit-pidfile`.
//!
//! The files live in a temporary directory under `PIDKIT_BENCH_DIR` if set,
//! else under the system temporary directory. On a disk-backed file system
//! the two `fsync`s dominate a claim; on tmpfs (`PIDKIT_BENCH_DIR=/dev/shm`)
//! the figures show the system-call overhead alone.
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]
#![allow(
    clippy::unwrap_used,
    reason = "a benchmark that fails should stop loudly"
)]

use std::fs::File;
use std::hint::black_box;
use std::path::Path;

use camino::Utf8PathBuf;
use criterion::{Criterion, criterion_group, criterion_main};
use pidkit_pidfile::{PidFileRead, claim_for_current_process, read};
use testkit::raw;

fn pid_content() -> String {
    format!("{}\n", std::process::id())
}

fn parse(content: &str) -> u32 {
    content.trim().parse().unwrap()
}

/// neon's read, with the parse.
fn raw_read(path: &Path) -> (File, bool, u32) {
    let (f, free, content) = raw::read(path);
    (f, free, parse(&content))
}

fn claim(c: &mut Criterion) {
    let dir = raw::bench_dir();
    let path = Utf8PathBuf::try_from(dir.path().join("claim.pid")).unwrap();
    let mut g =
        testkit::bench::claim_group(c, "pidfile claim+drop", dir.path(), "raw.pid", pid_content);
    g.bench_function("claim_for_current_process+drop", |b| {
        b.iter(|| {
            drop(black_box(
                claim_for_current_process(black_box(&path)).unwrap(),
            ))
        })
    });
    g.finish();
}

fn reads(c: &mut Criterion) {
    let dir = raw::bench_dir();
    let path = Utf8PathBuf::try_from(dir.path().join("read.pid")).unwrap();
    let raw_path = dir.path().join("raw.pid");
    drop(claim_for_current_process(&path).unwrap());
    drop(raw::claim(&raw_path, &pid_content()));

    let mut g = c.benchmark_group("pidfile read (stale)");
    g.bench_function("raw open+flock+pread+parse+close", |b| {
        b.iter(|| assert!(raw_read(black_box(&raw_path)).1))
    });
    g.bench_function("read", |b| {
        b.iter(|| match read(black_box(&path)).unwrap() {
            PidFileRead::NotHeldByAnyProcess(guard, _) => drop(black_box(guard)),
            other => panic!("expected a stale pidfile, got {other:?}"),
        })
    });
    g.finish();

    // Held by another open file description, through a bare `flock` (a
    // running instance of any program: a claim of this process would read
    // as `HeldByThisProcess`, with no owner to prove).
    let _holder = raw::claim_full(path.as_std_path(), dir.path(), &pid_content());
    let _raw_holder = raw::claim_full(&raw_path, dir.path(), &pid_content());
    let mut g = c.benchmark_group("pidfile read (held)");
    g.bench_function("raw open+flock(EX)+pread+parse+close (neon)", |b| {
        b.iter(|| assert!(!raw_read(black_box(&raw_path)).1))
    });
    g.bench_function("read (owner)", |b| {
        b.iter(|| match read(black_box(&path)).unwrap() {
            PidFileRead::LockedByOtherProcess(owner) => {
                black_box(owner.pid());
            }
            other => panic!("expected a held pidfile, got {other:?}"),
        })
    });
    g.finish();

    let mut g = c.benchmark_group("pidfile Owner::handle");
    let owner = match read(&path).unwrap() {
        PidFileRead::LockedByOtherProcess(owner) => owner,
        other => panic!("expected a held pidfile, got {other:?}"),
    };
    let (held_file, _, me) = raw_read(&raw_path);
    g.bench_function(
        "raw pidfd_open+fstat+fstat+/proc/<pid>/fd scan+fdinfo+poll",
        |b| b.iter(|| black_box(raw::prove_owner(black_box(me), &held_file))),
    );
    g.bench_function("Owner::handle (of an owner already read)", |b| {
        b.iter(|| black_box(owner.handle().unwrap()))
    });
    g.bench_function("read + Owner::handle", |b| {
        b.iter(|| match read(black_box(&path)).unwrap() {
            PidFileRead::LockedByOtherProcess(owner) => {
                black_box(owner.handle().unwrap());
            }
            other => panic!("expected a held pidfile, got {other:?}"),
        })
    });
    g.finish();
}

criterion_group! { name = benches; config = testkit::bench::config(); targets = claim, reads }
criterion_main!(benches);
