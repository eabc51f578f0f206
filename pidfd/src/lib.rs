//! Safe, owned wrappers for the Linux pidfd system calls.
//!
//! A pidfd is a file descriptor that refers to one process for as long as the
//! descriptor is open. Unlike a PID, it cannot come to mean another process
//! when the first one exits and its number is reused: a signal sent through a
//! pidfd of a process that has been reaped fails with "no such process" even
//! if a new process now has the same PID.
//!
//! This crate is the bottom layer of pidkit. It adds, over the raw system
//! calls (and over rustix, which it uses where rustix has the call):
//!
//! - an owning [`PidFd`] (an [`OwnedFd`] inside, always `O_CLOEXEC`);
//! - exit statuses as [`std::process::ExitStatus`], so they compare and print
//!   like the ones std gives;
//! - errors that mean one thing: a gone process, including one that is dying
//!   (`EINVAL` from `pidfd_open`), is [`io::ErrorKind::NotFound`]; `EINTR` is
//!   retried;
//! - [`probe`], a cached check of which pidfd features this kernel and
//!   sandbox allow, where `ENOSYS` and `EPERM` (seccomp) mean "absent";
//! - the pidfs inode id ([`PidFd::pidfs_id`]) and `PIDFD_GET_INFO`
//!   ([`PidFd::info`]) with a `/proc/self/fdinfo` fallback;
//! - with the `tokio` feature (off by default), `AsyncReadable`: a pidfd
//!   registered with tokio's reactor, to await an exit without a thread.
//!
//! All of pidkit's `unsafe` lives in this crate's private `sys` module: one
//! block per call the kernel has and rustix does not wrap, each with its
//! safety argument.
//!
//! # Kernel versions
//!
//! | feature | Linux |
//! |---|---|
//! | `pidfd_send_signal` | 5.1 |
//! | `pidfd_open` | 5.3 |
//! | `waitid(P_PIDFD)` | 5.4 |
//! | `pidfd_getfd` | 5.6 |
//! | `PIDFD_NONBLOCK` | 5.10 |
//! | pidfs inode ids, `PIDFD_THREAD`, signal scopes | 6.9 |
//! | `PIDFD_GET_INFO` | 6.13 |
//! | `PIDFD_INFO_EXIT` | 6.15 |
//! | `PIDFD_INFO_COREDUMP` ([`PidfdInfo::coredump`]) | 6.16 |
//! | pidfs file handles opened on the pidfs root ([`PidFd::file_handle`], [`PidFd::open_file_handle`]) | 6.17 |
//! | `PIDFD_INFO_SUPPORTED_MASK` (used by [`probe`]) | 6.19 |
//!
//! `struct pidfd_info` grew from 64 bytes (VER0) to 88 (VER3, Linux 7.x), and
//! one field moved: `supported_mask` sits at offset 72 in VER2 and at 80 in
//! VER3. [`PidFd::info`] passes the largest layout and decodes the answer by
//! the layout the kernel filled in (recognised from the answer itself), and
//! trusts a field only when its mask bit is set and it lies within the bytes
//! passed; an answer that fits no published layout is an error, never a guess.
//!
//! # Limitations
//!
//! - Linux only; other targets fail to compile with a clear message.
//! - A [`PidFd`] pins a process, not a PID: opening one with [`PidFd::open`]
//!   from a bare number still races with that number's reuse *before* the
//!   open. Only [`PidFd::from_child`] (our own unreaped child) and a pidfd
//!   received from another process are free of that race; `pidkit-pidhandle`
//!   closes the gap for bare PIDs by checking the process's identity after
//!   the open.
//! - [`PidFd::wait`] reaps only our own children (`ECHILD` otherwise); a
//!   non-child's exit is observed through [`PidFd::wait_exited`] and, on 6.15+,
//!   its status through [`PidFd::info`].
//! - [`PidFd::pidfs_id`] is `None` before Linux 6.9 (pidfds were anonymous
//!   inodes then, all with the same number).
//! - [`PidFd::open_file_handle`] needs Linux 6.17 (`FD_PIDFS_ROOT`); 6.13 to
//!   6.16 encode pidfs handles but can open them only relative to another
//!   pidfd, which this crate does not offer. A handle is meaningful only in
//!   the boot it was made in, and only for processes visible in the caller's
//!   PID namespace.
//!
//! # Example
//!
//! ```
//! use pidkit_pidfd::{PidFd, Signal};
//! use std::process::Command;
//! use std::time::Duration;
//!
//! # fn main() -> std::io::Result<()> {
//! let mut child = Command::new("sleep").arg("10").spawn()?;
//! let pidfd = PidFd::from_child(&child)?;
//! assert!(!pidfd.has_exited()?);
//!
//! pidfd.kill(Signal::TERM)?;
//! assert!(pidfd.wait_exited_timeout(Duration::from_secs(5))?);
//! let status = pidfd.wait()?;
//! use std::os::unix::process::ExitStatusExt;
//! assert_eq!(status.signal(), Some(Signal::TERM.as_raw()));
//!
//! // Reaped: the pidfd now refuses, whatever process gets the PID next.
//! assert_eq!(pidfd.kill(Signal::ZERO).unwrap_err().kind(), std::io::ErrorKind::NotFound);
//! # let _ = child.try_wait();
//! # Ok(())
//! # }
//! ```

