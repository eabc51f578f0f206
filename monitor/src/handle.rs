//! [`Process::handle`] and [`Process::identity`]: a [`PidHandle`] or an
//! [`Identity`] for a watched process, to write to a state file and restore
//! after a restart.

use pidkit_pidhandle::{Identity, PidHandle};

use crate::error::{Error, io_context};
use crate::process::Process;

impl Process {
    /// A [`PidHandle`] to this process, to keep (as text) across a restart
    /// of the supervisor and [`adopt`](crate::Monitor::adopt) again.
    ///
    /// Exact, never a guess from the PID: made from a duplicate of the
    /// process's pidfd, or in the fallback without pidfds from the PID of
    /// our child *while holding the lock under which it is reaped*, so the
    /// child is unreaped and its PID cannot name another process.
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, PidHandle, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start(Command::new("sleep").arg("100"))?;
    /// let text = p.handle()?.to_string();
    /// let restored: PidHandle = text.parse()?;
    /// assert_eq!(restored.pid(), p.pid());
    /// restored.kill(Signal::TERM)?;
    /// assert_eq!(p.wait()?.code(), 143);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Gone`] once the exit is recorded; [`Error::Io`] if the
    /// handle cannot be made (for example, no descriptor left for the
    /// duplicate).
    pub fn handle(&self) -> Result<PidHandle, Error> {
        let pid = self.pid();
        let slot = self.entry.lock();
        if slot.is_some() {
            return Err(Error::Gone { pid });
        }
        let handle = match self.entry.pidfd() {
            Some(fd) => {
                let fd = fd.try_clone().map_err(|source| {
                    io_context(format!("duplicating the pidfd of process {pid}"), source)
                })?;
                PidHandle::from_pidfd(pid, fd).map_err(|e| Error::from(e.into_error()))
            }
            // The fallback: our child, which only its watcher thread reaps,
            // and only under the lock we hold.
            None => PidHandle::new(pid).map_err(Error::from),
        };
        drop(slot);
        handle
    }

    /// The process's [`Identity`]: plain data (`Copy`, its `Display` the
    /// text [`PidHandle::restore`] takes), for a state file or a log line.
    ///
    /// Made once, as [`Process::handle`] makes a handle (exact, while the
    /// exit is not recorded), and kept: later calls, also after the exit,
    /// return the same value without a system call.
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, PidHandle, Signal, State};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start(Command::new("sleep").arg("100"))?;
    /// # p.set_kill_on_drop(true); // a failing example must not leave it running
    /// let id = p.identity()?;
    /// assert_eq!(id.pid(), p.pid());
    /// assert_eq!(PidHandle::restore(&id)?.state()?, State::Running);
    /// p.kill(Signal::KILL)?;
    /// p.wait()?;
    /// assert_eq!(p.identity()?, id); // kept
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// Those of [`Process::handle`], on the first call only: [`Error::Gone`]
    /// if that call comes after the exit was recorded.
    pub fn identity(&self) -> Result<Identity, Error> {
        if let Some(id) = self.identity.get() {
            return Ok(**id);
        }
        let id = *self.handle()?.identity();
        Ok(**self.identity.get_or_init(|| Box::new(id)))
    }
}
