//! [`PidfdInfo`], what `PIDFD_GET_INFO` (or `/proc/self/fdinfo`) tells
//! about a process, and the size-aware decoding of the kernel's answer; the
//! call itself is [`PidFd::info`](crate::PidFd::info), in `get_info.rs`.

use std::process::ExitStatus;

use crate::Signal;
use crate::sys::{
    PIDFD_INFO_CGROUPID, PIDFD_INFO_COREDUMP, PIDFD_INFO_COREDUMP_CODE, PIDFD_INFO_COREDUMP_SIGNAL,
    PIDFD_INFO_CREDS, PIDFD_INFO_EXIT, PIDFD_INFO_PID, PIDFD_INFO_SIZE_VER0,
    PIDFD_INFO_SUPPORTED_MASK,
};

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

/// Which published `struct pidfd_info` the kernel filled in, as far as the
/// answer shows it. Only `supported_mask` moved between layouts (offset 72
/// in VER2, 80 in VER3); every other field keeps its offset and is valid
/// exactly when its mask bit is set and it lies within the bytes we passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// No `supported_mask` in the answer: VER0 (6.13-6.15) or VER1 (6.16-6.18),
    /// or a later kernel whose mask did not fit in what we passed.
    Unknown,
    /// VER2 (80 bytes): `coredump_mask`, `coredump_signal`, `supported_mask` at 72.
    Ver2,
    /// VER3 (88 bytes) or later: `coredump_code` at 72, `supported_mask` at 80.
    Ver3,
}

/// `struct pidfd_info` decoded: each field `Some` only when the kernel set
/// its mask bit and the field lies within the bytes it filled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RawInfo {
    pub(crate) mask: u64,
    pub(crate) cgroupid: Option<u64>,
    pub(crate) pid: Option<u32>,
    pub(crate) tgid: Option<u32>,
    pub(crate) ppid: Option<u32>,
    pub(crate) ruid: Option<u32>,
    pub(crate) euid: Option<u32>,
    pub(crate) exit_code: Option<i32>,
    pub(crate) coredump_mask: Option<u32>,
    pub(crate) coredump_signal: Option<u32>,
    pub(crate) coredump_code: Option<u32>,
    pub(crate) supported_mask: Option<u64>,
}

