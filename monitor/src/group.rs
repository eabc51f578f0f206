//! Process groups and kill-on-drop: [`Monitor::start_group`],
//! [`Process::kill_group`], [`Process::wait_group`],
//! [`Process::set_kill_on_drop`].
//!
//! A group is signalled through its leader's pidfd with
//! `PIDFD_SIGNAL_PROCESS_GROUP` (Linux 6.9+): the kernel then signals the
//! group the leader's `struct pid` leads, which no later process can come to
//! lead, so the signal cannot reach a stranger even after the leader has been
//! reaped. Before 6.9 (or without pidfds) the group is named by number with
//! `killpg`, and only while the leader is our unreaped child, under the
//! same lock that serialises reaping: while the leader is unreaped its PID,
//! which is the group id, cannot be reused.

use std::io;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pidkit_pidfd::low_level::Backoff;
use pidkit_pidfd::{Signal, SignalScope, probe};
use rustix::io::Errno;
use rustix::process::Pid;

use crate::entry::Kind;
use crate::error::{Error, io_context, is_esrch};
use crate::exit::Exit;
use crate::monitor::Monitor;
use crate::process::Process;

/// Shortest and longest pause between two checks of whether a group still
/// has members.
const GROUP_POLL_MIN: Duration = Duration::from_millis(1);
const GROUP_POLL_MAX: Duration = Duration::from_millis(50);

impl Monitor {
    /// Starts `cmd` as the leader of a new process group
    /// (`CommandExt::process_group(0)`, set on `cmd`), so that
    /// [`Process::kill_group`] reaches everything it starts that stays in
    /// its group, and [`Process::wait_group`] waits for all of it.
    ///
    /// Otherwise exactly [`Monitor::start`].
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), pidkit_monitor::Error> {
    /// let p = Monitor::global()
    ///     .start_group(Command::new("sh").args(["-c", "sleep 1000 & sleep 1000 & wait"]))?;
    /// assert!(p.is_group_leader());
    /// p.kill_group(Signal::KILL)?;
    /// let exit = p.wait_group()?; // the leader's exit, once the whole group is gone
    /// assert_eq!(exit.signal(), Some(Signal::KILL));
    /// assert!(!p.group_alive()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn start_group(&self, cmd: &mut Command) -> Result<Process, Error> {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        let mut process = self.start(cmd)?;
        process.group_leader = true;
        Ok(process)
    }
}

