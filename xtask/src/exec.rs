//! Running child commands: each one is printed before it runs, gets a time limit,
//! and past that limit its whole process tree is terminated, then killed.
//!
//! Every signal goes through a [`PidHandle`] (a pidfd where the kernel has
//! them), never through a bare PID, so it cannot reach a process that got a
//! recycled number. A command's own process is pinned when it is spawned.
//! Any other process is pinned first and proven second: after its pidfd is
//! open, `/proc/<pid>` is read again and must still show what picked it (the
//! start time seen in the process table, or the marker below), and then the
//! pinned process must still be running, so that read was its own.
//! Descendants are found through `/proc/<pid>/stat` (parent PID), below
//! members that are pinned and still running.
//!
//! Processes that escaped the tree (a test's child orphaned when the test
//! panicked, a daemon) are found by a marker: every command gets a unique
//! [`MARKER_ENV`] value, which its descendants inherit. Whatever still carries
//! the marker once the command has ended is a leftover: it is killed and
//! reported, so it can neither keep a pipe open (nextest waits for EOF on the
//! output of test binaries) nor outlive the run.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use pidkit_pidhandle::{PidHandle, Signal, State};
use testkit::Stat;

/// How long a timed-out tree gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// The environment variable that marks every process started for one command.
pub(crate) const MARKER_ENV: &str = "PIDKIT_XTASK_RUN";

/// Long-lived helpers that cargo starts on purpose and that may outlive a
/// command (a compiler cache server); never treated as leftovers.
const KEEP_ALIVE: [&str; 1] = ["sccache"];

static RUN_SEQ: AtomicU64 = AtomicU64::new(0);

/// A marker value unique to one command of this xtask process.
fn new_marker() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        RUN_SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// A command to run, with the environment it adds and its time limit.
#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    cwd: Option<std::path::PathBuf>,
    timeout: Duration,
    capture_stdout: bool,
    capture_stderr: bool,
}

impl Cmd {
    /// A command running `program`, with a default limit of 15 minutes.
    pub(crate) fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            cwd: None,
            timeout: Duration::from_secs(15 * 60),
            capture_stdout: false,
            capture_stderr: false,
        }
    }

    /// `cargo` with the given arguments.
    pub(crate) fn cargo<I, S>(args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Cmd::new("cargo").args(args)
    }

    /// Adds one argument.
    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub(crate) fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the child (later settings win).
    pub(crate) fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        let key = key.as_ref().to_owned();
        self.envs.retain(|(k, _)| *k != key);
        self.envs.push((key, value.as_ref().to_owned()));
        self
    }

    /// Runs the command in `dir` instead of the current directory.
    pub(crate) fn current_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Cmd {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets the time limit.
    pub(crate) fn timeout(mut self, limit: Duration) -> Cmd {
        self.timeout = limit;
        self
    }

    /// The time limit.
    pub(crate) fn limit(&self) -> Duration {
        self.timeout
    }

    /// Also keeps a copy of what the child writes to stdout (it is still shown).
    pub(crate) fn capture_stdout(mut self) -> Cmd {
        self.capture_stdout = true;
        self
    }

    /// Also keeps a copy of what the child writes to stderr (it is still shown).
    pub(crate) fn capture_stderr(mut self) -> Cmd {
        self.capture_stderr = true;
        self
    }

    /// The command as a shell line: the variables it sets, the program, the arguments.
    pub(crate) fn display(&self) -> String {
        let mut words: Vec<String> = self
            .envs
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    k.to_string_lossy(),
                    shell_quote(&v.to_string_lossy())
                )
            })
            .collect();
        words.push(shell_quote(&self.program.to_string_lossy()));
        words.extend(self.args.iter().map(|a| shell_quote(&a.to_string_lossy())));
        let line = words.join(" ");
        match &self.cwd {
            Some(d) => format!("(cd {} && {line})", shell_quote(&d.to_string_lossy())),
            None => line,
        }
    }
}

/// Quotes `word` for a POSIX shell when it needs quoting.
pub(crate) fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// How a command ended.
#[derive(Debug)]
pub(crate) enum Finish {
    /// It exited (or was killed by a signal it did not get from us).
    Exited(ExitStatus),
    /// It ran past its limit and its process tree was terminated.
    TimedOut(Duration),
    /// It could not be started.
    SpawnFailed(io::Error),
    /// It was not started, for the reason given.
    NotRun(String),
}

