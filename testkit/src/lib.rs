//! Test support for the pidkit workspace. Not published.
//!
//! Everything here exists so that the tests of the real crates can use real
//! processes without leaking them, fail instead of hanging, and exercise the
//! sandboxes (seccomp filters, PID namespaces) that CI has as root.
//!
//! This crate holds no `unsafe`: seccomp filters are compiled and installed
//! through `seccompiler`, namespaces are entered through util-linux `unshare`.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step must fail the test loudly"
)]

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Environment variable that tells a re-executed test binary which test body to run.
pub const ISOLATED_ENV: &str = "PIDKIT_TESTKIT_ISOLATED";
/// Environment variable naming the seccomp mode a re-executed test installs first
/// (`enosys` or `eperm`).
pub const SECCOMP_ENV: &str = "PIDKIT_TESTKIT_SECCOMP";

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

/// A spawned child that is always killed (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct ChildGuard {
    child: Option<Child>,
}

impl ChildGuard {
    /// Wraps an already spawned child.
    pub fn new(child: Child) -> Self {
        Self { child: Some(child) }
    }

    /// Spawns `cmd` and guards the child.
    pub fn spawn(cmd: &mut Command) -> Self {
        Self::new(cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}")))
    }

    /// The child's PID.
    pub fn id(&self) -> u32 {
        self.child().id()
    }

    /// The child.
    pub fn child(&self) -> &Child {
        self.child.as_ref().unwrap()
    }

    /// The child, mutably (to take its pipes).
    pub fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().unwrap()
    }

    /// Waits for the child (std's `wait`), leaving the guard with nothing to do.
    pub fn wait(mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        child.wait().unwrap()
    }

    /// Takes the child out; the caller becomes responsible for reaping it.
    pub fn into_inner(mut self) -> Child {
        self.child.take().unwrap()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Spawns `sleep 1000` (a harmless long-lived child), guarded.
pub fn sleeper() -> ChildGuard {
    ChildGuard::spawn(Command::new("sleep").arg("1000"))
}

/// Spawns `sh -c script`, guarded.
pub fn sh(script: &str) -> ChildGuard {
    ChildGuard::spawn(Command::new("sh").arg("-c").arg(script))
}

/// Aborts the whole test process if it is still alive after a deadline, so a hang
/// fails CI instead of stalling it. Dropping the watchdog disarms it.
#[derive(Debug)]
pub struct Watchdog {
    cancel: Option<mpsc::Sender<()>>,
}

/// How much longer than on the host every watchdog waits:
/// `PIDKIT_TEST_TIME_SCALE` (a whole number, default 1). `cargo xtask matrix`
/// sets it for guests under QEMU's TCG, which run 5-10x slower. Tests never
/// wait for a time, only for facts; this scales the backstops alone.
pub fn time_scale() -> u32 {
    std::env::var("PIDKIT_TEST_TIME_SCALE")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|&n| n >= 1)
        .unwrap_or(1)
}

/// Raises this process's soft `RLIMIT_NOFILE` to at least `want` (capped at
/// the hard limit, which root may raise too), for a test that holds more
/// descriptors than the distributions' default soft limit of 1024 allows.
/// Returns the soft limit now in force.
pub fn raise_nofile(want: u64) -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    let cur = lim.current.unwrap_or(u64::MAX);
    if cur >= want {
        return cur;
    }
    let hard = lim.maximum.unwrap_or(u64::MAX);
    if hard < want
        && setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(want),
                maximum: Some(want),
            },
        )
        .is_ok()
    {
        return want;
    }
    let new = want.min(hard);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(new),
            maximum: lim.maximum,
        },
    )
    .expect("raising the soft RLIMIT_NOFILE");
    new
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

/// Arms a watchdog named `name` for `limit` (times [`time_scale`]).
pub fn watchdog(name: &str, limit: Duration) -> Watchdog {
    let limit = limit * time_scale();
    let (tx, rx) = mpsc::channel::<()>();
    let name = name.to_owned();
    thread::Builder::new()
        .name(format!("watchdog-{name}"))
        .spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("watchdog: test `{name}` still running after {limit:?}; aborting");
                std::process::abort();
            }
        })
        .unwrap();
    Watchdog { cancel: Some(tx) }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.cancel.take() {
            let _ = tx.send(());
        }
    }
}

/// Number of open file descriptors of this process (entries of `/proc/self/fd`,
/// not counting the directory handle used to list them).
pub fn open_fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .count()
        .saturating_sub(1)
}

