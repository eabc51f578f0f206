//! Identity-checked Linux process handles that never signal a recycled PID,
//! and that survive a restart as one line of text.
//!
//! A PID names a process only until that process is reaped; then the kernel
//! hands the number to the next process it creates. A supervisor that keeps
//! a PID (in memory, in a state file, in a pidfile) and later signals it may
//! hit an unrelated process. [`PidHandle`] pins one process instead:
//!
//! - it holds a pidfd where the kernel has them (Linux 5.3+), and signals only
//!   through it, so a reaped process gives [`Error::Gone`] whatever
//!   now has its PID;
//! - it records who the process is: the pidfs inode id (Linux 6.9+), or its
//!   start time in clock ticks since boot where there is no pidfs id, and the
//!   boot id. [`Display`](std::fmt::Display) writes that as one versioned line
//!   and [`FromStr`] restores it, after a restart of the
//!   supervisor: it opens a pidfd for the PID *first*, then checks that the
//!   process behind that pidfd is the recorded one, then signals only through
//!   that pidfd, so the check and the signal refer to the same process;
//! - a handle made for a PID with no process is [`State::Gone`] forever, even
//!   when the number is given to a new process later.
//!
//! With the `tokio` feature (off by default), `PidHandle::wait_exited_async`
//! awaits the exit of any pinned process in tokio's reactor, without a
//! thread. With the `serde` feature (off by default), [`Identity`] and
//! [`BootId`] serialize as their text forms for state files; deserializing
//! verifies nothing, [`PidHandle::restore`] does.
//!
//! What it adds over `pidkit-pidfd`: the identity check for bare PIDs and
//! restored text (a bare `pidfd_open` trusts the number), the text form, the
//! three-way [`State`], typed errors, and a fallback for systems where
//! pidfds are blocked.
//!
//! # Identity
//!
//! | what | when recorded | checked by |
//! |---|---|---|
//! | pidfd | pidfds usable ([`probe`]`().usable()`) | the kernel, on every signal |
//! | pidfs inode id | Linux 6.9+ (`probe().pidfs`) | `fstat` of the pidfd opened on restore |
//! | pidfs file handle (`fh=`) | Linux 6.17+ (`probe().pidfs_file_handles`), added when the text is first asked for | the kernel, for readers that open the process from it ([`Identity::file_handle`], [`PidFd::open_file_handle`]) |
//! | start ticks (`/proc/<pid>/stat` field 22) | only when there is no pidfs id | re-reading it after the pidfd is open (or before every signal in the fallback) |
//! | boot id | always | compared on restore; another boot is gone |
//!
//! Where the kernel has pidfs file handles the text also carries one, so
//! that any reader can open the process with no PID lookup at all
//! ([`PidFd::open_file_handle`]; a reaped process's handle is refused).
//! [`PidHandle::restore`] itself takes `pidfd_open(pid)` plus the pidfs-id
//! check below: just as exact (a PID reuse gives another pidfs id), and the
//! cheaper of the two, since opening from the handle leaves the PID the
//! text names to be checked with a `PIDFD_GET_INFO` call (measured in
//! ARCHITECTURE.md).
//!
//! When a pidfs id exists it is the whole check: the kernel never gives one
//! id to two processes of a boot. [`PidHandle::new`] then does not read
//! `/proc/<pid>/stat` at all (that read costs 3–6.5 µs, more than the rest of
//! `new` together), so text written on such a kernel carries `pidfs=` and no
//! `start=`. Start ticks are measured from boot, not from the wall clock, so
//! setting the clock never makes a live process look recycled.
//!
//! # Fallback without pidfds
//!
//! Where `pidfd_open` is missing or refused (kernels before 5.3, seccomp
//! filters returning `ENOSYS` or `EPERM`), a handle records the start ticks
//! and [`PidHandle::kill`] re-reads them and compares before each `kill(2)`.
//! **The race that remains there:** between that check and the `kill(2)`,
//! the process can exit, be reaped by its parent, and its PID be given to a
//! new process, which then receives the signal. The window is a few
//! microseconds, and the PID has to come round again in it (a full
//! wrap-around of the PID space, or a namespace with very few PIDs in use);
//! for our own unreaped children it cannot happen. Only a pidfd closes it.
//!
//! # Limitations
//!
//! - Linux only; other targets fail to compile with a clear message.
//! - [`PidHandle::new`] pins whatever process has the PID *now*; if the
//!   intended process already died and the number was reused before the
//!   call, the handle pins the new one. Use [`PidHandle::from_child`] for
//!   children, and text or [`PidHandle::from_pidfd`] to carry a handle on.
//! - The text form is meaningful in the PID namespace it was written in.
//! - Where start ticks are the identity (no pidfs ids: kernels before 6.9,
//!   or the fallback), two processes that got the same PID within one clock
//!   tick (`CLK_TCK`, 10 ms) would have the same ticks. pidkit therefore
//!   never issues such an identity (text, [`PidHandle::identity`]) before
//!   it has seen the process alive after its start tick ended: a successor
//!   can only start after that, in a later tick. The price: the first
//!   [`identity`](PidHandle::identity) or `to_string` of a handle made
//!   within its process's start tick waits out the rest of that tick (under
//!   10 ms), and a handle whose process was reaped before it could be
//!   checked so writes the `gone` form; the fallback without pidfds waits at
//!   creation instead. What remains: a clock tick that is not a clock tick
//!   (a time namespace whose boot-time offset is changed while handles
//!   exist), and in the fallback the check-then-kill race below. A held
//!   handle with a pidfd is not affected, and pidfs ids have no such limit.
//! - A thread id that is not a process id gives a gone handle with pidfds;
//!   in the fallback it pins the thread's process.
//! - The fallback path keeps the race described above, and cannot send
//!   real-time signals ([`Error::Unsupported`]).
//! - Text written by this version on 6.17+ carries `fh=`, which versions
//!   before 0.1 reject as an unknown field.
//! - Text whose only identity is a pidfs id cannot be verified where pidfs ids
//!   cannot be read; restoring it there is [`Error::Unsupported`] (unless no
//!   process has the PID at all, which is plainly [`State::Gone`]).
//!
//! # Example
//!
//! ```
//! use pidkit_pidhandle::{PidHandle, Signal, State};
//! use std::process::Command;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut child = Command::new("sleep").arg("10").spawn()?;
//! let handle = PidHandle::from_child(&child)?;
//! assert_eq!(handle.state()?, State::Running);
//!
//! // Save it, restart, restore it: the same process, verified.
//! let text = handle.to_string();
//! let restored: PidHandle = text.parse()?;
//! assert_eq!(restored.to_string(), text);
//!
//! restored.kill(Signal::TERM)?;
//! child.wait()?;
//!
//! // Reaped: both refuse, whatever process gets the PID next.
//! assert_eq!(restored.state()?, State::Gone);
//! assert!(matches!(handle.kill(Signal::TERM), Err(pidkit_pidhandle::Error::Gone { .. })));
//! assert_eq!(text.parse::<PidHandle>()?.state()?, State::Gone);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!("pidkit-pidhandle supports Linux only: it relies on pidfds and /proc");