impl Finish {
    /// True for a zero exit status.
    pub(crate) fn success(&self) -> bool {
        matches!(self, Finish::Exited(st) if st.success())
    }

    /// A short human description of a failure (empty on success).
    pub(crate) fn describe(&self) -> String {
        match self {
            Finish::Exited(st) if st.success() => String::new(),
            Finish::Exited(st) => st.to_string(),
            Finish::TimedOut(limit) => format!("timed out after {}s, killed", limit.as_secs()),
            Finish::SpawnFailed(e) => format!("could not start: {e}"),
            Finish::NotRun(why) => format!("not run: {why}"),
        }
    }
}

/// What a finished command left behind.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// How it ended.
    pub(crate) finish: Finish,
    /// Its stdout, when captured.
    pub(crate) stdout: String,
    /// Its stderr, when captured.
    pub(crate) stderr: String,
    /// Processes it left behind (`pid (name)`), found and killed after it ended.
    pub(crate) leftovers: Vec<String>,
}

impl Outcome {
    /// An outcome for a command that never started.
    pub(crate) fn not_started(finish: Finish) -> Outcome {
        Outcome {
            finish,
            stdout: String::new(),
            stderr: String::new(),
            leftovers: Vec::new(),
        }
    }

    /// How it ended, for the summary: empty for a clean success; says so when
    /// processes were left behind.
    pub(crate) fn note(&self) -> String {
        let mut note = self.finish.describe();
        if !self.leftovers.is_empty() {
            if !note.is_empty() {
                note.push_str("; ");
            }
            note += &format!(
                "WARNING: killed {} leftover process(es)",
                self.leftovers.len()
            );
        }
        note
    }
}

/// Copies `from` to our stdout or stderr line by line, keeping a copy.
fn tee(from: impl Read + Send + 'static, to_stderr: bool) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut kept = String::new();
        let mut reader = BufReader::new(from);
        let mut line = Vec::new();
        while let Ok(n) = reader.read_until(b'\n', &mut line) {
            if n == 0 {
                break;
            }
            let _ = if to_stderr {
                io::stderr().lock().write_all(&line)
            } else {
                io::stdout().lock().write_all(&line)
            };
            kept.push_str(&String::from_utf8_lossy(&line));
            line.clear();
        }
        kept
    })
}

/// Runs `cmd` (stdin closed, output shown as it comes), waiting at most its limit.
/// Past the limit the child and every process below it get SIGTERM, and after a
/// grace period SIGKILL.
pub(crate) fn run(cmd: &Cmd) -> Outcome {
    let mut command = Command::new(&cmd.program);
    command.args(&cmd.args).stdin(Stdio::null());
    for (k, v) in &cmd.envs {
        command.env(k, v);
    }
    if let Some(d) = &cmd.cwd {
        command.current_dir(d);
    }
    let marker = new_marker();
    command.env(MARKER_ENV, &marker);
    if cmd.capture_stdout {
        command.stdout(Stdio::piped());
    }
    if cmd.capture_stderr {
        command.stderr(Stdio::piped());
    }
    let _ = io::stdout().flush();
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::not_started(Finish::SpawnFailed(e)),
    };
    let root = pin_child(&child);
    let out_thread = child.stdout.take().map(|s| tee(s, false));
    let err_thread = child.stderr.take().map(|s| tee(s, true));
    let (tx, rx) = mpsc::channel();
    // The waiter owns the child and reaps it; the main thread only watches the clock.
    thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let finish = match rx.recv_timeout(cmd.timeout) {
        Ok(Ok(status)) => Finish::Exited(status),
        Ok(Err(e)) => Finish::SpawnFailed(e),
        Err(_) => {
            eprintln!(
                "xtask: `{}` still running after {}s; terminating its process tree",
                cmd.display(),
                cmd.timeout.as_secs()
            );
            if let Some(root) = root {
                terminate_tree(root, &rx);
            }
            Finish::TimedOut(cmd.timeout)
        }
    };
    let leftovers = sweep_marked(&marker);
    if !leftovers.is_empty() {
        eprintln!(
            "xtask: WARNING: `{}` left {} process(es) running; killed: {}",
            cmd.display(),
            leftovers.len(),
            leftovers.join(", ")
        );
    }
    // The pipes close once every process holding them is gone; do not wait for
    // stray holders forever.
    let join = |t: Option<thread::JoinHandle<String>>| -> String {
        let Some(t) = t else { return String::new() };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !t.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        if t.is_finished() {
            t.join().unwrap_or_default()
        } else {
            String::new()
        }
    };
    Outcome {
        finish,
        stdout: join(out_thread),
        stderr: join(err_thread),
        leftovers,
    }
}

