//! Making a [`PidHandle`]: from a PID, a child or a pidfd, with a pidfd
//! where the kernel has them and the start ticks where it has not, and
//! settling the identity a handle may give out.

use std::io;
use std::process::Child;
use std::sync::OnceLock;

use crate::calls::{
    boot_id_for, check_pid, open_pidfd, pidfds, pidfs_id, signal_error, ticks_behind, visible_stat,
};
use crate::error::io_context;
use crate::handle::{Issued, Pin};
use crate::{BootId, Error, FromPidFdError, Identity, PidFd, PidHandle, Signal, probe, proc};

impl PidHandle {
    #[inline]
    pub(crate) fn gone(pid: u32) -> PidHandle {
        let id = Identity::gone(pid);
        PidHandle {
            id,
            pin: Pin::Gone,
            issued: Issued::Same,
        }
    }

    /// A handle whose identity may be given out as it is.
    #[inline]
    pub(crate) fn settled(id: Identity, pin: Pin) -> PidHandle {
        PidHandle {
            id,
            pin,
            issued: Issued::Same,
        }
    }

    /// Pins the process that has `pid` now.
    ///
    /// A PID with no process gives `Ok` with a handle that is
    /// [`State::Gone`](crate::State::Gone) forever (its text form is `..:pid=N:gone`). PID 0 and
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
        check_pid(pid)?;
        if !pidfds(pid)? {
            return Self::pin_fallback(pid);
        }
        match open_pidfd(pid)? {
            Some(fd) => Self::pin(pid, fd).map_err(FromPidFdError::into_error),
            None => Ok(Self::gone(pid)),
        }
    }

    /// A handle on the process `fd` refers to, whose pidfs id is `ino`.
    #[inline]
    fn pinned_by_pidfs(pid: u32, boot: BootId, ino: u64, fd: PidFd) -> PidHandle {
        let id = Identity::live(pid, boot, Some(ino), None);
        let pin = Pin::Fd(fd);
        if probe().pidfs_file_handles {
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
    /// has been reaped gives a handle in state [`State::Gone`](crate::State::Gone).
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
            Ok(true) => Self::pin(pid, pidfd),
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
    /// the pidfd is handed back. Inline, so that its `fstat` is made in the
    /// caller's frame like the `pidfd_open` before it (ARCHITECTURE.md,
    /// "Where a call's cost goes").
    #[inline(always)]
    fn pin(pid: u32, fd: PidFd) -> Result<PidHandle, FromPidFdError> {
        let found = boot_id_for(pid).and_then(|boot| Ok((boot, pidfs_id(pid, &fd)?)));
        match found {
            Ok((boot, Some(ino))) => Ok(Self::pinned_by_pidfs(pid, boot, ino, fd)),
            Ok((boot, None)) => Self::pin_by_ticks(pid, boot, fd),
            Err(error) => Err(FromPidFdError { error, pidfd: fd }),
        }
    }

    /// [`PidHandle::pin`] on a kernel without pidfs ids: the start ticks,
    /// read after the open and confirmed through the pidfd.
    fn pin_by_ticks(pid: u32, boot: BootId, fd: PidFd) -> Result<PidHandle, FromPidFdError> {
        let ticks = match ticks_behind(pid, &fd) {
            Ok(ticks) => ticks,
            Err(error) => return Err(FromPidFdError { error, pidfd: fd }),
        };
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
    pub(crate) fn settle(&self) -> Identity {
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
}