/// Lists this process's open fds as `(fd, target)` pairs, for leak diagnostics.
pub fn open_fds() -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Ok(fd) = name.parse::<i32>() {
            let target = std::fs::read_link(entry.path())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            out.push((fd, target));
        }
    }
    out
}

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
    rules.insert(libc::SYS_pidfd_open, vec![]);
    rules.insert(libc::SYS_pidfd_send_signal, vec![]);
    rules.insert(libc::SYS_pidfd_getfd, vec![]);
    let cond = SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, P_PIDFD)
        .map_err(backend_error)?;
    rules.insert(
        libc::SYS_waitid,
        vec![SeccompRule::new(vec![cond]).map_err(backend_error)?],
    );
    apply_errno_filter(rules, mode.errno())
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
    let arch = if cfg!(target_arch = "aarch64") {
        TargetArch::aarch64
    } else if cfg!(target_arch = "riscv64") {
        TargetArch::riscv64
    } else {
        TargetArch::x86_64
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

/// If this process was started by [`run_isolated`] for a seccomp mode, installs
/// that filter. Call at the start of every isolated body (done for you by
/// [`run_isolated`]); harmless otherwise.
pub fn install_requested_filter() {
    if let Ok(v) = std::env::var(SECCOMP_ENV) {
        let mode = SeccompMode::parse(&v).unwrap_or_else(|| panic!("bad {SECCOMP_ENV}={v}"));
        install_pidfd_filter(mode).unwrap_or_else(|e| panic!("install seccomp filter: {e}"));
    }
}

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
/// `test_name` must be the test's full name as the harness lists it (for a test
/// at the top of an integration test file, just the function name). In the
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

/// Makes the next PID allocated in this PID namespace be `pid` by writing
/// `pid - 1` to `/proc/sys/kernel/ns_last_pid`. Only reliable in a private PID
/// namespace where nothing else forks concurrently; the caller must check the
/// child got the PID.
pub fn force_next_pid(pid: u32) -> io::Result<()> {
    std::fs::write("/proc/sys/kernel/ns_last_pid", format!("{}", pid - 1))
}

/// Spawns `cmd` so that it gets exactly `pid` (in a private PID namespace),
/// retrying a few times if something else took the number first.
pub fn spawn_with_pid(cmd: &mut Command, pid: u32) -> ChildGuard {
    for _ in 0..20 {
        force_next_pid(pid).unwrap();
        let child = ChildGuard::spawn(cmd);
        if child.id() == pid {
            return child;
        }
    }
    panic!("could not make a child get PID {pid} through ns_last_pid");
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
    rules.insert(libc::SYS_clone3, vec![]);
    apply_errno_filter(rules, libc::ENOSYS as u32)
}

/// The sandbox mode the whole test run is in, from `PIDKIT_SANDBOX`
/// (`none`/unset, `enosys`, `eperm`), as set by `cargo xtask test` when it
/// runs the suite under a seccomp filter on the pidfd system calls.
pub fn sandbox() -> Option<SeccompMode> {
    std::env::var("PIDKIT_SANDBOX")
        .ok()
        .and_then(|v| SeccompMode::parse(&v))
}

/// A file descriptor table filled up to a lowered `RLIMIT_NOFILE`, so that
/// every call that needs a new descriptor fails with `EMFILE`. Made by
/// [`fill_fd_table`]; dropping it closes the fillers and restores the limit.
///
/// The limit is per process: use it only in a body run by [`run_isolated`],
/// never in a test that shares its process with others.
#[derive(Debug)]
pub struct FdTableFull {
    fillers: Vec<std::os::fd::OwnedFd>,
    saved: rustix::process::Rlimit,
}

/// Lowers the soft `RLIMIT_NOFILE` to just above the highest open descriptor
/// and opens copies of `/dev/null` (close-on-exec) until `EMFILE`.
pub fn fill_fd_table() -> FdTableFull {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let saved = getrlimit(Resource::Nofile);
    let highest = open_fds().iter().map(|(fd, _)| *fd).max().unwrap_or(2);
    let limit = u64::try_from(highest).unwrap() + 1 + 16;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(limit),
            maximum: saved.maximum,
        },
    )
    .unwrap();
    let first = std::os::fd::OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
    let mut fillers = vec![first];
    loop {
        match rustix::io::fcntl_dupfd_cloexec(&fillers[0], 0) {
            Ok(fd) => fillers.push(fd),
            Err(rustix::io::Errno::MFILE) => break,
            Err(e) => panic!("filling the fd table: {e}"),
        }
    }
    FdTableFull { fillers, saved }
}

impl FdTableFull {
    /// Closes fillers until exactly `n` descriptors are free (`n` = 0: full again
    /// only if nothing else was closed meanwhile; fillers are never reopened).
    pub fn leave_free(&mut self, n: usize) {
        let mut free = self.free_slots();
        while free < n {
            assert!(self.fillers.len() > 1, "no filler left to close");
            self.fillers.pop();
            free += 1;
        }
    }

    /// How many descriptors can be opened now (counted by opening them).
    pub fn free_slots(&self) -> usize {
        let mut probes = Vec::new();
        loop {
            match rustix::io::fcntl_dupfd_cloexec(&self.fillers[0], 0) {
                Ok(fd) => probes.push(fd),
                Err(rustix::io::Errno::MFILE) => return probes.len(),
                Err(e) => panic!("counting free fds: {e}"),
            }
        }
    }

    /// How many fillers are open.
    pub fn fillers(&self) -> usize {
        self.fillers.len()
    }
}

impl Drop for FdTableFull {
    fn drop(&mut self) {
        self.fillers.clear();
        let _ = rustix::process::setrlimit(rustix::process::Resource::Nofile, self.saved);
    }
}

pub mod fuzz;

pub mod helper;
pub mod raw;

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
    if std::env::var(ISOLATED_ENV).is_ok_and(|v| v == test_name) {
        install_requested_filter();
        body();
        return true;
    }
    let exe = std::env::current_exe().unwrap();
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
            .arg(&exe);
    } else {
        cmd = Command::new(&exe);
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

/// The number of threads of this process (the `Threads:` line of
/// `/proc/self/status`).
pub fn thread_count() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Whether an [`io::Error`] with the OS error `errno` is `e` or somewhere in
/// its chain of sources (e.g. `EMFILE` inside a crate's error).
pub fn has_errno(e: &(dyn std::error::Error + 'static), errno: i32) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.raw_os_error() == Some(errno))
        {
            return true;
        }
        next = e.source();
    }
    false
}
