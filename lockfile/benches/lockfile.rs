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

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use camino::Utf8PathBuf;
use criterion::{Criterion, criterion_group, criterion_main};
use pidkit_lockfile::{LockFileRead, create_exclusive, read_and_hold_lock_file};
use rustix::fs::FlockOperation;

const CONTENT: &str = "1234567\n";

fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("PIDKIT_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

fn raw_open_for_claim(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .unwrap()
}

fn flock(f: &File, op: FlockOperation) -> bool {
    match rustix::fs::flock(f, op) {
        Ok(()) => true,
        Err(rustix::io::Errno::WOULDBLOCK) => false,
        Err(e) => panic!("flock: {e}"),
    }
}

/// open, flock, ftruncate, pwrite, fsync; the file is returned still locked.
fn raw_claim(path: &Path) -> File {
    let f = raw_open_for_claim(path);
    assert!(flock(&f, FlockOperation::NonBlockingLockExclusive));
    f.set_len(0).unwrap();
    f.write_all_at(CONTENT.as_bytes(), 0).unwrap();
    f.sync_all().unwrap();
    f
}

/// The same, plus open+fsync+close of the parent directory and the
/// conversion to a shared lock: every system call the library makes.
fn raw_claim_dir_sync_downgrade(path: &Path, dir: &Path) -> File {
    let f = raw_claim(path);
    File::open(dir).unwrap().sync_all().unwrap();
    assert!(flock(&f, FlockOperation::NonBlockingLockShared));
    f
}

fn raw_open_read(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)
        .unwrap()
}

fn raw_pread(f: &File) {
    let mut buf = [0u8; 128];
    let n = f.read_at(&mut buf, 0).unwrap();
    black_box(std::str::from_utf8(&buf[..n]).unwrap());
}

/// neon's read: open, flock(EX|NB), pread, close; returns whether the lock was free.
fn raw_read(path: &Path) -> bool {
    let f = raw_open_read(path);
    let free = flock(&f, FlockOperation::NonBlockingLockExclusive);
    raw_pread(&f);
    free
}

/// The lock-mode read of a held file, minimal: open, flock(EX|NB) (fails),
/// flock(SH|NB), pread, close.
fn raw_read_shared(path: &Path) {
    let f = raw_open_read(path);
    assert!(!flock(&f, FlockOperation::NonBlockingLockExclusive));
    assert!(flock(&f, FlockOperation::NonBlockingLockShared));
    raw_pread(&f);
}

/// The same plus the final conversion attempt (flock(EX|NB), fails): every
/// system call the library makes for a held file.
fn raw_read_shared_convert(path: &Path) {
    let f = raw_open_read(path);
    assert!(!flock(&f, FlockOperation::NonBlockingLockExclusive));
    assert!(flock(&f, FlockOperation::NonBlockingLockShared));
    raw_pread(&f);
    assert!(!flock(&f, FlockOperation::NonBlockingLockExclusive));
}

fn claim(c: &mut Criterion) {
    let dir = bench_dir();
    let path = Utf8PathBuf::try_from(dir.path().join("claim.lock")).unwrap();
    let raw_path = dir.path().join("raw.lock");
    let mut g = c.benchmark_group("lockfile claim+drop");
    g.bench_function("raw open+flock+ftruncate+pwrite+fsync+close", |b| {
        b.iter(|| drop(raw_claim(black_box(&raw_path))))
    });
    g.bench_function("raw ... + fsync(parent dir) + flock(SH)", |b| {
        b.iter(|| {
            drop(raw_claim_dir_sync_downgrade(
                black_box(&raw_path),
                dir.path(),
            ))
        })
    });
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
    let dir = bench_dir();
    let path = Utf8PathBuf::try_from(dir.path().join("read.lock")).unwrap();
    let raw_path = dir.path().join("raw.lock");
    drop(
        create_exclusive(&path)
            .unwrap()
            .write_content(CONTENT.to_owned())
            .unwrap(),
    );
    drop(raw_claim(&raw_path));

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

    // A written claim (shared lock) by another open file description.
    let holder = create_exclusive(&path)
        .unwrap()
        .write_content(CONTENT.to_owned())
        .unwrap();
    let raw_holder = raw_claim_dir_sync_downgrade(&raw_path, dir.path());
    let mut g = c.benchmark_group("lockfile read (held)");
    g.bench_function("raw open+flock(EX)+pread+close (neon)", |b| {
        b.iter(|| assert!(!raw_read(black_box(&raw_path))))
    });
    g.bench_function("raw open+flock(EX)+flock(SH)+pread+close", |b| {
        b.iter(|| raw_read_shared(black_box(&raw_path)))
    });
    g.bench_function("raw open+flock(EX)+flock(SH)+pread+flock(EX)+close", |b| {
        b.iter(|| raw_read_shared_convert(black_box(&raw_path)))
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

    // A claim in progress (exclusive lock).
    let _unwritten = create_exclusive(&path).unwrap();
    let raw_unwritten = raw_claim(&raw_path);
    let mut g = c.benchmark_group("lockfile read (claim in progress)");
    g.bench_function("raw open+flock(EX)+flock(SH)+close", |b| {
        b.iter(|| {
            let f = raw_open_read(black_box(&raw_path));
            assert!(!flock(&f, FlockOperation::NonBlockingLockExclusive));
            assert!(!flock(&f, FlockOperation::NonBlockingLockShared));
        })
    });
    g.bench_function("read_and_hold_lock_file", |b| {
        b.iter(
            || match read_and_hold_lock_file(black_box(&path)).unwrap() {
                LockFileRead::ClaimInProgress { not_locked_file } => {
                    black_box(not_locked_file);
                }
                other => panic!("expected a claim in progress, got {other:?}"),
            },
        )
    });
    g.finish();
    drop(raw_unwritten);
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(50)
}

criterion_group! { name = benches; config = config(); targets = claim, read }
criterion_main!(benches);
