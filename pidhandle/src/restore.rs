//! Restoring a [`PidHandle`] from a recorded [`Identity`]: open, then
//! verify, then act through what was verified.

use std::io;

use crate::calls::{
    boot_id_for, check_pid, open_pidfd, pidfds, pidfs_id, ticks_behind, visible_stat,
};
use crate::error::io_context;
use crate::handle::Pin;
use crate::{Error, Identity, PidFd, PidHandle, probe};

impl PidHandle {
    /// Restores a handle from its recorded identity (what
    /// [`FromStr`](std::str::FromStr) does after parsing).
    ///
    /// Another boot, no process with the PID, a process that is not the
    /// recorded one, or a text whose file handle names another process than
    /// its pidfs id (edited or spliced text) give `Ok` with a handle in
    /// state [`State::Gone`](crate::State::Gone). With
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
        if !pidfds(pid)? {
            return Self::restore_by_ticks(identity);
        }
        let Some(fd) = open_pidfd(pid)? else {
            return Ok(Self::gone(pid));
        };
        // The pidfs id is the whole check when both sides have one; else the
        // start ticks, read after the open.
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
        // Text is only issued once its start tick is over (see `settle`), so
        // a process matching it is the recorded one, and the restored handle
        // may give the same text out again.
        Ok(Self::settled(*identity, Pin::Fd(fd)))
    }

    /// [`PidHandle::restore`] without pidfds: the start ticks in
    /// `/proc/<pid>/stat`.
    fn restore_by_ticks(identity: &Identity) -> Result<PidHandle, Error> {
        let pid = identity.pid();
        let Some(stat) = visible_stat(pid)?.filter(|s| !s.is_dead()) else {
            return Ok(Self::gone(pid));
        };
        match identity.start_ticks() {
            Some(want) if want == stat.start_ticks => Ok(Self::settled(*identity, Pin::Ticks)),
            Some(_) => Ok(Self::gone(pid)),
            None => Err(Self::unverifiable(pid)),
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
}
