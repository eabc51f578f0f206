//! Waiting through a [`PidFd`]: `waitid(P_PIDFD)` for our children, `poll`
//! for any process.

use std::io;
use std::os::fd::AsFd;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::process::{WaitId, WaitIdOptions};
use rustix::time::Timespec;

use crate::PidFd;
use crate::pidfd::exit_status_from;

impl PidFd {
    fn waitid(&self, options: WaitIdOptions) -> io::Result<Option<ExitStatus>> {
        loop {
            match rustix::process::waitid(WaitId::PidFd(self.as_fd()), options) {
                Ok(Some(st)) if st.raw_signo() == 0 => return Ok(None),
                Ok(Some(st)) => return exit_status_from(&st).map(Some),
                Ok(None) => return Ok(None),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Waits for the child to exit and reaps it (`waitid(P_PIDFD, WEXITED)`),
    /// retrying on `EINTR`.
    ///
    /// Only a child of the calling process can be waited for; anything else
    /// fails at once with `ECHILD` (never hangs). A child that was already
    /// reaped also gives `ECHILD`. On a [`OpenFlags::NONBLOCK`](crate::OpenFlags::NONBLOCK) pidfd a
    /// running child gives [`io::ErrorKind::WouldBlock`].
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    ///
    /// let child = std::process::Command::new("sh").args(["-c", "exit 3"]).spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// assert_eq!(fd.wait()?.code(), Some(3));
    /// // Reaped: a second wait has nothing to reap.
    /// assert!(fd.wait().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(&self) -> io::Result<ExitStatus> {
        self.waitid(WaitIdOptions::EXITED)?
            .ok_or_else(|| io::Error::from(io::ErrorKind::WouldBlock))
    }

    /// Reaps the child if it has exited (`WNOHANG`); `Ok(None)` while it runs.
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// assert_eq!(fd.try_wait()?, None);
    /// child.kill()?;
    /// fd.wait_exited()?;
    /// assert!(fd.try_wait()?.is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        self.waitid(WaitIdOptions::EXITED | WaitIdOptions::NOHANG)
    }

    /// The child's exit status if it has exited, *without* reaping it
    /// (`WNOHANG | WNOWAIT`): the child stays a zombie and can still be
    /// waited for.
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    ///
    /// let child = std::process::Command::new("sh").args(["-c", "exit 7"]).spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// fd.wait_exited()?;
    /// assert_eq!(fd.peek_exit()?.and_then(|s| s.code()), Some(7));
    /// // Not reaped: wait still gets the status.
    /// assert_eq!(fd.wait()?.code(), Some(7));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek_exit(&self) -> io::Result<Option<ExitStatus>> {
        self.waitid(WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT)
    }

    /// Whether the process has exited (the pidfd polls readable). Does not
    /// reap; works for non-children too.
    ///
    /// One `poll` with a zero timeout: cheap enough to call before every
    /// decision (the higher crates' `state()` does).
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// assert!(!fd.has_exited()?);
    /// child.kill()?;
    /// child.wait()?;
    /// assert!(fd.has_exited()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn has_exited(&self) -> io::Result<bool> {
        self.poll_once(Some(&Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        }))
    }

    /// Blocks until the process exits. Does not reap; works for non-children.
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// child.kill()?;
    /// fd.wait_exited()?;
    /// assert!(fd.has_exited()?);
    /// # child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_exited(&self) -> io::Result<()> {
        self.poll_readable(None).map(drop)
    }

    /// [`PidFd::wait_exited`] for at most `timeout`; returns whether the
    /// process exited.
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    /// use std::time::Duration;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// assert!(!fd.wait_exited_timeout(Duration::ZERO)?);
    /// child.kill()?;
    /// assert!(fd.wait_exited_timeout(Duration::from_secs(600))?);
    /// # child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_exited_timeout(&self, timeout: Duration) -> io::Result<bool> {
        self.poll_readable(Some(timeout))
    }

    fn poll_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            // A timeout too long for the clock or for a timespec is no limit.
            let left = deadline
                .and_then(|d| Timespec::try_from(d.saturating_duration_since(Instant::now())).ok());
            match self.poll_once(left.as_ref()) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// One `poll` of the pidfd for readability, for at most `timeout`
    /// (`None`: no limit); `EINTR` is `ErrorKind::Interrupted`.
    #[inline]
    fn poll_once(&self, timeout: Option<&Timespec>) -> io::Result<bool> {
        let mut fds = [PollFd::new(self, PollFlags::IN)];
        loop {
            match rustix::event::poll(&mut fds, timeout) {
                Ok(0) => return Ok(false),
                Ok(_) => {
                    let rev = fds[0].revents();
                    if rev.intersects(PollFlags::NVAL) {
                        return Err(Errno::BADF.into());
                    }
                    return Ok(rev.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR));
                }
                // A zero timeout cannot be cut short: ask again.
                Err(Errno::INTR) if timeout.is_some_and(|t| t.tv_sec == 0 && t.tv_nsec == 0) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}
