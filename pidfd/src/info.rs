//! [`PidfdInfo`] and [`PidFd::info`]: `PIDFD_GET_INFO`, with the
//! `/proc/self/fdinfo` fallback. The layouts are decoded in `decode.rs`.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::process::ExitStatus;

use rustix::io::Errno;

use crate::decode::{self, RawInfo};
use crate::pidfd::gone;
use crate::{PidFd, Signal, probe, sys};

/// What the kernel tells about the process behind a pidfd.
///
/// Filled by the `PIDFD_GET_INFO` ioctl (Linux 6.13+); on older kernels only
/// `pid` is known, read from `/proc/self/fdinfo/<fd>`. Every field is an
/// `Option` because each kernel reports a different subset.
///
/// ```
/// # if !pidkit_pidfd::probe().get_info { return Ok(()); }
/// use pidkit_pidfd::{InfoSource, PidFd};
///
/// let info = PidFd::open(std::process::id())?.info()?;
/// assert_eq!(info.pid, Some(std::process::id()));
/// assert_eq!(info.source, InfoSource::Ioctl); // Linux 6.13+
/// assert_eq!(info.exit_status, None); // we are running
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PidfdInfo {
    /// The PID in the caller's PID namespace. `None` once the process has been
    /// reaped, or when it is not visible in the caller's namespace.
    pub pid: Option<u32>,
    /// The thread-group id (the process id a `ps` would show).
    pub tgid: Option<u32>,
    /// The parent's PID.
    pub ppid: Option<u32>,
    /// Real user id.
    pub ruid: Option<u32>,
    /// Effective user id.
    pub euid: Option<u32>,
    /// The cgroup v2 id of the process's cgroup.
    pub cgroup_id: Option<u64>,
    /// The exit status, once the process has exited and been reaped by its
    /// parent (`PIDFD_INFO_EXIT`, Linux 6.15+). Available to any holder of the
    /// pidfd, not only the parent. It is the wait status the parent got,
    /// core-dump flag included ([`std::os::unix::process::ExitStatusExt::core_dumped`]).
    pub exit_status: Option<ExitStatus>,
    /// What the kernel recorded about a core dump (`PIDFD_INFO_COREDUMP`,
    /// Linux 6.16+); `None` where the kernel does not report it. See
    /// [`CoreDump`] for what the record does and does not say.
    pub coredump: Option<CoreDump>,
    /// Where the information came from.
    pub source: InfoSource,
}

/// The kernel's core-dump record of a process (`PIDFD_INFO_COREDUMP`,
/// Linux 6.16+), as `PIDFD_GET_INFO` returns it.
///
/// The record is filled in when a core dump goes to a coredump *socket*
/// (`core_pattern` `@...`); otherwise, for a live process, it says whether
/// the process may be dumped at all (`USER`, `ROOT`, `SKIP`). Measured on
/// Linux 6.18 with `core_pattern` `core` (a file in the cwd): a process that
/// wrote a core file has a record with no bits set, and the fact that it
/// dumped core is in its exit status (`PidfdInfo::exit_status`, the
/// `0x80` flag). So an empty record means "the kernel does not say", never
/// "no core was dumped".
///
/// ```
/// # if !pidkit_pidfd::probe().info_coredump { return Ok(()); }
/// use pidkit_pidfd::PidFd;
///
/// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
/// let info = PidFd::from_child(&child)?.info()?;
/// // Linux 6.16+: a live process's record says how it would be dumped.
/// let record = info.coredump.expect("PIDFD_INFO_COREDUMP");
/// assert!(!record.dumped());
/// # child.kill()?;
/// # child.wait()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CoreDump {
    /// The raw `coredump_mask` (`PIDFD_COREDUMP*` bits).
    pub mask: u32,
    /// The signal that caused the dump (`PIDFD_INFO_COREDUMP_SIGNAL`); `None`
    /// where the kernel does not report it or no dump took place.
    pub signal: Option<Signal>,
    /// The `si_code` of that signal (`PIDFD_INFO_COREDUMP_CODE`), where reported.
    pub code: Option<i32>,
}

