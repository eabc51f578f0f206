//! [`Process`]: a started or adopted process that a monitor watches.

use std::fmt;
use std::os::fd::BorrowedFd;
use std::process::{ChildStderr, ChildStdin, ChildStdout};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use pidkit_pidfd::Signal;
use pidkit_pidhandle::Identity;

use crate::entry::{Entry, Kind};
use crate::error::Error;
use crate::exit::Exit;

/// A process watched by a [`Monitor`](crate::Monitor): one started with
/// [`start`](crate::Monitor::start) / [`start_locked`](crate::Monitor::start_locked),
/// or adopted with [`adopt`](crate::Monitor::adopt).
///
/// `Process` is `Send + Sync`: wait for it, poll it and signal it from any
/// number of threads; every `wait` returns the same [`Exit`]. The pipes
/// ([`stdin`](Process::stdin), [`stdout`](Process::stdout),
/// [`stderr`](Process::stderr)) are handed out once, through `&mut self`, so
/// take them before sharing the `Process` (for example in an `Arc`).
///
/// Dropping a `Process` does not kill the process unless it was marked with
/// [`Process::set_kill_on_drop`], and never leaves a zombie: the monitor
/// still reaps it when it exits.
///
/// ```
/// use pidkit_monitor::{Monitor, Signal};
/// use std::process::Command;
/// use std::sync::{Arc, OnceLock};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let p = Arc::new(Monitor::global().start(Command::new("sleep").arg("1000"))?);
/// # p.set_kill_on_drop(true); // a failing example must not leave it running
/// let waiter = {
///     let p = Arc::clone(&p);
///     std::thread::spawn(move || p.wait())
/// };
/// p.kill(Signal::KILL)?;
/// let exit = waiter.join().expect("the waiter does not panic")?;
/// assert_eq!(exit.signal(), Some(Signal::KILL));
/// assert_eq!(p.wait()?, exit); // every wait, the same exit
/// # Ok(())
/// # }
/// ```
pub struct Process {
    pub(crate) entry: Arc<Entry>,
    pub(crate) stdin: Option<ChildStdin>,
    pub(crate) stdout: Option<ChildStdout>,
    pub(crate) stderr: Option<ChildStderr>,
    /// Leads the process group whose id is its PID: started by
    /// `Monitor::start_group`, or found leading it when adopted (see
    /// `adopt.rs`).
    pub(crate) group_leader: bool,
    /// Set by `Process::set_kill_on_drop` (see `group.rs`).
    pub(crate) kill_on_drop: AtomicBool,
    /// Made by the first `Process::identity` (see `handle.rs`); boxed, so
    /// that a process nobody asks pays one pointer for it.
    pub(crate) identity: OnceLock<Box<Identity>>,
}

impl Process {
    pub(crate) fn new(
        entry: Arc<Entry>,
        stdin: Option<ChildStdin>,
        stdout: Option<ChildStdout>,
        stderr: Option<ChildStderr>,
    ) -> Process {
        Process {
            entry,
            stdin,
            stdout,
            stderr,
            group_leader: false,
            kill_on_drop: AtomicBool::new(false),
            identity: OnceLock::new(),
        }
    }

    /// The process's PID.
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::io::Read;
    /// use std::process::{Command, Stdio};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut p = Monitor::global()
    ///     .start(Command::new("sh").args(["-c", "echo $$"]).stdout(Stdio::piped()))?;
    /// let mut out = String::new();
    /// p.stdout().expect("piped").read_to_string(&mut out)?;
    /// assert_eq!(out.trim(), p.pid().to_string());
    /// assert_eq!(p.wait()?.pid, p.pid());
    /// # Ok(())
    /// # }
    /// ```
    pub fn pid(&self) -> u32 {
        self.entry.pid()
    }

