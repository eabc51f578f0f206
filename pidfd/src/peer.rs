//! The process at the other end of a Unix socket, as a pidfd
//! (`SO_PEERPIDFD`, Linux 6.5+).

use std::io;
use std::os::fd::AsFd;

use crate::{PidFd, sys};

impl PidFd {
    /// A pidfd of the process at the other end of the Unix socket `socket`
    /// (a connected `UnixStream` or `UnixDatagram`, or one of a pair):
    /// `getsockopt(SO_PEERPIDFD)`, Linux 6.5+.
    ///
    /// The kernel takes the peer when the connection is made (`connect`,
    /// `socketpair`), so the pidfd refers to that process even if it has
    /// exited since and its PID names another one now; no PID is looked up.
    /// A kernel before 6.5 answers [`io::ErrorKind::Unsupported`] (the
    /// option is unknown there: `ENOPROTOOPT`), and a socket without a peer
    /// the kernel's error (`ENOTCONN`, `ENODATA`).
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let (a, _b) = UnixStream::pair()?;
    /// match PidFd::from_peer(&a) {
    ///     // The pair was made by this process: it is its own peer.
    ///     Ok(peer) => assert_eq!(peer.pid()?, Some(std::process::id())),
    ///     Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::Unsupported),
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_peer(socket: impl AsFd) -> io::Result<PidFd> {
        match sys::peer_pidfd(socket.as_fd()) {
            // SO_PEERPIDFD only ever returns pidfds.
            Ok(fd) => Ok(PidFd::from_checked(fd)),
            Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "SO_PEERPIDFD needs Linux 6.5 or later",
            )),
            Err(e) => Err(e),
        }
    }
}
