//! The fallback without pidfds ([`Backend::ThreadPerChild`]): an exit pipe,
//! a watcher thread per child that waits on its bare PID, and `kill(2)`.
//!
//! Every call here takes the child's bare PID. That is safe only because the
//! child is ours and not yet reaped: its number cannot be reused until it is,
//! and the one thread that reaps it (its watcher, through [`try_reap`]) does
//! so under the entry's lock, the same lock [`kill`] is called under (see
//! the `entry` module).
//!
//! [`Backend::ThreadPerChild`]: crate::Backend::ThreadPerChild

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::{Mutex, PoisonError};

use pidkit_pidfd::Signal;
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, pipe_with};
use rustix::process::{Pid, WaitId, WaitIdOptions, WaitOptions};

use crate::error::{Error, signal_error};

/// The exit fd of a fallback child: the read end of a pipe whose write end
/// is closed once the outcome is recorded, so the read end becomes readable
/// (end of file) exactly as a pidfd does at the exit.
#[derive(Debug)]
pub(crate) struct ExitPipe {
    read: OwnedFd,
    write: Mutex<Option<OwnedFd>>,
}

impl ExitPipe {
    /// A new pipe, both ends `O_CLOEXEC`, the read end non-blocking.
    pub(crate) fn new() -> io::Result<ExitPipe> {
        let (read, write) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        Ok(ExitPipe {
            read,
            write: Mutex::new(Some(write)),
        })
    }

    /// The read end, readable once [`ExitPipe::close`] ran.
    pub(crate) fn exit_fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Closes the write end: the outcome is recorded.
    pub(crate) fn close(&self) {
        drop(
            self.write
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }
}

/// What a non-blocking reap of a fallback child found.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reap {
    /// Reaped now, with this status.
    Exited(ExitStatus),
    /// Still running.
    NotYet,
    /// Not our child any more (`ECHILD`): someone else reaped it.
    Elsewhere,
}

/// Reaps the child `pid` if it has exited (`waitpid(pid, WNOHANG)`). Only
/// its watcher thread may call this once the child may have exited.
pub(crate) fn try_reap(pid: u32) -> io::Result<Reap> {
    match rustix::process::waitpid(Some(raw_pid(pid)?), WaitOptions::NOHANG) {
        Ok(Some((_, st))) => Ok(Reap::Exited(ExitStatus::from_raw(st.as_raw()))),
        Ok(None) => Ok(Reap::NotYet),
        Err(Errno::CHILD) => Ok(Reap::Elsewhere),
        Err(e) => Err(e.into()),
    }
}

/// Blocks until the child `pid` has exited, without reaping it
/// (`waitid(P_PID, WEXITED | WNOWAIT)`, so the PID stays ours); also true
/// when it is not our child any more, which [`try_reap`] then says. False on
/// any other error, for the caller to retry.
pub(crate) fn wait_exited(pid: u32) -> bool {
    let Ok(pid) = raw_pid(pid) else {
        return false;
    };
    loop {
        match rustix::process::waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
        ) {
            Ok(_) | Err(Errno::CHILD) => return true,
            Err(Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}

/// Sends `signal` to the unreaped child `pid` with `kill(2)`
/// ([`pidkit_pidfd::low_level::kill`]): gone is [`Error::Gone`], refused
/// [`Error::PermissionDenied`], a signal `kill(2)` is not used for
/// [`Error::SignalUnsupported`].
pub(crate) fn kill(pid: u32, signal: Signal) -> Result<(), Error> {
    pidkit_pidfd::low_level::kill(pid, signal).map_err(|e| match e.kind() {
        io::ErrorKind::Unsupported => Error::SignalUnsupported { pid, signal },
        _ => signal_error(pid, "with kill(2)", e),
    })
}

fn raw_pid(pid: u32) -> io::Result<Pid> {
    let raw = pidkit_pidfd::check_pid(pid)?;
    Pid::from_raw(raw)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("invalid pid {pid}")))
}
