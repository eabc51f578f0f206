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

/// [`claim`] plus open+fsync+close of the parent directory: every system
/// call a pidkit claim makes. The lock stays exclusive.
pub fn claim_full(path: &Path, dir: &Path, content: &str) -> File {
    let f = claim(path, content);
    File::open(dir).unwrap().sync_all().unwrap();
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

/// Whether process `pid` holds an exclusive `flock` on the file with
/// `dev`/`ino`, by hand: open `/proc/<pid>/fd`, `getdents64`, one `statat`
/// (following the link) per descriptor, and for the descriptor of that file
/// open+read+close of its fdinfo and a look for a `FLOCK ... WRITE` line.
pub fn proc_holds_flock(pid: u32, dev: u64, ino: u64) -> bool {
    use rustix::fs::{AtFlags, CWD, Mode, OFlags, RawDir};
    let dir = rustix::fs::openat(
        CWD,
        format!("/proc/{pid}/fd"),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap();
    let mut buf = [const { std::mem::MaybeUninit::<u8>::uninit() }; 2048];
    let mut entries = RawDir::new(&dir, &mut buf);
    while let Some(entry) = entries.next() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name.to_bytes().first() == Some(&b'.') {
            continue;
        }
        let Ok(st) = rustix::fs::statat(&dir, name, AtFlags::empty()) else {
            continue;
        };
        if st.st_dev != dev || st.st_ino != ino {
            continue;
        }
        let fd = std::str::from_utf8(name.to_bytes()).unwrap();
        let info = rustix::fs::openat(
            CWD,
            format!("/proc/{pid}/fdinfo/{fd}"),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        let mut text = [0u8; 512];
        let n = rustix::io::read(&info, &mut text).unwrap();
        let text = std::str::from_utf8(&text[..n]).unwrap();
        if text
            .lines()
            .any(|l| l.starts_with("lock:") && l.contains(" FLOCK ") && l.contains(" WRITE "))
        {
            return true;
        }
    }
    false
}

/// What `Owner::handle()` does, by hand: `pidfd_open` + `fstat` (pin with a
/// pidfs id), `fstat` of the pidfile, [`proc_holds_flock`], then a zero
/// `poll` of the pidfd (still running). Returns the pidfd.
pub fn prove_owner(pid: u32, file: &File) -> std::os::fd::OwnedFd {
    let rpid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    let pidfd = rustix::process::pidfd_open(rpid, rustix::process::PidfdFlags::empty()).unwrap();
    std::hint::black_box(rustix::fs::fstat(&pidfd).unwrap());
    let st = rustix::fs::fstat(file).unwrap();
    assert!(proc_holds_flock(pid, st.st_dev, st.st_ino));
    let mut fds = [rustix::event::PollFd::new(
        &pidfd,
        rustix::event::PollFlags::IN,
    )];
    let zero = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    assert_eq!(rustix::event::poll(&mut fds, Some(&zero)).unwrap(), 0);
    pidfd
}

/// A temporary directory for a benchmark's files: under `PIDKIT_BENCH_DIR`
/// if set (e.g. `/dev/shm`, to see the system-call overhead without the disk
/// `fsync`s), else under the system's temporary directory.
pub fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("PIDKIT_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}
