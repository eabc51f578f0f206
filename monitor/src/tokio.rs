//! [`Process::wait_async`]: awaiting an exit on tokio without a thread per
//! waiter. Feature `tokio`.
//!
//! How a wait goes:
//!
//! - The future registers the exit fd with the reactor of the runtime that
//!   polls it ([`AsyncReadable`]): the shared pidfd itself for the first
//!   waiter in that runtime, a duplicate for each further one; in the
//!   fallback a duplicate of the exit pipe's read end.
//! - With a pidfd, the waiting task reaps its process itself when the pidfd
//!   becomes readable, under the entry's lock like every other reaper (and
//!   counted as a waiter, so the reaper thread leaves the process to it):
//!   one wake-up, the reactor's, as for `tokio::process`.
//! - When the process has exited but its status is not there yet (an
//!   adopted process whose parent has not reaped it), the future hands the
//!   process back to the monitor, whose reaper retries, and waits for the
//!   outcome to be recorded: [`Entry`]'s list of tasks, woken by every record.
//! - Everything that settles the outcome happens inside one `poll`, under
//!   the entry's lock; dropping the future between two polls can only drop
//!   a registration and a waker, never an exit.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll, Waker};

use pidkit_pidfd::AsyncReadable;

use crate::entry::{Entry, Outcome, Step, Tasks};
use crate::error::{Error, io_context};
use crate::exit::Exit;
use crate::process::Process;

/// Sets the waker of waiter `key` in `tasks`, the entry's list of tasks to
/// wake when the outcome is recorded. Called under the entry's lock.
fn set_task(tasks: &Tasks, key: u64, waker: &Waker) {
    let mut list = tasks.lock().unwrap_or_else(PoisonError::into_inner);
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, w)) if w.will_wake(waker) => {}
        Some((_, w)) => w.clone_from(waker),
        None => list.push((key, waker.clone())),
    }
}

/// Takes waiter `key` off `tasks`.
fn remove_task(tasks: &Tasks, key: u64) {
    let mut list = tasks.lock().unwrap_or_else(PoisonError::into_inner);
    list.retain(|(k, _)| *k != key);
}

/// Keys that tell the waker list's entries apart.
static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

impl Process {
    /// Waits for the process to exit, asynchronously, on a tokio runtime;
    /// returns the same [`Exit`] as [`Process::wait`]. Feature `tokio`.
    ///
    /// No thread waits and nothing blocks the runtime: the process's exit fd
    /// is registered with the reactor of the runtime that polls the future,
    /// and the task reaps its own child when that fd becomes readable (one
    /// wake-up). Works on `current_thread` and `multi_thread` runtimes (with
    /// the I/O driver enabled: `enable_io` or `enable_all`), for started and
    /// adopted processes, and in the fallback without pidfds (where the exit
    /// fd is a pipe the monitor closes once it has recorded the exit).
    ///
    /// The future is `'static` (it shares the process's state, not the
    /// `Process`), `Send` and `Unpin`, so it can be spawned.
    ///
    /// **Cancel-safe.** Dropping the future at any point loses nothing: the
    /// exit is recorded once, whoever gets there first, and every later wait
    /// (this method again, [`Process::wait`], [`Process::try_wait`], from any
    /// thread or task) returns the same [`Exit`]. Any number of tasks may
    /// await one process.
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// let p = Monitor::global().start(Command::new("sh").args(["-c", "exit 7"]))?;
    /// let exit = rt.block_on(p.wait_async())?;
    /// assert_eq!(exit.code(), 7);
    /// assert_eq!(p.wait()?, exit); // recorded once
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// Those of [`Process::wait`]; also [`Error::Io`] if the exit fd cannot
    /// be registered with the reactor (no tokio runtime, or out of
    /// descriptors for the duplicate a second waiter needs). Such an error
    /// changes nothing about the process: wait again later.
    ///
    /// # Panics
    ///
    /// If polled in a tokio runtime built without its I/O driver (as
    /// tokio's own I/O types do).
    pub fn wait_async(&self) -> WaitFuture {
        WaitFuture {
            entry: Arc::clone(&self.entry),
            key: NEXT_KEY.fetch_add(1, Ordering::Relaxed),
            watch: Watching::Idle,
        }
    }
}

/// The future of [`Process::wait_async`]: resolves to the process's [`Exit`].
///
/// Cancel-safe: drop it whenever you like, nothing is lost.
///
/// ```
/// use pidkit_monitor::{Monitor, Signal};
/// use std::process::Command;
/// use std::time::Duration;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// let p = Monitor::global().start(Command::new("sleep").arg("1000"))?;
/// # p.set_kill_on_drop(true); // a failing example must not leave it running
/// // Cancel-safe: a future dropped before the exit loses nothing.
/// let wait = async { tokio::time::timeout(Duration::from_millis(1), p.wait_async()).await };
/// assert!(rt.block_on(wait).is_err()); // timed out: sleep 1000 still runs
/// p.kill(Signal::KILL)?;
/// let exit = rt.block_on(p.wait_async())?;
/// assert_eq!(exit.signal(), Some(Signal::KILL));
/// # Ok(())
/// # }
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct WaitFuture {
    entry: Arc<Entry>,
    /// This waiter's key in the entry's waker list.
    key: u64,
    watch: Watching,
}