fn u32_at(buf: &[u8], off: usize) -> Option<u32> {
    let b = buf.get(off..off + 4)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

fn u64_at(buf: &[u8], off: usize) -> Option<u64> {
    let b = buf.get(off..off + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_ne_bytes(a))
}

/// Decodes what `PIDFD_GET_INFO` left in `buf`, whose length is the size
/// encoded in the request (the kernel copies `min(its size, ours)` bytes
/// and zeroes the rest of ours).
///
/// The kernel does not say which layout it used, and `supported_mask` moved
/// between VER2 and VER3, so its place is found from the answer itself:
/// a kernel that fills it always sets `PIDFD_INFO_SUPPORTED_MASK` in it.
/// - 88 bytes or more passed: a nonzero word at 80 is VER3's mask; a zero
///   word there is the zero-filled tail of a VER2 kernel, whose mask is at 72.
/// - 80 bytes passed: a VER3 kernel puts `coredump_code` and padding at 72,
///   which is zero unless `PIDFD_INFO_COREDUMP_CODE` is set (a bit VER2
///   kernels never set); only a VER2 kernel leaves a word with
///   `PIDFD_INFO_SUPPORTED_MASK` set there.
///
/// An answer that fits none of the published layouts is an error, not a guess.
pub(crate) fn decode_info(buf: &[u8]) -> Result<(RawInfo, Layout), String> {
    let len = buf.len();
    if len < PIDFD_INFO_SIZE_VER0 {
        return Err(format!(
            "pidfd_info of {len} bytes is shorter than the first layout ({PIDFD_INFO_SIZE_VER0})"
        ));
    }
    let mask = u64_at(buf, 0).unwrap_or(0);
    let has = |bit: u64| mask & bit != 0;
    let mut raw = RawInfo {
        mask,
        ..RawInfo::default()
    };
    if has(PIDFD_INFO_PID) {
        raw.pid = u32_at(buf, 16);
        raw.tgid = u32_at(buf, 20);
        raw.ppid = u32_at(buf, 24);
    }
    if has(PIDFD_INFO_CREDS) {
        raw.ruid = u32_at(buf, 28);
        raw.euid = u32_at(buf, 36);
    }
    if has(PIDFD_INFO_CGROUPID) {
        raw.cgroupid = u64_at(buf, 8);
    }
    if has(PIDFD_INFO_EXIT) {
        raw.exit_code = u32_at(buf, 60).map(|v| v as i32);
    }
    if has(PIDFD_INFO_COREDUMP) {
        raw.coredump_mask = u32_at(buf, 64);
    }
    if has(PIDFD_INFO_COREDUMP_SIGNAL) {
        raw.coredump_signal = u32_at(buf, 68);
    }
    if has(PIDFD_INFO_COREDUMP_CODE) {
        raw.coredump_code = u32_at(buf, 72);
    }
    let mut layout = Layout::Unknown;
    if has(PIDFD_INFO_SUPPORTED_MASK) {
        let at72 = u64_at(buf, 72);
        let at80 = u64_at(buf, 80);
        match (at72, at80) {
            (_, Some(m80)) if m80 != 0 => {
                if m80 & PIDFD_INFO_SUPPORTED_MASK == 0 {
                    return Err(format!(
                        "pidfd_info mask {mask:#x}: supported_mask {m80:#x} at offset 80 lacks PIDFD_INFO_SUPPORTED_MASK"
                    ));
                }
                raw.supported_mask = Some(m80);
                layout = Layout::Ver3;
            }
            (Some(m72), _)
                if m72 & PIDFD_INFO_SUPPORTED_MASK != 0
                    && !has(PIDFD_INFO_COREDUMP_CODE)
                    && m72 & PIDFD_INFO_COREDUMP_CODE == 0 =>
            {
                raw.supported_mask = Some(m72);
                layout = Layout::Ver2;
            }
            // 80 bytes from a VER3 kernel: its mask did not fit.
            (Some(m72), None) if m72 == 0 || has(PIDFD_INFO_COREDUMP_CODE) => {
                layout = Layout::Ver3;
            }
            // Passed fewer than 80 bytes: the mask did not fit.
            (None, None) => {}
            (m72, m80) => {
                return Err(format!(
                    "pidfd_info mask {mask:#x} claims a supported mask, but neither offset 72 ({m72:#x?}) nor 80 ({m80:#x?}) holds one"
                ));
            }
        }
    }
    Ok((raw, layout))
}

impl RawInfo {
    /// The public view; `exit_wanted` says whether `PIDFD_INFO_EXIT` was asked
    /// for (an answer is only trusted for what was asked).
    pub(crate) fn to_info(self, exit_wanted: bool, coredump_wanted: bool) -> PidfdInfo {
        let nonzero = |v: Option<u32>| v.filter(|v| *v != 0);
        PidfdInfo {
            pid: nonzero(self.pid),
            tgid: nonzero(self.tgid),
            ppid: self.ppid,
            ruid: self.ruid,
            euid: self.euid,
            cgroup_id: self.cgroupid,
            exit_status: if exit_wanted {
                use std::os::unix::process::ExitStatusExt;
                self.exit_code.map(ExitStatus::from_raw)
            } else {
                None
            },
            coredump: if coredump_wanted {
                self.coredump_mask.map(|mask| CoreDump {
                    mask,
                    signal: self
                        .coredump_signal
                        .filter(|s| *s != 0)
                        .and_then(|s| Signal::from_raw(s as i32)),
                    code: self.coredump_code.map(|c| c as i32),
                })
            } else {
                None
            },
            source: InfoSource::Ioctl,
        }
    }
}

/// What `/proc/self/fdinfo/<fd>` says about a pidfd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FdInfoPid {
    /// `Pid:` as printed: positive, `0` (not in our namespace) or `-1` (exited).
    pub(crate) pid: i64,
    /// `NSpid:`, the PID in each namespace from ours down, when present.
    pub(crate) ns_pids: Vec<i64>,
}

/// Parses the text of `/proc/self/fdinfo/<fd>` for a pidfd. Returns `None`
/// when there is no well-formed `Pid:` line (the fd is not a pidfd).
pub(crate) fn parse_fdinfo(text: &str) -> Option<FdInfoPid> {
    let mut pid = None;
    let mut ns_pids = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Pid:") {
            pid = Some(rest.trim().parse::<i64>().ok()?);
        } else if let Some(rest) = line.strip_prefix("NSpid:") {
            ns_pids = rest
                .split_whitespace()
                .map(|v| v.parse::<i64>())
                .collect::<Result<_, _>>()
                .ok()?;
        }
    }
    let pid = pid?;
    if pid < -1 || pid > i64::from(i32::MAX) {
        return None;
    }
    Some(FdInfoPid { pid, ns_pids })
}

#[cfg(test)]
#[path = "info_tests.rs"]
mod tests;
