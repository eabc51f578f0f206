//! [`PidFd`]: opening, signalling, the pidfs id, duplicating; the waits are
//! in `wait.rs`, `PIDFD_GET_INFO` in `info.rs`, file handles in
//! `file_handle.rs`.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};

use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, PidfdGetfdFlags};

use crate::{OpenFlags, Signal, SignalScope, probe, sys};

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
    /// `Some` from creation until `drop` or `into` an `OwnedFd` takes it.
    fd: Option<OwnedFd>,
}

impl fmt::Debug for PidFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PidFd")
            .field("fd", &self.as_raw_fd())
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

pub(crate) fn gone(pid: Option<u32>, errno: Errno) -> io::Error {
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
#[inline]
pub fn check_pid(pid: u32) -> io::Result<i32> {
    match i32::try_from(pid) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(invalid_pid(pid)),
    }
}

#[cold]
fn invalid_pid(pid: u32) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("invalid pid {pid}: must be in 1..={}", i32::MAX),
    )
}

/// Converts what `waitid` reports into a std exit status (wait-status
/// encoding: `code << 8` for an exit, the signal number for a kill, plus 0x80
/// when a core was dumped).
pub(crate) fn exit_status_from(status: &rustix::process::WaitIdStatus) -> io::Result<ExitStatus> {
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
    #[inline(always)]
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
    #[inline(always)]
    pub fn open_with(pid: u32, flags: OpenFlags) -> io::Result<PidFd> {
        // Kept small so that it is made in the caller, system call and all;
        // every error is built out of line.
        let rpid = match i32::try_from(pid).ok().and_then(Pid::from_raw) {
            Some(rpid) => rpid,
            None => return Err(open_refused(pid, None, flags)),
        };
        match rustix::process::pidfd_open(rpid, PidfdFlags::from_bits_retain(flags.bits())) {
            Ok(fd) => Ok(PidFd { fd: Some(fd) }),
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

    /// The descriptor, which a `PidFd` holds from creation to its end.
    #[inline]
    fn fd(&self) -> BorrowedFd<'_> {
        match &self.fd {
            Some(fd) => fd.as_fd(),
            None => unreachable!("a PidFd holds its descriptor until it is dropped"),
        }
    }

    /// Sends `signal` to the process (`pidfd_send_signal(2)`).
    ///
    /// [`Signal::ZERO`] sends nothing and checks existence: it succeeds for a
    /// running process and for a zombie, and fails once it has been reaped.
    /// A reaped process gives [`io::ErrorKind::NotFound`], even if its PID now
    /// names another process.
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
    #[inline(always)]
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

    #[inline(always)]
    fn send_raw(&self, signal: Signal, flags: u32) -> io::Result<()> {
        match sys::pidfd_send_signal(self.fd(), signal.as_raw(), flags) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Err(gone(None, Errno::SRCH)),
            Err(e) => Err(e),
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
    #[inline(always)]
    pub fn pidfs_id(&self) -> io::Result<Option<u64>> {
        // The probe has proven that pidfds live on pidfs, so one `fstat`
        // answers; without pidfs every pidfd shares one anonymous inode.
        if !probe().pidfs {
            return Ok(None);
        }
        Ok(Some(rustix::fs::fstat(self.fd())?.st_ino))
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
            self.fd(),
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
            fd: Some(rustix::io::fcntl_dupfd_cloexec(self.fd(), 0)?),
        })
    }
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
        self.fd()
    }
}

impl AsRawFd for PidFd {
    #[inline]
    fn as_raw_fd(&self) -> RawFd {
        self.fd().as_raw_fd()
    }
}

/// Closes the descriptor with the `close` system call made in place
/// (`sys::close`), not through libc as `OwnedFd`'s drop does: the close ends
/// nearly every short-lived handle, and a return from libc right after a
/// system call costs a measurable share of `pidfd_open`+`fstat`+`close`
/// (ARCHITECTURE.md, "Where a call's cost goes"; the figures are in
/// bench/NOTES.md).
impl Drop for PidFd {
    #[inline]
    fn drop(&mut self) {
        if let Some(fd) = self.fd.take() {
            sys::close(fd);
        }
    }
}

impl From<PidFd> for OwnedFd {
    fn from(mut p: PidFd) -> OwnedFd {
        match p.fd.take() {
            Some(fd) => fd,
            None => unreachable!("a PidFd holds its descriptor until it is dropped"),
        }
    }
}

impl PidFd {
    /// A `PidFd` around `fd`, which the caller knows to be a pidfd (the
    /// kernel just made it, or [`TryFrom<OwnedFd>`] checked it).
    #[inline]
    pub(crate) fn from_checked(fd: OwnedFd) -> PidFd {
        PidFd { fd: Some(fd) }
    }
}
