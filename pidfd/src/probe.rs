//! The capability probe: which pidfd features this kernel and sandbox allow.

use std::fmt;
use std::io;
use std::sync::OnceLock;

use crate::{OpenFlags, PidFd, Signal};

/// Which pidfd features work here, as found by [`probe`].
///
/// "Works" means the call was made and behaved, not that the kernel version
/// suggests it: a seccomp filter returning `ENOSYS` or `EPERM` makes a feature
/// absent exactly like an old kernel does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Support {
    /// `pidfd_open(2)` (Linux 5.3).
    pub pidfd_open: bool,
    /// `pidfd_send_signal(2)` (Linux 5.1).
    pub send_signal: bool,
    /// `waitid(P_PIDFD, ..)` (Linux 5.4).
    pub waitid: bool,
    /// `pidfd_getfd(2)` (Linux 5.6); probed on ourselves.
    pub getfd: bool,
    /// pidfds live on pidfs and their inode number is a unique, never reused
    /// process id (Linux 6.9).
    pub pidfs: bool,
    /// The `PIDFD_GET_INFO` ioctl (Linux 6.13).
    pub get_info: bool,
    /// `PIDFD_INFO_EXIT`: the exit status of a reaped process through its
    /// pidfd, for any holder (Linux 6.15). Taken from the kernel's own
    /// `supported_mask` where it has one (6.19+); before that from the kernel
    /// release once `get_info` works, since proving it would need a dead
    /// process.
    pub info_exit: bool,
    /// `PIDFD_INFO_COREDUMP`: the kernel's core-dump record through the
    /// pidfd (Linux 6.16), found like `info_exit`.
    pub info_coredump: bool,
    /// The kernel's own list of the `PIDFD_GET_INFO` fields it supports
    /// (`PIDFD_INFO_SUPPORTED_MASK`, Linux 6.19), as it reported it; `None`
    /// on kernels without it, where `info_exit` and `info_coredump` come
    /// from the kernel release.
    pub info_supported_mask: Option<u64>,
    /// pidfs file handles that open without a pidfd: `name_to_handle_at` on a
    /// pidfd and `open_by_handle_at` on the pidfs root (`FD_PIDFS_ROOT`,
    /// Linux 6.17), proven by a round trip on ourselves that must give back
    /// our own pidfs id ([`PidFd::file_handle`], [`PidFd::open_file_handle`]).
    pub pidfs_file_handles: bool,
    /// `PIDFD_THREAD` pidfds and thread-scoped signals (Linux 6.9).
    pub thread: bool,
    /// Signal scopes for `pidfd_send_signal` (`PIDFD_SIGNAL_*`, Linux 6.9).
    pub signal_scope: bool,
    /// Features hidden on purpose through `PIDKIT_HIDE_FEATURES` (for testing
    /// the fallbacks), as given.
    pub hidden: Vec<String>,
    /// Why the core feature set is unusable, when it is (the first failing step).
    pub reason: Option<String>,
    /// The errno that kept the probe from finishing, when it ran out of
    /// file descriptors or memory (see [`Support::resource_error`]).
    exhausted: Option<i32>,
}

impl Support {
    /// The core set: open, signal and wait through pidfds all work. This is
    /// Go's `checkPidfd`; without it the higher crates use their fallbacks.
    pub fn usable(&self) -> bool {
        self.pidfd_open && self.send_signal && self.waitid
    }

    /// The error that kept the probe from finishing: the process or the
    /// system ran out of file descriptors or memory (`EMFILE`, `ENFILE`,
    /// `ENOMEM`) while probing.
    ///
    /// Such an answer says nothing about the kernel or the sandbox: every
    /// feature reads as absent, [`probe`] does not cache it, and its next
    /// call probes again. Callers should report the error rather than take a
    /// fallback meant for systems without pidfds.
    ///
    /// ```
    /// let support = pidkit_pidfd::probe();
    /// if let Some(e) = support.resource_error() {
    ///     eprintln!("cannot tell whether pidfds work right now: {e}");
    /// }
    /// ```
    pub fn resource_error(&self) -> Option<io::Error> {
        self.exhausted.map(io::Error::from_raw_os_error)
    }
}

