//! [`PidHandle`] and [`State`]: what a handle holds and what it does; how
//! one is made is in `pin.rs`, how one is restored in `restore.rs`.

use std::fmt;
use std::io;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pidkit_pidfd::low_level::Backoff;

use crate::calls::{has_exited, signal_error, visible_stat};
use crate::error::io_context;
use crate::{Error, Identity, PidFd, Signal};

/// Where a process is in its life, as a [`PidHandle`] sees it.
///
/// ```
/// use pidkit_pidhandle::{PidHandle, State};
///
/// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
/// let handle = PidHandle::from_child(&child)?;
/// assert_eq!(handle.state()?, State::Running);
/// child.kill()?;
/// handle.wait_exited()?;
/// assert_eq!(handle.state()?, State::Exited); // a zombie until reaped
/// child.wait()?;
/// assert_eq!(handle.state()?, State::Gone);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Running (or stopped, or sleeping): not yet exited.
    Running,
    /// Exited but not yet reaped by its parent (a zombie). Signals are
    /// accepted and do nothing.
    Exited,
    /// Reaped, replaced by another process with the same PID, or never
    /// existed when the handle was made. Final.
    Gone,
}

/// A handle to one process, checked by identity, never by PID alone.
///
/// See the [crate documentation](crate) for what is recorded and checked.
///
/// A handle owns its pidfd, as an [`OwnedFd`](std::os::fd::OwnedFd) owns
/// its descriptor: the fd is closed when the handle is dropped or closed,
/// and no other value holds its number, so nothing can use an fd number that
/// was closed and reused meanwhile (Go #67641 cannot happen). It is not
/// `Clone`: share one handle as `Arc<PidHandle>` (`Send + Sync`; every
/// operation takes `&self` except [`PidHandle::close`]), or take an
/// independent pidfd with [`PidHandle::try_clone`]. Making a handle thus
/// allocates nothing (ARCHITECTURE.md, "Where a call's cost goes").
///
/// ```
/// use pidkit_pidhandle::{PidHandle, Signal};
/// use std::sync::Arc;
///
/// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
/// let handle = Arc::new(PidHandle::from_child(&child)?);
/// let shared = Arc::clone(&handle);
/// std::thread::spawn(move || shared.kill(Signal::KILL)).join().unwrap()?;
/// handle.wait_exited()?;
/// # child.wait()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PidHandle {
    pub(crate) id: Identity,
    pub(crate) pin: Pin,
    /// The identity this handle may give out ([`PidHandle::identity`], the
    /// text form): `id` once it is known that the process was alive after
    /// the clock tick it started in ended, else the `gone` form. Set at
    /// construction when that is already known, else on first use (see
    /// [`PidHandle::settle`]).
    pub(crate) issued: Issued,
}

/// Which identity a handle gives out.
#[derive(Clone, Debug)]
pub(crate) enum Issued {
    /// `id` as it is (known at construction; no cell to fill, which a
    /// restore would pay for on every call).
    Same,
    /// Decided on first use ([`PidHandle::settle`]); boxed so that a
    /// handle does not carry a second inline record it may never fill.
    Later(OnceLock<Box<Identity>>),
}

/// How the handle reaches its process.
pub(crate) enum Pin {
    /// Through a pidfd that refers to the process, owned by the handle.
    Fd(PidFd),
    /// Fallback without pidfds: the identity's start ticks are re-checked
    /// before each use (kept there only, so that a handle stays within the
    /// size the compiler copies inline).
    Ticks,
    /// The process is gone for good (or never existed).
    Gone,
    /// [`PidHandle::close`] was called.
    Closed,
}

impl fmt::Debug for PidHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("PidHandle");
        d.field("pid", &self.id.pid());
        match &self.pin {
            Pin::Fd(fd) => d.field("pidfd", fd),
            Pin::Ticks => d.field("fallback_start_ticks", &self.id.start_ticks()),
            Pin::Gone => d.field("gone", &true),
            Pin::Closed => d.field("closed", &true),
        };
        d.field("identity", &format_args!("{}", self.id)).finish()
    }
}