mod error;
mod identity;
mod proc;
#[cfg(feature = "serde")]
mod serde_text;
#[cfg(feature = "tokio")]
mod tokio;

use std::fmt;
use std::io;
use std::process::Child;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[cfg(feature = "tokio")]
pub use self::tokio::ExitedFuture;
pub use error::{Error, FromPidFdError};
pub use identity::{BootId, Identity};
pub use pidkit_pidfd::{FileHandle, PidFd, PidfdInfo, Signal, SignalScope, Support, probe};

use error::io_context;
use pidkit_pidfd::low_level::Backoff;

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
    id: Identity,
    pin: Pin,
    /// The identity this handle may give out ([`PidHandle::identity`], the
    /// text form): `id` once it is known that the process was alive after
    /// the clock tick it started in ended, else the `gone` form. Set at
    /// construction when that is already known, else on first use (see
    /// [`PidHandle::settle`]).
    issued: Issued,
}

/// Which identity a handle gives out.
#[derive(Clone, Debug)]
enum Issued {
    /// `id` as it is (known at construction; no cell to fill, which a
    /// restore would pay for on every call).
    Same,
    /// Decided on first use ([`PidHandle::settle`]); boxed so that a
    /// handle does not carry a second inline record it may never fill.
    Later(OnceLock<Box<Identity>>),
}