impl fmt::Display for Support {
    /// One line per feature: its name, the kernel that brought it, and
    /// whether the probe found it, then what was hidden and why the core set
    /// is unusable, when it is.
    ///
    /// ```
    /// let text = pidkit_pidfd::probe().to_string();
    /// assert!(text.contains("pidfd_open (5.3): "));
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "yes" } else { "no" };
        let rows: [(&str, &str, bool); 12] = [
            ("pidfd_send_signal", "5.1", self.send_signal),
            ("pidfd_open", "5.3", self.pidfd_open),
            ("waitid(P_PIDFD)", "5.4", self.waitid),
            ("pidfd_getfd", "5.6", self.getfd),
            ("pidfs inode ids", "6.9", self.pidfs),
            ("PIDFD_THREAD", "6.9", self.thread),
            (
                "signal scopes incl. PIDFD_SIGNAL_PROCESS_GROUP",
                "6.9",
                self.signal_scope,
            ),
            ("PIDFD_GET_INFO", "6.13", self.get_info),
            ("PIDFD_INFO_EXIT", "6.15", self.info_exit),
            ("PIDFD_INFO_COREDUMP", "6.16", self.info_coredump),
            (
                "pidfs file handles (open_by_handle_at on FD_PIDFS_ROOT)",
                "6.17",
                self.pidfs_file_handles,
            ),
            (
                "PIDFD_INFO_SUPPORTED_MASK",
                "6.19",
                self.info_supported_mask.is_some(),
            ),
        ];
        for (name, since, found) in rows {
            writeln!(f, "{name} ({since}): {}", yes(found))?;
        }
        match self.info_supported_mask {
            Some(m) => writeln!(f, "info fields by the kernel's supported_mask {m:#x}")?,
            None => writeln!(f, "info fields by the kernel release")?,
        }
        if !self.hidden.is_empty() {
            writeln!(
                f,
                "hidden by PIDKIT_HIDE_FEATURES: {}",
                self.hidden.join(",")
            )?;
        }
        if let Some(reason) = &self.reason {
            writeln!(f, "unusable: {reason}")?;
        }
        Ok(())
    }
}

/// Probes the pidfd features once and caches the answer; never panics.
///
/// An answer found while the process or system was out of file descriptors
/// or memory is not cached ([`Support::resource_error`]); the next call
/// probes again.
///
/// The steps follow Go's `checkPidfd`: `pidfd_open` on ourselves,
/// `waitid(P_PIDFD)` on ourselves must fail with `ECHILD` (we are not our own
/// parent), and signal 0 to ourselves must succeed. Then the optional
/// features are tried one by one. `ENOSYS` (old kernel, or seccomp) and
/// `EPERM` (seccomp in container profiles) both mean "absent".
///
/// For tests of fallbacks, the environment variable `PIDKIT_HIDE_FEATURES`
/// (comma separated: `pidfd`, `pidfs`, `get_info`, `info_exit`,
/// `info_coredump`, `supported_mask`, `file_handles`, `thread`) reports the
/// named features absent; `pidfd` hides all of them, and `pidfs` hides
/// `file_handles` too (a pidfs file handle is a pidfs id in other form). Hiding `supported_mask` makes the
/// probe decide `info_exit` and `info_coredump` by the kernel release, as on
/// kernels before 6.19.
///
/// The answer prints as one line per feature ([`Support`]'s `Display`).
///
/// ```
/// let support = pidkit_pidfd::probe();
/// if support.usable() {
///     println!("pidfds work; pidfs ids: {}", support.pidfs);
/// } else {
///     println!("no pidfds here: {:?}", support.reason);
/// }
/// ```
pub fn probe() -> &'static Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    // Answers that are not cached, one per errno, so that a process that
    // keeps running out of descriptors does not allocate one per call.
    static EXHAUSTED: [OnceLock<Support>; 3] = [const { OnceLock::new() }; 3];
    if let Some(s) = SUPPORT.get() {
        return s;
    }
    let hidden = hidden_features();
    let mut s = run_probe();
    apply_hidden(&mut s, &hidden);
    s.hidden = hidden;
    if let Some(errno) = s.exhausted {
        let slot = match errno {
            libc::EMFILE => 0,
            libc::ENFILE => 1,
            _ => 2,
        };
        return EXHAUSTED[slot].get_or_init(|| s);
    }
    SUPPORT.get_or_init(|| s)
}