impl Process {
    /// Whether this process leads a process group whose id is its PID: it
    /// was started by [`Monitor::start_group`], or it led its group when
    /// [`Monitor::adopt`] took it (its group id was its PID then; a process
    /// that calls `setsid`/`setpgid` later is not counted).
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let leader = Monitor::global().start_group(&mut Command::new("true"))?;
    /// let plain = Monitor::global().start(&mut Command::new("true"))?;
    /// assert!(leader.is_group_leader());
    /// assert!(!plain.is_group_leader());
    /// # leader.wait()?;
    /// # plain.wait()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_group_leader(&self) -> bool {
        self.group_leader
    }

    /// Sends `signal` to every process in the group this process leads.
    ///
    /// - Linux 6.9+ with pidfds: through the leader's pidfd with
    ///   `PIDFD_SIGNAL_PROCESS_GROUP`. Works as long as any member is left,
    ///   also after the leader has exited and been reaped; fails with
    ///   [`Error::GroupGone`] once no member is left.
    /// - Before 6.9, or without pidfds: `killpg(2)`, sent only while the
    ///   leader is our unreaped child (checked under the lock that
    ///   serialises reaping), so that the group id cannot name another group.
    ///   Once the monitor has reaped the leader, and for an adopted leader
    ///   that is not our child (its parent may reap it at any moment), this
    ///   fails with [`Error::GroupUnreachable`], even if members remain (see
    ///   [`Process::wait_group`] for how to stop that happening). Only named
    ///   signals 1–31 ([`Error::SignalUnsupported`]).
    ///
    /// Fails with [`Error::NotGroupLeader`] for a process that does not lead
    /// a group ([`Process::is_group_leader`]), and with
    /// [`Error::PermissionDenied`] when no member may be signalled by us.
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global()
    ///     .start_group(Command::new("sh").args(["-c", "sleep 1000 & wait"]))?;
    /// # p.set_kill_on_drop(true); // a failing example must not leave it running
    /// p.kill_group(Signal::KILL)?; // the shell and its sleep
    /// assert_eq!(p.wait_group()?.signal(), Some(Signal::KILL));
    /// # Ok(())
    /// # }
    /// ```
    pub fn kill_group(&self, signal: Signal) -> Result<(), Error> {
        let pid = self.leader()?;
        let group_error = |how: &str, e: io::Error| match e.kind() {
            _ if is_esrch(&e) => Error::GroupGone { pid },
            io::ErrorKind::NotFound => Error::GroupGone { pid },
            io::ErrorKind::PermissionDenied => Error::PermissionDenied { pid },
            _ => io_context(format!("signalling process group {pid} {how}"), e),
        };
        if let (Some(fd), true) = (self.entry.pidfd(), probe().signal_scope) {
            return fd
                .kill_scoped(signal, SignalScope::ProcessGroup)
                .map_err(|e| group_error("through its leader's pidfd", e));
        }
        let slot = self.entry.lock();
        // Only our unreaped child's PID is certainly still its group's id.
        if slot.is_some() || self.entry.kind() != Kind::Child {
            return Err(Error::GroupUnreachable { pid });
        }
        let pgid = raw(pid)?;
        let result = if signal == Signal::ZERO {
            rustix::process::test_kill_process_group(pgid)
        } else {
            let Some(sig) = rustix::process::Signal::from_named_raw(signal.as_raw()) else {
                return Err(Error::SignalUnsupported { pid, signal });
            };
            rustix::process::kill_process_group(pgid, sig)
        };
        drop(slot);
        result.map_err(|e| group_error("with killpg(2)", e.into()))
    }

    /// Whether the group this process leads still has a member (the leader
    /// included, a zombie member included until its parent reaps it).
    ///
    /// The check is one system call that the kernel answers for the whole
    /// group at once (signal 0 to the group), so a member that forks while
    /// the check runs cannot be missed: its child joins the same group. Where
    /// the check goes through the leader's pidfd (Linux 6.9+) it names this
    /// very group; before that it names the group by number (`kill(-pgid,
    /// 0)`), which is exact while the leader is unreaped, and afterwards can
    /// only err towards "alive": once the group has emptied, its number may
    /// be reused by a new group before the next check.
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start_group(Command::new("sleep").arg("1000"))?;
    /// # p.set_kill_on_drop(true); // a failing example must not leave it running
    /// assert!(p.group_alive()?);
    /// p.kill_group(Signal::KILL)?;
    /// p.wait_group()?;
    /// assert!(!p.group_alive()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn group_alive(&self) -> Result<bool, Error> {
        let pid = self.leader()?;
        let result = if let (Some(fd), true) = (self.entry.pidfd(), probe().signal_scope) {
            fd.kill_scoped(Signal::ZERO, SignalScope::ProcessGroup)
        } else {
            rustix::process::test_kill_process_group(raw(pid)?).map_err(io::Error::from)
        };
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) if e.raw_os_error() == Some(Errno::SRCH.raw_os_error()) => Ok(false),
            // Members exist that we may not signal.
            Err(e) if e.raw_os_error() == Some(Errno::PERM.raw_os_error()) => Ok(true),
            Err(e) => Err(io_context(
                format!("checking process group {pid} with signal 0"),
                e,
            )),
        }
    }

    /// Waits until the leader has exited and the group it leads has no
    /// member left, and returns the leader's [`Exit`].
    ///
    /// How: the leader's exit is waited for as by [`Process::wait`]; then
    /// [`Process::group_alive`] is checked until it says no, pausing between
    /// checks from 1 ms doubling to 50 ms (the kernel sends no notice when a
    /// group empties, so this polls; each check is a single system call).
    ///
    /// What remains: a member that moves itself into another group or
    /// session (`setpgid`, `setsid`, as daemons and shells with job control
    /// do) is no longer a member and is not waited for; a zombie member
    /// counts until its parent reaps it; before Linux 6.9, see the caveat on
    /// [`Process::group_alive`].
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // The leader exits at once; the member it started runs on for a while.
    /// let p = Monitor::global()
    ///     .start_group(Command::new("sh").args(["-c", "sleep 0.2 & exit 5"]))?;
    /// let exit = p.wait_group()?; // returns once the sleep has ended too
    /// assert_eq!(exit.code(), 5);
    /// assert!(!p.group_alive()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait_group(&self) -> Result<Exit, Error> {
        self.leader()?;
        let exit = self.wait()?;
        let mut pauses = Backoff::new(GROUP_POLL_MIN, GROUP_POLL_MAX);
        while self.group_alive()? {
            std::thread::sleep(pauses.next_pause());
        }
        Ok(exit)
    }

    /// Marks the process to be killed with `SIGKILL` when this `Process` is
    /// dropped (or unmarks it): the whole group if it leads one
    /// ([`Process::kill_group`]), else the process ([`Process::kill`]).
    ///
    /// Works on every kernel the monitor runs on, with the same guarantees
    /// as the explicit calls: a process whose exit is already recorded is
    /// not signalled, and neither is whatever got its PID. The drop runs on
    /// unwinding too, so a panic in the owner kills what it started. What it
    /// cannot cover: the owner being killed itself (`SIGKILL`, `abort`, an
    /// exit without unwinding) — for that, see `PR_SET_PDEATHSIG` with
    /// [`Monitor::start_locked`], and the ARCHITECTURE notes on
    /// `CLONE_PIDFD_AUTOKILL`. The monitor still reaps the killed process.
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::process::Command;
    /// use pidkit_monitor::PidHandle;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start(Command::new("sleep").arg("1000"))?;
    /// # p.set_kill_on_drop(true); // a failing example must not leave it running
    /// let pinned = PidHandle::new(p.pid())?;
    /// p.set_kill_on_drop(true);
    /// drop(p);
    /// pinned.wait_exited()?; // killed, and the monitor reaps it
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_kill_on_drop(&self, kill: bool) {
        self.kill_on_drop.store(kill, Ordering::Relaxed);
    }

    /// Whether [`Process::set_kill_on_drop`] marked this process.
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start(Command::new("sleep").arg("1000"))?;
    /// assert!(!p.kill_on_drop());
    /// p.set_kill_on_drop(true);
    /// assert!(p.kill_on_drop());
    /// # p.kill(Signal::KILL)?;
    /// # p.wait()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn kill_on_drop(&self) -> bool {
        self.kill_on_drop.load(Ordering::Relaxed)
    }

    fn leader(&self) -> Result<u32, Error> {
        if self.group_leader {
            Ok(self.pid())
        } else {
            Err(Error::NotGroupLeader { pid: self.pid() })
        }
    }

    /// The drop-time kill (see [`Process::set_kill_on_drop`]); errors are
    /// ignored (the process may be gone already).
    pub(crate) fn kill_if_marked(&self) {
        if !self.kill_on_drop() {
            return;
        }
        if self.group_leader {
            let _ = self.kill_group(Signal::KILL);
        } else {
            let _ = self.kill(Signal::KILL);
        }
    }
}

fn raw(pid: u32) -> Result<Pid, Error> {
    pidkit_pidfd::check_pid(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or(Error::InvalidPid { pid })
}
