//! Taking an [`OwnedFd`] made elsewhere as a [`PidFd`]: checked first
//! (`TryFrom<OwnedFd>`), the fd handed back in the error when it is not a
//! pidfd ([`FromOwnedFdError`]).

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::PidFd;

/// The superblock magic of pidfs (`PIDFS_MAGIC` in `include/uapi/linux/magic.h`,
/// "PIDF"): every pidfd lives there on Linux 6.9+.
pub(crate) const PIDFS_MAGIC: i64 = 0x5049_4446;
/// The superblock magic of the anonymous-inode file system
/// (`ANON_INODE_FS_MAGIC`), where pidfds lived before pidfs.
const ANON_INODE_FS_MAGIC: i64 = 0x0904_1934;
/// What `/proc/self/fd/<n>` reads for an anonymous-inode pidfd: the name
/// `pidfd_open` and `clone(CLONE_PIDFD)` give the inode.
const ANON_PIDFD_LINK: &str = "anon_inode:[pidfd]";

/// What an fd is, as far as telling a pidfd from anything else goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FdKind {
    /// A pidfd (on pidfs, or an anonymous inode named `[pidfd]`).
    Pidfd,
    /// Something else, described for the error message.
    Other(String),
}

/// Decides what an fd is from its file system magic, its `st_mode` and the
/// target of its `/proc/self/fd` link (`None` where that could not be read).
/// Pure, so that the kernels without pidfs (whose pidfds are anonymous
/// inodes) are covered by unit tests on any kernel.
pub(crate) fn classify(fs_magic: i64, mode: u32, link: Option<&str>) -> FdKind {
    if fs_magic == PIDFS_MAGIC {
        return FdKind::Pidfd;
    }
    if fs_magic == ANON_INODE_FS_MAGIC {
        return match link {
            Some(ANON_PIDFD_LINK) => FdKind::Pidfd,
            Some(l) => FdKind::Other(match l.strip_prefix("anon_inode:") {
                Some(name) => format!("an anonymous inode {name}"),
                None => format!("an anonymous inode ({l})"),
            }),
            None => FdKind::Other("an anonymous inode of unknown kind".into()),
        };
    }
    let what = match mode & libc::S_IFMT {
        libc::S_IFREG => "a regular file",
        libc::S_IFDIR => "a directory",
        libc::S_IFSOCK => "a socket",
        libc::S_IFIFO => "a pipe or fifo",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        libc::S_IFLNK => "a symbolic link",
        _ => "a file of unknown type",
    };
    FdKind::Other(match link {
        Some(l) => format!("{what} ({l})"),
        None => what.into(),
    })
}

/// Checks that `fd` is a pidfd: `fstatfs` says pidfs (Linux 6.9+), or the
/// fd is an anonymous inode named `[pidfd]` (`/proc/self/fd/<n>`, the
/// kernels before pidfs). Anything else is [`io::ErrorKind::InvalidInput`]
/// naming the fd and what it is.
pub(crate) fn check_pidfd(fd: BorrowedFd<'_>) -> io::Result<()> {
    let sfs = rustix::fs::fstatfs(fd)?;
    // `f_type`'s width differs between architectures; the magics fit 32 bits.
    let magic = sfs.f_type as i64;
    if magic == PIDFS_MAGIC {
        return Ok(());
    }
    let mode = rustix::fs::fstat(fd)?.st_mode;
    let n = fd.as_raw_fd();
    let link = std::fs::read_link(format!("/proc/self/fd/{n}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    if magic == ANON_INODE_FS_MAGIC && link.is_none() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "cannot tell whether fd {n} is a pidfd: it is an anonymous inode and \
                 /proc/self/fd/{n} cannot be read (is /proc mounted?)"
            ),
        ));
    }
    match classify(magic, mode, link.as_deref()) {
        FdKind::Pidfd => Ok(()),
        FdKind::Other(what) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("fd {n} is not a pidfd: it is {what}"),
        )),
    }
}

/// An [`OwnedFd`] refused as a pidfd by [`PidFd::try_from`]: the error, and
/// the fd handed back (the shape of std's
/// [`IntoInnerError`](std::io::IntoInnerError), which every pidkit crate uses
/// where a consuming call fails).
///
/// ```
/// use pidkit_pidfd::PidFd;
/// use std::os::fd::{AsRawFd, OwnedFd};
///
/// let file = OwnedFd::from(std::fs::File::open("/proc/self/status")?);
/// let n = file.as_raw_fd();
/// let refused = PidFd::try_from(file).unwrap_err();
/// assert_eq!(refused.error().kind(), std::io::ErrorKind::InvalidInput);
/// assert!(refused.to_string().starts_with(&format!("fd {n} is not a pidfd: it is a regular file")));
/// let file: OwnedFd = refused.into_inner(); // still open, still ours
/// assert_eq!(file.as_raw_fd(), n);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct FromOwnedFdError {
    error: io::Error,
    fd: OwnedFd,
}

