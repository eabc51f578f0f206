//! Running one test body in a fresh process of the test binary, optionally
//! under seccomp or as PID 1 of a new PID namespace.

use std::io::Read;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{
    ChildGuard, SECCOMP_ENV, SeccompMode, install_requested_filter, is_root, require, time_scale,
};

/// Environment variable that tells a re-executed test binary which test body to run.
pub const ISOLATED_ENV: &str = "PIDKIT_TESTKIT_ISOLATED";

/// Where an isolated test body runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// A fresh process of the same test binary.
    Process,
    /// A fresh process with a seccomp filter on the pidfd system calls.
    Seccomp(SeccompMode),
    /// A fresh process that is PID 1 of a new PID namespace (with its own /proc),
    /// entered through `unshare --pid --fork --mount-proc`. Needs root.
    PidNamespace,
    /// A new PID namespace and a seccomp filter.
    PidNamespaceSeccomp(SeccompMode),
}

/// Runs `body` in a fresh process of the current test binary.
///
/// `test_name` is the test function's name (or its full path); a test in a
/// module of the test binary is found through its thread's name. In the
/// parent this re-executes the binary with `--exact test_name`, waits (at most
/// `limit`, else the child is killed and the test fails) and panics with the
/// child's output unless it succeeded. In the child it installs the requested
/// seccomp filter and runs `body`.
///
/// Returns `false` (after printing why) only outside CI when the isolation is
/// unavailable (a PID namespace without root); under CI that panics.
pub fn run_isolated(test_name: &str, how: Isolation, limit: Duration, body: impl FnOnce()) -> bool {
    run_isolated_env(test_name, how, limit, &[], body)
}

/// Runs `cmd` to completion with a time limit; kills it (and fails) past the limit.
pub fn run_with_limit(mut cmd: Command, limit: Duration) -> (ExitStatus, Output) {
    let limit = limit * time_scale();
    let mut child = ChildGuard::spawn(&mut cmd);
    let mut stdout = child.child_mut().stdout.take();
    let mut stderr = child.child_mut().stderr.take();
    let out_t = thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut v);
        }
        v
    });
    let err_t = thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut v);
        }
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.child_mut().try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            drop(child);
            panic!("{cmd:?} still running after {limit:?}; killed");
        }
        thread::sleep(Duration::from_millis(5));
    };
    // Already reaped by try_wait; std caches the status, so this returns at once.
    let _ = child.into_inner().wait();
    let output = Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    };
    (status, output)
}

/// Like [`run_isolated`], with extra environment for the re-run (e.g.
/// `PIDKIT_HIDE_FEATURES=pidfs`, which the probe reads once per process).
///
/// In the parent this re-executes the binary with `--exact test_name`, `env`
/// added, and waits (at most `limit`); it panics with the child's output
/// unless the child succeeded and ran exactly one test. In the child (which
/// [`ISOLATED_ENV`] marks) it installs the requested seccomp filter and runs
/// `body`. Returns `false` (after printing why) only outside CI when the
/// isolation is unavailable (a PID namespace without root); under CI that
/// panics.
pub fn run_isolated_env(
    test_name: &str,
    how: Isolation,
    limit: Duration,
    env: &[(&str, &str)],
    body: impl FnOnce(),
) -> bool {
    // The harness names a test's thread after its full path, which in a
    // test binary of several modules is `module::name`: the bare name given
    // here is enough.
    let bare = test_name.rsplit("::").next().unwrap_or(test_name);
    let thread = std::thread::current();
    let test_name = match thread.name() {
        Some(full) if full.ends_with(&format!("::{bare}")) => full,
        _ => test_name,
    };
    if std::env::var(ISOLATED_ENV)
        .is_ok_and(|v| v == test_name || v.ends_with(&format!("::{bare}")))
    {
        install_requested_filter();
        body();
        return true;
    }
    let exe = crate::this_test_binary();
    let mut cmd;
    if matches!(
        how,
        Isolation::PidNamespace | Isolation::PidNamespaceSeccomp(_)
    ) {
        if !require(is_root(), "root, to create a PID namespace") {
            return false;
        }
        cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .args(&exe);
    } else {
        cmd = crate::this_test_binary_command();
    }
    cmd.args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ISOLATED_ENV, test_name)
        .env_remove(SECCOMP_ENV)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Isolation::Seccomp(m) | Isolation::PidNamespaceSeccomp(m) = how {
        cmd.env(SECCOMP_ENV, m.as_str());
    }
    let (status, out) = run_with_limit(cmd, limit);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.success() && stdout.contains("1 passed"),
        "isolated `{test_name}` ({how:?}, {env:?}) failed: {status}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Pass on what the body reported (counts, figures): the isolated run's
    // output is otherwise seen only when it fails.
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        if !line.trim().is_empty() && !line.starts_with("note: ") {
            eprintln!("[isolated] {line}");
        }
    }
    true
}

/// Declares a `#[test]` function `$name` that runs `$body` through
/// [`run_isolated`] (or, with `env: [...]`, [`run_isolated_env`]) under
/// `$how` within `$limit`, passing the function's own name, so that the name
/// the re-executed binary is asked to run cannot drift from the test's.
/// For tests at the top of an integration test file (whose harness name is
/// the bare function name). Attributes and doc comments go before the name.
///
/// ```
/// use std::time::Duration;
///
/// # use pidkit_testkit as testkit;
/// use testkit::{Isolation, SeccompMode};
///
/// fn emfile_body() {}
///
/// testkit::isolated_test!(
///     /// The body with the pidfd system calls refused.
///     emfile_fallback,
///     Isolation::Seccomp(SeccompMode::Enosys),
///     Duration::from_secs(60),
///     emfile_body
/// );
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! isolated_test {
    ($(#[$meta:meta])* $name:ident, $how:expr, $limit:expr, env: $env:expr, $body:expr $(,)?) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            $crate::run_isolated_env(stringify!($name), $how, $limit, $env, $body);
        }
    };
    ($(#[$meta:meta])* $name:ident, $how:expr, $limit:expr, $body:expr $(,)?) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            $crate::run_isolated(stringify!($name), $how, $limit, $body);
        }
    };
}

/// Declares one [`isolated_test!`] per `name: isolation` pair, all running
/// `$body` within `$limit`: the same body in a fresh process, under each
/// seccomp mode, in a PID namespace, as separate tests. Attributes and doc
/// comments go before each name.
///
/// ```
/// # use pidkit_testkit as testkit;
/// use testkit::{Isolation, SeccompMode};
///
/// fn body() {}
///
/// testkit::isolated_tests!(body, std::time::Duration::from_secs(60);
///     /// The body in a fresh process.
///     in_a_fresh_process: Isolation::Process,
///     under_seccomp: Isolation::Seccomp(SeccompMode::Enosys),
/// );
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! isolated_tests {
    ($body:expr, $limit:expr; $($(#[$meta:meta])* $name:ident: $how:expr),+ $(,)?) => {
        $($crate::isolated_test!($(#[$meta])* $name, $how, $limit, $body);)+
    };
}
