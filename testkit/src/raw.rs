//! The raw system-call sequences that the lockfile and pidfile benchmarks
//! measure pidkit against: what a careful program would write by hand with
//! std and rustix, nothing more.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use rustix::fs::FlockOperation;

/// `flock(f, op)`; `false` for `EWOULDBLOCK`, panics on any other error.
pub fn flock(f: &File, op: FlockOperation) -> bool {
    match rustix::fs::flock(f, op) {
        Ok(()) => true,
        Err(rustix::io::Errno::WOULDBLOCK) => false,
        Err(e) => panic!("flock: {e}"),
    }
}

/// `open(O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644)`, no truncation.
pub fn open_for_claim(path: &Path) -> File {
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

/// open, flock(EX|NB), ftruncate, pwrite, fsync; returned still locked.
pub fn claim(path: &Path, content: &str) -> File {
    let f = open_for_claim(path);
    assert!(flock(&f, FlockOperation::NonBlockingLockExclusive));
    f.set_len(0).unwrap();
    f.write_all_at(content.as_bytes(), 0).unwrap();
    f.sync_all().unwrap();
    f
}

/// [`claim`] plus open+fsync+close of the parent directory and the
/// conversion to a shared lock: every system call a pidkit claim makes.
pub fn claim_full(path: &Path, dir: &Path, content: &str) -> File {
    let f = claim(path, content);
    File::open(dir).unwrap().sync_all().unwrap();
    assert!(flock(&f, FlockOperation::NonBlockingLockShared));
    f
}

/// `open(O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)`.
pub fn open_read(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)
        .unwrap()
}

/// One `pread` at offset 0 into a stack buffer, as UTF-8.
pub fn pread(f: &File) -> String {
    let mut buf = [0u8; 128];
    let n = f.read_at(&mut buf, 0).unwrap();
    std::str::from_utf8(&buf[..n]).unwrap().to_owned()
}

/// neon's read: open, flock(EX|NB), pread; returns the file, whether the
/// lock was free, and the content.
pub fn read(path: &Path) -> (File, bool, String) {
    let f = open_read(path);
    let free = flock(&f, FlockOperation::NonBlockingLockExclusive);
    let content = pread(&f);
    (f, free, content)
}

/// The lock-mode read of a held file, minimal: open, flock(EX|NB) (fails),
/// flock(SH|NB), pread.
pub fn read_shared(path: &Path) -> (File, String) {
    let f = open_read(path);
    assert!(!flock(&f, FlockOperation::NonBlockingLockExclusive));
    assert!(flock(&f, FlockOperation::NonBlockingLockShared));
    let content = pread(&f);
    (f, content)
}

/// [`read_shared`] plus the final conversion attempt (flock(EX|NB), fails):
/// every system call a pidkit read of a held file makes.
pub fn read_shared_convert(path: &Path) -> (File, String) {
    let (f, content) = read_shared(path);
    assert!(!flock(&f, FlockOperation::NonBlockingLockExclusive));
    (f, content)
}
