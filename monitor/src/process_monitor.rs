//! [`ProcessMonitor`]: go-runc's interface, for code that takes any monitor
//! (a test double, say), implemented by [`Monitor`].

use std::process::Command;

use crate::error::Error;
use crate::exit::Exit;
use crate::monitor::Monitor;
use crate::process::Process;

/// go-runc's `ProcessMonitor`: starts processes and reports their exits.
///
/// Implemented by [`Monitor`] (with `Process = `[`Process`]). The trait
/// exists so that code can take "something that starts and waits for
/// processes" and be given a test double: the process type is the
/// implementor's own ([`ProcessMonitor::Process`]), because a [`Process`]
/// can only come from a real monitor (it owns a pidfd and its exit record),
/// while [`Exit`] has public fields and can be built by anyone. A custom
/// monitor must keep the contract below.
///
/// ```
/// use pidkit_monitor::{Error, Exit, Monitor, ProcessMonitor};
/// use std::process::Command;
///
/// fn run<M: ProcessMonitor>(m: &M, cmd: &mut Command) -> Result<i32, Error> {
///     let p = m.start(cmd)?;
///     Ok(m.wait(&p)?.code())
/// }
/// assert_eq!(run(Monitor::global(), Command::new("sh").args(["-c", "exit 4"]))?, 4);
/// # Ok::<(), Error>(())
/// ```
pub trait ProcessMonitor: Send + Sync {
    /// What [`ProcessMonitor::start`] returns and [`ProcessMonitor::wait`]
    /// takes: [`Process`] for [`Monitor`].
    type Process;

    /// Spawns `cmd` and starts watching the child. A spawn failure (missing
    /// binary, permission) is an error, and no exit is ever delivered for it.
    fn start(&self, cmd: &mut Command) -> Result<Self::Process, Error>;

    /// Like [`ProcessMonitor::start`], but the child is spawned from a
    /// dedicated thread that lives until the child is reaped, so a child
    /// that set `PR_SET_PDEATHSIG` is not killed when the calling thread
    /// exits (golang/go#27505).
    fn start_locked(&self, cmd: &mut Command) -> Result<Self::Process, Error>;

    /// Waits for `process` to exit: the same [`Exit`] every time it is
    /// called, from any thread, before or after the exit.
    fn wait(&self, process: &Self::Process) -> Result<Exit, Error>;
}

impl ProcessMonitor for Monitor {
    type Process = Process;

    fn start(&self, cmd: &mut Command) -> Result<Process, Error> {
        Monitor::start(self, cmd)
    }

    fn start_locked(&self, cmd: &mut Command) -> Result<Process, Error> {
        Monitor::start_locked(self, cmd)
    }

    fn wait(&self, process: &Process) -> Result<Exit, Error> {
        Monitor::wait(self, process)
    }
}
