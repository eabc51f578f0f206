//! [`PidfdInfo`], the size-aware decoder of `struct pidfd_info`, and the
//! `/proc/self/fdinfo` fallback parser.

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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
mod tests {
    use super::*;
    use crate::sys::{PIDFD_INFO_SIZE_VER1, PIDFD_INFO_SIZE_VER2, PIDFD_INFO_SIZE_VER3};
    use proptest::prelude::*;

    /// The `struct pidfd_info` layouts the kernel headers have published, as
    /// a kernel of each generation fills them in. Offsets are from the
    /// headers: VER0 from the 6.13 and 6.15 `include/uapi/linux/pidfd.h`
    /// (`exit_code` at 60 was `__spare0` before 6.15), VER1 from 6.16
    /// (`coredump_mask`, `__spare1`), VER2 from the first kernels with
    /// `PIDFD_INFO_SUPPORTED_MASK` (`coredump_signal`, `supported_mask` at
    /// 72) and VER3 from Debian sid's `linux-libc-dev` 7.2.13
    /// (`coredump_code`, `coredump_pad`, `supported_mask` at 80).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Kernel {
        Ver0Spare,
        Ver0Exit,
        Ver1,
        Ver2,
        Ver3,
    }

    const KERNELS: [Kernel; 5] = [
        Kernel::Ver0Spare,
        Kernel::Ver0Exit,
        Kernel::Ver1,
        Kernel::Ver2,
        Kernel::Ver3,
    ];

    /// Every size a request can carry: the published ones, and a future
    /// larger one.
    const SIZES: [usize; 5] = [
        PIDFD_INFO_SIZE_VER0,
        PIDFD_INFO_SIZE_VER1,
        PIDFD_INFO_SIZE_VER2,
        PIDFD_INFO_SIZE_VER3,
        96,
    ];

    impl Kernel {
        fn size(self) -> usize {
            match self {
                Kernel::Ver0Spare | Kernel::Ver0Exit => PIDFD_INFO_SIZE_VER0,
                Kernel::Ver1 => PIDFD_INFO_SIZE_VER1,
                Kernel::Ver2 => PIDFD_INFO_SIZE_VER2,
                Kernel::Ver3 => PIDFD_INFO_SIZE_VER3,
            }
        }

        /// The mask bits this kernel knows (its `PIDFD_INFO_SUPPORTED`).
        fn known(self) -> u64 {
            let base = PIDFD_INFO_PID | PIDFD_INFO_CREDS | PIDFD_INFO_CGROUPID;
            match self {
                Kernel::Ver0Spare => base,
                Kernel::Ver0Exit => base | PIDFD_INFO_EXIT,
                Kernel::Ver1 => base | PIDFD_INFO_EXIT | PIDFD_INFO_COREDUMP,
                Kernel::Ver2 => {
                    base | PIDFD_INFO_EXIT
                        | PIDFD_INFO_COREDUMP
                        | PIDFD_INFO_SUPPORTED_MASK
                        | PIDFD_INFO_COREDUMP_SIGNAL
                }
                Kernel::Ver3 => {
                    base | PIDFD_INFO_EXIT
                        | PIDFD_INFO_COREDUMP
                        | PIDFD_INFO_SUPPORTED_MASK
                        | PIDFD_INFO_COREDUMP_SIGNAL
                        | PIDFD_INFO_COREDUMP_CODE
                }
            }
        }

        /// Where this kernel keeps the field of `bit` (offset of a 4- or
        /// 8-byte field), if it has it.
        fn offset(self, bit: u64) -> Option<(usize, usize)> {
            if self.known() & bit == 0 {
                return None;
            }
            Some(match bit {
                PIDFD_INFO_EXIT => (60, 4),
                PIDFD_INFO_COREDUMP => (64, 4),
                PIDFD_INFO_COREDUMP_SIGNAL => (68, 4),
                PIDFD_INFO_COREDUMP_CODE => (72, 4),
                PIDFD_INFO_SUPPORTED_MASK if self == Kernel::Ver2 => (72, 8),
                PIDFD_INFO_SUPPORTED_MASK => (80, 8),
                _ => return None,
            })
        }
    }

    /// What a process looks like to the simulated kernel.
    #[derive(Clone, Copy, Debug)]
    struct Facts {
        pid: u32,
        ppid: u32,
        ruid: u32,
        euid: u32,
        cgroupid: u64,
        exit_code: i32,
        coredump_mask: u32,
        coredump_signal: u32,
        coredump_code: u32,
        /// Bits a later kernel of the VER3 layout may add to its supported mask.
        future_bits: u64,
    }

    /// What `kernel` writes into a buffer of `usize` bytes for a request of
    /// `want` about a reaped process with `facts`, following `pidfd_info()`
    /// in fs/pidfs.c: it fills a zeroed struct of its own size and copies
    /// `min(its size, usize)` bytes, zeroing the rest of the caller's buffer
    /// (`copy_struct_to_user`). The mask bits it sets do not depend on
    /// `usize`.
    fn kernel_answer(kernel: Kernel, facts: &Facts, want: u64, usize: usize) -> (Vec<u8>, u64) {
        let mut k = vec![0u8; kernel.size()];
        let put32 =
            |k: &mut Vec<u8>, off: usize, v: u32| k[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        let mut mask = PIDFD_INFO_PID | PIDFD_INFO_CREDS | PIDFD_INFO_CGROUPID;
        k[8..16].copy_from_slice(&facts.cgroupid.to_ne_bytes());
        put32(&mut k, 16, facts.pid);
        put32(&mut k, 20, facts.pid);
        put32(&mut k, 24, facts.ppid);
        put32(&mut k, 28, facts.ruid);
        put32(&mut k, 36, facts.euid);
        let known = kernel.known();
        if want & known & PIDFD_INFO_EXIT != 0 {
            mask |= PIDFD_INFO_EXIT;
            put32(&mut k, 60, facts.exit_code as u32);
        }
        if want & known & PIDFD_INFO_COREDUMP != 0 {
            mask |= PIDFD_INFO_COREDUMP;
            put32(&mut k, 64, facts.coredump_mask);
            if let Some((off, _)) = kernel.offset(PIDFD_INFO_COREDUMP_SIGNAL) {
                mask |= PIDFD_INFO_COREDUMP_SIGNAL;
                put32(&mut k, off, facts.coredump_signal);
            }
            if let Some((off, _)) = kernel.offset(PIDFD_INFO_COREDUMP_CODE) {
                mask |= PIDFD_INFO_COREDUMP_CODE;
                put32(&mut k, off, facts.coredump_code);
            }
        }
        let supported = if kernel == Kernel::Ver3 {
            known | facts.future_bits
        } else {
            known
        };
        if want & known & PIDFD_INFO_SUPPORTED_MASK != 0 {
            mask |= PIDFD_INFO_SUPPORTED_MASK;
            let (off, _) = kernel.offset(PIDFD_INFO_SUPPORTED_MASK).unwrap();
            k[off..off + 8].copy_from_slice(&supported.to_ne_bytes());
        }
        k[0..8].copy_from_slice(&mask.to_ne_bytes());
        let mut user = vec![0u8; usize];
        let n = usize.min(k.len());
        user[..n].copy_from_slice(&k[..n]);
        (user, supported)
    }

    /// The decoder's answer for every kernel layout and every request size
    /// holds exactly the fields that kernel has, set and fitted into the
    /// buffer, with the values it wrote; never a field from another layout's
    /// offset.
    fn check_all_layouts(facts: &Facts, want: u64) -> Result<(), TestCaseError> {
        for kernel in KERNELS {
            for usize in SIZES {
                let (buf, supported) = kernel_answer(kernel, facts, want, usize);
                let (raw, layout) = decode_info(&buf)
                    .map_err(|e| TestCaseError::fail(format!("{kernel:?}/{usize}: {e}")))?;
                let fits = |bit: u64| {
                    want & bit != 0
                        && kernel
                            .offset(bit)
                            .is_some_and(|(off, len)| off + len <= usize)
                };
                let ctx = format!("{kernel:?} answering {usize} bytes for {want:#x}: {raw:?}");
                let core = want & PIDFD_INFO_COREDUMP != 0;
                let core_field =
                    |bit: u64, end: usize| core && kernel.offset(bit).is_some() && usize >= end;
                // Every field as that kernel wrote it, or absent; the mask
                // and tgid are not part of the check.
                let expected = RawInfo {
                    mask: raw.mask,
                    tgid: raw.tgid,
                    pid: Some(facts.pid),
                    ppid: Some(facts.ppid),
                    ruid: Some(facts.ruid),
                    euid: Some(facts.euid),
                    cgroupid: Some(facts.cgroupid),
                    exit_code: fits(PIDFD_INFO_EXIT).then_some(facts.exit_code),
                    coredump_mask: fits(PIDFD_INFO_COREDUMP).then_some(facts.coredump_mask),
                    coredump_signal: core_field(PIDFD_INFO_COREDUMP_SIGNAL, 72)
                        .then_some(facts.coredump_signal),
                    coredump_code: core_field(PIDFD_INFO_COREDUMP_CODE, 76)
                        .then_some(facts.coredump_code),
                    supported_mask: fits(PIDFD_INFO_SUPPORTED_MASK).then_some(supported),
                };
                prop_assert_eq!(raw, expected, "{}", ctx);
                if raw.supported_mask.is_some() {
                    let expected = if kernel == Kernel::Ver2 {
                        Layout::Ver2
                    } else {
                        Layout::Ver3
                    };
                    prop_assert_eq!(layout, expected, "{}", ctx);
                }
            }
        }
        Ok(())
    }

    fn facts() -> impl Strategy<Value = Facts> {
        (
            (
                1u32..=0x3fff_ffff,
                any::<u32>(),
                any::<u32>(),
                any::<u32>(),
                any::<u64>(),
            ),
            (
                any::<i32>(),
                any::<u32>(),
                any::<u32>(),
                any::<u32>(),
                prop::collection::vec(8u32..64, 0..3),
            ),
        )
            .prop_map(
                |((pid, ppid, ruid, euid, cgroupid), (exit_code, cm, cs, cc, future))| Facts {
                    pid,
                    ppid,
                    ruid,
                    euid,
                    cgroupid,
                    exit_code,
                    coredump_mask: cm,
                    coredump_signal: cs,
                    coredump_code: cc,
                    future_bits: future.iter().fold(0, |m, b| m | 1u64 << b),
                },
            )
    }

    /// The cases that once misread: a VER3 kernel's `coredump_code` where a
    /// VER2 kernel keeps `supported_mask`, with values whose bits look like
    /// a mask, and every request size.
    #[test]
    fn every_layout_and_size_decodes_exactly() {
        let all = (1u64 << 8) - 1;
        for code in [0u32, 0x20, 0x80, 0xa0, u32::MAX, 0xffff_fffa] {
            let f = Facts {
                pid: 4242,
                ppid: 1,
                ruid: 1000,
                euid: 0,
                cgroupid: 0x1234_5678_9abc,
                exit_code: 0x83,
                coredump_mask: CoreDump::DUMPED | CoreDump::USER,
                coredump_signal: 3,
                coredump_code: code,
                future_bits: 1 << 9,
            };
            for want in [
                PIDFD_INFO_PID,
                PIDFD_INFO_PID | PIDFD_INFO_SUPPORTED_MASK,
                PIDFD_INFO_EXIT | PIDFD_INFO_COREDUMP,
                all,
            ] {
                check_all_layouts(&f, want).unwrap();
            }
        }
    }

    #[test]
    fn short_and_contradictory_answers_are_errors() {
        assert!(decode_info(&[0u8; 63]).is_err());
        assert!(decode_info(&[]).is_err());
        // Claims a supported mask, but the word at 80 lacks its own bit.
        let mut b = vec![0u8; 88];
        b[..8].copy_from_slice(&(PIDFD_INFO_PID | PIDFD_INFO_SUPPORTED_MASK).to_ne_bytes());
        b[80..88].copy_from_slice(&PIDFD_INFO_PID.to_ne_bytes());
        let e = decode_info(&b).unwrap_err();
        assert!(e.contains("offset 80"), "{e}");
        // Claims one, and neither place holds one.
        b[80..88].copy_from_slice(&0u64.to_ne_bytes());
        b[72..80].copy_from_slice(&7u64.to_ne_bytes());
        assert!(decode_info(&b).is_err());
    }

    /// The kernel of this machine, asked through the real ioctl, answers in
    /// a layout the decoder recognises, with our own pid.
    #[test]
    fn this_kernel_answers_in_a_known_layout() {
        let support = crate::probe();
        if !support.usable() {
            // pidfds refused (seccomp sandbox, or hidden): nothing to ask.
            assert!(crate::PidFd::open(std::process::id()).is_err());
            return;
        }
        if !support.get_info {
            // Before 6.13 (or hidden): the ioctl is not used at all.
            let me = crate::PidFd::open(std::process::id()).unwrap();
            assert_eq!(me.info().unwrap().source, InfoSource::FdInfo);
            return;
        }
        let me = crate::PidFd::open(std::process::id()).unwrap();
        let (buf, len) = crate::sys::pidfd_get_info(
            me.as_borrowed(),
            PIDFD_INFO_PID | PIDFD_INFO_SUPPORTED_MASK,
        )
        .unwrap();
        let (raw, layout) = decode_info(&buf.0[..len]).unwrap();
        assert_eq!(raw.pid, Some(std::process::id()));
        match raw.supported_mask {
            Some(m) => {
                assert_ne!(layout, Layout::Unknown);
                assert_ne!(m & PIDFD_INFO_SUPPORTED_MASK, 0, "{m:#x}");
                assert_eq!(support.info_supported_mask, Some(m));
            }
            None => assert_eq!(support.info_supported_mask, None),
        }
    }

    #[test]
    fn parses_kernel_output() {
        let text =
            "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nPid:\t4242\nNSpid:\t4242\t7\n";
        assert_eq!(
            parse_fdinfo(text),
            Some(FdInfoPid {
                pid: 4242,
                ns_pids: vec![4242, 7]
            })
        );
        assert_eq!(parse_fdinfo("Pid:\t-1\n").unwrap().pid, -1);
        assert_eq!(parse_fdinfo("Pid:\t0\n").unwrap().pid, 0);
        assert_eq!(parse_fdinfo("pos:\t0\nflags:\t02\n"), None);
        assert_eq!(parse_fdinfo("Pid:\tabc\n"), None);
        assert_eq!(parse_fdinfo("Pid:\t-7\n"), None);
        assert_eq!(parse_fdinfo("Pid:\t99999999999\n"), None);
        assert_eq!(parse_fdinfo(""), None);
    }

    const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz-corpus/fdinfo");

    fn sample(name: &str) -> String {
        std::fs::read_to_string(format!("{CORPUS}/{name}")).unwrap()
    }

    /// The corpus holds real `/proc/self/fdinfo` texts, captured on Linux
    /// 6.18; each parses as what it was captured from.
    #[test]
    fn real_samples_parse_as_captured() {
        let live = parse_fdinfo(&sample("pidfd_self.txt")).unwrap();
        assert!(live.pid > 0 && live.ns_pids == vec![live.pid], "{live:?}");
        let nonblock = parse_fdinfo(&sample("pidfd_nonblock.txt")).unwrap();
        assert!(nonblock.pid > 0);
        let reaped = parse_fdinfo(&sample("pidfd_reaped.txt")).unwrap();
        assert_eq!((reaped.pid, reaped.ns_pids), (-1, vec![-1]));
        let outside = parse_fdinfo(&sample("pidfd_outside_our_pidns.txt")).unwrap();
        assert_eq!((outside.pid, outside.ns_pids), (0, vec![0]));
        let nested = parse_fdinfo(&sample("pidfd_child_pidns.txt")).unwrap();
        assert_eq!(nested.ns_pids.len(), 2);
        assert_eq!(nested.ns_pids[0], nested.pid);
        assert_eq!(nested.ns_pids[1], 1);
        for not_a_pidfd in [
            "regular_file.txt",
            "pipe.txt",
            "eventfd.txt",
            "flocked_file.txt",
        ] {
            assert_eq!(parse_fdinfo(&sample(not_a_pidfd)), None, "{not_a_pidfd}");
        }
    }

    /// A reference reading of fdinfo text, written apart from
    /// [`parse_fdinfo`]: the lines are split by hand, and every `Pid:` and
    /// `NSpid:` line must hold numbers; the last of each counts.
    fn reference(text: &str) -> Option<(i64, Vec<i64>)> {
        let mut pid = None;
        let mut ns_pids = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let (line, next) = match rest.find('\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, ""),
            };
            rest = next;
            let line = line.strip_suffix('\r').unwrap_or(line);
            let (key, value) = match line.find(':') {
                Some(i) => (&line[..i], &line[i + 1..]),
                None => continue,
            };
            match key {
                "Pid" => pid = Some(value.trim().parse::<i64>().ok()?),
                "NSpid" => {
                    let mut all = Vec::new();
                    for v in value.split_whitespace() {
                        all.push(v.parse::<i64>().ok()?);
                    }
                    ns_pids = all;
                }
                _ => {}
            }
        }
        let pid = pid?;
        (-1..=i64::from(i32::MAX))
            .contains(&pid)
            .then_some((pid, ns_pids))
    }

    /// Fuzz target: real fdinfo texts, mutated, and arbitrary bytes. Never a
    /// panic; an accepted text has a `Pid:` in `-1..=i32::MAX` and reads the
    /// same as the reference.
    #[test]
    fn fuzz_fdinfo() {
        let tokens: &[&[u8]] = &[
            b"Pid:",
            b"NSpid:",
            b"Pid:\t",
            b"\t",
            b"\n",
            b" ",
            b"-",
            b"+",
            b"\r",
            b":",
            b"pos:\t0\n",
            b"flags:\t02000002\n",
            "\u{3000}".as_bytes(),
            "\u{a0}".as_bytes(),
            b"\0",
        ];
        testkit::fuzz::target("pidfd/fdinfo", CORPUS, tokens, |input| {
            let text = input.lossy();
            let parsed = parse_fdinfo(&text);
            if let Some(p) = &parsed {
                prop_assert!(p.pid >= -1 && p.pid <= i64::from(i32::MAX), "{p:?}");
            }
            prop_assert_eq!(
                parsed.map(|p| (p.pid, p.ns_pids)),
                reference(&text),
                "{:?}",
                text
            );
            Ok(())
        });
    }

    proptest! {
        #[test]
        fn any_facts_decode_exactly_in_every_layout(f in facts(), want in 0u64..256) {
            check_all_layouts(&f, want)?;
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..120)) {
            if let Ok((raw, _)) = decode_info(&bytes) {
                prop_assert!(bytes.len() >= 64);
                if let Some(m) = raw.supported_mask {
                    prop_assert_ne!(m & PIDFD_INFO_SUPPORTED_MASK, 0);
                }
            }
        }

        #[test]
        fn round_trips_any_valid_pid(pid in -1i64..=i64::from(i32::MAX), pos in 0u64..1000, extra in "[a-z_]{1,8}:\t[0-9]{1,5}") {
            let text = format!("pos:\t{pos}\n{extra}\nPid:\t{pid}\nNSpid:\t{pid}\n");
            let parsed = parse_fdinfo(&text).unwrap();
            prop_assert_eq!(parsed.pid, pid);
            prop_assert_eq!(parsed.ns_pids, vec![pid]);
        }

        #[test]
        fn never_panics_and_bounds_pid(text in "(?s).{0,200}") {
            if let Some(p) = parse_fdinfo(&text) {
                prop_assert!(p.pid >= -1 && p.pid <= i64::from(i32::MAX));
            }
        }

        #[test]
        fn mutated_pid_lines_are_rejected_or_exact(prefix in "[ \t]{0,2}", junk in "[^0-9\n-]{1,4}") {
            let text = format!("Pid:{prefix}12{junk}3\n");
            prop_assert_eq!(parse_fdinfo(&text), None);
        }
    }
}
