//! Running child commands: each one is printed before it runs, gets a time
//! limit, and runs in a process group of its own, so that the command and
//! everything it starts can be stopped together.
//!
//! The group's ID is the command's PID, and the command is not reaped until
//! the group has been dealt with: its exit is awaited with `WNOWAIT`, so the
//! zombie keeps the number taken, and a `killpg` can only reach processes of
//! this group. Past the limit the group gets SIGTERM, then after a grace
//! period SIGKILL. Once the command has ended, whatever still runs in its group
//! (a test's orphaned child, a background job) is a leftover: it is killed and
//! reported, so it can neither keep a pipe open nor outlive the run. A process
//! that leaves the group on purpose (`setsid`, nextest's per-test groups) is
//! its own starter's to stop.
//!
//! Since the children are not in xtask's process group, Ctrl-C at a terminal
//! reaches xtask alone; [`forward_signals`] passes SIGINT, SIGTERM and SIGHUP
//! on to the running command's group, lets it end and be swept as above (a
//! group still running after the grace period is killed), and then ends xtask
//! by the same signal.

use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, kill_process_group, waitid};

/// How long a timed-out group gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// The process groups of the commands running now (a probe may run beside a
/// step), for [`forward_signals`]. A group is removed before its leader is
/// reaped, under this lock, so a signal never reaches a reused number.
static RUNNING: Mutex<Vec<Pid>> = Mutex::new(Vec::new());

/// The signal that stops xtask, once one came (0 before): no further command starts.
static STOPPING: AtomicI32 = AtomicI32::new(0);

fn running() -> MutexGuard<'static, Vec<Pid>> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// A command to run, with the environment it adds and its time limit.
#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    timeout: Duration,
    capture_stdout: bool,
    capture_stderr: bool,
    /// Captured output is kept but not shown, and stderr is discarded.
    quiet: bool,
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
            quiet: false,
        }
    }

    /// `cargo` with the given arguments.
    pub(crate) fn cargo<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> Cmd {
        Cmd::new("cargo").args(args)
    }

    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub(crate) fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Cmd {
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

    pub(crate) fn current_dir(mut self, dir: impl Into<PathBuf>) -> Cmd {
        self.cwd = Some(dir.into());
        self
    }

    pub(crate) fn timeout(mut self, limit: Duration) -> Cmd {
        self.timeout = limit;
        self
    }

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
        let quote = |s: &OsStr| shell_quote(&s.to_string_lossy());
        let mut words: Vec<String> = (self.envs.iter())
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), quote(v)))
            .collect();
        words.push(quote(&self.program));
        words.extend(self.args.iter().map(|a| quote(a)));
        let line = words.join(" ");
        match &self.cwd {
            Some(d) => format!("(cd {} && {line})", quote(d.as_os_str())),
            None => line,
        }
    }
}

/// Quotes `word` for a POSIX shell when it needs quoting.
pub(crate) fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && (word.bytes()).all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
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
    /// It ran past its limit and its process group was killed.
    TimedOut(Duration),
    /// It could not be started (or not be waited for).
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
    pub(crate) finish: Finish,
    /// Its stdout, when captured.
    pub(crate) stdout: String,
    /// Its stderr, when captured.
    pub(crate) stderr: String,
    /// Processes it left running in its group (`pid (name)`), killed after it ended.
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

/// Copies `from` line by line to our stdout or stderr (unless `quiet`), keeping a copy.
fn tee(
    from: impl Read + Send + 'static,
    to_stderr: bool,
    quiet: bool,
) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut reader = BufReader::new(from);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            let _ = match (quiet, to_stderr) {
                (true, _) => Ok(()),
                (false, true) => io::stderr().lock().write_all(&line),
                (false, false) => io::stdout().lock().write_all(&line),
            };
            kept.append(&mut line);
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

