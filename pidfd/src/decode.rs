//! The size-aware decoder of `struct pidfd_info` and the parser of the
//! `Pid:` line of `/proc/self/fdinfo/<fd>`.

use std::process::ExitStatus;

use crate::Signal;
use crate::info::{CoreDump, InfoSource, PidfdInfo};
use crate::sys::{
    PIDFD_INFO_CGROUPID, PIDFD_INFO_COREDUMP, PIDFD_INFO_COREDUMP_CODE, PIDFD_INFO_COREDUMP_SIGNAL,
    PIDFD_INFO_CREDS, PIDFD_INFO_EXIT, PIDFD_INFO_PID, PIDFD_INFO_SIZE_VER0,
    PIDFD_INFO_SUPPORTED_MASK,
};

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
#[path = "decode_tests.rs"]
mod tests;