// Every `unsafe` block of pidkit lives in `sys`; the rest of this crate may not have one.
#![deny(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!("pidkit-pidfd supports Linux only: pidfds are a Linux kernel feature");

mod info;
pub mod low_level;
mod probe;
mod signal;
#[allow(
    unsafe_code,
    reason = "the one module that wraps the calls rustix lacks"
)]
mod sys;
#[cfg(feature = "tokio")]
mod tokio;

use std::fmt;
use std::io;
use std::ops::BitOr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, PidfdGetfdFlags, WaitId, WaitIdOptions};
use rustix::time::Timespec;

#[cfg(feature = "tokio")]
pub use self::tokio::AsyncReadable;
pub use info::{CoreDump, InfoSource, PidfdInfo};
pub use probe::{ProbeStep, Support, Unusable, probe};
/// The test hook `PIDKIT_HIDE_FEATURES` (hiding kernel features to test the
/// fallbacks); not part of the API.
#[doc(hidden)]
pub use probe::{Feature, ParseFeatureError};
pub use signal::{ParseSignalError, Signal};

/// The superblock magic of pidfs (`PIDFS_MAGIC`, "PIDF").
const PIDFS_MAGIC: i64 = 0x5049_4446;

/// Flags for [`PidFd::open_with`].
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
    /// `PIDFD_NONBLOCK`: [`PidFd::wait`] on this fd returns `EAGAIN` instead
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

/// Whom [`PidFd::kill_scoped`] signals (the `PIDFD_SIGNAL_*` flags,
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
    fn flags(self) -> u32 {
        match self {
            SignalScope::Default => 0,
            SignalScope::Thread => 1,
            SignalScope::ThreadGroup => 2,
            SignalScope::ProcessGroup => 4,
        }
    }
}

/// An open pidfd: a file descriptor that refers to one process (or, with
/// [`OpenFlags::THREAD`], one thread) for as long as it is open.
///
/// Closing happens on drop. The descriptor is always close-on-exec.
///
/// ```
/// use pidkit_pidfd::{PidFd, Signal};
///
/// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
/// let fd = PidFd::from_child(&child)?;
/// fd.kill(Signal::KILL)?;
/// assert!(!fd.wait()?.success());
/// # let _ = child.try_wait();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct PidFd {
    fd: sys::InlineFd,
}

impl fmt::Debug for PidFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PidFd")
            .field("fd", &self.fd.get().as_raw_fd())
            .finish()
    }
}

/// A "no such process" error of kind [`io::ErrorKind::NotFound`] that keeps
/// the errno the kernel gave and the PID when known.
#[derive(Debug)]
struct Gone {
    pid: Option<u32>,
    errno: Errno,
}

impl fmt::Display for Gone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "no such process: pid {pid} ({})", self.errno),
            None => write!(f, "no such process ({})", self.errno),
        }
    }
}

impl std::error::Error for Gone {}

fn gone(pid: Option<u32>, errno: Errno) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, Gone { pid, errno })
}

/// Rejects PID 0 and PIDs above `i32::MAX`, which name no single process.
///
/// ```
/// use pidkit_pidfd::check_pid;
///
/// assert_eq!(check_pid(1)?, 1);
/// let e = check_pid(0).unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
/// assert!(e.to_string().contains("invalid pid 0"));
/// assert!(check_pid(u32::MAX).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn check_pid(pid: u32) -> io::Result<i32> {
    match i32::try_from(pid) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid pid {pid}: must be in 1..={}", i32::MAX),
        )),
    }
}

