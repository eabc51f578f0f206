//! [`AsyncReadable`]: a pidfd (or another fd) registered with tokio's
//! reactor, to await its readability without a thread. Feature `tokio`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::task::{Context, Poll};

use ::tokio::io::unix::AsyncFd;

use crate::PidFd;
use crate::sys::Held;

/// A file descriptor registered with the reactor of the tokio runtime it was
/// made in, for awaiting that it becomes readable: a pidfd is readable once
/// its process has exited (and stays so); the read end of a pipe once there
/// is data or end-of-file.
///
/// No thread waits: the runtime's epoll instance watches the descriptor and
/// wakes the task. Made with [`AsyncReadable::new`] (a shared pidfd, the
/// usual case) or [`AsyncReadable::from_fd`] (an fd it owns). Dropping it
/// removes the descriptor from the reactor before the descriptor can be
/// closed.
///
/// Readiness is only a hint about the descriptor; `AsyncReadable` never
/// reads from it, never reaps, and once readable it stays ready (a pidfd and
/// a pipe at end-of-file do not become unreadable again).
///
/// ```
/// use pidkit_pidfd::{AsyncReadable, PidFd};
/// use std::process::Command;
/// use std::sync::Arc;
///
/// # fn main() -> std::io::Result<()> {
/// let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
/// let child = Command::new("sh").args(["-c", "exit 3"]).spawn()?;
/// let pidfd = Arc::new(PidFd::from_child(&child)?);
/// let status = rt.block_on(async {
///     AsyncReadable::new(Arc::clone(&pidfd))?.readable().await?;
///     pidfd.wait() // exited: returns at once
/// })?;
/// assert_eq!(status.code(), Some(3));
/// # Ok(())
/// # }
/// ```
pub struct AsyncReadable {
    fd: AsyncFd<Held>,
}

impl AsyncReadable {
    /// Registers `pidfd` with the current tokio runtime's reactor.
    ///
    /// Shares the descriptor (the `Arc` keeps it open). If that descriptor is
    /// already registered with this runtime's reactor (another
    /// `AsyncReadable` of the same `Arc` is alive), a duplicate
    /// (`F_DUPFD_CLOEXEC`) is registered instead, so any number of tasks may
    /// await one pidfd.
    ///
    /// # Errors
    ///
    /// Outside a tokio runtime: [`io::ErrorKind::Other`] saying so. The
    /// reactor's or the duplication's errors (`EMFILE`, `ENOMEM`, `ENOSPC`
    /// from the epoll watch limit) as they come.
    ///
    /// # Panics
    ///
    /// Like tokio's own I/O types, in a runtime built without its I/O driver
    /// (`enable_io`, or `enable_all`, which `#[tokio::main]` uses).
    ///
    /// ```
    /// use pidkit_pidfd::{AsyncReadable, PidFd};
    /// use std::sync::Arc;
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let pidfd = Arc::new(PidFd::from_child(&child)?);
    /// child.kill()?;
    /// rt.block_on(async { AsyncReadable::new(Arc::clone(&pidfd))?.readable().await })?;
    /// assert!(pidfd.wait().is_ok());
    /// // Outside a runtime: an error, not a panic.
    /// assert!(AsyncReadable::new(pidfd).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(pidfd: Arc<PidFd>) -> io::Result<AsyncReadable> {
        in_runtime()?;
        match crate::sys::register_readable(Held::Pidfd(pidfd)) {
            Ok(fd) => Ok(AsyncReadable { fd }),
            Err((Held::Pidfd(shared), e)) if e.raw_os_error() == Some(libc::EEXIST) => {
                let own = shared.try_clone()?;
                AsyncReadable::register(Held::Pidfd(Arc::new(own)))
            }
            Err((_, e)) => Err(e),
        }
    }

    /// Registers `fd`, which it owns from now on (and closes when dropped),
    /// with the current tokio runtime's reactor. For descriptors other than
    /// pidfds, such as the read end of a pipe.
    ///
    /// # Errors
    ///
    /// As [`AsyncReadable::new`]; a descriptor epoll cannot watch (a regular
    /// file) is `EPERM`.
    ///
    /// # Panics
    ///
    /// As [`AsyncReadable::new`].
    ///
    /// ```
    /// use pidkit_pidfd::AsyncReadable;
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// let (mut tx, rx) = UnixStream::pair()?;
    /// rx.set_nonblocking(true)?;
    /// tx.write_all(b"x")?;
    /// rt.block_on(async { AsyncReadable::from_fd(rx.into())?.readable().await })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_fd(fd: OwnedFd) -> io::Result<AsyncReadable> {
        in_runtime()?;
        AsyncReadable::register(Held::Fd(fd))
    }

    fn register(held: Held) -> io::Result<AsyncReadable> {
        crate::sys::register_readable(held)
            .map(|fd| AsyncReadable { fd })
            .map_err(|(_, e)| e)
    }

    /// Polls for readability: `Ready(Ok(()))` once the descriptor is
    /// readable; otherwise registers `cx`'s waker (the latest one given
    /// replaces the previous) and returns `Pending`.
    ///
    /// # Errors
    ///
    /// The reactor's, for example when its runtime has shut down.
    ///
    /// ```
    /// use pidkit_pidfd::{AsyncReadable, PidFd};
    /// use std::future::poll_fn;
    /// use std::sync::Arc;
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let pidfd = Arc::new(PidFd::from_child(&child)?);
    /// rt.block_on(async {
    ///     let watch = AsyncReadable::new(Arc::clone(&pidfd))?;
    ///     // Running: one poll leaves the task pending.
    ///     assert!(poll_fn(|cx| std::task::Poll::Ready(watch.poll_readable(cx).is_pending())).await);
    ///     child.kill()?;
    ///     poll_fn(|cx| watch.poll_readable(cx)).await
    /// })?;
    /// # child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.fd.poll_read_ready(cx).map_ok(|_guard| ())
    }

    /// Waits until the descriptor is readable. Cancel-safe: dropping the
    /// future loses nothing, the descriptor stays registered.
    ///
    /// # Errors
    ///
    /// As [`AsyncReadable::poll_readable`].
    ///
    /// ```
    /// use pidkit_pidfd::{AsyncReadable, PidFd};
    /// use std::sync::Arc;
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// let mut child = std::process::Command::new("sh").args(["-c", "exit 3"]).spawn()?;
    /// let pidfd = Arc::new(PidFd::from_child(&child)?);
    /// rt.block_on(async { AsyncReadable::new(Arc::clone(&pidfd))?.readable().await })?;
    /// // Readable: the child has exited, and reaping it does not block.
    /// assert_eq!(child.wait()?.code(), Some(3));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_readable(cx)).await
    }
}

impl AsFd for AsyncReadable {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self.fd.get_ref() {
            Held::Pidfd(fd) => fd.as_fd(),
            Held::Fd(fd) => fd.as_fd(),
        }
    }
}

impl fmt::Debug for AsyncReadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncReadable")
            .field("fd", &self.as_fd().as_raw_fd())
            .finish()
    }
}

/// An error rather than tokio's panic when there is no runtime at all.
fn in_runtime() -> io::Result<()> {
    ::tokio::runtime::Handle::try_current()
        .map(drop)
        .map_err(|e| io::Error::other(format!("awaiting a descriptor needs a tokio runtime: {e}")))
}
