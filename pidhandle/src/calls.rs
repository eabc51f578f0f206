//! The calls a handle makes on its process (the pidfd's, `/proc`'s), each
//! with errors that name the pid; shared by making, restoring and using a
//! handle.

use std::io;

use crate::error::io_context;
use crate::{BootId, Error, PidFd, Signal, probe, proc};

/// Rejects PID 0 and PIDs above `i32::MAX`.
#[inline]
pub(crate) fn check_pid(pid: u32) -> Result<(), Error> {
    match pidkit_pidfd::check_pid(pid) {
        Ok(_) => Ok(()),
        Err(_) => Err(Error::InvalidPid { pid }),
    }
}

/// Whether the pidfd path is available here.
///
/// A probe that could not finish for want of file descriptors or memory
/// says nothing about pidfds: that is an error for `pid`, not a reason to
/// take the fallback.
#[inline]
pub(crate) fn pidfds(pid: u32) -> Result<bool, Error> {
    let support = probe();
    if support.usable() {
        return Ok(true);
    }
    probe_failed(pid, support)
}

/// [`pidfds`] for a probe that did not find pidfds usable.
#[cold]
fn probe_failed(pid: u32, support: &pidkit_pidfd::Support) -> Result<bool, Error> {
    match support.resource_error() {
        Some(e) => Err(io_context(
            format!("probing pidfd support for pid {pid}"),
            e,
        )),
        None => Ok(false),
    }
}

/// The boot id, with an error that names `pid`.
#[inline]
pub(crate) fn boot_id_for(pid: u32) -> Result<BootId, Error> {
    match proc::boot_id() {
        Ok(boot) => Ok(boot),
        Err(e) => Err(naming_pid(pid, e)),
    }
}

/// `e` with `pid` named in its context.
#[cold]
fn naming_pid(pid: u32, e: Error) -> Error {
    match e {
        Error::Io { context, source } => io_context(format!("{context} for pid {pid}"), source),
        other => other,
    }
}

/// Turns an error from a signal sent to `pid` into ours.
#[cold]
pub(crate) fn signal_error(pid: u32, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::NotFound => Error::Gone { pid },
        io::ErrorKind::PermissionDenied => Error::PermissionDenied { pid },
        _ => io_context(format!("signalling pid {pid}"), e),
    }
}

/// Opens a pidfd for `pid`; `Ok(None)` when no process has it.
#[inline(always)]
pub(crate) fn open_pidfd(pid: u32) -> Result<Option<PidFd>, Error> {
    match PidFd::open(pid) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) => open_failed(pid, e),
    }
}

/// [`open_pidfd`]'s answer to a refused `pidfd_open`.
#[cold]
fn open_failed(pid: u32, e: io::Error) -> Result<Option<PidFd>, Error> {
    match e.kind() {
        io::ErrorKind::NotFound => Ok(None),
        _ => Err(io_context(format!("opening a pidfd for pid {pid}"), e)),
    }
}

/// The pidfs inode id of a pidfd, when this kernel has pidfs ids.
#[inline(always)]
pub(crate) fn pidfs_id(pid: u32, fd: &PidFd) -> Result<Option<u64>, Error> {
    match fd.pidfs_id() {
        Ok(id) => Ok(id),
        Err(e) => Err(fstat_failed(pid, e)),
    }
}

#[cold]
fn fstat_failed(pid: u32, e: io::Error) -> Error {
    io_context(format!("fstat of the pidfd for pid {pid}"), e)
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
pub(crate) fn ticks_behind(pid: u32, fd: &PidFd) -> Result<Option<(u64, bool)>, Error> {
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
pub(crate) fn visible_stat(pid: u32) -> Result<Option<proc::Stat>, Error> {
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
pub(crate) fn has_exited(pid: u32, fd: &PidFd) -> Result<bool, Error> {
    fd.has_exited()
        .map_err(|e| io_context(format!("polling the pidfd of pid {pid}"), e))
}
