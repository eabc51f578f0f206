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
use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use camino::Utf8PathBuf;
use criterion::{Criterion, criterion_group, criterion_main};
use fs4::fs_std::FileExt as _;
use pidkit_pidfile::{PidFileRead, claim_for_current_process, read};

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

/// open, flock, ftruncate, pwrite, fsync, close.
fn raw_claim(path: &Path) {
    let f = raw_open_for_claim(path);
    assert!(f.try_lock_exclusive().unwrap());
    f.set_len(0).unwrap();
    f.write_all_at(format!("{}\n", std::process::id()).as_bytes(), 0)
        .unwrap();
    f.sync_all().unwrap();
}

/// open, flock (try), pread, parse, close: what a naive pidfile reader does.
fn raw_read(path: &Path) -> (File, bool, u32) {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)
        .unwrap();
    let free = f.try_lock_exclusive().unwrap();
    let mut buf = [0u8; 128];
    let n = f.read_at(&mut buf, 0).unwrap();
    let pid = std::str::from_utf8(&buf[..n])
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (f, free, pid)
}

fn claim(c: &mut Criterion) {
    let dir = bench_dir();
    let path = Utf8PathBuf::try_from(dir.path().join("claim.pid")).unwrap();
    let raw_path = dir.path().join("raw.pid");
    let mut g = c.benchmark_group("pidfile claim+drop");
    g.bench_function("raw open+flock+ftruncate+pwrite+fsync+close", |b| {
        b.iter(|| raw_claim(black_box(&raw_path)))
    });
    g.bench_function("raw ... + fsync(parent dir)", |b| {
        b.iter(|| {
            raw_claim(black_box(&raw_path));
            File::open(dir.path()).unwrap().sync_all().unwrap();
        })
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
    raw_claim(&raw_path);

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
    let raw_holder = raw_open_for_claim(&raw_path);
    assert!(raw_holder.try_lock_exclusive().unwrap());
    let mut g = c.benchmark_group("pidfile read (held)");
    g.bench_function("raw open+flock+pread+parse+close", |b| {
        b.iter(|| assert!(!raw_read(black_box(&raw_path)).1))
    });
    g.bench_function("raw ... + fstat + read /proc/locks", |b| {
        b.iter(|| {
            let (f, free, pid) = raw_read(black_box(&raw_path));
            assert!(!free);
            let ino = f.metadata().unwrap().ino();
            let mut locks = Vec::with_capacity(4096);
            File::open("/proc/locks")
                .unwrap()
                .read_to_end(&mut locks)
                .unwrap();
            black_box((ino, pid, locks));
        })
    });
    g.bench_function("read (verified owner)", |b| {
        b.iter(|| match read(black_box(&path)).unwrap() {
            PidFileRead::LockedByOtherProcess(owner) => {
                black_box(owner.pid());
            }
            other => panic!("expected a held pidfile, got {other:?}"),
        })
    });
    g.finish();

    let mut g = c.benchmark_group("pidfile read (held) + handle");
    g.bench_function("raw read + pidfd_open", |b| {
        b.iter(|| {
            let (_f, _, pid) = raw_read(black_box(&raw_path));
            let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
            black_box(rustix::process::pidfd_open(
                pid,
                rustix::process::PidfdFlags::empty(),
            ))
        })
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