/// Where an [`WaitFuture`] is in its wait.
enum Watching {
    /// Not polled yet, or done.
    Idle,
    /// The exit fd is registered with the reactor. `reaps`: the entry counts
    /// this future as a waiter that reaps the process itself.
    Fd { fd: AsyncReadable, reaps: bool },
    /// Waiting for the monitor to record the outcome (the waker list).
    Recorded,
}

impl WaitFuture {
    /// Leaves the reactor and the waiter count (idempotent).
    fn unwatch(&mut self) {
        match std::mem::replace(&mut self.watch, Watching::Idle) {
            Watching::Fd { fd, reaps } => {
                drop(fd);
                if reaps {
                    let slot = self.entry.lock();
                    self.entry.waiter_leaves(&slot);
                }
            }
            Watching::Recorded => remove_task(&self.entry.tasks, self.key),
            Watching::Idle => {}
        }
    }

    fn done(&mut self, outcome: Outcome) -> Poll<Result<Exit, Error>> {
        self.unwatch();
        Poll::Ready(self.entry.answer(outcome))
    }

    fn fail(&mut self, error: Error) -> Poll<Result<Exit, Error>> {
        self.unwatch();
        Poll::Ready(Err(error))
    }

    /// An [`Error::Io`] of this wait: `what` was being done.
    fn io_error(&self, what: &str, source: io::Error) -> Error {
        io_context(format!("{what} of process {}", self.entry.pid()), source)
    }

    /// Registers the exit fd with the current runtime's reactor.
    fn watch_fd(&mut self) -> io::Result<()> {
        self.watch = match self.entry.pidfd() {
            Some(pidfd) => {
                let fd = AsyncReadable::new(Arc::clone(pidfd))?;
                let slot = self.entry.lock();
                self.entry.waiter_arrives(&slot);
                drop(slot);
                Watching::Fd { fd, reaps: true }
            }
            None => {
                let dup = self.entry.exit_fd().try_clone_to_owned()?;
                Watching::Fd {
                    fd: AsyncReadable::from_fd(dup)?,
                    reaps: false,
                }
            }
        };
        Ok(())
    }
}

impl Future for WaitFuture {
    type Output = Result<Exit, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Exit, Error>> {
        let this = self.get_mut();
        loop {
            match &this.watch {
                Watching::Idle => {
                    // Settled already, or exited and reapable now: no
                    // registration needed.
                    match this.entry.try_outcome() {
                        Ok(Some(outcome)) => return this.done(outcome),
                        Ok(None) => {}
                        Err(e) => return this.fail(e),
                    }
                    if let Err(e) = this.watch_fd() {
                        let e = this.io_error("registering with tokio's reactor the exit fd", e);
                        return this.fail(e);
                    }
                }
                Watching::Fd { fd, reaps } => {
                    let reaps = *reaps;
                    match fd.poll_readable(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => {
                            let e = this.io_error("awaiting in tokio's reactor the exit fd", e);
                            return this.fail(e);
                        }
                        Poll::Ready(Ok(())) => {}
                    }
                    let mut slot = this.entry.lock();
                    if reaps {
                        // The process has exited: reap it here, unless
                        // someone already has.
                        match this.entry.resolve(&mut slot, true) {
                            Ok(Step::Done) => {}
                            Ok(Step::NotYet) => {}
                            Err(e) => {
                                drop(slot);
                                let e = this.entry.wait_error(e);
                                return this.fail(e);
                            }
                        }
                    }
                    if let Some(outcome) = *slot {
                        drop(slot);
                        return this.done(outcome);
                    }
                    drop(slot);
                    // Exited without a status yet (an adopted process whose
                    // parent has not reaped it): the monitor retries and
                    // records it; wait for that.
                    this.unwatch();
                    this.watch = Watching::Recorded;
                }
                Watching::Recorded => {
                    let slot = this.entry.lock();
                    if let Some(outcome) = *slot {
                        drop(slot);
                        return this.done(outcome);
                    }
                    // Under the entry's lock, which every record takes: the
                    // outcome cannot be recorded between the check and this.
                    set_task(&this.entry.tasks, this.key, cx.waker());
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for WaitFuture {
    fn drop(&mut self) {
        self.unwatch();
    }
}

impl fmt::Debug for WaitFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.watch {
            Watching::Idle => "idle",
            Watching::Fd { .. } => "awaiting the exit fd",
            Watching::Recorded => "awaiting the recorded exit",
        };
        f.debug_struct("WaitFuture")
            .field("pid", &self.entry.pid())
            .field("state", &state)
            .finish()
    }
}