/// Converts what `waitid` reports into a std exit status (wait-status
/// encoding: `code << 8` for an exit, the signal number for a kill, plus 0x80
/// when a core was dumped).
fn exit_status_from(status: &rustix::process::WaitIdStatus) -> io::Result<ExitStatus> {
    if let Some(code) = status.exit_status() {
        Ok(ExitStatus::from_raw((code & 0xff) << 8))
    } else if let Some(sig) = status.terminating_signal() {
        Ok(ExitStatus::from_raw(
            (sig & 0x7f) | if status.dumped() { 0x80 } else { 0 },
        ))
    } else {
        // WEXITED asks only for terminations; never invent a status for anything else.
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "waitid reported a non-exit event (si_code {})",
                status.raw_code()
            ),
        ))
    }
}

impl PidFd {
    /// Opens a pidfd for the process `pid` (`pidfd_open(2)`).
    ///
    /// A missing process (`ESRCH`) and a process that is already dying
    /// (`EINVAL`: its thread-group leader is gone) both give
    /// [`io::ErrorKind::NotFound`]; so does a thread id that is not a
    /// process's leader. PID 0 and PIDs above `i32::MAX` give `InvalidInput`.
    ///
    /// The open is only as good as the number: if `pid` was reused before the
    /// call, the pidfd refers to the new process. Use [`PidFd::from_child`]
    /// for children, or `pidkit-pidhandle` to check identity.
    ///
    /// ```
    /// use pidkit_pidfd::{PidFd, Signal};
    ///
    /// let me = PidFd::open(std::process::id())?;
    /// me.kill(Signal::ZERO)?;
    /// assert_eq!(PidFd::open(0).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn open(pid: u32) -> io::Result<PidFd> {
        Self::open_with(pid, OpenFlags::EMPTY)
    }

    /// [`PidFd::open`] with flags ([`OpenFlags::NONBLOCK`], [`OpenFlags::THREAD`]).
    ///
    /// ```
    /// use pidkit_pidfd::{OpenFlags, PidFd};
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let fd = PidFd::open_with(child.id(), OpenFlags::NONBLOCK)?;
    /// assert_eq!(fd.try_wait()?, None);
    /// # child.kill()?;
    /// # child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn open_with(pid: u32, flags: OpenFlags) -> io::Result<PidFd> {
        // Kept small so that it is made in the caller, system call and all;
        // every error is built out of line.
        let rpid = match i32::try_from(pid).ok().and_then(Pid::from_raw) {
            Some(rpid) => rpid,
            None => return Err(open_refused(pid, None, flags)),
        };
        match rustix::process::pidfd_open(rpid, PidfdFlags::from_bits_retain(flags.bits())) {
            Ok(fd) => Ok(PidFd {
                fd: sys::InlineFd::new(fd),
            }),
            Err(e) => Err(open_refused(pid, Some(e), flags)),
        }
    }

    /// Opens a pidfd for a child spawned by std.
    ///
    /// Race-free as long as the child has not been reaped (std reaps only in
    /// `wait`, `try_wait` and `wait_with_output`): an unreaped child's PID
    /// cannot be reused.
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    ///
    /// let child = std::process::Command::new("true").spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// assert!(fd.wait()?.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_child(child: &Child) -> io::Result<PidFd> {
        Self::open(child.id())
    }

    /// Borrows the fd (same as [`AsFd::as_fd`]).
    #[inline]
    pub(crate) fn as_borrowed(&self) -> BorrowedFd<'_> {
        self.fd.get().as_fd()
    }

    /// Sends `signal` to the process (`pidfd_send_signal(2)`).
    ///
    /// [`Signal::ZERO`] sends nothing and checks existence: it succeeds for a
    /// running process and for a zombie, and fails once it has been reaped.
    /// A reaped process gives [`io::ErrorKind::NotFound`], even if its PID now
    /// names another process.
    #[inline]
    ///
    /// ```
    /// use pidkit_pidfd::{PidFd, Signal};
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// fd.kill(Signal::TERM)?;
    /// assert_eq!(fd.wait()?.signal(), Some(Signal::TERM.as_raw()));
    /// # let _ = child.try_wait();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kill(&self, signal: Signal) -> io::Result<()> {
        self.send_raw(signal, 0)
    }

    /// [`PidFd::kill`] to a chosen scope (Linux 6.9; `EINVAL` before).
    ///
    /// ```
    /// use pidkit_pidfd::{PidFd, Signal, SignalScope};
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// fd.kill_scoped(Signal::KILL, SignalScope::ThreadGroup)?;
    /// assert!(!fd.wait()?.success());
    /// # let _ = child.try_wait();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kill_scoped(&self, signal: Signal, scope: SignalScope) -> io::Result<()> {
        self.send_raw(signal, scope.flags())
    }

    #[inline]
    fn send_raw(&self, signal: Signal, flags: u32) -> io::Result<()> {
        match sys::pidfd_send_signal(self.fd.get().as_fd(), signal.as_raw(), flags) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Err(gone(None, Errno::SRCH)),
            Err(e) => Err(e),
        }
    }

    fn waitid(&self, options: WaitIdOptions) -> io::Result<Option<ExitStatus>> {
        loop {
            match rustix::process::waitid(WaitId::PidFd(self.fd.get().as_fd()), options) {
                Ok(Some(st)) if st.raw_signo() == 0 => return Ok(None),
                Ok(Some(st)) => return exit_status_from(&st).map(Some),
                Ok(None) => return Ok(None),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Waits for the child to exit and reaps it (`waitid(P_PIDFD, WEXITED)`),
    /// retrying on `EINTR`.
    ///
    /// Only a child of the calling process can be waited for; anything else
    /// fails at once with `ECHILD` (never hangs). A child that was already
    /// reaped also gives `ECHILD`. On a [`OpenFlags::NONBLOCK`] pidfd a
    /// running child gives [`io::ErrorKind::WouldBlock`].
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    ///
    /// let child = std::process::Command::new("sh").args(["-c", "exit 3"]).spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// assert_eq!(fd.wait()?.code(), Some(3));
    /// // Reaped: a second wait has nothing to reap.
    /// assert!(fd.wait().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(&self) -> io::Result<ExitStatus> {
        self.waitid(WaitIdOptions::EXITED)?
            .ok_or_else(|| io::Error::from(io::ErrorKind::WouldBlock))
    }

    /// Reaps the child if it has exited (`WNOHANG`); `Ok(None)` while it runs.
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// assert_eq!(fd.try_wait()?, None);
    /// child.kill()?;
    /// fd.wait_exited()?;
    /// assert!(fd.try_wait()?.is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        self.waitid(WaitIdOptions::EXITED | WaitIdOptions::NOHANG)
    }

    /// The child's exit status if it has exited, *without* reaping it
    /// (`WNOHANG | WNOWAIT`): the child stays a zombie and can still be
    /// waited for.
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    ///
    /// let child = std::process::Command::new("sh").args(["-c", "exit 7"]).spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// fd.wait_exited()?;
    /// assert_eq!(fd.peek_exit()?.and_then(|s| s.code()), Some(7));
    /// // Not reaped: wait still gets the status.
    /// assert_eq!(fd.wait()?.code(), Some(7));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek_exit(&self) -> io::Result<Option<ExitStatus>> {
        self.waitid(WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT)
    }

    /// Whether the process has exited (the pidfd polls readable). Does not
    /// reap; works for non-children too.
    ///
    /// One `poll` with a zero timeout: cheap enough to call before every
    /// decision (the higher crates' `state()` does).
    #[inline]
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// assert!(!fd.has_exited()?);
    /// child.kill()?;
    /// child.wait()?;
    /// assert!(fd.has_exited()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn has_exited(&self) -> io::Result<bool> {
        self.poll_once(Some(&Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        }))
    }

    /// Blocks until the process exits. Does not reap; works for non-children.
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// child.kill()?;
    /// fd.wait_exited()?;
    /// assert!(fd.has_exited()?);
    /// # child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_exited(&self) -> io::Result<()> {
        self.poll_readable(None).map(drop)
    }

    /// [`PidFd::wait_exited`] for at most `timeout`; returns whether the
    /// process exited.
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    /// use std::time::Duration;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// assert!(!fd.wait_exited_timeout(Duration::ZERO)?);
    /// child.kill()?;
    /// assert!(fd.wait_exited_timeout(Duration::from_secs(600))?);
    /// # child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_exited_timeout(&self, timeout: Duration) -> io::Result<bool> {
        self.poll_readable(Some(timeout))
    }

    fn poll_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            // A timeout too long for the clock or for a timespec is no limit.
            let left = deadline
                .and_then(|d| Timespec::try_from(d.saturating_duration_since(Instant::now())).ok());
            match self.poll_once(left.as_ref()) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// One `poll` of the pidfd for readability, for at most `timeout`
    /// (`None`: no limit); `EINTR` is `ErrorKind::Interrupted`.
    #[inline]
    fn poll_once(&self, timeout: Option<&Timespec>) -> io::Result<bool> {
        let mut fds = [PollFd::new(self.fd.get(), PollFlags::IN)];
        loop {
            match rustix::event::poll(&mut fds, timeout) {
                Ok(0) => return Ok(false),
                Ok(_) => {
                    let rev = fds[0].revents();
                    if rev.intersects(PollFlags::NVAL) {
                        return Err(Errno::BADF.into());
                    }
                    return Ok(rev.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR));
                }
                // A zero timeout cannot be cut short: ask again.
                Err(Errno::INTR) if timeout.is_some_and(|t| t.tv_sec == 0 && t.tv_nsec == 0) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The pidfs inode number of the process: a 64-bit id that the kernel
    /// never reuses for another process while it runs (Linux 6.9+).
    ///
    /// `Ok(None)` when the pidfd does not live on pidfs (older kernels, where
    /// every pidfd shares one anonymous inode). Two pidfds of the same process
    /// give the same id; different processes give different ids.
    ///
    /// Also `Ok(None)` when [`probe`] reports pidfs absent, including when it
    /// was hidden through `PIDKIT_HIDE_FEATURES`.
    ///
    /// ```
    /// # if !pidkit_pidfd::probe().pidfs { return Ok(()); }
    /// use pidkit_pidfd::PidFd;
    ///
    /// let a = PidFd::open(std::process::id())?;
    /// let b = a.try_clone()?;
    /// // Same process, same id (None on kernels before 6.9).
    /// assert_eq!(a.pidfs_id()?, b.pidfs_id()?);
    /// assert!(a.pidfs_id()?.is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pidfs_id(&self) -> io::Result<Option<u64>> {
        // The probe has proven that pidfds live on pidfs, so one `fstat`
        // answers; without pidfs every pidfd shares one anonymous inode.
        if !probe().pidfs {
            return Ok(None);
        }
        Ok(Some(rustix::fs::fstat(self.fd.get())?.st_ino))
    }

    /// [`PidFd::pidfs_id`] without consulting the probe (the probe uses it).
    pub(crate) fn pidfs_inode(&self) -> io::Result<Option<u64>> {
        let sfs = rustix::fs::fstatfs(self.fd.get())?;
        if sfs.f_type as i64 != PIDFS_MAGIC {
            return Ok(None);
        }
        Ok(Some(rustix::fs::fstat(self.fd.get())?.st_ino))
    }

    /// What the kernel says about the process: `PIDFD_GET_INFO` (6.13+),
    /// including its exit status once reaped where the kernel has
    /// `PIDFD_INFO_EXIT` (6.15+) and its core-dump record where it has
    /// `PIDFD_INFO_COREDUMP` (6.16+); otherwise only the PID, from
    /// `/proc/self/fdinfo/<fd>`.
    ///
    /// The answer is decoded by the size the kernel filled in, whichever of
    /// the published `struct pidfd_info` layouts it uses (see the crate docs).
    ///
    /// A process that was reaped on a kernel without exit info gives
    /// [`io::ErrorKind::NotFound`].
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    ///
    /// let me = PidFd::open(std::process::id())?;
    /// let info = me.info()?;
    /// assert_eq!(info.pid, Some(std::process::id()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn info(&self) -> io::Result<PidfdInfo> {
        use sys::{
            PIDFD_INFO_CGROUPID, PIDFD_INFO_COREDUMP, PIDFD_INFO_CREDS, PIDFD_INFO_EXIT,
            PIDFD_INFO_PID,
        };
        let support = probe();
        if support.get_info {
            let mut want = PIDFD_INFO_PID | PIDFD_INFO_CREDS | PIDFD_INFO_CGROUPID;
            if support.info_exit {
                want |= PIDFD_INFO_EXIT;
            }
            if support.info_coredump {
                want |= PIDFD_INFO_COREDUMP;
            }
            if let Some(raw) = self.ask_info(want, support.info_exit)? {
                return Ok(raw.to_info(support.info_exit, support.info_coredump));
            }
        }
        self.info_from_fdinfo()
    }

    /// The process's PID in this PID namespace (`None` when it has none
    /// here), asked for alone: one `PIDFD_GET_INFO` with only
    /// `PIDFD_INFO_PID` (6.13+), else `/proc/self/fdinfo/<fd>`. A process
    /// that has been reaped is [`io::ErrorKind::NotFound`].
    ///
    /// ```
    /// let child = std::process::Command::new("true").spawn()?;
    /// let fd = pidkit_pidfd::PidFd::open(child.id())?;
    /// assert_eq!(fd.pid()?, Some(child.id()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pid(&self) -> io::Result<Option<u32>> {
        if probe().get_info {
            if let Some(raw) = self.ask_info(sys::PIDFD_INFO_PID, false)? {
                return Ok(raw.pid);
            }
        }
        self.info_from_fdinfo().map(|i| i.pid)
    }

    /// One `PIDFD_GET_INFO` for the fields in `want`, decoded by layout;
    /// `Ok(None)` when the kernel refuses the request itself (the caller
    /// then reads fdinfo). With `retry_reaped`, an `ESRCH` is asked once
    /// more: a process being reaped while we ask gives `ESRCH` although its
    /// exit status is stored (the kernel reads the status before it looks
    /// for the task); asked again, the task is gone and the answer carries
    /// the status.
    fn ask_info(&self, want: u64, retry_reaped: bool) -> io::Result<Option<info::RawInfo>> {
        let srch = |r: &io::Result<_>| matches!(r, Err(e) if e.raw_os_error() == Some(libc::ESRCH));
        let mut answer = sys::pidfd_get_info(self.fd.get().as_fd(), want);
        if retry_reaped && srch(&answer) {
            answer = sys::pidfd_get_info(self.fd.get().as_fd(), want);
        }
        match answer {
            Ok((buf, len)) => info::decode_info(&buf.0[..len])
                .map(|(raw, _)| Some(raw))
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Err(gone(None, Errno::SRCH)),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOTTY | libc::EINVAL | libc::ENOSYS | libc::EPERM)
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn info_from_fdinfo(&self) -> io::Result<PidfdInfo> {
        let path = format!("/proc/self/fdinfo/{}", self.fd.get().as_raw_fd());
        let text = std::fs::read_to_string(&path)?;
        let parsed = info::parse_fdinfo(&text).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{path}: no pidfd Pid: line"),
            )
        })?;
        if parsed.pid == -1 {
            return Err(gone(None, Errno::SRCH));
        }
        let pid = u32::try_from(parsed.pid).ok().filter(|p| *p > 0);
        Ok(PidfdInfo {
            pid,
            source: InfoSource::FdInfo,
            ..PidfdInfo::default()
        })
    }

    /// Duplicates `target_fd` of the process into ours (`pidfd_getfd(2)`,
    /// Linux 5.6), close-on-exec. Needs ptrace access to the process.
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    /// use std::os::fd::AsRawFd;
    ///
    /// let me = PidFd::open(std::process::id())?;
    /// let file = std::fs::File::open("/proc/self/status")?;
    /// // Our own fd, duplicated through the pidfd.
    /// let dup = me.get_fd(file.as_raw_fd())?;
    /// assert_ne!(dup.as_raw_fd(), file.as_raw_fd());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get_fd(&self, target_fd: RawFd) -> io::Result<OwnedFd> {
        Ok(rustix::process::pidfd_getfd(
            self.fd.get(),
            target_fd,
            PidfdGetfdFlags::empty(),
        )?)
    }

    /// A second pidfd for the same process (`F_DUPFD_CLOEXEC`).
    ///
    /// ```
    /// use pidkit_pidfd::{PidFd, Signal};
    ///
    /// let me = PidFd::open(std::process::id())?;
    /// let again = me.try_clone()?;
    /// drop(me);
    /// again.kill(Signal::ZERO)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<PidFd> {
        Ok(PidFd {
            fd: sys::InlineFd::new(rustix::io::fcntl_dupfd_cloexec(self.fd.get(), 0)?),
        })
    }
}