/// How the handle reaches its process.
enum Pin {
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

/// Rejects PID 0 and PIDs above `i32::MAX`.
fn check_pid(pid: u32) -> Result<(), Error> {
    pidkit_pidfd::check_pid(pid)
        .map(drop)
        .map_err(|_| Error::InvalidPid { pid })
}

/// Whether the pidfd path is available here.
///
/// A probe that could not finish for want of file descriptors or memory
/// says nothing about pidfds: that is an error for `pid`, not a reason to
/// take the fallback.
#[inline]
fn pidfds(pid: u32) -> Result<bool, Error> {
    let support = probe();
    if support.usable() {
        return Ok(true);
    }
    match support.resource_error() {
        Some(e) => Err(io_context(
            format!("probing pidfd support for pid {pid}"),
            e,
        )),
        None => Ok(false),
    }
}

/// The boot id, with an error that names `pid`.
fn boot_id_for(pid: u32) -> Result<BootId, Error> {
    proc::boot_id().map_err(|e| match e {
        Error::Io { context, source } => io_context(format!("{context} for pid {pid}"), source),
        other => other,
    })
}

/// Turns an error from a signal sent to `pid` into ours.
#[cold]
fn signal_error(pid: u32, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::NotFound => Error::Gone { pid },
        io::ErrorKind::PermissionDenied => Error::PermissionDenied { pid },
        _ => io_context(format!("signalling pid {pid}"), e),
    }
}

/// Opens a pidfd for `pid`; `Ok(None)` when no process has it.
fn open_pidfd(pid: u32) -> Result<Option<PidFd>, Error> {
    match PidFd::open(pid) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_context(format!("pidfd_open for pid {pid}"), e)),
    }
}

/// The pidfs inode id of a pidfd, when this kernel has pidfs ids.
///
fn pidfs_id(pid: u32, fd: &PidFd) -> Result<Option<u64>, Error> {
    fd.pidfs_id()
        .map_err(|e| io_context(format!("fstat of the pidfd for pid {pid}"), e))
}

/// The start ticks of the process a pidfd refers to, read from
/// `/proc/<pid>/stat`; `Ok(None)` if that process is gone.
///
/// The read is made after the pidfd was opened and confirmed by a signal 0
/// through the pidfd afterwards: if the process was not reaped by then, it
/// still held `pid` during the read, so the ticks are its own.
///
/// A process that is alive but has no visible `/proc/<pid>` (`/proc`
/// mounted with `hidepid`, or a `/proc` of another PID namespace) cannot be
/// identified: [`Error::Unsupported`].
fn ticks_behind(pid: u32, fd: &PidFd) -> Result<Option<(u64, bool)>, Error> {
    let stat = proc::read_stat(pid)?;
    // Read before the liveness check below: if the tick already ended then,
    // the process was alive after its start tick (see `PidHandle::settle`).
    let now = proc::boottime_ticks();
    let alive = match fd.kill(Signal::ZERO) {
        Ok(()) => true,
        Err(e) => match signal_error(pid, e) {
            Error::Gone { .. } => false,
            // EPERM: the process exists, we just may not signal it.
            Error::PermissionDenied { .. } => true,
            other => return Err(other),
        },
    };
    match (stat, alive) {
        (Some(stat), true) => Ok(Some((stat.start_ticks, now > stat.start_ticks))),
        (_, false) => Ok(None),
        (None, true) => Err(Error::Unsupported {
            pid,
            reason: format!(
                "the process is alive but /proc/{pid}/stat is not visible \
                 (/proc mounted with hidepid, or of another pid namespace), \
                 so its start time cannot be checked"
            ),
        }),
    }
}

