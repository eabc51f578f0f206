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

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use camino::Utf8PathBuf;
use criterion::{Criterion, criterion_group, criterion_main};
use pidkit_pidfile::{PidFileRead, claim_for_current_process, read};
use rustix::fs::FlockOperation;

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

/// open, flock, ftruncate, pwrite, fsync; returned still locked.
fn raw_claim(path: &Path) -> File {
    let f = raw_open_for_claim(path);
    assert!(flock(&f, FlockOperation::NonBlockingLockExclusive));
    f.set_len(0).unwrap();
    f.write_all_at(format!("{}\n", std::process::id()).as_bytes(), 0)
        .unwrap();
    f.sync_all().unwrap();
    f
}

/// The same plus fsync of the parent directory and the conversion to a
/// shared lock: every system call a claim makes.
fn raw_claim_full(path: &Path, dir: &Path) -> File {
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

fn raw_pread_pid(f: &File) -> u32 {
    let mut buf = [0u8; 128];
    let n = f.read_at(&mut buf, 0).unwrap();
    std::str::from_utf8(&buf[..n])
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// neon's read: open, flock(EX|NB), pread, parse, close.
fn raw_read(path: &Path) -> (File, bool, u32) {
    let f = raw_open_read(path);
    let free = flock(&f, FlockOperation::NonBlockingLockExclusive);
    let pid = raw_pread_pid(&f);
    (f, free, pid)
}

/// The lock-mode read of a held file, minimal: open, flock(EX|NB) (fails),
/// flock(SH|NB), pread, parse, close.
fn raw_read_shared(path: &Path) -> (File, u32) {
    let f = raw_open_read(path);
    assert!(!flock(&f, FlockOperation::NonBlockingLockExclusive));
    assert!(flock(&f, FlockOperation::NonBlockingLockShared));
    let pid = raw_pread_pid(&f);
    (f, pid)
}

/// The same plus the final conversion attempt: every system call of a read.
fn raw_read_shared_convert(path: &Path) -> (File, u32) {
    let (f, pid) = raw_read_shared(path);
    assert!(!flock(&f, FlockOperation::NonBlockingLockExclusive));
    (f, pid)
}

/// pidfd_open + fstat: pinning a process with a pidfs id.
fn raw_pin(pid: u32) {
    let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).unwrap();
    black_box(rustix::fs::fstat(&fd).unwrap());
}

fn claim(c: &mut Criterion) {
    let dir = bench_dir();
    let path = Utf8PathBuf::try_from(dir.path().join("claim.pid")).unwrap();
    let raw_path = dir.path().join("raw.pid");
    let mut g = c.benchmark_group("pidfile claim+drop");
    g.bench_function("raw open+flock+ftruncate+pwrite+fsync+close", |b| {
        b.iter(|| drop(raw_claim(black_box(&raw_path))))
    });
    g.bench_function("raw ... + fsync(parent dir) + flock(SH)", |b| {
        b.iter(|| drop(raw_claim_full(black_box(&raw_path), dir.path())))
    });
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
    let dir = bench_dir();
    let path = Utf8PathBuf::try_from(dir.path().join("read.pid")).unwrap();
    let raw_path = dir.path().join("raw.pid");
    drop(claim_for_current_process(&path).unwrap());
    drop(raw_claim(&raw_path));

    let mut g = c.benchmark_group("pidfile read (stale)");
    g.bench_function("raw open+flock+pread+parse+close", |b| {
        b.iter(|| assert!(raw_read(black_box(&raw_path)).1))
    });
    g.bench_function("read", |b| {
        b.iter(|| match read(black_box(&path)).unwrap() {
            PidFileRead::NotHeldByAnyProcess(guard) => drop(black_box(guard)),
            other => panic!("expected a stale pidfile, got {other:?}"),
        })
    });
    g.finish();

    // Held by another open file description of this process (a running instance).
    let _holder = claim_for_current_process(&path).unwrap();
    let _raw_holder = raw_claim_full(&raw_path, dir.path());
    let mut g = c.benchmark_group("pidfile read (held)");
    g.bench_function("raw open+flock(EX)+pread+parse+close (neon)", |b| {
        b.iter(|| assert!(!raw_read(black_box(&raw_path)).1))
    });
    g.bench_function("raw open+flock(EX)+flock(SH)+pread+parse+close", |b| {
        b.iter(|| black_box(raw_read_shared(black_box(&raw_path))))
    });
    g.bench_function(
        "raw open+flock(EX)+flock(SH)+pread+parse+flock(EX)+close",
        |b| b.iter(|| black_box(raw_read_shared_convert(black_box(&raw_path)))),
    );
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
    g.bench_function("raw lock-mode read + pidfd_open + fstat", |b| {
        b.iter(|| {
            let (_f, pid) = raw_read_shared(black_box(&raw_path));
            raw_pin(pid);
        })
    });
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

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(50)
}

criterion_group! { name = benches; config = config(); targets = claim, reads }
criterion_main!(benches);