impl FromOwnedFdError {
    /// Why the fd was refused: [`io::ErrorKind::InvalidInput`] for an fd that
    /// is not a pidfd (the message names the fd and what it is), or the
    /// error of the `fstatfs`/`fstat` that could not look at it.
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The error, closing the fd.
    pub fn into_error(self) -> io::Error {
        self.error
    }

    /// The fd, dropping the error.
    pub fn into_inner(self) -> OwnedFd {
        self.fd
    }

    /// The error and the fd.
    pub fn into_parts(self) -> (io::Error, OwnedFd) {
        (self.error, self.fd)
    }
}

impl fmt::Display for FromOwnedFdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for FromOwnedFdError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl From<FromOwnedFdError> for io::Error {
    fn from(e: FromOwnedFdError) -> io::Error {
        e.error
    }
}

/// Takes an fd made elsewhere as a pidfd once it is checked to be one
/// (`fstatfs` says pidfs on Linux 6.9+; before, the fd is an anonymous
/// inode named `[pidfd]`, read from `/proc/self/fd/<n>`). One or two
/// system calls on 6.9+, three before.
///
/// This is the way in for a pidfd received over a Unix socket
/// (`SCM_RIGHTS`), inherited from a parent, or made by std: std's
/// `ChildExt::pidfd` / `CommandExt::create_pidfd` are unstable, and where a
/// program has one, `PidFd::try_from(OwnedFd::from(std_pidfd))` takes it
/// through this same check. An fd that is not a pidfd comes back inside the
/// error, open.
///
/// The check says what the fd is, not which process it refers to: a pidfd
/// of a process that has been reaped is still a pidfd (its signals give
/// [`io::ErrorKind::NotFound`]), and the PID behind it is
/// [`PidFd::pid`]'s to tell.
///
/// ```
/// use pidkit_pidfd::{PidFd, Signal};
/// use std::os::fd::OwnedFd;
///
/// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
/// // A pidfd that arrived as a bare OwnedFd (from a socket, a parent, std).
/// let raw: OwnedFd = PidFd::from_child(&child)?.into();
/// let fd = PidFd::try_from(raw)?;
/// fd.kill(Signal::KILL)?;
/// # child.wait()?;
///
/// let (socket, _peer) = std::os::unix::net::UnixStream::pair()?;
/// let refused = PidFd::try_from(OwnedFd::from(socket)).unwrap_err();
/// assert!(refused.to_string().contains("is not a pidfd: it is a socket (socket:["));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl TryFrom<OwnedFd> for PidFd {
    type Error = FromOwnedFdError;

    fn try_from(fd: OwnedFd) -> Result<PidFd, FromOwnedFdError> {
        match check_pidfd(fd.as_fd()) {
            Ok(()) => Ok(PidFd::from_checked(fd)),
            Err(error) => Err(FromOwnedFdError { error, fd }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidfs_and_named_anonymous_inodes_are_pidfds() {
        assert_eq!(classify(PIDFS_MAGIC, 0, None), FdKind::Pidfd);
        assert_eq!(
            classify(PIDFS_MAGIC, libc::S_IFREG, Some("anon_inode:[pidfd]")),
            FdKind::Pidfd
        );
        // Before pidfs (5.10, 6.1): an anonymous inode named [pidfd].
        assert_eq!(
            classify(ANON_INODE_FS_MAGIC, 0o600, Some("anon_inode:[pidfd]")),
            FdKind::Pidfd
        );
    }

    #[test]
    fn everything_else_is_named() {
        let cases = [
            (
                ANON_INODE_FS_MAGIC,
                0o600,
                Some("anon_inode:[eventfd]"),
                "an anonymous inode [eventfd]",
            ),
            (
                ANON_INODE_FS_MAGIC,
                0o600,
                None,
                "an anonymous inode of unknown kind",
            ),
            (
                0xef53,
                libc::S_IFREG | 0o644,
                Some("/etc/passwd"),
                "a regular file (/etc/passwd)",
            ),
            (0x6969, libc::S_IFDIR, Some("/srv"), "a directory (/srv)"),
            (
                0x534f_434b,
                libc::S_IFSOCK,
                Some("socket:[77]"),
                "a socket (socket:[77])",
            ),
            (0x5049_5045, libc::S_IFIFO, None, "a pipe or fifo"),
            (
                0x1cd1,
                libc::S_IFCHR,
                Some("/dev/null"),
                "a character device (/dev/null)",
            ),
            (0x1cd1, libc::S_IFBLK, None, "a block device"),
            (0, 0, None, "a file of unknown type"),
        ];
        for (magic, mode, link, want) in cases {
            assert_eq!(
                classify(magic, mode, link),
                FdKind::Other(want.into()),
                "{magic:#x} {mode:o} {link:?}"
            );
        }
    }
}
