//! [`PidHandle::wait_exited_async`]: awaiting the exit of any pinned process
//! on tokio. Feature `tokio`.

use std::fmt;
use std::future::Future;
use std::os::fd::OwnedFd;
use std::pin::Pin as Pinned;
use std::task::{Context, Poll};
use std::time::Duration;

use pidkit_pidfd::AsyncReadable;
use pidkit_pidfd::low_level::Backoff;

use crate::error::io_context;
use crate::handle::Pin;
use crate::{Error, PidHandle, State};

/// First and longest pause between two looks at `/proc` in the fallback.
const NAP_MIN: Duration = Duration::from_millis(1);
const NAP_MAX: Duration = Duration::from_millis(50);

impl PidHandle {
    /// Waits, asynchronously on a tokio runtime, until the process has
    /// exited (zombie or gone); [`PidHandle::wait_exited`] without a thread.
    /// Does not reap. Feature `tokio`.
    ///
    /// Works for any pinned process: a child or not, made here or restored
    /// from text after a restart. With a pidfd, the future takes its own
    /// duplicate of the handle's (`F_DUPFD_CLOEXEC`, when it is made) and
    /// registers it with the reactor of the runtime that polls it on the
    /// first poll; the task is woken by the exit itself: no thread, no
    /// polling. A recycled PID cannot complete the future: the pidfd refers
    /// to the pinned process only.
    ///
    /// In the fallback without pidfds the future re-reads
    /// `/proc/<pid>/stat` (identity included) on tokio timers, 1 ms growing
    /// to 50 ms apart, like [`PidHandle::wait_exited`]; that needs the
    /// runtime's time driver (`enable_time` or `enable_all`). A gone handle
    /// is ready at once; a closed one fails with [`Error::Closed`].
    ///
    /// The future is `'static` (it holds its own pidfd, or in the fallback
    /// its own copy of the handle), `Send` and `Unpin`; closing or dropping
    /// the handle does not end it. Cancel-safe: it observes and never
    /// consumes anything, so dropping it loses nothing and any number of
    /// tasks may await one process.
    ///
    /// ```
    /// use pidkit_pidhandle::{PidHandle, Signal, State};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// let mut child = Command::new("sleep").arg("100").spawn()?;
    /// // Restored from text, as after a restart of the supervisor.
    /// let handle: PidHandle = PidHandle::from_child(&child)?.to_string().parse()?;
    /// handle.kill(Signal::TERM)?;
    /// rt.block_on(handle.wait_exited_async())?;
    /// assert_ne!(handle.state()?, State::Running);
    /// child.wait()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The future gives [`Error::Closed`] for a closed handle; [`Error::Io`]
    /// naming the pid if the pidfd cannot be duplicated (out of descriptors)
    /// or registered with the reactor (no tokio runtime), or the reactor
    /// fails; in the fallback, the errors of [`PidHandle::state`].
    ///
    /// # Panics
    ///
    /// If polled in a tokio runtime without the I/O driver (with a pidfd) or
    /// the time driver (in the fallback), as tokio's own types do.
    pub fn wait_exited_async(&self) -> ExitedFuture {
        // The future's own copy of the handle (`try_clone`: a duplicate of
        // the pidfd, or in the fallback the identity alone).
        let how = match &self.pin {
            Pin::Fd(_) | Pin::Ticks => match self.try_clone() {
                Err(e) => How::Failed(Some(e)),
                Ok(own) if own.pidfd().is_none() => How::Proc {
                    handle: Box::new(own),
                    sleep: None,
                    naps: Backoff::new(NAP_MIN, NAP_MAX),
                },
                Ok(own) => How::Unregistered(own.into_pidfd().map(OwnedFd::from)),
            },
            Pin::Gone => How::Gone,
            Pin::Closed => How::Closed,
        };
        ExitedFuture {
            pid: self.pid(),
            how,
        }
    }
}

/// The future of [`PidHandle::wait_exited_async`]: ready once the process
/// has exited.
///
/// ```
/// use pidkit_pidhandle::{PidHandle, State};
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
/// let handle = PidHandle::from_child(&child)?;
/// let exited = handle.wait_exited_async();
/// child.kill()?;
/// rt.block_on(exited)?;
/// assert_eq!(handle.state()?, State::Exited);
/// # child.wait()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct ExitedFuture {
    pid: u32,
    how: How,
}

enum How {
    /// The future's own duplicate of the pidfd, until the first poll
    /// registers it with the reactor of the runtime that polls.
    Unregistered(Option<OwnedFd>),
    /// Registered.
    Registered(AsyncReadable),
    /// The duplicate could not be made: the error, given by the first poll.
    Failed(Option<Error>),
    Proc {
        /// Boxed: a handle carries its identity twice (up to a file handle each).
        handle: Box<PidHandle>,
        sleep: Option<Pinned<Box<::tokio::time::Sleep>>>,
        naps: Backoff,
    },
    Gone,
    Closed,
}

impl Future for ExitedFuture {
    type Output = Result<(), Error>;

    fn poll(self: Pinned<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        let pid = this.pid;
        match &mut this.how {
            How::Gone => Poll::Ready(Ok(())),
            How::Closed => Poll::Ready(Err(Error::Closed)),
            How::Failed(e) => Poll::Ready(Err(e.take().unwrap_or(Error::Closed))),
            How::Unregistered(own) => match own.take().map(AsyncReadable::from_fd) {
                Some(Ok(fd)) => {
                    this.how = How::Registered(fd);
                    Pinned::new(this).poll(cx)
                }
                Some(Err(e)) => Poll::Ready(Err(io_context(
                    format!("registering the pidfd of pid {pid} with tokio's reactor"),
                    e,
                ))),
                // Polled again after its registration failed.
                None => Poll::Ready(Err(Error::Closed)),
            },
            How::Registered(fd) => fd.poll_readable(cx).map_err(|e| {
                io_context(
                    format!("awaiting the pidfd of pid {pid} in tokio's reactor"),
                    e,
                )
            }),
            How::Proc {
                handle,
                sleep,
                naps,
            } => loop {
                if let Some(s) = sleep {
                    if s.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    *sleep = None;
                }
                if handle.state()? != State::Running {
                    return Poll::Ready(Ok(()));
                }
                *sleep = Some(Box::pin(::tokio::time::sleep(naps.next_pause())));
            },
        }
    }
}

impl fmt::Debug for ExitedFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match &self.how {
            How::Unregistered(_) | How::Registered(_) => "pidfd",
            How::Failed(_) => "failed",
            How::Proc { .. } => "proc",
            How::Gone => "gone",
            How::Closed => "closed",
        };
        f.debug_struct("ExitedFuture")
            .field("pid", &self.pid)
            .field("via", &how)
            .finish()
    }
}
