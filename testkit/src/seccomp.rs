//! Seccomp filters that make the pidfd system calls fail, as old kernels
//! and container runtimes do.

use std::collections::BTreeMap;
use std::io;

/// Environment variable naming the seccomp mode a re-executed test installs first
/// (`enosys` or `eperm`).
pub const SECCOMP_ENV: &str = "PIDKIT_TESTKIT_SECCOMP";

/// How a seccomp filter makes the pidfd system calls fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeccompMode {
    /// `ENOSYS`: what an old kernel says.
    Enosys,
    /// `EPERM`: what container runtimes' default profiles say.
    Eperm,
}

impl SeccompMode {
    /// The value used in [`SECCOMP_ENV`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enosys => "enosys",
            Self::Eperm => "eperm",
        }
    }

    /// Parses the value of [`SECCOMP_ENV`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "enosys" => Some(Self::Enosys),
            "eperm" => Some(Self::Eperm),
            _ => None,
        }
    }

    fn errno(self) -> u32 {
        match self {
            Self::Enosys => libc::ENOSYS as u32,
            Self::Eperm => libc::EPERM as u32,
        }
    }
}

const P_PIDFD: u64 = 3;

/// Installs, on every thread of this process, a seccomp filter under which
/// `pidfd_open`, `pidfd_send_signal`, `pidfd_getfd` and `waitid(P_PIDFD, ..)`
/// fail with the mode's errno. Everything else is allowed; `clone3` is left
/// alone because libc falls back to `clone` only on `ENOSYS`, and pidkit never
/// asks for `CLONE_PIDFD`.
/// The filter is inherited by children and kept across `exec`.
pub fn install_pidfd_filter(mode: SeccompMode) -> io::Result<()> {
    use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    rules.insert(sysno(libc::SYS_pidfd_open), vec![]);
    rules.insert(sysno(libc::SYS_pidfd_send_signal), vec![]);
    rules.insert(sysno(libc::SYS_pidfd_getfd), vec![]);
    let cond = SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, P_PIDFD)
        .map_err(backend_error)?;
    rules.insert(
        sysno(libc::SYS_waitid),
        vec![SeccompRule::new(vec![cond]).map_err(backend_error)?],
    );
    apply_errno_filter(rules, mode.errno())
}

/// A system call number as seccompiler takes it (libc's are `c_long`,
/// 32 bits wide on 32-bit targets).
#[allow(clippy::unnecessary_cast)]
fn sysno(n: libc::c_long) -> i64 {
    n as i64
}

fn backend_error(e: seccompiler::BackendError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Compiles `rules` into a filter that answers matching calls with `errno`
/// and allows everything else, and installs it on every thread.
fn apply_errno_filter(
    rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>>,
    errno: u32,
) -> io::Result<()> {
    use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
    // seccompiler builds filters for these three only; a filter for another
    // architecture would kill the process at its first system call.
    let arch = if cfg!(target_arch = "aarch64") {
        TargetArch::aarch64
    } else if cfg!(target_arch = "riscv64") {
        TargetArch::riscv64
    } else if cfg!(target_arch = "x86_64") {
        TargetArch::x86_64
    } else {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "no seccomp filter for {}: seccompiler supports x86_64, aarch64 and riscv64",
                std::env::consts::ARCH
            ),
        ));
    };
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno),
        arch,
    )
    .map_err(backend_error)?;
    let prog: BpfProgram = filter.try_into().map_err(backend_error)?;
    seccompiler::apply_filter_all_threads(&prog).map_err(|e| io::Error::other(e.to_string()))
}

/// If this process was started by [`run_isolated`](crate::run_isolated) for a seccomp mode, installs
/// that filter. Call at the start of every isolated body (done for you by
/// [`run_isolated`](crate::run_isolated)); harmless otherwise.
pub fn install_requested_filter() {
    if let Ok(v) = std::env::var(SECCOMP_ENV) {
        let mode = SeccompMode::parse(&v).unwrap_or_else(|| panic!("bad {SECCOMP_ENV}={v}"));
        install_pidfd_filter(mode).unwrap_or_else(|e| panic!("install seccomp filter: {e}"));
    }
}

/// Installs the seccomp filter that `pidkit-seccomp-exec` (and so
/// `cargo xtask test`'s sandbox modes) run the test suites under: like
/// [`install_pidfd_filter`], `pidfd_open`, `pidfd_send_signal`, `pidfd_getfd` and
/// `waitid(P_PIDFD, ..)` fail with the mode's errno, but `clone3` always fails
/// with `ENOSYS`, as in Docker's default profile.
///
/// `clone3` gets `ENOSYS` in both modes because glibc's `posix_spawn` (and so
/// `std::process::Command::spawn`) falls back to `clone` only on `ENOSYS`: an
/// `EPERM` there would make every spawn fail, which no real container runtime
/// does and no test could survive.
pub fn install_sandbox_filter(mode: SeccompMode) -> io::Result<()> {
    install_pidfd_filter(mode)?;
    // A second, stacked filter: for each call the kernel takes the most
    // restrictive answer of all filters, so both errnos hold.
    let mut rules = BTreeMap::new();
    rules.insert(sysno(libc::SYS_clone3), vec![]);
    apply_errno_filter(rules, libc::ENOSYS as u32)
}