/// Kills leftovers of the command with `marker` until two sweeps in a row find
/// none: a process caught inside `execve` shows an empty environment for a
/// moment, and a leftover may fork while it is being killed.
fn sweep_marked(marker: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut leftovers = Vec::new();
    let mut quiet_rounds = 0;
    for _ in 0..20 {
        let found = kill_marked(marker);
        if found.is_empty() {
            quiet_rounds += 1;
            if quiet_rounds == 2 {
                break;
            }
        } else {
            quiet_rounds = 0;
        }
        for (pid, name) in found {
            if seen.insert(pid) {
                leftovers.push(format!("{pid} ({name})"));
            }
        }
        thread::sleep(Duration::from_millis(25));
    }
    leftovers
}

/// Pins a child we spawned and have not reaped (so its PID cannot have been
/// reused). `None`, with a message, only when no handle can be had (out of
/// file descriptors): the marker sweep then still stops its processes.
fn pin_child(child: &std::process::Child) -> Option<PidHandle> {
    match PidHandle::from_child(child) {
        Ok(h) => Some(h),
        Err(e) => {
            eprintln!(
                "xtask: cannot pin child {} ({e}); only the marker sweep can stop it",
                child.id()
            );
            None
        }
    }
}

/// Whether `environ` (the NUL-separated text of `/proc/<pid>/environ`) holds `entry`.
fn has_env_entry(environ: &[u8], entry: &str) -> bool {
    environ.split(|&b| b == 0).any(|v| v == entry.as_bytes())
}

/// Pins `pid`, then proves the pin: `check` must accept what
/// `/proc/<pid>/{stat,environ}` say *after* the pidfd is open, and the pinned
/// process must still be running afterwards (so that `/proc` read was its
/// own, not a successor's). `None` when the process is gone, changed, or
/// cannot be pinned.
fn pin_proven(pid: u32, check: impl FnOnce(&Stat, &[u8]) -> bool) -> Option<PidHandle> {
    let handle = PidHandle::new(pid).ok()?;
    let stat = testkit::stat(pid)?;
    // Unreadable environments (other users' processes) read as empty.
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    if !check(&stat, &environ) {
        return None;
    }
    matches!(handle.state(), Ok(State::Running)).then_some(handle)
}

/// Kills every live process whose environment holds `MARKER_ENV=marker` (except
/// [`KEEP_ALIVE`] helpers and zombies), each through a proven [`PidHandle`],
/// and returns the PIDs and names of those it killed.
fn kill_marked(marker: &str) -> Vec<(u32, String)> {
    let entry = format!("{MARKER_ENV}={marker}");
    let me = std::process::id();
    let mut killed = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return killed;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        // A cheap filter before pinning: most processes are not ours.
        let env = std::fs::read(e.path().join("environ")).unwrap_or_default();
        if pid == me || !has_env_entry(&env, &entry) {
            continue;
        }
        let mut name = String::new();
        let pinned = pin_proven(pid, |stat, environ| {
            name.clone_from(&stat.comm);
            stat.state != 'Z'
                && !KEEP_ALIVE.contains(&stat.comm.as_str())
                && has_env_entry(environ, &entry)
        });
        if let Some(handle) = pinned {
            if handle.kill(Signal::KILL).is_ok() {
                killed.push((pid, name));
            }
        }
    }
    killed
}

