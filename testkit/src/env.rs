//! What this run can do and must do: CI or not, root or not, the sandbox
//! mode `cargo xtask test` set, whether the kernel allows pidfds, and how
//! large a capacity test may be.

use crate::SeccompMode;

/// True when running under CI (`CI=true`), where a missing capability must fail.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports a missing capability. Under CI this panics (the capability is expected
/// there); elsewhere it prints why loudly and returns `false` so the caller can return.
pub fn require(available: bool, what: &str) -> bool {
    if available {
        return true;
    }
    if in_ci() {
        panic!("required capability missing under CI: {what}");
    }
    eprintln!("!!! SKIPPING (capability missing outside CI): {what}");
    false
}

/// True when the process runs as root (uid 0).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The size of a capacity test (how many processes, handles, rounds):
/// `full` normally, `in_matrix` inside `cargo xtask matrix`'s guests
/// (`PIDKIT_MATRIX` set). The matrix checks what each kernel does, under
/// QEMU's TCG at a tenth of the host's speed; how much pidkit holds at once is
/// the host's to show, at full size, in every `cargo xtask test`.
pub fn capacity(full: usize, in_matrix: usize) -> usize {
    if std::env::var_os("PIDKIT_MATRIX").is_some() {
        in_matrix
    } else {
        full
    }
}

/// The sandbox mode the whole test run is in, from `PIDKIT_SANDBOX`
/// (`none`/unset, `enosys`, `eperm`), as set by `cargo xtask test` when it
/// runs the suite under a seccomp filter on the pidfd system calls.
pub fn sandbox() -> Option<SeccompMode> {
    std::env::var("PIDKIT_SANDBOX")
        .ok()
        .and_then(|v| SeccompMode::parse(&v))
}

/// Whether the kernel lets this process use pidfds right now: `pidfd_open`
/// of ourselves works, and `waitid(P_PIDFD)` on it fails with `ECHILD` (we
/// are not our own parent), not with `ENOSYS`/`EPERM` (a seccomp filter).
/// Asks the kernel directly, so `pidkit_pidfd::probe()` (which caches its
/// answer) does not run before a test wants it to. `PIDKIT_HIDE_FEATURES`
/// is not consulted. Uses one descriptor for a moment.
pub fn pidfds_work() -> bool {
    use rustix::process::{PidfdFlags, WaitIdOptions, getpid, pidfd_open, waitid};
    let Ok(fd) = pidfd_open(getpid(), PidfdFlags::empty()) else {
        return false;
    };
    matches!(
        waitid(
            rustix::process::WaitId::PidFd(std::os::fd::AsFd::as_fd(&fd)),
            WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
        ),
        Err(rustix::io::Errno::CHILD)
    )
}

/// Whether the pidfd path is possible in this process at all: the kernel
/// allows pidfds ([`pidfds_work`]) and `PIDKIT_HIDE_FEATURES` does not hide
/// `pidfd`. Asks the kernel itself, so that pidkit's cached probe does not
/// run before the test wants it to (e.g. before the fd table is full).
pub fn pidfds_possible() -> bool {
    let hidden = std::env::var("PIDKIT_HIDE_FEATURES").unwrap_or_default();
    pidfds_work() && !hidden.split(',').any(|f| f.trim() == "pidfd")
}

/// The environment variable that names the program this test binary runs
/// under, with its arguments, split on whitespace (`cargo xtask cross` sets
/// it to the qemu-user command that is also cargo's target runner).
pub const RUNNER_ENV: &str = "PIDKIT_TEST_RUNNER";

/// The command that starts this test binary again: its path, after the
/// runner of [`RUNNER_ENV`] when one is set. Under qemu-user the binary is
/// of another architecture and the kernel alone cannot run it.
pub fn this_test_binary() -> Vec<std::ffi::OsString> {
    let mut argv: Vec<std::ffi::OsString> = std::env::var(RUNNER_ENV)
        .unwrap_or_default()
        .split_whitespace()
        .map(Into::into)
        .collect();
    argv.push(std::env::current_exe().unwrap().into_os_string());
    argv
}

/// A [`Command`](std::process::Command) that starts this test binary again
/// ([`this_test_binary`]).
pub fn this_test_binary_command() -> std::process::Command {
    let argv = this_test_binary();
    let mut cmd = std::process::Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    cmd
}