/// `/proc/<pid>/stat` for the fallback. When it is missing, `kill(pid, 0)`
/// tells a gone process from one that `/proc` hides from us (`hidepid`),
/// which is [`Error::PermissionDenied`], not "gone".
fn visible_stat(pid: u32) -> Result<Option<proc::Stat>, Error> {
    if let Some(stat) = proc::read_stat(pid)? {
        return Ok(Some(stat));
    }
    let Some(rpid) = rustix::process::Pid::from_raw(pid as i32) else {
        return Err(Error::InvalidPid { pid });
    };
    match rustix::process::test_kill_process(rpid) {
        Err(rustix::io::Errno::PERM) => Err(Error::PermissionDenied { pid }),
        _ => Ok(None),
    }
}

/// Whether the pidfd polls readable (the process exited), without waiting,
/// with an error that names `pid`.
#[inline]
fn has_exited(pid: u32, fd: &PidFd) -> Result<bool, Error> {
    fd.has_exited()
        .map_err(|e| io_context(format!("polling the pidfd of pid {pid}"), e))
}

impl PidHandle {
    fn gone(pid: u32) -> PidHandle {
        let id = Identity::gone(pid);
        PidHandle {
            id,
            pin: Pin::Gone,
            issued: Issued::Same,
        }
    }

    /// A handle whose identity may be given out as it is.
    fn settled(id: Identity, pin: Pin) -> PidHandle {
        PidHandle {
            id,
            pin,
            issued: Issued::Same,
        }
    }