fn hidden_features() -> Vec<String> {
    std::env::var("PIDKIT_HIDE_FEATURES")
        .unwrap_or_default()
        .split(',')
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty())
        .collect()
}

fn apply_hidden(s: &mut Support, hidden: &[String]) {
    for f in hidden {
        match f.as_str() {
            "pidfd" => {
                *s = Support {
                    reason: Some("hidden by PIDKIT_HIDE_FEATURES".into()),
                    ..Support::default()
                }
            }
            "pidfs" => {
                s.pidfs = false;
                s.pidfs_file_handles = false;
            }
            "file_handles" => s.pidfs_file_handles = false,
            "get_info" => {
                s.get_info = false;
                s.info_exit = false;
                s.info_coredump = false;
                s.info_supported_mask = None;
            }
            "info_exit" => s.info_exit = false,
            "info_coredump" => s.info_coredump = false,
            "supported_mask" => {
                s.info_supported_mask = None;
                s.info_exit = s.get_info && kernel_at_least(6, 15);
                s.info_coredump = s.get_info && kernel_at_least(6, 16);
            }
            "thread" => {
                s.thread = false;
                s.signal_scope = false;
            }
            _ => {}
        }
    }
}

/// The errno of an error that means "out of descriptors or memory".
fn exhaustion(e: &io::Error) -> Option<i32> {
    e.raw_os_error()
        .filter(|n| matches!(*n, libc::EMFILE | libc::ENFILE | libc::ENOMEM))
}

/// The answer of a probe cut short by `e` (see [`Support::resource_error`]).
fn exhausted(step: &str, e: &io::Error, errno: i32) -> Support {
    Support {
        reason: Some(format!(
            "{step}: {e}; not cached, probed again on the next call"
        )),
        exhausted: Some(errno),
        ..Support::default()
    }
}

fn absent(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSYS | libc::EPERM | libc::EACCES)
    )
}