/// A pidfs file handle: what `name_to_handle_at(2)` gives for a pidfd, and
/// what [`PidFd::open_file_handle`] opens a pidfd from again, with no PID
/// involved (Linux 6.17, [`Support::pidfs_file_handles`]).
///
/// The handle names one process of one boot: the kernel resolves it to that
/// process while it has not been reaped, and refuses it afterwards
/// ([`io::ErrorKind::NotFound`]), whatever process has its PID by then. The
/// bytes are the kernel's; pidkit keeps them opaque (on 64-bit kernels today
/// they are the 8 bytes of the pidfs inode id, type `FILEID_KERNFS`, 0xfe).
///
/// ```
/// use pidkit_pidfd::FileHandle;
///
/// let h = FileHandle::new(0xfe, &[0x5b, 0x11, 4, 0, 0, 0, 0, 0])?;
/// assert_eq!(h.handle_type(), 0xfe);
/// assert_eq!(h.as_bytes().len(), 8);
/// assert!(FileHandle::new(0xfe, &[]).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FileHandle {
    handle_type: i32,
    len: u8,
    bytes: [u8; FileHandle::MAX_LEN],
}

impl FileHandle {
    /// The most bytes a handle may have: 32. A pidfs handle has 8 (Linux
    /// 6.17) or 12 bytes; the kernel's own bound, `MAX_HANDLE_SZ` (128), is
    /// only the size of the buffer `name_to_handle_at` is given, and a longer
    /// answer is an error. `pidkit-pidhandle`'s text form takes the same
    /// bound, so every handle this type holds can be written and read back.
    ///
    /// ```
    /// use pidkit_pidfd::FileHandle;
    ///
    /// assert!(FileHandle::new(0xfe, &[1; FileHandle::MAX_LEN]).is_ok());
    /// assert!(FileHandle::new(0xfe, &[1; FileHandle::MAX_LEN + 1]).is_err());
    /// ```
    pub const MAX_LEN: usize = 32;