impl PidHandle {
    /// The PID (as it was when the handle was made; also for a gone or
    /// closed handle).
    ///
    /// ```
    /// use pidkit_pidhandle::PidHandle;
    ///
    /// let me = PidHandle::new(std::process::id())?;
    /// assert_eq!(me.pid(), std::process::id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn pid(&self) -> u32 {
        self.id.pid()
    }

    /// The pidfs inode id of the process (Linux 6.9+), as recorded:
    /// [`Identity::pidfs_id`] of [`PidHandle::identity`]. It is the `inode`
    /// of util-linux's `PID:inode` and systemd's `pidfdId`.
    ///
    /// ```
    /// use pidkit_pidhandle::{PidFd, PidHandle};
    ///
    /// let me = PidHandle::new(std::process::id())?;
    /// assert_eq!(me.pidfs_id(), PidFd::open(std::process::id())?.pidfs_id()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pidfs_id(&self) -> Option<u64> {
        self.id.pidfs_id()
    }

    /// What the handle knows about its process; its `Display` is the text form.
    ///
    /// What it holds follows the kernel alone, not the call that made the
    /// handle: the boot id always; the pidfs id on Linux 6.9+ and the pidfs
    /// file handle on 6.17+, where pidfds work; the start ticks otherwise
    /// (the fallback, or a kernel without pidfs ids). A gone handle holds
    /// only its PID.
    ///
    /// On kernels without pidfs ids, for a handle made within the clock
    /// tick its process started in, the first call waits out the rest of that
    /// tick (under 10 ms) and checks that the process is still alive; if it
    /// is not, this is the `gone` form. See the crate's Limitations.
    ///
    /// ```
    /// use pidkit_pidhandle::PidHandle;
    ///
    /// let me = PidHandle::new(std::process::id())?;
    /// let id = me.identity();
    /// assert_eq!(id.pid(), std::process::id());
    /// assert!(!id.is_gone());
    /// assert_eq!(id.to_string(), me.to_string());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn identity(&self) -> &Identity {
        match &self.issued {
            Issued::Same => &self.id,
            Issued::Later(cell) => cell.get_or_init(|| Box::new(self.settle())),
        }
    }

    /// Sends `signal` to the pinned process ([`Signal::ZERO`] only checks).
    ///
    /// [`Error::Gone`] once the process has been reaped (or never
    /// existed), even if its PID now names another process;
    /// [`Error::PermissionDenied`] when it exists but we may not signal it;
    /// [`Error::Closed`] after [`PidHandle::close`]. A zombie accepts signals
    /// (they do nothing). With a pidfd this is one `pidfd_send_signal`; in
    /// the fallback see the crate docs for the race that remains.
    ///
    /// ```
    /// use pidkit_pidhandle::{Error, PidHandle, Signal};
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let handle = PidHandle::from_child(&child)?;
    /// handle.kill(Signal::TERM)?;
    /// child.wait()?;
    /// assert!(matches!(handle.kill(Signal::TERM), Err(Error::Gone { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn kill(&self, signal: Signal) -> Result<(), Error> {
        let pid = self.pid();
        match &self.pin {
            Pin::Fd(fd) => fd.kill(signal).map_err(|e| signal_error(pid, e)),
            Pin::Ticks => self.kill_by_ticks(signal),
            Pin::Gone => Err(Error::Gone { pid }),
            Pin::Closed => Err(Error::Closed),
        }
    }

    /// The fallback's kill: the start ticks checked, then `kill(2)`.
    fn kill_by_ticks(&self, signal: Signal) -> Result<(), Error> {
        let pid = self.pid();
        match visible_stat(pid)? {
            Some(stat) if Some(stat.start_ticks) == self.id.start_ticks() && !stat.is_dead() => {}
            _ => return Err(Error::Gone { pid }),
        }
        // The race window of the fallback is here, between the check above
        // and the kill below (see the crate docs).
        pidkit_pidfd::low_level::kill(pid, signal).map_err(|e| match e.kind() {
            io::ErrorKind::Unsupported => Error::Unsupported {
                pid,
                reason: format!(
                    "{signal} can only be sent through a pidfd, and pidfds are not available"
                ),
            },
            _ => signal_error(pid, e),
        })
    }

    /// Where the process is in its life: [`State::Running`],
    /// [`State::Exited`] (a zombie) or [`State::Gone`].
    ///
    /// Needs no permission to signal the process. With a pidfd: a `poll` of
    /// it, plus a signal 0 once it has exited to tell a zombie from a reaped
    /// process. In the fallback: `/proc/<pid>/stat` (state `Z` is a zombie;
    /// other start ticks mean another process).
    ///
    /// ```
    /// use pidkit_pidhandle::{PidHandle, State};
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let handle = PidHandle::from_child(&child)?;
    /// assert_eq!(handle.state()?, State::Running);
    /// child.kill()?;
    /// child.wait()?;
    /// assert_eq!(handle.state()?, State::Gone);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn state(&self) -> Result<State, Error> {
        let pid = self.pid();
        match &self.pin {
            Pin::Fd(fd) => {
                if !has_exited(pid, fd)? {
                    return Ok(State::Running);
                }
                match fd.kill(Signal::ZERO) {
                    Ok(()) => Ok(State::Exited),
                    Err(e) => match signal_error(pid, e) {
                        Error::Gone { .. } => Ok(State::Gone),
                        // EPERM proves the process still exists.
                        Error::PermissionDenied { .. } => Ok(State::Exited),
                        other => Err(other),
                    },
                }
            }
            Pin::Ticks => Ok(match visible_stat(pid)? {
                Some(stat)
                    if Some(stat.start_ticks) == self.id.start_ticks() && !stat.is_dead() =>
                {
                    if stat.is_zombie() {
                        State::Exited
                    } else {
                        State::Running
                    }
                }
                _ => State::Gone,
            }),
            Pin::Gone => Ok(State::Gone),
            Pin::Closed => Err(Error::Closed),
        }
    }

    /// Whether the process is [`State::Running`] (a zombie is not alive).
    ///
    /// ```
    /// use pidkit_pidhandle::PidHandle;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let handle = PidHandle::from_child(&child)?;
    /// assert!(handle.is_alive()?);
    /// child.kill()?;
    /// handle.wait_exited()?;
    /// assert!(!handle.is_alive()?); // a zombie is not alive
    /// # child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_alive(&self) -> Result<bool, Error> {
        Ok(self.state()? == State::Running)
    }

    /// Blocks until the process has exited (zombie or gone). Does not reap.
    ///
    /// With a pidfd this is a `poll` on it. In the fallback it re-reads
    /// `/proc/<pid>/stat`, sleeping between reads (1 ms growing to 50 ms).
    ///
    /// ```
    /// use pidkit_pidhandle::PidHandle;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let handle = PidHandle::from_child(&child)?;
    /// child.kill()?;
    /// handle.wait_exited()?;
    /// assert!(!handle.is_alive()?);
    /// # child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_exited(&self) -> Result<(), Error> {
        self.wait_exited_until(None).map(drop)
    }

    /// [`PidHandle::wait_exited`] for at most `timeout`; returns whether the
    /// process exited.
    ///
    /// ```
    /// use pidkit_pidhandle::PidHandle;
    /// use std::time::Duration;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let handle = PidHandle::from_child(&child)?;
    /// assert!(!handle.wait_exited_timeout(Duration::ZERO)?);
    /// child.kill()?;
    /// assert!(handle.wait_exited_timeout(Duration::from_secs(600))?);
    /// # child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_exited_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.wait_exited_until(Some(timeout))
    }

    fn wait_exited_until(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        let pid = self.pid();
        match &self.pin {
            Pin::Fd(fd) => match timeout {
                None => fd.wait_exited().map(|()| true),
                Some(t) => fd.wait_exited_timeout(t),
            }
            .map_err(|e| io_context(format!("polling the pidfd of pid {pid}"), e)),
            Pin::Closed => Err(Error::Closed),
            Pin::Gone => Ok(true),
            Pin::Ticks => {
                let deadline = timeout.map(|t| Instant::now() + t);
                let mut naps = Backoff::new(Duration::from_millis(1), Duration::from_millis(50));
                loop {
                    if self.state()? != State::Running {
                        return Ok(true);
                    }
                    let Some(nap) = naps.next_pause_before(deadline) else {
                        return Ok(false);
                    };
                    std::thread::sleep(nap);
                }
            }
        }
    }

    /// Closes the pidfd (a waiter made by `wait_exited_async` keeps its
    /// own). Idempotent; afterwards [`kill`](Self::kill),
    /// [`state`](Self::state), [`is_alive`](Self::is_alive) and
    /// [`wait_exited`](Self::wait_exited)
    /// give [`Error::Closed`] without touching any fd; `pid`, `identity` and
    /// the text form stay available.
    ///
    /// ```
    /// use pidkit_pidhandle::{Error, PidHandle};
    ///
    /// let mut me = PidHandle::new(std::process::id())?;
    /// let text = me.to_string();
    /// me.close()?;
    /// assert!(matches!(me.state(), Err(Error::Closed)));
    /// assert_eq!(me.to_string(), text);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&mut self) -> Result<(), Error> {
        // Decide the text while the process can still be looked at.
        let _ = self.identity();
        self.pin = Pin::Closed;
        Ok(())
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// ```
    /// use pidkit_pidhandle::PidHandle;
    ///
    /// let mut me = PidHandle::new(std::process::id())?;
    /// assert!(!me.is_closed());
    /// me.close()?;
    /// assert!(me.is_closed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self.pin, Pin::Closed)
    }

    /// The pidfd, when the handle signals through one: `Some` for an open
    /// handle of a process that was there when it was made, wherever pidfds
    /// work ([`Support::usable`](crate::Support::usable)); `None` in the fallback (no pidfds: old
    /// kernel or a seccomp sandbox), and for gone or closed handles. Which
    /// identities the handle recorded, and so what its text carries, is
    /// [`PidHandle::identity`] ([`Identity::pidfs_id`] on 6.9+,
    /// [`Identity::file_handle`] on 6.17+).
    ///
    /// ```
    /// use pidkit_pidhandle::PidHandle;
    ///
    /// let mut me = PidHandle::new(std::process::id())?;
    /// let fd = me.pidfd().expect("pidfds are usable");
    /// assert_eq!(fd.pid()?, Some(std::process::id()));
    /// me.close()?;
    /// assert!(me.pidfd().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pidfd(&self) -> Option<&PidFd> {
        match &self.pin {
            Pin::Fd(fd) => Some(fd),
            _ => None,
        }
    }

    /// Gives up the handle for its pidfd (`None` in the fallback, and for
    /// gone or closed handles), for callers that watch the process
    /// themselves (an epoll set, a monitor). No system call: the pidfd is the
    /// handle's own.
    ///
    /// ```
    /// use pidkit_pidhandle::{PidHandle, Signal};
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let fd = PidHandle::from_child(&child)?.into_pidfd().expect("a pidfd");
    /// fd.kill(Signal::KILL)?;
    /// assert!(!fd.wait()?.success());
    /// # let _ = child.try_wait();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_pidfd(mut self) -> Option<PidFd> {
        match std::mem::replace(&mut self.pin, Pin::Closed) {
            Pin::Fd(fd) => Some(fd),
            _ => None,
        }
    }

    /// A handle with its own, independent pidfd (`F_DUPFD_CLOEXEC`): the
    /// handle's copy. To share one handle, put it in an `Arc`.
    ///
    /// ```
    /// use pidkit_pidhandle::PidHandle;
    /// use std::os::fd::AsRawFd;
    ///
    /// let me = PidHandle::new(std::process::id())?;
    /// let own = me.try_clone()?;
    /// assert_eq!(own.to_string(), me.to_string());
    /// assert_ne!(own.pidfd().unwrap().as_raw_fd(), me.pidfd().unwrap().as_raw_fd());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the pid when the descriptor cannot be duplicated
    /// (`EMFILE`, `ENFILE`).
    pub fn try_clone(&self) -> Result<PidHandle, Error> {
        let pin = match &self.pin {
            Pin::Fd(fd) => Pin::Fd(fd.try_clone().map_err(|e| {
                io_context(format!("duplicating the pidfd of pid {}", self.pid()), e)
            })?),
            Pin::Ticks => Pin::Ticks,
            Pin::Gone => Pin::Gone,
            Pin::Closed => Pin::Closed,
        };
        Ok(PidHandle {
            id: self.id,
            pin,
            issued: self.issued.clone(),
        })
    }
}

