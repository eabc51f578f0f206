//! `pidkit-seccomp-exec MODE PROGRAM [ARGS...]`: installs the pidkit sandbox
//! seccomp filter (`pidkit_testkit::install_sandbox_filter`) and then `exec`s PROGRAM.
//!
//! MODE is `enosys` (what an old kernel says) or `eperm` (what container
//! runtimes' seccomp profiles say). Under the filter `pidfd_open`,
//! `pidfd_send_signal`, `pidfd_getfd` and `waitid(P_PIDFD, ..)` fail with that
//! errno, `clone3` fails with `ENOSYS` (so libc falls back to `clone`, as under
//! Docker's profile); everything else is allowed. The filter is kept across `exec` and
//! inherited by every child, so the whole process tree below PROGRAM runs as if
//! on a kernel (or in a container) without pidfds.
//!
//! `cargo xtask test` uses it as the cargo target runner
//! (`CARGO_TARGET_<TRIPLE>_RUNNER="pidkit-seccomp-exec enosys"`), so that every
//! test binary runs sandboxed. Exit status: PROGRAM's, or 2 for a usage error,
//! 125 when the filter cannot be installed, 126/127 when PROGRAM cannot be
//! executed / found (the shell's conventions).
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::io::ErrorKind;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use pidkit_testkit::{SeccompMode, install_sandbox_filter};

const USAGE: &str = "usage: pidkit-seccomp-exec enosys|eperm PROGRAM [ARGS...]";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let mode = args.next();
    let program = args.next();
    let (Some(mode), Some(program)) = (mode, program) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let Some(mode) = mode.to_str().and_then(SeccompMode::parse) else {
        eprintln!("pidkit-seccomp-exec: unknown mode {mode:?}\n{USAGE}");
        return ExitCode::from(2);
    };
    let rest: Vec<OsString> = args.collect();
    if let Err(e) = install_sandbox_filter(mode) {
        eprintln!(
            "pidkit-seccomp-exec: cannot install the {} filter: {e}",
            mode.as_str()
        );
        return ExitCode::from(125);
    }
    // Only returns on failure.
    let err = Command::new(&program).args(&rest).exec();
    eprintln!("pidkit-seccomp-exec: cannot execute {program:?}: {err}");
    ExitCode::from(if err.kind() == ErrorKind::NotFound {
        127
    } else {
        126
    })
}