fn run_probe() -> Support {
    let mut s = Support::default();
    let me = std::process::id();
    let fd = match PidFd::open(me) {
        Ok(fd) => fd,
        Err(e) => {
            if let Some(errno) = exhaustion(&e) {
                return exhausted("pidfd_open on self", &e, errno);
            }
            s.reason = Some(format!("pidfd_open on self: {e}"));
            return s;
        }
    };
    s.pidfd_open = true;

    match fd.try_wait() {
        Err(e) if e.raw_os_error() == Some(libc::ECHILD) => s.waitid = true,
        Err(e) => {
            if let Some(errno) = exhaustion(&e) {
                return exhausted("waitid(P_PIDFD) on self", &e, errno);
            }
            s.reason = Some(format!("waitid(P_PIDFD) on self: {e}"));
        }
        Ok(_) => s.reason = Some("waitid(P_PIDFD) on self did not fail with ECHILD".into()),
    }
    match fd.send_signal(Signal::ZERO) {
        Ok(()) => s.send_signal = true,
        Err(e) => {
            if let Some(errno) = exhaustion(&e) {
                return exhausted("pidfd_send_signal on self", &e, errno);
            }
            if s.reason.is_none() {
                s.reason = Some(format!("pidfd_send_signal on self: {e}"));
            }
        }
    }

    s.getfd = match fd.get_fd(0) {
        Ok(_) => true,
        Err(e) => {
            if let Some(errno) = exhaustion(&e) {
                return exhausted("pidfd_getfd on self", &e, errno);
            }
            // No fd 0 is still an answer from a working syscall.
            e.raw_os_error() == Some(libc::EBADF)
        }
    };
    let own_id = fd.pidfs_inode().ok().flatten();
    s.pidfs = own_id.is_some();
    if let Some(own_id) = own_id {
        match file_handle_round_trip(&fd, own_id) {
            Ok(works) => s.pidfs_file_handles = works,
            Err(e) => {
                if let Some(errno) = exhaustion(&e) {
                    return exhausted("pidfs file handle round trip on self", &e, errno);
                }
            }
        }
    }
    use crate::sys::{
        PIDFD_INFO_COREDUMP, PIDFD_INFO_EXIT, PIDFD_INFO_PID, PIDFD_INFO_SUPPORTED_MASK,
    };
    match crate::sys::pidfd_get_info(fd.as_borrowed(), PIDFD_INFO_PID | PIDFD_INFO_SUPPORTED_MASK) {
        Ok((buf, len)) => {
            s.get_info = true;
            // An answer that fits no published layout leaves the mask
            // unknown; the release decides then, as on older kernels.
            if let Ok((raw, _)) = crate::info::decode_info(&buf.0[..len]) {
                s.info_supported_mask = raw.supported_mask;
            }
        }
        Err(e) if absent(&e) => {}
        Err(_) => {}
    }
    match s.info_supported_mask {
        Some(m) => {
            s.info_exit = m & PIDFD_INFO_EXIT != 0;
            s.info_coredump = m & PIDFD_INFO_COREDUMP != 0;
        }
        None => {
            s.info_exit = s.get_info && kernel_at_least(6, 15);
            s.info_coredump = s.get_info && kernel_at_least(6, 16);
        }
    }
    s.thread = match rustix::process::pidfd_open(
        rustix::thread::gettid(),
        rustix::process::PidfdFlags::from_bits_retain(OpenFlags::THREAD.bits()),
    ) {
        Ok(_) => true,
        Err(e) => {
            let e = io::Error::from(e);
            if let Some(errno) = exhaustion(&e) {
                return exhausted("pidfd_open(PIDFD_THREAD) on self", &e, errno);
            }
            false
        }
    };
    s.signal_scope = fd
        .send_signal_scoped(Signal::ZERO, crate::SignalScope::ThreadGroup)
        .is_ok();
    s
}

/// Whether a pidfs file handle of our own pidfd opens again from the pidfs
/// root and gives back our own pidfs id. Kernels before 6.13 refuse the
/// handle (`EOPNOTSUPP`), 6.13 to 6.16 the root (`EBADF`), seccomp says
/// `ENOSYS` or `EPERM`: all "absent". Errors that say nothing about the
/// kernel (out of descriptors) are returned.
fn file_handle_round_trip(fd: &PidFd, own_id: u64) -> io::Result<bool> {
    let handle = match fd.file_handle_raw() {
        Ok(h) => h,
        Err(e) if exhaustion(&e).is_some() => return Err(e),
        Err(_) => return Ok(false),
    };
    match PidFd::open_file_handle_raw(&handle) {
        Ok(again) => Ok(again.pidfs_inode().ok().flatten() == Some(own_id)),
        Err(e) if exhaustion(&e).is_some() => Err(e),
        Err(_) => Ok(false),
    }
}

/// Whether the running kernel's release is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    parse_release(&release).is_some_and(|v| v >= (major, minor))
}

/// `"6.18.44-fc"` → `(6, 18)`.
pub(crate) fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_parsing() {
        assert_eq!(parse_release("6.18.44-fc-v669"), Some((6, 18)));
        assert_eq!(parse_release("5.4.0"), Some((5, 4)));
        assert_eq!(parse_release("6.9"), Some((6, 9)));
        assert_eq!(parse_release("garbage"), None);
        assert_eq!(parse_release(""), None);
    }
}
