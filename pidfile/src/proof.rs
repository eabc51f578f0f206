//! The kernel's word on who holds a pidfile: does process `pid` have a
//! descriptor whose open file description holds an exclusive `flock` on the
//! file with this device and inode?
//!
//! Read from `/proc/<pid>/fd` and `/proc/<pid>/fdinfo/<fd>`: the cost grows
//! with the number of descriptors of that one process, never with the
//! number of locks on the machine (which a scan of `/proc/locks` would).
//! ARCHITECTURE.md has the measurements behind the choice.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{AtFlags, CWD, Mode, OFlags, RawDir};
use rustix::io::Errno;

/// The identity of the pidfile: `st_dev` and `st_ino` of the open file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileId {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
}

/// What `/proc` says about process `pid` and the file.
#[derive(Debug)]
pub(crate) enum Proof {
    /// One of its descriptors holds the exclusive `flock` on the file.
    Holds,
    /// None of its descriptors does (it may have several open on the file).
    DoesNotHold,
    /// `/proc/<pid>/fd` (or an fdinfo file) could not be read: the process
    /// is gone, or not visible in this `/proc` (another PID namespace,
    /// `hidepid`), or the caller may not look (another user's process
    /// without `CAP_SYS_PTRACE`), or it ran out of descriptors or memory.
    /// The caller tells "gone" from the others.
    Unavailable(io::Error),
}

/// Bytes of directory entries read per `getdents64`.
const DIR_BUF: usize = 2048;
/// Bytes read from an fdinfo file at first (a regular file's fdinfo with a
/// lock or two is about 150 bytes).
const INFO_BUF: usize = 512;

/// Asks `/proc` whether process `pid` holds an exclusive `flock` on `file`.
///
/// For each descriptor of the process (`/proc/<pid>/fd`), one `statat` that
/// follows the descriptor to its file; only a descriptor of the same device
/// and inode has its fdinfo read, and it holds the lock if a `lock:` line of
/// that fdinfo (which lists only the locks owned by that open file
/// description) is an `FLOCK` in `WRITE` mode on the same inode. The inode
/// is checked on the `lock:` line too, so that a descriptor closed and
/// reused for another file between the two reads cannot count.
pub(crate) fn holds_exclusive_flock(pid: u32, file: FileId) -> Proof {
    let dir = match rustix::fs::openat(
        CWD,
        format!("/proc/{pid}/fd"),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(dir) => dir,
        Err(e) => return Proof::Unavailable(e.into()),
    };
    let mut buf = [const { MaybeUninit::<u8>::uninit() }; DIR_BUF];
    let mut entries = RawDir::new(dir.as_fd(), &mut buf);
    while let Some(entry) = entries.next() {
        let entry = match entry {
            Ok(entry) => entry,
            // The process exited while we read its table.
            Err(e) => return Proof::Unavailable(e.into()),
        };
        let name = entry.file_name().to_bytes();
        if name.first() == Some(&b'.') {
            continue;
        }
        // Follows the magic link to the file itself, as fstat would.
        let stat = match rustix::fs::statat(dir.as_fd(), entry.file_name(), AtFlags::empty()) {
            Ok(stat) => stat,
            // Closed since the directory was read.
            Err(Errno::NOENT) => continue,
            Err(e) => return Proof::Unavailable(e.into()),
        };
        if stat.st_dev != file.dev || stat.st_ino != file.ino {
            continue;
        }
        let Ok(fd) = std::str::from_utf8(name) else {
            continue;
        };
        match fdinfo(pid, fd) {
            Ok(info) if has_exclusive_flock(&info, file.ino) => return Proof::Holds,
            // No lock on this descriptor (another open of the same file), or
            // closed since: look on.
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => {}
            // Out of descriptors or memory, or not allowed: no answer.
            Err(e) => return Proof::Unavailable(e),
        }
    }
    Proof::DoesNotHold
}

/// The text of `/proc/<pid>/fdinfo/<fd>`.
fn fdinfo(pid: u32, fd: &str) -> io::Result<Vec<u8>> {
    let info: OwnedFd = rustix::fs::openat(
        CWD,
        format!("/proc/{pid}/fdinfo/{fd}"),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut text = vec![0u8; INFO_BUF];
    let mut filled = 0;
    loop {
        let n = match rustix::io::read(&info, &mut text[filled..]) {
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        filled += n;
        // fdinfo is produced whole by one show call, so a read that does not
        // fill the buffer has returned all of it.
        if n == 0 || filled < text.len() {
            break;
        }
        text.resize(text.len() * 2, 0);
    }
    text.truncate(filled);
    Ok(text)
}

/// Whether fdinfo text has a `lock:` line for an exclusive `flock` on inode
/// `ino`. The line reads `lock:\t1: FLOCK  ADVISORY  WRITE <pid>
/// <major>:<minor>:<ino> 0 EOF` (the same fields as `/proc/locks`).
pub(crate) fn has_exclusive_flock(info: &[u8], ino: u64) -> bool {
    let Ok(info) = std::str::from_utf8(info) else {
        return false;
    };
    info.lines()
        .filter(|line| line.starts_with("lock:"))
        .any(|line| {
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            fields.get(2) == Some(&"FLOCK")
                && fields.get(4) == Some(&"WRITE")
                && fields
                    .get(6)
                    .and_then(|id| id.rsplit(':').next())
                    .and_then(|n| n.parse::<u64>().ok())
                    == Some(ino)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_lines() {
        let held = b"pos:\t0\nflags:\t02100001\nmnt_id:\t27\nino:\t10010644\nlock:\t1: FLOCK  ADVISORY  WRITE 11202 fe:00:10010644 0 EOF\n";
        assert!(has_exclusive_flock(held, 10010644));
        assert!(!has_exclusive_flock(held, 10010645), "another inode");
        let shared = b"pos:\t0\nlock:\t1: FLOCK  ADVISORY  READ 11202 fe:00:77 0 EOF\n";
        assert!(!has_exclusive_flock(shared, 77));
        let posix = b"lock:\t1: POSIX  ADVISORY  WRITE 11202 fe:00:77 0 EOF\n";
        assert!(!has_exclusive_flock(posix, 77), "fcntl locks do not count");
        let ofd = b"lock:\t1: OFDLCK ADVISORY  WRITE -1 fe:00:77 0 EOF\n";
        assert!(!has_exclusive_flock(ofd, 77));
        let second = b"lock:\t1: POSIX  ADVISORY  WRITE 5 fe:00:77 0 EOF\nlock:\t2: FLOCK  ADVISORY  WRITE 5 fe:00:77 0 EOF\n";
        assert!(has_exclusive_flock(second, 77));
        for junk in [
            &b""[..],
            b"lock:",
            b"lock:\t1: FLOCK",
            b"\xff\xfe",
            b"lock:\t1: FLOCK  ADVISORY  WRITE 1 x 0 EOF",
        ] {
            assert!(!has_exclusive_flock(junk, 77), "{junk:?}");
        }
    }
}
