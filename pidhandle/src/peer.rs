//! Handles for processes met over a Unix socket: the peer of a connection
//! (`SO_PEERPIDFD`, else `SO_PEERCRED`), and a pidfd received in a message
//! (`SCM_RIGHTS`, `SCM_PIDFD`).

use std::os::fd::{AsFd, OwnedFd};

use crate::calls::pidfds;
use crate::error::io_context;
use crate::{Error, PidFd, PidHandle};

/// How [`PidHandle::from_peer`] found the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerCheck {
    /// The kernel's pidfd of the peer (`SO_PEERPIDFD`, Linux 6.5+): exactly
    /// the process that made the connection, with no PID looked up.
    Pidfd,
    /// Only the peer's PID was known (`SO_PEERCRED`: a kernel before 6.5, or
    /// pidfds blocked), pinned at once with [`PidHandle::new`]. Unverified:
    /// if the peer exited and its PID was reused between the connection and
    /// this call, the handle pins the new process.
    Credentials,
}

/// The process at the other end of a Unix socket: its handle, and how sure
/// pidkit is that it is the process that connected ([`PeerCheck`]).
#[derive(Debug)]
pub struct Peer {
    handle: PidHandle,
    check: PeerCheck,
}

impl Peer {
    /// The handle of the peer.
    pub fn handle(&self) -> &PidHandle {
        &self.handle
    }

    /// The handle, for keeping.
    pub fn into_handle(self) -> PidHandle {
        self.handle
    }

    /// How the peer was found.
    pub fn check(&self) -> PeerCheck {
        self.check
    }

    /// Whether the handle surely names the process that made the
    /// connection ([`PeerCheck::Pidfd`]).
    pub fn is_verified(&self) -> bool {
        self.check == PeerCheck::Pidfd
    }
}

impl PidHandle {
    /// A handle for the process at the other end of the Unix socket
    /// `socket` (a connected `UnixStream` or `UnixDatagram`, an accepted
    /// connection, one of a pair).
    ///
    /// On Linux 6.5+ with pidfds, the kernel hands over the peer's pidfd
    /// (`SO_PEERPIDFD`), taken when the connection was made: the handle
    /// names exactly that process, and is gone if it has exited since
    /// ([`PeerCheck::Pidfd`]). Elsewhere the peer's PID from `SO_PEERCRED`
    /// is pinned at once ([`PeerCheck::Credentials`]): **the window** in
    /// which that PID may already name another process runs from the
    /// `connect` to this call; the peer must have exited, been reaped and
    /// its PID given to a new process within it. A server that accepts and
    /// asks at once keeps it short; only the pidfd closes it.
    ///
    /// ```
    /// use pidkit_pidhandle::PidHandle;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let (a, _b) = UnixStream::pair()?;
    /// let peer = PidHandle::from_peer(&a)?;
    /// assert_eq!(peer.handle().pid(), std::process::id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_peer(socket: impl AsFd) -> Result<Peer, Error> {
        let socket = socket.as_fd();
        let cred = rustix::net::sockopt::socket_peercred(socket)
            .map_err(|e| io_context("reading SO_PEERCRED of a unix socket", e.into()))?;
        let pid = cred.pid.as_raw_nonzero().get() as u32;
        if pidfds(pid)? {
            if let Ok(fd) = PidFd::from_peer(socket) {
                let handle = Self::from_received(fd, pid)?;
                return Ok(Peer {
                    handle,
                    check: PeerCheck::Pidfd,
                });
            }
        }
        Ok(Peer {
            handle: PidHandle::new(pid)?,
            check: PeerCheck::Credentials,
        })
    }

    /// A handle from a pidfd received from another process: over a Unix
    /// socket (`SCM_RIGHTS`, or the peer's own `SCM_PIDFD` of Linux 6.5+,
    /// which arrives as an fd the same way), or inherited.
    ///
    /// The fd is checked to be a pidfd ([`PidFd::try_from`]; anything else
    /// is [`Error::Io`] of kind `InvalidInput` naming the fd and what it
    /// is); the PID is the one the kernel gives for it, never a number sent
    /// alongside. A pidfd of a process that has already been reaped is
    /// [`Error::Gone`] with pid 0: the kernel no longer tells which PID it
    /// had.
    ///
    /// ```
    /// use pidkit_pidhandle::{PidFd, PidHandle};
    /// use std::os::fd::OwnedFd;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let received: OwnedFd = PidFd::from_child(&child)?.into();
    /// let handle = PidHandle::from_received_pidfd(received)?;
    /// assert_eq!(handle.pid(), child.id());
    /// # child.kill()?;
    /// # child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_received_pidfd(fd: OwnedFd) -> Result<PidHandle, Error> {
        let fd = PidFd::try_from(fd)
            .map_err(|e| io_context("taking a received fd as a pidfd", e.into_error()))?;
        Self::from_received(fd, 0)
    }

    /// A handle around the pidfd `fd` of a process whose PID the kernel
    /// tells (`pid` names it in errors before that is known).
    fn from_received(fd: PidFd, pid: u32) -> Result<PidHandle, Error> {
        match fd.pid() {
            Ok(Some(actual)) => {
                PidHandle::from_pidfd(actual, fd).map_err(crate::FromPidFdError::into_error)
            }
            Ok(None) => match pid {
                0 => Err(Error::Gone { pid }),
                _ => Ok(PidHandle::gone(pid)),
            },
            Err(e) => Err(io_context(
                format!("reading the pid of a received pidfd (pid {pid})"),
                e,
            )),
        }
    }
}
