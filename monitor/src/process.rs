//! [`Process`]: a started or adopted process that a monitor watches.

use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;
use std::process::{ChildStderr, ChildStdin, ChildStdout};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use pidkit_pidfd::Signal;

use crate::entry::{Entry, Kind};
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
pub struct Process {
    pub(crate) entry: Arc<Entry>,
    pub(crate) stdin: Option<ChildStdin>,
    pub(crate) stdout: Option<ChildStdout>,
    pub(crate) stderr: Option<ChildStderr>,
    /// Started by `Monitor::start_group` (see `group.rs`).
    pub(crate) group_leader: bool,
    /// Set by `Process::set_kill_on_drop` (see `group.rs`).
    pub(crate) kill_on_drop: AtomicBool,
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
        }
    }

    /// The process's PID.
    pub fn pid(&self) -> u32 {
        self.entry.pid()
    }

    /// Whether this process came from [`Monitor::adopt`](crate::Monitor::adopt)
    /// and is not our child.
    pub fn is_adopted(&self) -> bool {
        self.entry.kind() == Kind::Adopted
    }

    /// Sends `signal` to the process.
    ///
    /// Through the pidfd where there is one, serialised with reaping: once
    /// the exit has been recorded this fails with [`io::ErrorKind::NotFound`]
    /// ([`Error::Gone`](crate::Error::Gone), "process N is gone") and
    /// never signals whatever process has the PID by then. A process that
    /// has exited but is not reaped yet (a zombie) accepts signals and
    /// ignores them. [`Signal::ZERO`] checks that the exit is not recorded.
    ///
    /// Without pidfds (the fallback) this is `kill(2)` on the PID, made while
    /// holding the lock under which the child is reaped and its exit
    /// recorded: an unreaped child's PID cannot be reused, so this is just as
    /// exact. Only the named signals 1–31 can be sent there
    /// ([`Error::SignalUnsupported`](crate::Error::SignalUnsupported)).
    pub fn kill(&self, signal: Signal) -> io::Result<()> {
        self.entry.kill(signal)
    }

    /// The exit, if the process has exited; reaps it if it exited and was
    /// not reaped yet. Never blocks.
    ///
    /// `None` while it runs, and also when the exit cannot be reported (see
    /// [`Process::try_wait`], which says why). In the fallback without
    /// pidfds the child is reaped by its watcher thread, and `try_exit` sees
    /// the exit once that thread has recorded it (when [`Process::exit_fd`]
    /// becomes readable).
    pub fn try_exit(&self) -> Option<Exit> {
        self.try_wait().ok().flatten()
    }

    /// Like [`Process::try_exit`], with errors: `Ok(None)` while the process
    /// runs, and the same error as [`Process::wait`] once it has exited
    /// without a status that can be reported.
    pub fn try_wait(&self) -> io::Result<Option<Exit>> {
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
    /// # Errors
    ///
    /// - [`Error::StatusUnavailable`](crate::Error::StatusUnavailable)
    ///   ([`io::ErrorKind::Unsupported`]): an adopted process exited on a
    ///   kernel that does not give its status to non-parents.
    /// - [`Error::ReapedElsewhere`](crate::Error::ReapedElsewhere): our child
    ///   was reaped outside the monitor and the kernel kept no status.
    pub fn wait(&self) -> io::Result<Exit> {
        match self.entry.wait_deadline(None)? {
            Some(outcome) => self.entry.answer(outcome),
            None => Err(io::Error::other(format!(
                "process {}: wait without a deadline returned no exit",
                self.pid()
            ))),
        }
    }

    /// [`Process::wait`] for at most `timeout`: `Ok(None)` if the process is
    /// still running then.
    pub fn wait_timeout(&self, timeout: Duration) -> io::Result<Option<Exit>> {
        let deadline = Instant::now().checked_add(timeout);
        match self.entry.wait_deadline(deadline)? {
            Some(outcome) => self.entry.answer(outcome).map(Some),
            None => Ok(None),
        }
    }

    /// A file descriptor that becomes readable once the process has exited,
    /// for any event loop (containerd's `ExitFD`): poll it, or register it
    /// with epoll, mio or tokio's `AsyncFd`, then call [`Process::try_exit`]
    /// or [`Process::wait`], which then do not block.
    ///
    /// Where pidfds work it is the process's pidfd: readable as soon as the
    /// process exits (before it is reaped) and for ever after. In the fallback
    /// it is the read end of a pipe that hits end-of-file when the monitor
    /// has recorded the exit. Either way, do not read from it or close it;
    /// it lives as long as the `Process`.
    pub fn exit_fd(&self) -> BorrowedFd<'_> {
        self.entry.exit_fd()
    }

    /// The child's stdin, if it was piped; `None` after the first call.
    pub fn stdin(&mut self) -> Option<ChildStdin> {
        self.stdin.take()
    }

    /// The child's stdout, if it was piped; `None` after the first call.
    ///
    /// Drain it (on another thread if you also wait) before or while waiting:
    /// a child blocked on a full pipe never exits.
    pub fn stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    /// The child's stderr, if it was piped; `None` after the first call.
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