/// Runs `cmd` in a new process group (stdin closed, output shown as it comes),
/// waiting at most its limit; then kills what is left of the group.
pub(crate) fn run(cmd: &Cmd) -> Outcome {
    let mut command = Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .stdin(Stdio::null())
        .process_group(0);
    command.envs(cmd.envs.iter().map(|(k, v)| (k, v)));
    if let Some(d) = &cmd.cwd {
        command.current_dir(d);
    }
    if cmd.capture_stdout {
        command.stdout(Stdio::piped());
    }
    if cmd.capture_stderr {
        command.stderr(Stdio::piped());
    } else if cmd.quiet {
        command.stderr(Stdio::null());
    }
    let _ = io::stdout().flush();
    let mut child = {
        let mut running = running();
        if STOPPING.load(Ordering::SeqCst) != 0 {
            return Outcome::not_started(Finish::NotRun("xtask is stopping".into()));
        }
        match command.spawn() {
            Ok(c) => {
                running.push(Pid::from_child(&c));
                c
            }
            Err(e) => return Outcome::not_started(Finish::SpawnFailed(e)),
        }
    };
    let group = Pid::from_child(&child);
    let out_thread = child.stdout.take().map(|s| tee(s, false, cmd.quiet));
    let err_thread = child.stderr.take().map(|s| tee(s, true, cmd.quiet));
    // The waiter sees the exit but leaves the zombie: its PID is the group's ID.
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let exited = loop {
            match waitid(
                WaitId::Pid(group),
                WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
            ) {
                Err(rustix::io::Errno::INTR) => continue,
                other => break other.map(drop),
            }
        };
        let _ = tx.send(exited);
    });
    let mut finish = match rx.recv_timeout(cmd.timeout) {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(Finish::SpawnFailed(e.into())),
        Err(_) => {
            if !cmd.quiet {
                eprintln!(
                    "xtask: `{}` still running after {}s; killing its process group",
                    cmd.display(),
                    cmd.timeout.as_secs()
                );
            }
            for signal in [Signal::TERM, Signal::KILL] {
                let _ = kill_process_group(group, signal);
                if rx.recv_timeout(GRACE).is_ok() {
                    break;
                }
            }
            Some(Finish::TimedOut(cmd.timeout))
        }
    };
    let leftovers = sweep_group(group);
    if !leftovers.is_empty() && !cmd.quiet {
        eprintln!(
            "xtask: WARNING: `{}` left {} process(es) running; killed: {}",
            cmd.display(),
            leftovers.len(),
            leftovers.join(", ")
        );
    }
    reap(&mut child, group, &mut finish);
    // The pipes close once every process holding them is gone; do not wait for
    // holders outside the group forever.
    let join = |t: Option<thread::JoinHandle<String>>| -> String {
        let Some(t) = t else { return String::new() };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !t.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        match t.is_finished() {
            true => t.join().unwrap_or_default(),
            false => String::new(),
        }
    };
    Outcome {
        finish: finish.unwrap_or(Finish::NotRun("no exit status".into())),
        stdout: join(out_thread),
        stderr: join(err_thread),
        leftovers,
    }
}

/// Reaps the group leader once it has exited (a leader that outlived SIGKILL
/// is left alone), after its group is no longer signalled.
fn reap(child: &mut Child, group: Pid, finish: &mut Option<Finish>) {
    let mut running = running();
    running.retain(|&g| g != group);
    match child.try_wait() {
        Ok(Some(status)) => {
            finish.get_or_insert(Finish::Exited(status));
        }
        Ok(None) => {}
        Err(e) => {
            finish.get_or_insert(Finish::SpawnFailed(e));
        }
    }
}

/// The live members of process group `group` other than its leader, as
/// `pid (name)`, from `/proc/<pid>/stat`.
fn group_members(group: Pid) -> Vec<(i32, String)> {
    let leader = group.as_raw_nonzero().get();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut members = Vec::new();
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
        let Some((head, tail)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map_or("", |(_, c)| c);
        let fields: Vec<&str> = tail.split_whitespace().collect();
        let in_group = fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(leader);
        if in_group && pid != leader && fields.first() != Some(&"Z") {
            members.push((pid, comm.to_owned()));
        }
    }
    members
}

/// Kills the group's leftovers until two looks in a row find none (a
/// leftover may fork while it is being killed); returns those it found.
fn sweep_group(group: Pid) -> Vec<String> {
    let mut seen = Vec::new();
    let mut leftovers = Vec::new();
    let mut quiet_rounds = 0;
    for _ in 0..40 {
        let found = group_members(group);
        if found.is_empty() {
            quiet_rounds += 1;
            if quiet_rounds == 2 {
                break;
            }
        } else {
            quiet_rounds = 0;
            let _ = kill_process_group(group, Signal::KILL);
        }
        for (pid, name) in found {
            if !seen.contains(&pid) {
                seen.push(pid);
                leftovers.push(format!("{pid} ({name})"));
            }
        }
        thread::sleep(Duration::from_millis(25));
    }
    leftovers
}

