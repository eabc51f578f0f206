//! [`OpenFlags`] for [`PidFd::open_with`](crate::PidFd::open_with) and
//! [`SignalScope`] for [`PidFd::kill_scoped`](crate::PidFd::kill_scoped).

use std::fmt;
use std::ops::BitOr;

/// Flags for [`PidFd::open_with`](crate::PidFd::open_with).
///
/// ```
/// use pidkit_pidfd::OpenFlags;
///
/// let flags = OpenFlags::NONBLOCK | OpenFlags::THREAD;
/// assert!(flags.contains(OpenFlags::NONBLOCK));
/// assert_eq!(format!("{flags:?}"), "OpenFlags(NONBLOCK | THREAD)");
/// assert_eq!(OpenFlags::default(), OpenFlags::EMPTY);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OpenFlags(u32);

impl OpenFlags {
    /// No flags.
    ///
    /// ```
    /// use pidkit_pidfd::{OpenFlags, PidFd};
    ///
    /// assert_eq!(OpenFlags::EMPTY.bits(), 0);
    /// let me = PidFd::open_with(std::process::id(), OpenFlags::EMPTY)?;
    /// assert_eq!(me.pid()?, Some(std::process::id()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const EMPTY: OpenFlags = OpenFlags(0);
    /// `PIDFD_NONBLOCK`: [`PidFd::wait`](crate::PidFd::wait) on this fd returns `EAGAIN` instead
    /// of blocking while the child runs (Linux 5.10).
    ///
    /// ```
    /// use pidkit_pidfd::{OpenFlags, PidFd};
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let fd = PidFd::open_with(child.id(), OpenFlags::NONBLOCK)?;
    /// // The child runs: wait() refuses to block.
    /// assert_eq!(fd.wait().unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// # child.kill()?;
    /// # child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const NONBLOCK: OpenFlags = OpenFlags(libc::O_NONBLOCK as u32);
    /// `PIDFD_THREAD`: the pid is a thread id and the fd refers to that thread
    /// rather than its thread group (Linux 6.9).
    ///
    /// ```
    /// use pidkit_pidfd::{OpenFlags, PidFd, Signal};
    ///
    /// // Our main thread's id is our PID.
    /// let fd = PidFd::open_with(std::process::id(), OpenFlags::THREAD)?;
    /// fd.kill(Signal::ZERO)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const THREAD: OpenFlags = OpenFlags(libc::O_EXCL as u32);

    /// The raw bits.
    ///
    /// ```
    /// use pidkit_pidfd::OpenFlags;
    ///
    /// assert_eq!(OpenFlags::EMPTY.bits(), 0);
    /// assert_eq!(OpenFlags::NONBLOCK.bits(), libc::O_NONBLOCK as u32);
    /// ```
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every flag of `other` is set in `self`.
    ///
    /// ```
    /// use pidkit_pidfd::OpenFlags;
    ///
    /// let both = OpenFlags::NONBLOCK | OpenFlags::THREAD;
    /// assert!(both.contains(OpenFlags::THREAD));
    /// assert!(!OpenFlags::NONBLOCK.contains(both));
    /// assert!(both.contains(OpenFlags::EMPTY));
    /// ```
    pub const fn contains(self, other: OpenFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for OpenFlags {
    type Output = OpenFlags;
    fn bitor(self, rhs: OpenFlags) -> OpenFlags {
        OpenFlags(self.0 | rhs.0)
    }
}

impl fmt::Debug for OpenFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names = Vec::new();
        if self.contains(Self::NONBLOCK) {
            names.push("NONBLOCK");
        }
        if self.contains(Self::THREAD) {
            names.push("THREAD");
        }
        write!(
            f,
            "OpenFlags({})",
            if names.is_empty() {
                "EMPTY".into()
            } else {
                names.join(" | ")
            }
        )
    }
}

/// Whom [`PidFd::kill_scoped`](crate::PidFd::kill_scoped) signals (the `PIDFD_SIGNAL_*` flags,
/// Linux 6.9).
///
/// ```
/// use pidkit_pidfd::{PidFd, Signal, SignalScope};
///
/// assert_eq!(SignalScope::default(), SignalScope::Default);
/// let me = PidFd::open(std::process::id())?;
/// me.kill_scoped(Signal::ZERO, SignalScope::ThreadGroup)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SignalScope {
    /// What the pidfd refers to: the thread group for a process pidfd, the
    /// thread for a `PIDFD_THREAD` pidfd. Works on every kernel with pidfds.
    #[default]
    Default,
    /// Only the thread the pidfd refers to (`PIDFD_SIGNAL_THREAD`).
    Thread,
    /// The whole thread group (`PIDFD_SIGNAL_THREAD_GROUP`).
    ThreadGroup,
    /// The whole process group of the process (`PIDFD_SIGNAL_PROCESS_GROUP`),
    /// like `kill(-pgid, sig)` but without naming the group by number.
    ProcessGroup,
}

impl SignalScope {
    pub(crate) fn flags(self) -> u32 {
        match self {
            SignalScope::Default => 0,
            SignalScope::Thread => 1,
            SignalScope::ThreadGroup => 2,
            SignalScope::ProcessGroup => 4,
        }
    }
}