/// SIGTERM to the tree below (and including) `root`, then after [`GRACE`]
/// SIGKILL to every member pinned so far and to anything that appeared below
/// a live member meanwhile. Members are pinned, so a member that died during
/// the grace period is not replaced by whatever gets its PID.
fn terminate_tree(root: PidHandle, waiter: &mpsc::Receiver<io::Result<ExitStatus>>) {
    let mut tree = BTreeMap::from([(root.pid(), root)]);
    pin_descendants(&mut tree);
    signal_all(&tree, Signal::TERM);
    // Wait for the root to be reaped, or the grace period to pass.
    let _ = waiter.recv_timeout(GRACE);
    // Children of members that died were reparented, but a member that still
    // runs may have forked again.
    pin_descendants(&mut tree);
    signal_all(&tree, Signal::KILL);
    let _ = waiter.recv_timeout(GRACE);
}

/// Sends `signal` through each handle; members already gone are skipped.
fn signal_all(tree: &BTreeMap<u32, PidHandle>, signal: Signal) {
    for handle in tree.values() {
        let _ = handle.kill(signal);
    }
}

/// `pid -> (parent pid, start time in clock ticks)` for every process visible in `/proc`.
fn process_table() -> BTreeMap<u32, (u32, u64)> {
    let mut table = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return table;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(stat) = testkit::stat(pid) {
            table.insert(pid, (stat.ppid, stat.start_ticks));
        }
    }
    table
}

/// Adds to `tree` every descendant of its members, pinned and proven by its
/// start time; only members still running count as parents (a reaped
/// member's PID may since name an unrelated process).
fn pin_descendants(tree: &mut BTreeMap<u32, PidHandle>) {
    let table = process_table();
    let mut parents: BTreeSet<u32> = tree
        .iter()
        .filter(|(_, h)| matches!(h.state(), Ok(State::Running)))
        .map(|(&pid, _)| pid)
        .collect();
    while !parents.is_empty() {
        let mut next = BTreeSet::new();
        for (&pid, &(ppid, start)) in &table {
            if !parents.contains(&ppid) || tree.contains_key(&pid) {
                continue;
            }
            let proven = pin_proven(pid, |stat, _| stat.start_ticks == start);
            if let Some(handle) = proven {
                tree.insert(pid, handle);
                next.insert(pid);
            }
        }
        parents = next;
    }
}

