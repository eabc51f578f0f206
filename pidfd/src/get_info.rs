//! [`PidFd::info`] and [`PidFd::pid`]: `PIDFD_GET_INFO` (6.13+), with the
//! `/proc/self/fdinfo` fallback.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

use rustix::io::Errno;

use crate::info::{self, RawInfo};
use crate::pidfd::gone;
use crate::{InfoSource, PidFd, PidfdInfo, probe, sys};

impl PidFd {
    /// What the kernel says about the process: `PIDFD_GET_INFO` (6.13+),
    /// including its exit status once reaped where the kernel has
    /// `PIDFD_INFO_EXIT` (6.15+) and its core-dump record where it has
    /// `PIDFD_INFO_COREDUMP` (6.16+); otherwise only the PID, from
    /// `/proc/self/fdinfo/<fd>`.
    ///
    /// The answer is decoded by the size the kernel filled in, whichever of
    /// the published `struct pidfd_info` layouts it uses (see the crate docs).
    ///
    /// A process that was reaped on a kernel without exit info gives
    /// [`io::ErrorKind::NotFound`].
    ///
    /// ```
    /// use pidkit_pidfd::PidFd;
    ///
    /// let me = PidFd::open(std::process::id())?;
    /// let info = me.info()?;
    /// assert_eq!(info.pid, Some(std::process::id()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn info(&self) -> io::Result<PidfdInfo> {
        use sys::{
            PIDFD_INFO_CGROUPID, PIDFD_INFO_COREDUMP, PIDFD_INFO_CREDS, PIDFD_INFO_EXIT,
            PIDFD_INFO_PID,
        };
        let support = probe();
        if support.get_info {
            let mut want = PIDFD_INFO_PID | PIDFD_INFO_CREDS | PIDFD_INFO_CGROUPID;
            if support.info_exit {
                want |= PIDFD_INFO_EXIT;
            }
            if support.info_coredump {
                want |= PIDFD_INFO_COREDUMP;
            }
            if let Some(raw) = self.ask_info(want, support.info_exit)? {
                return Ok(raw.to_info(support.info_exit, support.info_coredump));
            }
        }
        self.info_from_fdinfo()
    }

    /// The process's PID in this PID namespace (`None` when it has none
    /// here), asked for alone: one `PIDFD_GET_INFO` with only
    /// `PIDFD_INFO_PID` (6.13+), else `/proc/self/fdinfo/<fd>`. A process
    /// that has been reaped is [`io::ErrorKind::NotFound`].
    ///
    /// ```
    /// let child = std::process::Command::new("true").spawn()?;
    /// let fd = pidkit_pidfd::PidFd::open(child.id())?;
    /// assert_eq!(fd.pid()?, Some(child.id()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pid(&self) -> io::Result<Option<u32>> {
        if probe().get_info {
            if let Some(raw) = self.ask_info(sys::PIDFD_INFO_PID, false)? {
                return Ok(raw.pid);
            }
        }
        self.info_from_fdinfo().map(|i| i.pid)
    }

    /// One `PIDFD_GET_INFO` for the fields in `want`, decoded by layout;
    /// `Ok(None)` when the kernel refuses the request itself (the caller
    /// then reads fdinfo). With `retry_reaped`, an `ESRCH` is asked once
    /// more: a process being reaped while we ask gives `ESRCH` although its
    /// exit status is stored (the kernel reads the status before it looks
    /// for the task); asked again, the task is gone and the answer carries
    /// the status.
    fn ask_info(&self, want: u64, retry_reaped: bool) -> io::Result<Option<RawInfo>> {
        let srch = |r: &io::Result<_>| matches!(r, Err(e) if e.raw_os_error() == Some(libc::ESRCH));
        let mut answer = sys::pidfd_get_info(self.as_fd(), want);
        if retry_reaped && srch(&answer) {
            answer = sys::pidfd_get_info(self.as_fd(), want);
        }
        match answer {
            Ok((buf, len)) => info::decode_info(&buf.0[..len])
                .map(|(raw, _)| Some(raw))
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Err(gone(None, Errno::SRCH)),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOTTY | libc::EINVAL | libc::ENOSYS | libc::EPERM)
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn info_from_fdinfo(&self) -> io::Result<PidfdInfo> {
        let path = format!("/proc/self/fdinfo/{}", self.as_raw_fd());
        let text = std::fs::read_to_string(&path)?;
        let parsed = info::parse_fdinfo(&text).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{path}: no pidfd Pid: line"),
            )
        })?;
        if parsed.pid == -1 {
            return Err(gone(None, Errno::SRCH));
        }
        let pid = u32::try_from(parsed.pid).ok().filter(|p| *p > 0);
        Ok(PidfdInfo {
            pid,
            source: InfoSource::FdInfo,
            ..PidfdInfo::default()
        })
    }
}
