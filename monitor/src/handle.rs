//! [`Process::handle`]: a [`PidHandle`] for a watched process, to write to a
//! state file and restore after a restart.

use std::io;

use pidkit_pidhandle::PidHandle;

use crate::error::Error;
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
    /// use pidkit_monitor::{Monitor, Signal};
    /// use pidkit_pidhandle::PidHandle;
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
    /// [`Error::Gone`] ([`io::ErrorKind::NotFound`]) once the exit is
    /// recorded; [`Error::Handle`] if the handle cannot be made (for
    /// example, no descriptor left for the duplicate).
    pub fn handle(&self) -> io::Result<PidHandle> {
        let pid = self.pid();
        let slot = self.entry.lock();
        if slot.is_some() {
            return Err(Error::Gone { pid }.into());
        }
        let handle = match self.entry.pidfd() {
            Some(fd) => fd
                .try_clone()
                .map_err(|source| Error::Io {
                    pid,
                    op: "duplicate the pidfd",
                    source,
                })
                .map(|fd| PidHandle::from_pidfd(pid, fd).map_err(Into::into))?,
            // The fallback: our child, which only its watcher thread reaps,
            // and only under the lock we hold.
            None => PidHandle::new(pid),
        };
        drop(slot);
        handle.map_err(|source| Error::Handle { pid, source }.into())
    }
}
