//! Who holds a `flock`, according to the kernel: `/proc/locks`.
//!
//! Each lock is one line, for example
//!
//! ```text
//! 3: FLOCK  ADVISORY  WRITE 4711 fe:00:5324844 0 EOF
//! 4: -> FLOCK  ADVISORY  WRITE 4712 fe:00:5324844 0 EOF
//! ```
//!
//! The fields are: an id, the kind (`FLOCK`), `ADVISORY`, the mode (`WRITE`
//! for an exclusive lock), the PID of the process that took it (in the PID
//! namespace of this `/proc` mount), then the device's major and minor number
//! in hexadecimal and the inode number in decimal. Lines with `->` are
//! waiters blocked on the lock above them, not holders.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;

/// The file the kernel's lock records are about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileKey {
    major: u32,
    minor: u32,
    ino: u64,
}

impl FileKey {
    /// The key of an open file, from its metadata.
    pub(crate) fn of(meta: &Metadata) -> FileKey {
        let dev = meta.dev();
        // The glibc/kernel encoding of a 64-bit dev_t.
        let major = (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff)) as u32;
        let minor = (((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff)) as u32;
        FileKey {
            major,
            minor,
            ino: meta.ino(),
        }
    }

    #[cfg(test)]
    pub(crate) fn new(major: u32, minor: u32, ino: u64) -> FileKey {
        FileKey { major, minor, ino }
    }
}

/// What `/proc/locks` says about the exclusive `flock` on one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Holder {
    /// The PID of the process that took the lock.
    Pid(u32),
    /// No exclusive `flock` on this file is visible: nobody holds one, or the
    /// holder is not visible from this PID namespace.
    NotVisible,
}

/// Reads `/proc/locks` and returns the holder of the exclusive `flock` on `key`.
pub(crate) fn holder(key: &FileKey) -> io::Result<Holder> {
    let mut text = Vec::with_capacity(4096);
    File::open("/proc/locks")?.read_to_end(&mut text)?;
    Ok(find_holder(&String::from_utf8_lossy(&text), key))
}

/// Finds the holder of `key` in the text of `/proc/locks`.
///
/// A record for the same device and inode wins. If there is none, a record
/// for the same inode number on a device with another number is accepted when
/// it is the only one: on overlayfs (containers) the lock is recorded on the
/// underlying file system's device while `fstat` reports the overlay's.
pub(crate) fn find_holder(text: &str, key: &FileKey) -> Holder {
    let mut same_inode: Option<u32> = None;
    let mut same_inode_count = 0usize;
    for line in text.lines() {
        let Some(record) = parse_line(line) else {
            continue;
        };
        if record.ino != key.ino {
            continue;
        }
        if record.major == key.major && record.minor == key.minor {
            return Holder::Pid(record.pid);
        }
        same_inode_count += 1;
        same_inode = Some(record.pid);
    }
    match (same_inode_count, same_inode) {
        (1, Some(pid)) => Holder::Pid(pid),
        _ => Holder::NotVisible,
    }
}

struct Record {
    pid: u32,
    major: u32,
    minor: u32,
    ino: u64,
}

/// Parses one line if it is an exclusive `flock` held (not waited for) by a
/// process with a positive PID.
fn parse_line(line: &str) -> Option<Record> {
    let mut fields = line.split_ascii_whitespace();
    let _id = fields.next()?;
    if fields.next()? != "FLOCK" {
        return None; // POSIX, OFDLCK, LEASE, or "->" for a waiter
    }
    let _advisory = fields.next()?;
    if fields.next()? != "WRITE" {
        return None;
    }
    let pid: i64 = fields.next()?.parse().ok()?;
    let pid = u32::try_from(pid).ok().filter(|&p| p > 0)?;
    let mut dev_ino = fields.next()?.split(':');
    let major = u32::from_str_radix(dev_ino.next()?, 16).ok()?;
    let minor = u32::from_str_radix(dev_ino.next()?, 16).ok()?;
    let ino = dev_ino.next()?.parse().ok()?;
    Some(Record {
        pid,
        major,
        minor,
        ino,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
1: POSIX  ADVISORY  WRITE 900 fe:00:77 0 EOF
2: FLOCK  ADVISORY  WRITE 4711 fe:00:5324844 0 EOF
2: -> FLOCK  ADVISORY  WRITE 4712 fe:00:5324844 0 EOF
3: FLOCK  ADVISORY  READ 5000 fe:00:10133507 0 EOF
4: FLOCK  ADVISORY  WRITE 6000 00:2d:42 0 EOF
5: OFDLCK ADVISORY  WRITE -1 fe:00:88 0 EOF
6: FLOCK  ADVISORY  WRITE 7000 00:30:99 0 EOF
7: FLOCK  ADVISORY  WRITE 7001 00:31:99 0 EOF
";

    #[test]
    fn exact_device_and_inode() {
        assert_eq!(
            find_holder(SAMPLE, &FileKey::new(0xfe, 0, 5324844)),
            Holder::Pid(4711)
        );
        assert_eq!(
            find_holder(SAMPLE, &FileKey::new(0, 0x2d, 42)),
            Holder::Pid(6000)
        );
        assert_eq!(
            find_holder(SAMPLE, &FileKey::new(0, 0x30, 99)),
            Holder::Pid(7000)
        );
    }

    #[test]
    fn shared_locks_posix_locks_waiters_and_ofd_locks_are_not_holders() {
        assert_eq!(
            find_holder(SAMPLE, &FileKey::new(0xfe, 0, 10133507)),
            Holder::NotVisible
        );
        assert_eq!(
            find_holder(SAMPLE, &FileKey::new(0xfe, 0, 77)),
            Holder::NotVisible
        );
        assert_eq!(
            find_holder(SAMPLE, &FileKey::new(0xfe, 0, 88)),
            Holder::NotVisible
        );
        let only_waiter = "2: -> FLOCK  ADVISORY  WRITE 4712 fe:00:5 0 EOF\n";
        assert_eq!(
            find_holder(only_waiter, &FileKey::new(0xfe, 0, 5)),
            Holder::NotVisible
        );
    }

    #[test]
    fn same_inode_on_another_device_only_when_unambiguous() {
        // overlayfs: fstat says another device than the lock record.
        assert_eq!(
            find_holder(SAMPLE, &FileKey::new(0, 0x50, 42)),
            Holder::Pid(6000)
        );
        // Two candidates on other devices: ambiguous.
        assert_eq!(
            find_holder(SAMPLE, &FileKey::new(0, 0x50, 99)),
            Holder::NotVisible
        );
    }

    #[test]
    fn garbage_lines_are_skipped() {
        let text = "garbage\n\n1: FLOCK ADVISORY WRITE x fe:00:1 0 EOF\n2: FLOCK ADVISORY WRITE 3 zz:00:1 0 EOF\n";
        assert_eq!(
            find_holder(text, &FileKey::new(0xfe, 0, 1)),
            Holder::NotVisible
        );
    }

    #[test]
    fn key_of_real_file_matches_stat_encoding() {
        let meta = std::fs::metadata("/proc/self/exe").unwrap();
        let key = FileKey::of(&meta);
        assert_eq!(key.ino, meta.ino());
        // major/minor recombine to the same dev_t (glibc's makedev).
        let (major, minor) = (u64::from(key.major), u64::from(key.minor));
        let dev = (minor & 0xff)
            | ((major & 0xfff) << 8)
            | ((minor & !0xff) << 12)
            | ((major & !0xfff) << 32);
        assert_eq!(dev, meta.dev());
    }
}
