//! Claim+drop and read of a lock file, against the raw system-call sequences
//! measured in the same run. `cargo bench -p pidkit-lockfile`.
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

use std::hint::black_box;
use std::path::Path;

use camino::Utf8PathBuf;
use criterion::{Criterion, criterion_group, criterion_main};
use pidkit_lockfile::{LockFileRead, create_exclusive, read_and_hold_lock_file};
use testkit::raw;

const CONTENT: &str = "1234567\n";

/// neon's read; returns whether the lock was free.
fn raw_read(path: &Path) -> bool {
    let (_f, free, content) = raw::read(path);
    black_box(content);
    free
}

fn claim(c: &mut Criterion) {
    let dir = raw::bench_dir();
    let path = Utf8PathBuf::try_from(dir.path().join("claim.lock")).unwrap();
    let mut g =
        testkit::bench::claim_group(c, "lockfile claim+drop", dir.path(), "raw.lock", || CONTENT);
    g.bench_function("create_exclusive+write_content+drop", |b| {
        b.iter(|| {
            let guard = create_exclusive(black_box(&path))
                .unwrap()
                .write_content(CONTENT.to_owned())
                .unwrap();
            drop(black_box(guard));
        })
    });
    g.finish();
}

fn read(c: &mut Criterion) {
    let dir = raw::bench_dir();
    let path = Utf8PathBuf::try_from(dir.path().join("read.lock")).unwrap();
    let raw_path = dir.path().join("raw.lock");
    drop(
        create_exclusive(&path)
            .unwrap()
            .write_content(CONTENT.to_owned())
            .unwrap(),
    );
    drop(raw::claim(&raw_path, CONTENT));

    let mut g = c.benchmark_group("lockfile read (free)");
    g.bench_function("raw open+flock+pread+close", |b| {
        b.iter(|| assert!(raw_read(black_box(&raw_path))))
    });
    g.bench_function("read_and_hold_lock_file", |b| {
        b.iter(
            || match read_and_hold_lock_file(black_box(&path)).unwrap() {
                LockFileRead::NotHeldByAnyProcess(guard, content) => {
                    black_box(content);
                    drop(black_box(guard));
                }
                other => panic!("expected a free lock, got {other:?}"),
            },
        )
    });
    g.finish();

    // A held file: a bare exclusive `flock` on another open file
    // description, which reads as another process's (a claim of this
    // process would read as `HeldByThisProcess`).
    let holder = std::fs::File::open(&path).unwrap();
    assert!(fs4::fs_std::FileExt::try_lock_exclusive(&holder).unwrap());
    let raw_holder = raw::claim_full(&raw_path, dir.path(), CONTENT);
    let mut g = c.benchmark_group("lockfile read (held)");
    g.bench_function("raw open+flock(EX)+pread+close (neon)", |b| {
        b.iter(|| assert!(!raw_read(black_box(&raw_path))))
    });
    g.bench_function("read_and_hold_lock_file", |b| {
        b.iter(
            || match read_and_hold_lock_file(black_box(&path)).unwrap() {
                LockFileRead::LockedByOtherProcess {
                    not_locked_file,
                    content,
                } => {
                    black_box((not_locked_file, content));
                }
                other => panic!("expected a held lock, got {other:?}"),
            },
        )
    });
    g.finish();
    drop((holder, raw_holder));
}

criterion_group! { name = benches; config = testkit::bench::config(); targets = claim, read }
criterion_main!(benches);
