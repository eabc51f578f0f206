//! Runs the `tokio_supervisor` example for real: workers started, one
//! restarted after it exits, the supervisor re-executing itself and
//! restoring its workers from the state file, a survivor's exit awaited
//! after the restart, and the end once the restart budget is spent. Under
//! the seccomp modes the example runs on the fallback (no pidfds), where
//! restored workers are awaited through their handles.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use pidkit_monitor::{PidHandle, Signal, State};
use testkit::{ChildGuard, watchdog};

const LIMIT: Duration = Duration::from_secs(300);

/// The example binary next to this test's (`target/<profile>/examples/`),
/// built first if this run did not build it.
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let mut bin = dir.join("tokio_supervisor");
    // A test binary run from a `cargo nextest archive` (the kernel matrix)
    // has no examples beside it; the workspace's own target dir has.
    let in_workspace =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/examples/tokio_supervisor");
    if !bin.is_file() && in_workspace.is_file() {
        bin = in_workspace;
    }
    if !bin.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "-p",
                "pidkit-monitor",
                "--example",
                "tokio_supervisor",
            ])
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "building the example failed");
    }
    assert!(bin.is_file(), "{} missing", bin.display());
    bin
}

struct Supervisor {
    child: ChildGuard,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Supervisor {
    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.output.read_line(&mut line).unwrap();
        assert!(n > 0, "the supervisor ended its output early");
        line.trim_end().to_owned()
    }

    /// Reads lines until one starts with `prefix`; returns it and the lines
    /// before it.
    fn until(&mut self, prefix: &str) -> (String, Vec<String>) {
        let mut before = Vec::new();
        loop {
            let line = self.line();
            if line.starts_with(prefix) {
                return (line, before);
            }
            before.push(line);
        }
    }
}

fn read_state(path: &Path) -> Vec<(usize, PidHandle)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let (slot, h) = l.split_once(' ').unwrap();
            (slot.parse().unwrap(), h.parse().unwrap())
        })
        .collect()
}

fn pid_of(line: &str) -> u32 {
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

#[test]
fn example_supervisor_restarts_workers_and_itself() {
    let _w = watchdog("example_supervisor", LIMIT);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("workers.state");
    let mut cmd = Command::new(example());
    cmd.arg("start")
        .arg(&state)
        .args(["3", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = ChildGuard::spawn(&mut cmd);
    let input = child.child_mut().stdin.take().unwrap();
    let output = BufReader::new(child.child_mut().stdout.take().unwrap());
    let mut sv = Supervisor {
        child,
        input,
        output,
    };
    let (line, started) = sv.until("state ");
    assert_eq!(line, "state 3");
    assert_eq!(started.len(), 3, "{started:?}");
    let workers = read_state(&state);
    assert_eq!(workers.len(), 3);
    for ((slot, h), line) in workers.iter().zip(&started) {
        assert_eq!(line, &format!("started {slot} {}", h.pid()));
        assert_eq!(h.state().unwrap(), State::Running);
    }

    // A worker exits: reported with its code, restarted, state rewritten.
    workers[0].1.kill(Signal::TERM).unwrap();
    let first = workers[0].1.pid();
    assert_eq!(sv.line(), format!("exited 0 {first} code 143"));
    let restarted = sv.line();
    assert!(restarted.starts_with("started 0 "), "{restarted}");
    assert_eq!(sv.line(), "state 3");
    let workers = read_state(&state);
    assert_eq!(workers[0].1.pid(), pid_of(&restarted));
    assert_ne!(workers[0].1.pid(), first);

    // The supervisor restarts itself (exec: same PID) and restores them.
    writeln!(sv.input, "exec").unwrap();
    assert_eq!(sv.until("exec").0, "exec");
    let (line, restored) = sv.until("state ");
    assert_eq!(line, "state 3");
    let want: Vec<String> = workers
        .iter()
        .map(|(slot, h)| format!("restored {slot} {}", h.pid()))
        .collect();
    assert_eq!(restored, want);

    // A survivor's exit, awaited after the restart, with its status.
    let second = workers[1].1.pid();
    workers[1].1.kill(Signal::TERM).unwrap();
    assert_eq!(sv.line(), format!("exited 1 {second} code 143"));
    assert!(sv.line().starts_with("started 1 "));
    assert_eq!(sv.line(), "state 3");

    // The budget is spent: the next exits end the supervisor.
    let workers = read_state(&state);
    for (_, h) in &workers {
        h.kill(Signal::KILL).unwrap();
    }
    let mut exited = Vec::new();
    loop {
        let line = sv.line();
        if line == "done" {
            break;
        }
        if line.starts_with("exited ") {
            exited.push(line);
        }
    }
    exited.sort();
    let mut want: Vec<String> = workers
        .iter()
        .map(|(slot, h)| format!("exited {slot} {} code 137", h.pid()))
        .collect();
    want.sort();
    assert_eq!(exited, want);
    assert!(sv.child.wait().success());
    for (_, h) in &workers {
        assert_eq!(h.state().unwrap(), State::Gone, "{h:?}");
    }
    assert!(read_state(&state).is_empty());
}