/// Runs a short helper command to completion and returns its stdout, or `None`
/// when it fails (used for probes such as `rustc -vV`; not printed).
pub(crate) fn output_of(program: &str, args: &[&str], limit: Duration) -> Option<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    let reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let root = pin_child(&child);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(st)) if st.success() => reader.join().ok(),
        Ok(_) => None,
        Err(_) => {
            if let Some(root) = root {
                terminate_tree(root, &rx);
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_found_and_killed() {
        // The shell exits at once; its background sleep is orphaned but keeps
        // the marker (and the stdout pipe: without the sweep this would block).
        // A leftover left alive would keep this test waiting: the watchdog
        // fails it instead of letting it hang.
        let _w = testkit::watchdog("leftovers_are_found_and_killed", Duration::from_secs(120));
        let out = run(&Cmd::new("sh")
            .args(["-c", "sleep 600 & echo started"])
            .capture_stdout());
        assert!(out.finish.success(), "{:?}", out.finish);
        assert_eq!(out.stdout, "started\n");
        assert_eq!(out.leftovers.len(), 1, "{:?}", out.leftovers);
        // Caught before or after the background shell's exec of sleep.
        let l = &out.leftovers[0];
        assert!(l.ends_with("(sleep)") || l.ends_with("(sh)"), "{l}");
        assert!(out.note().contains("leftover"), "{}", out.note());
        let clean = run(&Cmd::new("true"));
        assert!(clean.leftovers.is_empty() && clean.note().is_empty());
    }

    #[test]
    fn pin_proven_signals_only_the_process_that_passed_the_check() {
        let _w = testkit::watchdog("pin_proven", Duration::from_secs(60));
        let mut child = testkit::sleeper();
        let pid = child.id();
        let start = testkit::start_ticks(pid).unwrap();
        assert!(pin_proven(pid, |_, _| false).is_none());
        assert!(pin_proven(pid, |stat, _| stat.start_ticks != start).is_none());
        let handle = pin_proven(pid, |stat, _| stat.start_ticks == start)
            .expect("a running child with its own start time is pinned");
        assert_eq!(handle.pid(), pid);
        handle.kill(Signal::KILL).unwrap();
        let status = child.child_mut().wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        // Reaped: the handle refuses, whatever gets the number next.
        assert!(handle.kill(Signal::KILL).is_err());
    }

    #[test]
    fn a_recycled_pid_is_not_pinned_for_the_process_it_replaced() {
        let _w = testkit::watchdog("recycled_pid", Duration::from_secs(120));
        testkit::run_isolated(
            "exec::tests::a_recycled_pid_is_not_pinned_for_the_process_it_replaced",
            testkit::Isolation::PidNamespace,
            Duration::from_secs(60),
            || {
                let first = testkit::sleeper();
                let pid = first.id();
                let first_start = testkit::start_ticks(pid).unwrap();
                let mut first = first.into_inner();
                first.kill().unwrap();
                first.wait().unwrap();
                // A new process with the same PID; retried until its start
                // time differs (two starts within one clock tick are the
                // same identity, a documented limit of start times).
                let second = loop {
                    let c = testkit::spawn_with_pid(Command::new("sleep").arg("600"), pid);
                    if testkit::start_ticks(pid).unwrap() != first_start {
                        break c;
                    }
                    drop(c);
                };
                let proven = pin_proven(pid, |stat, _| stat.start_ticks == first_start);
                assert!(
                    proven.is_none(),
                    "pid {pid} pinned for a process that was reaped"
                );
                let mut second = second;
                assert!(second.child_mut().try_wait().unwrap().is_none());
                // The marker sweep pins and proves the same way: the new
                // process has no marker and is left alone.
                assert!(kill_marked("not-this-one").is_empty());
                assert!(second.child_mut().try_wait().unwrap().is_none());
            },
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("cargo"), "cargo");
        assert_eq!(shell_quote("-D warnings"), "'-D warnings'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        let c = Cmd::cargo(["doc", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings");
        assert_eq!(
            c.display(),
            "RUSTDOCFLAGS='-D warnings' cargo doc --no-deps"
        );
    }

    #[test]
    fn runs_and_reports_status() {
        let ok = run(&Cmd::new("sh")
            .args(["-c", "echo hi; echo err >&2"])
            .capture_stdout());
        assert!(ok.finish.success());
        assert_eq!(ok.stdout, "hi\n");
        let bad = run(&Cmd::new("sh").args(["-c", "exit 3"]));
        assert!(!bad.finish.success());
        assert!(
            bad.finish.describe().contains('3'),
            "{}",
            bad.finish.describe()
        );
        let missing = run(&Cmd::new("/nonexistent/xtask-test-program"));
        assert!(matches!(missing.finish, Finish::SpawnFailed(_)));
    }

    #[test]
    fn timeout_kills_the_whole_tree() {
        // A shell that starts a grandchild ignoring SIGTERM, reports its PID, and waits.
        let script = "sh -c 'trap \"\" TERM; echo $$; exec sleep 600' & wait";
        let _w = testkit::watchdog("timeout_kills_the_whole_tree_run", Duration::from_secs(120));
        let out = run(&Cmd::new("sh")
            .args(["-c", script])
            .timeout(Duration::from_millis(500))
            .capture_stdout());
        assert!(
            matches!(out.finish, Finish::TimedOut(_)),
            "{:?}",
            out.finish
        );
        let grandchild: u32 = out.stdout.trim().parse().unwrap();
        // Reaped by init (or a subreaper) after SIGKILL; the watchdog bounds the wait.
        let _w = testkit::watchdog("timeout_kills_the_whole_tree", Duration::from_secs(60));
        testkit::wait_until(|| {
            testkit::stat(grandchild).is_none_or(|s| s.state == 'Z' || s.comm != "sleep")
        });
    }

    #[test]
    fn output_of_reads_stdout() {
        let s = output_of("sh", &["-c", "echo 42"], Duration::from_secs(10));
        assert_eq!(s.as_deref(), Some("42\n"));
        assert_eq!(
            output_of("sh", &["-c", "exit 1"], Duration::from_secs(10)),
            None
        );
    }
}