    /// Whether this process came from [`Monitor::adopt`](crate::Monitor::adopt)
    /// and is not our child.
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, Signal};
    /// use std::process::Command;
    /// use pidkit_monitor::PidHandle;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let started = Monitor::global().start(&mut Command::new("true"))?;
    /// assert!(!started.is_adopted());
    /// # started.wait()?;
    /// // A handle to our own child is watched like a started one.
    /// let child = Command::new("sleep").arg("1000").spawn()?;
    /// let p = Monitor::global().adopt(PidHandle::from_child(&child)?)?;
    /// # p.set_kill_on_drop(true); // a failing example must not leave it running
    /// assert!(!p.is_adopted());
    /// # p.kill(Signal::KILL)?;
    /// # p.wait()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_adopted(&self) -> bool {
        self.entry.kind() == Kind::Adopted
    }

    /// Sends `signal` to the process.
    ///
    /// Through the pidfd where there is one, serialised with reaping: once
    /// the exit has been recorded this fails with [`Error::Gone`] ("process
    /// N is gone") and never signals whatever process has the PID by then. A
    /// process that has exited but is not reaped yet (a zombie) accepts
    /// signals and ignores them. [`Signal::ZERO`] checks that the exit is not
    /// recorded. A process we may not signal is [`Error::PermissionDenied`]
    /// ("permission denied signalling pid N", as from a `PidHandle`).
    ///
    /// Without pidfds (the fallback) this is `kill(2)` on the PID, made while
    /// holding the lock under which the child is reaped and its exit
    /// recorded: an unreaped child's PID cannot be reused, so this is just as
    /// exact. Only the named signals 1–31 can be sent there
    /// ([`Error::SignalUnsupported`]).
    ///
    /// ```
    /// use pidkit_monitor::{Error, Monitor, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start(Command::new("sleep").arg("1000"))?;
    /// # p.set_kill_on_drop(true); // a failing example must not leave it running
    /// p.kill(Signal::TERM)?;
    /// assert_eq!(p.wait()?.signal(), Some(Signal::TERM));
    /// // Once the exit is recorded, no signal goes anywhere.
    /// let err = p.kill(Signal::TERM).unwrap_err();
    /// assert!(matches!(err, Error::Gone { pid } if pid == p.pid()));
    /// assert_eq!(err.to_string(), format!("process {} is gone", p.pid()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn kill(&self, signal: Signal) -> Result<(), Error> {
        self.entry.kill(signal)
    }

    /// The exit, if the process has exited; reaps it if it exited and was
    /// not reaped yet. Never blocks (std's `Child::try_wait`).
    ///
    /// `Ok(None)` while the process runs; once it has exited, its [`Exit`],
    /// or the same error as [`Process::wait`] if it exited without a status
    /// that can be reported. In the fallback without pidfds the child is
    /// reaped by its watcher thread, and `try_wait` sees the exit once that
    /// thread has recorded it (when [`Process::exit_fd`] becomes readable).
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start(Command::new("sleep").arg("1000"))?;
    /// # p.set_kill_on_drop(true); // a failing example must not leave it running
    /// assert!(p.try_wait()?.is_none());
    /// p.kill(Signal::KILL)?;
    /// let exit = p.wait()?;
    /// assert_eq!(p.try_wait()?, Some(exit));
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_wait(&self) -> Result<Option<Exit>, Error> {
        match self.entry.try_outcome()? {
            Some(outcome) => self.entry.answer(outcome).map(Some),
            None => Ok(None),
        }
    }

    /// Waits for the process to exit (reaping it) and returns its exit.
    ///
    /// Returns the same [`Exit`] on every call, from any thread, before or
    /// after the exit. Where pidfds work, the calling thread waits on the
    /// pidfd and reaps the child itself if it gets there before the reaper
    /// thread (saving a wake-up); the exit is recorded once either way.
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start(Command::new("sh").args(["-c", "exit 3"]))?;
    /// let exit = p.wait()?;
    /// assert_eq!(exit.code(), 3);
    /// assert_eq!(p.wait()?, exit); // the same answer every time
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// - [`Error::StatusUnavailable`]: an adopted process exited on a kernel
    ///   that does not give its status to non-parents.
    /// - [`Error::ReapedElsewhere`]: our child was reaped outside the monitor
    ///   and the kernel kept no status.
    /// - [`Error::Io`]: waiting on the pidfd failed.
    pub fn wait(&self) -> Result<Exit, Error> {
        loop {
            // Without a deadline the wait returns only with an outcome.
            if let Some(outcome) = self.entry.wait_deadline(None)? {
                return self.entry.answer(outcome);
            }
        }
    }

    /// [`Process::wait`] for at most `timeout`: `Ok(None)` if the process is
    /// still running then.
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, Signal};
    /// use std::process::Command;
    /// use std::time::Duration;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start(Command::new("sleep").arg("1000"))?;
    /// # p.set_kill_on_drop(true); // a failing example must not leave it running
    /// assert_eq!(p.wait_timeout(Duration::ZERO)?, None); // still running
    /// p.kill(Signal::KILL)?;
    /// let exit = p.wait_timeout(Duration::from_secs(600))?.expect("killed");
    /// assert_eq!(exit.signal(), Some(Signal::KILL));
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<Exit>, Error> {
        let deadline = Instant::now().checked_add(timeout);
        match self.entry.wait_deadline(deadline)? {
            Some(outcome) => self.entry.answer(outcome).map(Some),
            None => Ok(None),
        }
    }

    /// A file descriptor that becomes readable once the process has exited,
    /// for any event loop (containerd's `ExitFD`): poll it, or register it
    /// with epoll, mio or tokio's `AsyncFd`, then call [`Process::try_wait`]
    /// or [`Process::wait`], which then do not block.
    ///
    /// Where pidfds work it is the process's pidfd: readable as soon as the
    /// process exits (before it is reaped) and for ever after. In the fallback
    /// it is the read end of a pipe that hits end-of-file when the monitor
    /// has recorded the exit. Either way, do not read from it or close it;
    /// it lives as long as the `Process`.
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::process::Command;
    /// use rustix::event::{PollFd, PollFlags, poll};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start(Command::new("sh").args(["-c", "exit 2"]))?;
    /// let fd = p.exit_fd();
    /// let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    /// poll(&mut fds, None)?; // returns once the process has exited
    /// assert!(fds[0].revents().contains(PollFlags::IN));
    /// assert_eq!(p.try_wait()?.map(|exit| exit.code()), Some(2)); // no blocking now
    /// # Ok(())
    /// # }
    /// ```
    pub fn exit_fd(&self) -> BorrowedFd<'_> {
        self.entry.exit_fd()
    }

    /// The child's stdin, if it was piped; `None` after the first call.
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::io::Write;
    /// use std::process::{Command, Stdio};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut p = Monitor::global()
    ///     .start(Command::new("sh").args(["-c", "read x && test \"$x\" = hello"]).stdin(Stdio::piped()))?;
    /// let mut stdin = p.stdin().expect("piped");
    /// assert!(p.stdin().is_none()); // handed out once
    /// stdin.write_all(b"hello\n")?;
    /// drop(stdin);
    /// assert!(p.wait()?.success());
    /// # Ok(())
    /// # }
    /// ```
    pub fn stdin(&mut self) -> Option<ChildStdin> {
        self.stdin.take()
    }

    /// The child's stdout, if it was piped; `None` after the first call.
    ///
    /// Drain it (on another thread if you also wait) before or while waiting:
    /// a child blocked on a full pipe never exits.
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::io::Read;
    /// use std::process::{Command, Stdio};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut p = Monitor::global().start(Command::new("echo").arg("out").stdout(Stdio::piped()))?;
    /// let mut out = String::new();
    /// p.stdout().expect("piped").read_to_string(&mut out)?;
    /// assert_eq!(out, "out\n");
    /// assert!(p.stdout().is_none()); // handed out once
    /// assert!(p.wait()?.success());
    /// # Ok(())
    /// # }
    /// ```
    pub fn stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    /// The child's stderr, if it was piped; `None` after the first call.
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::io::Read;
    /// use std::process::{Command, Stdio};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut p = Monitor::global()
    ///     .start(Command::new("sh").args(["-c", "echo oops >&2"]).stderr(Stdio::piped()))?;
    /// let mut err = String::new();
    /// p.stderr().expect("piped").read_to_string(&mut err)?;
    /// assert_eq!(err, "oops\n");
    /// assert!(p.stderr().is_none()); // handed out once
    /// assert!(p.wait()?.success());
    /// # Ok(())
    /// # }
    /// ```
    pub fn stderr(&mut self) -> Option<ChildStderr> {
        self.stderr.take()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill_if_marked();
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.pid())
            .field("adopted", &self.is_adopted())
            .field("group_leader", &self.group_leader)
            .field("exit", &self.entry.lock().as_ref())
            .finish_non_exhaustive()
    }
}