    /// Pins the process that has `pid` now.
    ///
    /// A PID with no process gives `Ok` with a handle that is
    /// [`State::Gone`] forever (its text form is `..:pid=N:gone`). PID 0 and
    /// PIDs above `i32::MAX` are [`Error::InvalidPid`]. Running out of file
    /// descriptors (`EMFILE`) or memory is [`Error::Io`] naming the PID,
    /// never a gone handle.
    ///
    /// With pidfs ids this is `pidfd_open` plus one `fstat`; without, the
    /// start ticks are read from `/proc/<pid>/stat` as well. The number is
    /// trusted as of this call: see the crate's Limitations.
    ///
    /// ```
    /// use pidkit_pidhandle::{Error, PidHandle, State};
    ///
    /// let me = PidHandle::new(std::process::id())?;
    /// assert_eq!(me.state()?, State::Running);
    /// assert!(matches!(PidHandle::new(0), Err(Error::InvalidPid { pid: 0 })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn new(pid: u32) -> Result<PidHandle, Error> {
        // The common case, made in the caller: pidfds with pidfs ids, a
        // process that is there. Its system calls are made in place (see
        // ARCHITECTURE.md, "Where a call's cost goes").
        let support = probe();
        if support.usable() && support.pidfs {
            if let Ok(fd) = PidFd::open(pid) {
                if let (Ok(boot), Ok(Some(ino))) = (proc::boot_id(), fd.pidfs_id()) {
                    return Ok(Self::pinned_by_pidfs(support, pid, boot, ino, fd));
                }
            }
        }
        Self::new_slow(pid)
    }

    /// A handle on the process `fd` refers to, whose pidfs id is `ino`.
    #[inline]
    fn pinned_by_pidfs(
        support: &Support,
        pid: u32,
        boot: BootId,
        ino: u64,
        fd: PidFd,
    ) -> PidHandle {
        let id = Identity::live(pid, boot, Some(ino), None);
        let pin = Pin::Fd(fd);
        if support.pidfs_file_handles {
            // The file handle is added when the text is first asked for
            // (`settle`): one system call that handles never written out do
            // not pay.
            PidHandle {
                id,
                pin,
                issued: Issued::Later(OnceLock::new()),
            }
        } else {
            Self::settled(id, pin)
        }
    }

    /// [`PidHandle::new`] for everything but its common case: invalid PIDs,
    /// gone processes, errors, kernels without pidfs ids or pidfds.
    #[cold]
    #[inline(never)]
    fn new_slow(pid: u32) -> Result<PidHandle, Error> {
        check_pid(pid)?;
        if pidfds(pid)? {
            match open_pidfd(pid)? {
                Some(fd) => Self::pin_fd(pid, fd).map_err(FromPidFdError::into_error),
                None => Ok(Self::gone(pid)),
            }
        } else {
            Self::pin_fallback(pid)
        }
    }

    /// Pins a child spawned by std. Race-free while the child has not been
    /// reaped (std reaps only in `wait`, `try_wait` and `wait_with_output`):
    /// an unreaped child's PID cannot be reused.
    ///
    /// ```
    /// use pidkit_pidhandle::PidHandle;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let handle = PidHandle::from_child(&child)?;
    /// assert_eq!(handle.pid(), child.id());
    /// assert!(handle.is_alive()?);
    /// # child.kill()?;
    /// # child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_child(child: &Child) -> Result<PidHandle, Error> {
        Self::new(child.id())
    }

    /// Makes a handle from a pidfd the caller already has for `pid` (from
    /// [`PidFd::from_child`], or received from another process), taking
    /// ownership of it.
    ///
    /// The pidfd is checked to refer to `pid` ([`PidFd::info`]); another
    /// process's pidfd is [`Error::PidMismatch`]. A pidfd of a process that
    /// has been reaped gives a handle in state [`State::Gone`].
    ///
    /// ```
    /// use pidkit_pidhandle::{Error, PidFd, PidHandle};
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let handle = PidHandle::from_pidfd(child.id(), PidFd::from_child(&child)?)?;
    /// assert!(handle.is_alive()?);
    /// // A pidfd of another process is refused.
    /// let mine = PidFd::open(std::process::id())?;
    /// let refused = PidHandle::from_pidfd(child.id(), mine).unwrap_err();
    /// assert!(matches!(refused.error(), Error::PidMismatch { .. }));
    /// # child.kill()?;
    /// # child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pidfd(pid: u32, pidfd: PidFd) -> Result<PidHandle, FromPidFdError> {
        match Self::check_pidfd(pid, &pidfd) {
            Ok(true) => Self::pin_fd(pid, pidfd),
            Ok(false) => Ok(Self::gone(pid)),
            Err(error) => Err(FromPidFdError { error, pidfd }),
        }
    }

    /// Whether `fd` is a pidfd of the live process `pid` (`Ok(false)`: the
    /// process is gone).
    fn check_pidfd(pid: u32, fd: &PidFd) -> Result<bool, Error> {
        check_pid(pid)?;
        match fd.info() {
            Ok(info) => match info.pid {
                Some(actual) if actual != pid => Err(Error::PidMismatch { pid, actual }),
                Some(_) => Ok(true),
                None => Ok(false),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_context(
                format!("reading the pidfd info of pid {pid}"),
                e,
            )),
        }
    }

    /// Completes a handle around a pidfd just opened for `pid`; on failure
    /// the pidfd is handed back.
    fn pin_fd(pid: u32, fd: PidFd) -> Result<PidHandle, FromPidFdError> {
        let found = boot_id_for(pid).and_then(|boot| {
            let ino = pidfs_id(pid, &fd)?;
            let ticks = match ino {
                Some(_) => None,
                None => ticks_behind(pid, &fd)?,
            };
            Ok((boot, ino, ticks))
        });
        let (boot, ino, ticks) = match found {
            Ok(found) => found,
            Err(error) => return Err(FromPidFdError { error, pidfd: fd }),
        };
        if let Some(ino) = ino {
            return Ok(Self::pinned_by_pidfs(probe(), pid, boot, ino, fd));
        }
        match ticks {
            Some((ticks, past_start_tick)) => {
                let id = Identity::live(pid, boot, None, Some(ticks));
                let pin = Pin::Fd(fd);
                if past_start_tick {
                    Ok(Self::settled(id, pin))
                } else {
                    // Issued only once the start tick is over: `settle`.
                    Ok(PidHandle {
                        id,
                        pin,
                        issued: Issued::Later(OnceLock::new()),
                    })
                }
            }
            None => Ok(Self::gone(pid)),
        }
    }

    /// The fallback: record the start ticks of the process with `pid` now.
    ///
    /// Without a pidfd nothing pins the process between two reads, so the
    /// handle is only made once the process's start tick is over: it waits
    /// out the rest of that tick (at most one tick, 10 ms at `USER_HZ` 100,
    /// and only for a process that started within it) and reads the start
    /// ticks again. Any process that takes the PID later then has a later
    /// start tick, so the ticks tell it apart.
    fn pin_fallback(pid: u32) -> Result<PidHandle, Error> {
        let boot = boot_id_for(pid)?;
        let Some(first) = visible_stat(pid)?.filter(|s| !s.is_dead()) else {
            return Ok(Self::gone(pid));
        };
        let ticks = first.start_ticks;
        if proc::boottime_ticks() <= ticks {
            proc::wait_past_tick(ticks);
            match visible_stat(pid)? {
                Some(again) if again.start_ticks == ticks && !again.is_dead() => {}
                _ => return Ok(Self::gone(pid)),
            }
        }
        let id = Identity::live(pid, boot, None, Some(ticks));
        Ok(Self::settled(id, Pin::Ticks))
    }

    /// Decides the identity a handle made within its process's start tick
    /// may give out (kernels without pidfs ids, where the identity is the
    /// start tick).
    ///
    /// Two processes that get one PID within one clock tick have the same
    /// start ticks. So text with start ticks `T` is only issued once the
    /// process is known to have been alive after tick `T` ended: waits out
    /// the tick (only a handle made in it ever waits), then sends signal 0
    /// through the pidfd: a process not yet reaped (running or a zombie)
    /// still holds the PID, so one that takes the PID later starts after
    /// tick `T` and never matches the text. A process already reaped by
    /// then (or a closed handle, which can no longer look) gets the `gone`
    /// form: nothing proves which tick its successor may have started in.
    ///
    /// A pidfs identity needs no such wait; where the kernel has pidfs file
    /// handles, the handle is read here from the pidfd and added (a handle
    /// that cannot be read leaves the identity without one).
    fn settle(&self) -> Identity {
        let (pid, Some(ticks)) = (self.pid(), self.id.start_ticks()) else {
            return match &self.pin {
                Pin::Fd(fd) if self.id.pidfs_id().is_some() && probe().pidfs_file_handles => {
                    match fd.file_handle() {
                        Ok(h) => self.id.with_file_handle(&h),
                        Err(_) => self.id,
                    }
                }
                _ => self.id,
            };
        };
        proc::wait_past_tick(ticks);
        // Not yet reaped (running, or a zombie) means the PID is still this
        // process's: signal 0 through the pidfd succeeds, or fails with EPERM.
        let alive = match &self.pin {
            Pin::Fd(fd) => match fd.kill(Signal::ZERO) {
                Ok(()) => true,
                Err(e) => matches!(signal_error(pid, e), Error::PermissionDenied { .. }),
            },
            Pin::Ticks => true,
            Pin::Gone | Pin::Closed => false,
        };
        if alive { self.id } else { Identity::gone(pid) }
    }

    /// Restores a handle from its recorded identity (what
    /// [`FromStr`] does after parsing).
    ///
    /// Another boot, no process with the PID, a process that is not the
    /// recorded one, or a text whose file handle names another process than
    /// its pidfs id (edited or spliced text) give `Ok` with a handle in
    /// state [`State::Gone`]. With
    /// pidfds, a pidfd for the PID is opened first, the process behind it is
    /// verified (pidfs id when both the text and the kernel have one, else
    /// start ticks), and from then on every signal goes through that pidfd.
    /// Text that cannot be verified here is [`Error::Unsupported`].
    ///
    /// ```
    /// use pidkit_pidhandle::{PidHandle, State};
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let id = *PidHandle::from_child(&child)?.identity();
    /// assert_eq!(PidHandle::restore(&id)?.state()?, State::Running);
    /// child.kill()?;
    /// child.wait()?;
    /// // Reaped: the recorded process is gone for good.
    /// assert_eq!(PidHandle::restore(&id)?.state()?, State::Gone);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn restore(identity: &Identity) -> Result<PidHandle, Error> {
        // The common case, made in the caller: a pidfs record of this boot
        // whose file handle (if any) is in the pidfs form, on a kernel with
        // pidfs ids. Its system calls are made in place (see
        // ARCHITECTURE.md, "Where a call's cost goes").
        let pid = identity.pid();
        let support = probe();
        if let (Some(boot), Some(want), Some(true)) = (
            identity.boot_id(),
            identity.pidfs_id(),
            identity.file_handle_agrees(),
        ) {
            if support.usable() && support.pidfs {
                if let Ok(this_boot) = proc::boot_id() {
                    if boot != this_boot {
                        return Ok(Self::gone(pid));
                    }
                    if let Ok(fd) = PidFd::open(pid) {
                        if let Ok(Some(ino)) = fd.pidfs_id() {
                            if ino != want {
                                return Ok(Self::gone(pid));
                            }
                            // Text is only issued once its start tick is
                            // over (see `settle`), so the restored handle may
                            // give the same text out again.
                            return Ok(Self::settled(*identity, Pin::Fd(fd)));
                        }
                    }
                }
            }
        }
        Self::restore_slow(identity)
    }

    /// [`PidHandle::restore`] for everything but its common case.
    #[cold]
    #[inline(never)]
    fn restore_slow(identity: &Identity) -> Result<PidHandle, Error> {
        let pid = identity.pid();
        check_pid(pid)?;
        let Some(boot) = identity.boot_id() else {
            return Ok(Self::gone(pid));
        };
        if boot != boot_id_for(pid)? {
            return Ok(Self::gone(pid));
        }
        let agrees = match identity.file_handle_agrees() {
            Some(agrees) => agrees,
            None => Self::opaque_file_handle_agrees(identity)?,
        };
        if !agrees {
            return Ok(Self::gone(pid));
        }
        // Text is only issued once its start tick is over (see `settle`),
        // so a process matching it is the recorded one, and the restored
        // handle may give the same text out again.
        if pidfds(pid)? {
            let Some(fd) = open_pidfd(pid)? else {
                return Ok(Self::gone(pid));
            };
            // The pidfs id is the whole check when both sides have one;
            // else the start ticks, read after the open.
            let same = match identity.pidfs_id() {
                Some(want) if probe().pidfs => pidfs_id(pid, &fd)? == Some(want),
                _ => match identity.start_ticks() {
                    Some(want) => ticks_behind(pid, &fd)?.map(|(t, _)| t) == Some(want),
                    None => return Err(Self::unverifiable(pid)),
                },
            };
            if !same {
                return Ok(Self::gone(pid));
            }
            Ok(Self::settled(*identity, Pin::Fd(fd)))
        } else {
            let stat = visible_stat(pid)?;
            let Some(stat) = stat.filter(|s| !s.is_dead()) else {
                return Ok(Self::gone(pid));
            };
            match identity.start_ticks() {
                Some(want) if want == stat.start_ticks => Ok(Self::settled(*identity, Pin::Ticks)),
                Some(_) => Ok(Self::gone(pid)),
                None => Err(Self::unverifiable(pid)),
            }
        }
    }

    /// Whether a recorded file handle of a form pidkit cannot read names the
    /// recorded process: the kernel opens it and the pidfs ids are compared.
    /// A handle the kernel refuses as stale or cannot decode (`EINVAL`)
    /// names no such process; where handles cannot be opened here (an older
    /// kernel, a filter) the pidfs id alone decides.
    #[cold]
    fn opaque_file_handle_agrees(identity: &Identity) -> Result<bool, Error> {
        let pid = identity.pid();
        let Some(handle) = identity.file_handle() else {
            return Ok(true);
        };
        if !probe().pidfs_file_handles {
            return Ok(true);
        }
        match PidFd::open_file_handle(&handle) {
            Ok(fd) => Ok(pidfs_id(pid, &fd)? == identity.pidfs_id()),
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || rustix::io::Errno::from_io_error(&e) == Some(rustix::io::Errno::INVAL) =>
            {
                Ok(false)
            }
            Err(e)
                if matches!(
                    rustix::io::Errno::from_io_error(&e),
                    Some(
                        rustix::io::Errno::MFILE
                            | rustix::io::Errno::NFILE
                            | rustix::io::Errno::NOMEM
                    )
                ) =>
            {
                Err(io_context(format!("open_by_handle_at for pid {pid}"), e))
            }
            Err(_) => Ok(true),
        }
    }

    /// The error for text whose only identity is a pidfs id, where pidfs ids
    /// cannot be read.
    fn unverifiable(pid: u32) -> Error {
        Error::Unsupported {
            pid,
            reason: "the handle's only identity is a pidfs id, and pidfs ids cannot be read \
                     here (no pidfd, or a kernel before 6.9)"
                .into(),
        }
    }

    /// The PID (as it was when the handle was made; also for a gone or
    /// closed handle).
    #[inline]
    ///
    /// ```
    /// use pidkit_pidhandle::PidHandle;
    ///
    /// let me = PidHandle::new(std::process::id())?;
    /// assert_eq!(me.pid(), std::process::id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    #[inline]
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
    pub fn kill(&self, signal: Signal) -> Result<(), Error> {
        match &self.pin {
            Pin::Fd(fd) => match fd.kill(signal) {
                Ok(()) => Ok(()),
                Err(e) => Err(signal_error(self.pid(), e)),
            },
            _ => self.kill_slow(signal),
        }
    }

    #[cold]
    fn kill_slow(&self, signal: Signal) -> Result<(), Error> {
        let pid = self.pid();
        match &self.pin {
            Pin::Fd(_) => unreachable!("handled in kill"),
            Pin::Gone => Err(Error::Gone { pid }),
            Pin::Closed => Err(Error::Closed),
            Pin::Ticks => {
                match visible_stat(pid)? {
                    Some(stat)
                        if Some(stat.start_ticks) == self.id.start_ticks() && !stat.is_dead() => {}
                    _ => return Err(Error::Gone { pid }),
                }
                // The race window of the fallback is here, between the check
                // above and the kill below (see the crate docs).
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
        }
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
    /// work ([`Support::usable`]); `None` in the fallback (no pidfds: old
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
        // Well-formed text is restored from where it was parsed; anything
        // else is explained as `Identity::from_str` does, without a second
        // fast parse.
        match identity::parse_fast(s.as_bytes()) {
            Some(id) => Self::restore(&id),
            None => Self::restore(&identity::refused(s)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