/// Runs a short helper command to completion and returns its stdout, or `None`
/// when it fails (used for probes such as `rustc -vV`; not printed).
pub(crate) fn output_of(program: &str, args: &[&str], limit: Duration) -> Option<String> {
    let mut cmd = Cmd::new(program).args(args).timeout(limit).capture_stdout();
    cmd.quiet = true;
    let out = run(&cmd);
    out.finish.success().then_some(out.stdout)
}

/// Passes SIGINT, SIGTERM and SIGHUP on to the running commands' process
/// groups, waits for [`run`] to sweep and reap them (at most [`GRACE`], then
/// SIGKILL), and ends xtask by the same signal.
pub(crate) fn forward_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        eprintln!("xtask: cannot catch signals; Ctrl-C leaves the running command alone");
        return;
    };
    thread::spawn(move || {
        let Some(raw) = signals.forever().next() else {
            return;
        };
        let groups = {
            let groups = running();
            STOPPING.store(raw, Ordering::SeqCst);
            for &group in groups.iter() {
                let _ = Signal::from_named_raw(raw).map(|s| kill_process_group(group, s));
            }
            groups.clone()
        };
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline && running().iter().any(|g| groups.contains(g)) {
            thread::sleep(Duration::from_millis(20));
        }
        for &group in running().iter() {
            let _ = kill_process_group(group, Signal::KILL);
        }
        exit_if_stopped();
    });
}

/// Ends xtask by the signal that stopped it, if one did (after the summary).
pub(crate) fn exit_if_stopped() {
    let raw = STOPPING.load(Ordering::SeqCst);
    if raw != 0 {
        let _ = io::stdout().flush();
        let _ = signal_hook::low_level::emulate_default_handler(raw);
        std::process::exit(128 + raw);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `pid` is gone or a zombie (or another program got its number).
    fn ended(pid: u32, comm: &str) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit_once(')').map(|(_, t)| t.trim_start());
        stat.is_empty()
            || !stat.contains(&format!("({comm})"))
            || state.is_some_and(|s| s.starts_with('Z'))
    }

    #[test]
    fn leftovers_are_found_and_killed() {
        // The shell exits at once; its background sleep stays in the group and
        // holds the stdout pipe (without the sweep this would block).
        let out = run(&Cmd::new("sh")
            .args(["-c", "sleep 600 & echo $!"])
            .capture_stdout());
        assert!(out.finish.success(), "{:?}", out.finish);
        assert_eq!(out.leftovers.len(), 1, "{:?}", out.leftovers);
        let sleep: u32 = out.stdout.trim().parse().unwrap();
        assert!(out.leftovers[0].starts_with(&format!("{sleep} (")));
        assert!(out.note().contains("leftover"), "{}", out.note());
        assert!(ended(sleep, "sleep"));
        let clean = run(&Cmd::new("true"));
        assert!(clean.leftovers.is_empty() && clean.note().is_empty());
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        // A grandchild that ignores SIGTERM reports its PID; the shell waits.
        let script = "sh -c 'trap \"\" TERM; echo $$; exec sleep 600' & wait";
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
        // SIGKILL was sent to the group before run() returned; init reaps it.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ended(grandchild, "sleep") {
            assert!(Instant::now() < deadline, "{grandchild} still runs");
            thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn runs_and_reports_status() {
        let ok = run(&Cmd::new("sh")
            .args(["-c", "echo hi; echo err >&2"])
            .capture_stdout());
        assert!(ok.finish.success());
        assert_eq!(ok.stdout, "hi\n");
        let bad = run(&Cmd::new("sh").args(["-c", "exit 3"]));
        assert!(
            bad.finish.describe().contains('3'),
            "{}",
            bad.finish.describe()
        );
        let missing = run(&Cmd::new("/nonexistent/xtask-test-program"));
        assert!(matches!(missing.finish, Finish::SpawnFailed(_)));
        assert_eq!(
            output_of("sh", &["-c", "echo 42"], Duration::from_secs(10)).as_deref(),
            Some("42\n")
        );
        assert_eq!(
            output_of("sh", &["-c", "exit 1"], Duration::from_secs(10)),
            None
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
}