impl fmt::Display for PidHandle {
    /// The text form of the handle's [`Identity`]: one versioned line that
    /// [`FromStr`] restores. A handle that was made or
    /// restored for a process that was already gone writes the `gone` form
    /// (`pidkit-pid:v1:pid=N:gone`), which restores to a gone handle forever.
    /// Closing a handle does not change its text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.identity(), f)
    }
}

impl FromStr for PidHandle {
    type Err = Error;

    /// Parses the text form ([`Identity`]) and restores the handle
    /// ([`PidHandle::restore`]).
    #[inline(always)]
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::restore(&s.parse()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Identity;

    /// A handle is passed and returned by value everywhere: it carries one
    /// identity record inline (the issued one, when it differs, is boxed),
    /// and stays within the 128 bytes the compiler copies inline rather than
    /// through a call to `memcpy` (ARCHITECTURE.md, "Where a call's cost
    /// goes").
    #[test]
    fn a_handle_carries_one_identity_record() {
        let one = std::mem::size_of::<Identity>();
        let handle = std::mem::size_of::<PidHandle>();
        assert!(
            handle <= one + 32 && handle <= 128,
            "PidHandle is {handle} bytes, Identity {one}"
        );
    }

    #[test]
    fn handle_is_send_sync_debug() {
        fn check<T: Send + Sync + fmt::Debug + 'static>() {}
        fn check_error<T: Send + Sync + std::error::Error + 'static>() {}
        check::<PidHandle>();
        check_error::<Error>();
    }

    #[test]
    fn invalid_pids_are_rejected() {
        for pid in [0, i32::MAX as u32 + 1, u32::MAX] {
            assert!(matches!(PidHandle::new(pid), Err(Error::InvalidPid { pid: p }) if p == pid));
        }
    }
}
