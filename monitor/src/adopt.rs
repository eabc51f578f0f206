//! [`Monitor::adopt`]: watching a process that is not our child, given a
//! [`PidHandle`] to it, and whether it leads its process group.

use std::io;
use std::sync::Arc;

use pidkit_pidfd::{PidFd, Signal};
use pidkit_pidhandle::{PidHandle, State};

use crate::entry::{Entry, Kind, Watch};
use crate::error::{AdoptError, Error, io_context};
use crate::monitor::Monitor;
use crate::process::Process;

impl Monitor {
    /// Watches a process that is not our child, given a handle to it: a
    /// restarted supervisor re-attaching to what it started before
    /// (containerd's `loadProcess`).
    ///
    /// The exit is seen through the handle's pidfd (duplicated; the handle
    /// is dropped once the process is watched). Its status comes from `PIDFD_INFO_EXIT` (Linux 6.15+),
    /// which the kernel fills in when the process's *parent* reaps it; so
    /// [`Process::wait`] returns once the process has exited *and* been
    /// reaped by its parent, and [`Process::exit_fd`] becomes readable at the
    /// exit itself. On an older kernel (or with `PIDKIT_HIDE_FEATURES=info_exit`)
    /// `wait` fails, after the exit, with [`Error::StatusUnavailable`]
    /// ("process N exited; its exit status is not available to a non-parent
    /// on this kernel"): an error rather than an `Exit` with a made-up
    /// status. The [`Exit::pid`](crate::Exit::pid) is the handle's PID.
    ///
    /// A handle to one of our own children is watched and reaped like a
    /// started one. A process that leads its process group when it is
    /// adopted (its group id is its PID, as after `setsid` or
    /// `setpgid(0, 0)`) is adopted as a group leader: [`Process::kill_group`],
    /// [`Process::group_alive`] and [`Process::wait_group`] work for it as
    /// for one started by [`Monitor::start_group`]. The group id is read
    /// after the handle's pidfd pinned the process, and the process is then
    /// checked to be still unreaped, so the answer is about that process.
    ///
    /// # Errors
    ///
    /// On failure the handle is handed back inside the [`AdoptError`]
    /// ([`AdoptError::into_inner`], [`AdoptError::into_parts`]), unchanged,
    /// so the caller can still signal or wait through it; `?` into an
    /// [`Error`] or an [`io::Error`] drops it.
    ///
    /// - A handle whose process is already gone: [`Error::Gone`]; there is
    ///   nothing left to watch.
    /// - A handle without a pidfd (pidfds unavailable): [`Error::NoPidfd`];
    ///   a non-child cannot be watched without one.
    /// - A closed handle: [`Error::Closed`].
    /// - The handle's error, variant for variant (`From<pidkit_pidhandle::Error>`),
    ///   if its state cannot be read, and [`Error::Io`] if its pidfd cannot
    ///   be duplicated or watched.
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, PidHandle, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut child = Command::new("sleep").arg("1000").spawn()?;
    /// let handle = PidHandle::from_child(&child)?;
    /// match Monitor::global().adopt(handle) {
    ///     Ok(p) => {
    ///         p.kill(Signal::KILL)?;
    ///         assert_eq!(p.wait()?.signal(), Some(Signal::KILL));
    ///     }
    ///     // No pidfds here: the handle comes back and still works.
    ///     Err(failed) => {
    ///         failed.into_inner().kill(Signal::KILL)?;
    ///         child.wait()?;
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn adopt(&self, handle: PidHandle) -> Result<Process, AdoptError> {
        match self.watch_handle(&handle) {
            Ok(process) => Ok(process),
            Err(error) => Err(AdoptError {
                handle: Box::new(handle),
                error,
            }),
        }
    }

    /// [`Monitor::adopt`], borrowing the handle.
    fn watch_handle(&self, handle: &PidHandle) -> Result<Process, Error> {
        let pid = handle.pid();
        if handle.state()? == State::Gone {
            return Err(Error::Gone { pid });
        }
        let Some(fd) = handle.pidfd() else {
            return Err(Error::NoPidfd { pid });
        };
        let fd = fd.try_clone().map_err(|source| {
            io_context(format!("duplicating the pidfd of process {pid}"), source)
        })?;
        let leader = leads_its_group(pid, &fd);
        // `waitid(WNOHANG | WNOWAIT)` succeeds only on our own child.
        let kind = if fd.peek_exit().is_ok() {
            Kind::Child
        } else {
            Kind::Adopted
        };
        let entry = Arc::new(Entry::new(pid, kind, Watch::Pidfd(Arc::new(fd))));
        self.inner.watch(&entry, false)?;
        let mut process = Process::new(entry, None, None, None);
        process.group_leader = leader;
        Ok(process)
    }
}

/// Whether the process `fd` pins leads its process group (its group id is
/// its PID), for [`Monitor::adopt`]. The group id is read by number (field 5
/// of `/proc/<pid>/stat`; `getpgid` would do, but a group outside our PID
/// namespace reads as 0 there, which rustix refuses with a panic), then the
/// pinned process is checked to be still unreaped (signal 0 through the
/// pidfd; a zombie counts, and so does one we may not signal), so the number
/// named it during the read and the answer is about this process, not one
/// that got the number since. A `/proc` of another PID namespace than ours
/// names other processes by these numbers, and answers "no".
fn leads_its_group(pid: u32, fd: &PidFd) -> bool {
    let leads = proc_pgrp(pid).is_some_and(|pgrp| pgrp == pid) && proc_is_ours();
    leads
        && fd
            .kill(Signal::ZERO)
            .map_or_else(|e| e.kind() != io::ErrorKind::NotFound, |()| true)
}

/// The process group id of `pid`, from `/proc/<pid>/stat` (the fields after
/// the command name, which may itself hold spaces and parentheses, are
/// state, ppid, pgrp).
fn proc_pgrp(pid: u32) -> Option<u32> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.iter().rposition(|&b| b == b')')? + 1..];
    let field = std::str::from_utf8(after)
        .ok()?
        .split_ascii_whitespace()
        .nth(2)?;
    field.parse().ok()
}

/// Whether `/proc` is the procfs of our PID namespace: it shows us under our
/// own PID.
fn proc_is_ours() -> bool {
    std::fs::read_link("/proc/self")
        .is_ok_and(|p| p.as_os_str() == std::process::id().to_string().as_str())
}