    /// A handle of `handle_type` with `bytes` (for one read back from text).
    /// `InvalidInput` unless it has 1 to [`FileHandle::MAX_LEN`] bytes.
    ///
    /// ```
    /// use pidkit_pidfd::FileHandle;
    ///
    /// let h = FileHandle::new(0xfe, &[1, 2, 3, 4, 5, 6, 7, 8])?;
    /// assert_eq!(h.as_bytes(), &[1, 2, 3, 4, 5, 6, 7, 8]);
    /// let e = FileHandle::new(0xfe, &[]).unwrap_err();
    /// assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(handle_type: i32, bytes: &[u8]) -> io::Result<FileHandle> {
        if bytes.is_empty() || bytes.len() > Self::MAX_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a file handle has 1..={} bytes, not {}",
                    Self::MAX_LEN,
                    bytes.len()
                ),
            ));
        }
        let mut buf = [0; Self::MAX_LEN];
        buf[..bytes.len()].copy_from_slice(bytes);
        Ok(FileHandle {
            handle_type,
            len: bytes.len() as u8,
            bytes: buf,
        })
    }

    /// The handle type the kernel gave (`FILEID_KERNFS`, 0xfe, for pidfs).
    ///
    /// ```
    /// use pidkit_pidfd::FileHandle;
    ///
    /// assert_eq!(FileHandle::new(0xfe, &[7; 8])?.handle_type(), 0xfe);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle_type(&self) -> i32 {
        self.handle_type
    }

    /// The handle's bytes.
    ///
    /// ```
    /// use pidkit_pidfd::FileHandle;
    ///
    /// assert_eq!(FileHandle::new(0xfe, &[9, 8, 7])?.as_bytes(), &[9, 8, 7]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for FileHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileHandle({:#x}, ", self.handle_type)?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl PidFd {
    /// The pidfs file handle of the process (`name_to_handle_at` with
    /// `AT_EMPTY_PATH`), to open a pidfd for it later with
    /// [`PidFd::open_file_handle`], in this or another process of the same
    /// boot, without its PID.
    ///
    /// [`io::ErrorKind::Unsupported`] where [`probe`] did not find
    /// [`Support::pidfs_file_handles`] (kernels before 6.17, seccomp, or
    /// hidden through `PIDKIT_HIDE_FEATURES`).
    ///
    /// ```
    /// # if !pidkit_pidfd::probe().pidfs_file_handles { return Ok(()); }
    /// use pidkit_pidfd::PidFd;
    ///
    /// let me = PidFd::open(std::process::id())?;
    /// let handle = me.file_handle()?;
    /// assert_eq!(handle, me.try_clone()?.file_handle()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn file_handle(&self) -> io::Result<FileHandle> {
        if !probe().pidfs_file_handles {
            return Err(file_handles_unsupported());
        }
        self.file_handle_raw()
    }

    /// [`PidFd::file_handle`] without consulting the probe (the probe uses it).
    pub(crate) fn file_handle_raw(&self) -> io::Result<FileHandle> {
        let (handle_type, bytes, len) = sys::name_to_handle(self.fd.get().as_fd())?;
        FileHandle::new(handle_type, &bytes[..len])
    }

    /// Opens a pidfd from a pidfs file handle (`open_by_handle_at` on the
    /// pidfs root, `FD_PIDFS_ROOT`, Linux 6.17): no PID lookup, so nothing
    /// can race with the PID's reuse.
    ///
    /// A handle of a process that has been reaped gives
    /// [`io::ErrorKind::NotFound`] (the kernel's `ESTALE`), as does a handle
    /// that names no process (pidfs has no such inode); a zombie still opens.
    /// [`io::ErrorKind::Unsupported`] where [`probe`] did not find
    /// [`Support::pidfs_file_handles`]. A handle of another boot must not be
    /// given here: pidfs ids start over at boot, so it could name another
    /// process (`pidkit-pidhandle` compares boot ids first).
    ///
    /// ```
    /// # if !pidkit_pidfd::probe().pidfs_file_handles { return Ok(()); }
    /// use pidkit_pidfd::PidFd;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// let again = PidFd::open_file_handle(&fd.file_handle()?)?;
    /// assert_eq!(again.pid()?, Some(child.id()));
    /// # child.kill()?;
    /// # child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open_file_handle(handle: &FileHandle) -> io::Result<PidFd> {
        if !probe().pidfs_file_handles {
            return Err(file_handles_unsupported());
        }
        Self::open_file_handle_raw(handle)
    }

    /// [`PidFd::open_file_handle`] without consulting the probe.
    pub(crate) fn open_file_handle_raw(handle: &FileHandle) -> io::Result<PidFd> {
        match sys::open_by_handle(handle.handle_type, handle.as_bytes()) {
            Ok(fd) => Ok(PidFd {
                fd: sys::InlineFd::new(fd),
            }),
            Err(e) if e.raw_os_error() == Some(libc::ESTALE) => Err(gone(None, Errno::STALE)),
            Err(e) => Err(e),
        }
    }
}