impl CoreDump {
    /// `PIDFD_COREDUMPED`: the process crashed and was dumped.
    ///
    /// ```
    /// # if !pidkit_pidfd::probe().info_coredump { return Ok(()); }
    /// use pidkit_pidfd::CoreDump;
    ///
    /// assert_eq!(CoreDump::DUMPED, 1);
    /// # let info = pidkit_pidfd::PidFd::open(std::process::id())?.info()?;
    /// # let record = info.coredump.expect("PIDFD_INFO_COREDUMP");
    /// assert_eq!(record.mask & CoreDump::DUMPED != 0, record.dumped());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const DUMPED: u32 = 1 << 0;
    /// `PIDFD_COREDUMP_SKIP`: dumping was skipped (the process was not dumpable).
    ///
    /// ```
    /// # if !pidkit_pidfd::probe().info_coredump { return Ok(()); }
    /// use pidkit_pidfd::CoreDump;
    ///
    /// assert_eq!(CoreDump::SKIP, 2);
    /// # let info = pidkit_pidfd::PidFd::open(std::process::id())?.info()?;
    /// # let record = info.coredump.expect("PIDFD_INFO_COREDUMP");
    /// assert_eq!(record.mask & CoreDump::SKIP != 0, record.skipped());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const SKIP: u32 = 1 << 1;
    /// `PIDFD_COREDUMP_USER`: the dump is (or would be) made as the user.
    ///
    /// ```
    /// use pidkit_pidfd::CoreDump;
    ///
    /// assert_eq!(CoreDump::USER, 4);
    /// assert_eq!(CoreDump::USER & (CoreDump::DUMPED | CoreDump::SKIP | CoreDump::ROOT), 0);
    /// ```
    pub const USER: u32 = 1 << 2;
    /// `PIDFD_COREDUMP_ROOT`: the dump is (or would be) made as root and is sensitive.
    ///
    /// ```
    /// use pidkit_pidfd::CoreDump;
    ///
    /// assert_eq!(CoreDump::ROOT, 8);
    /// assert_eq!(CoreDump::ROOT & (CoreDump::DUMPED | CoreDump::SKIP | CoreDump::USER), 0);
    /// ```
    pub const ROOT: u32 = 1 << 3;

    /// Whether the kernel says a core dump was taken (`PIDFD_COREDUMPED`).
    ///
    /// ```
    /// # if !pidkit_pidfd::probe().info_coredump { return Ok(()); }
    /// use pidkit_pidfd::PidFd;
    ///
    /// let info = PidFd::open(std::process::id())?.info()?;
    /// // We are alive: no dump was taken.
    /// assert!(!info.coredump.expect("PIDFD_INFO_COREDUMP").dumped());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dumped(&self) -> bool {
        self.mask & Self::DUMPED != 0
    }

    /// Whether the kernel says the dump was skipped (`PIDFD_COREDUMP_SKIP`).
    ///
    /// ```
    /// # if !pidkit_pidfd::probe().info_coredump { return Ok(()); }
    /// use pidkit_pidfd::{CoreDump, PidFd};
    ///
    /// let info = PidFd::open(std::process::id())?.info()?;
    /// let record = info.coredump.expect("PIDFD_INFO_COREDUMP");
    /// assert_eq!(record.skipped(), record.mask & CoreDump::SKIP != 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn skipped(&self) -> bool {
        self.mask & Self::SKIP != 0
    }
}

/// Where a [`PidfdInfo`] came from.
///
/// ```
/// # if !pidkit_pidfd::probe().get_info { return Ok(()); }
/// use pidkit_pidfd::{InfoSource, PidFd};
///
/// assert_eq!(InfoSource::default(), InfoSource::Ioctl);
/// let info = PidFd::open(std::process::id())?.info()?;
/// assert_eq!(info.source, InfoSource::Ioctl); // PIDFD_GET_INFO, Linux 6.13+
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum InfoSource {
    /// The `PIDFD_GET_INFO` ioctl.
    #[default]
    Ioctl,
    /// `/proc/self/fdinfo/<fd>` (kernels before 6.13, or the ioctl refused).
    FdInfo,
}

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
            Ok((buf, len)) => decode::decode_info(&buf.0[..len])
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
        let parsed = decode::parse_fdinfo(&text).ok_or_else(|| {
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