fn file_handles_unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "pidfs file handles are not available here (Linux 6.17+, see probe())",
    )
}

/// The error of a [`PidFd::open_with`] of `pid` with `flags` that the
/// kernel refused with `errno`, or that was not made (`None`: an invalid PID).
#[cold]
#[inline(never)]
fn open_refused(pid: u32, errno: Option<Errno>, flags: OpenFlags) -> io::Error {
    match errno {
        None => match check_pid(pid) {
            Err(e) => e,
            Ok(_) => gone(Some(pid), Errno::SRCH),
        },
        Some(e @ (Errno::SRCH | Errno::INVAL)) if e != Errno::INVAL || flags_known(flags) => {
            gone(Some(pid), e)
        }
        Some(e) => e.into(),
    }
}

/// Whether `flags` holds only flags this crate defines (so that an `EINVAL`
/// from the kernel cannot be a complaint about them).
fn flags_known(flags: OpenFlags) -> bool {
    flags.bits() & !(OpenFlags::NONBLOCK | OpenFlags::THREAD).bits() == 0
        // On a kernel without PIDFD_THREAD, EINVAL is about the flag, not the
        // process. (The probe tests the flag without calling this function.)
        && (!flags.contains(OpenFlags::THREAD) || probe().thread)
}

impl AsFd for PidFd {
    #[inline]
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.get().as_fd()
    }
}

impl AsRawFd for PidFd {
    #[inline]
    fn as_raw_fd(&self) -> RawFd {
        self.fd.get().as_raw_fd()
    }
}

impl From<PidFd> for OwnedFd {
    fn from(p: PidFd) -> OwnedFd {
        p.fd.into_owned()
    }
}

impl From<OwnedFd> for PidFd {
    /// Takes ownership of an fd the caller knows to be a pidfd (for example
    /// one received over a Unix socket). Operations on an fd that is not a
    /// pidfd fail with `EBADF` or `EINVAL`; nothing unsafe happens.
    fn from(fd: OwnedFd) -> PidFd {
        PidFd {
            fd: sys::InlineFd::new(fd),
        }
    }
}
