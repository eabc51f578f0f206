//! Helper processes for the integration tests of the lock file and PID file
//! crates (and any test that needs a second, scriptable process).
//!
//! A helper process is the test binary itself, re-executed to run only one
//! test with a role environment variable set; the test, seeing the variable,
//! plays that role: it prints [`reply`]`("ready")`, then answers each line of
//! [`commands`] with one [`reply`]. The parent drives it through [`Helper`].
//! Each crate names its own role variable ([`Roles::new`]), so that helpers of
//! different crates cannot be confused.

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use crate::ChildGuard;

/// Prefix of the protocol lines a helper prints (the test harness prints its
/// own lines too).
const MARK: &str = "@@ ";

/// Tests in a binary that spawns processes take this, so that no other test
/// thread forks (and so briefly duplicates our lock descriptors) while they
/// run. One lock per test binary.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The helper processes of one test crate: names the environment variable
/// that carries the role (e.g. `PIDKIT_LOCKFILE_TEST_ROLE`).
#[derive(Clone, Copy, Debug)]
pub struct Roles {
    env: &'static str,
}

impl Roles {
    /// Helpers whose role is passed in the environment variable `env`.
    pub const fn new(env: &'static str) -> Roles {
        Roles { env }
    }

    /// The role variable's name.
    pub fn env(&self) -> &'static str {
        self.env
    }

    /// The role this process was started in, if it is a helper.
    pub fn current(&self) -> Option<String> {
        std::env::var(self.env).ok()
    }

    /// Starts a helper running only `test_name` in `role` and waits for its
    /// `ready` line.
    pub fn spawn(&self, test_name: &str, role: &str) -> Helper {
        let mut cmd = crate::this_test_binary_command();
        cmd.args([test_name, "--exact", "--nocapture", "--test-threads=1"])
            .env(self.env, role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        Helper::start(cmd)
    }

    /// Starts the helper as PID 1 of a new PID namespace (with its own
    /// `/proc`), through `unshare --pid --fork --mount-proc --kill-child`;
    /// [`Helper::pid`] is then `unshare`'s PID, and
    /// [`Helper::pid_in_our_namespace`] the helper's. Needs root.
    pub fn spawn_in_pid_namespace(&self, test_name: &str, role: &str) -> Helper {
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .args(crate::this_test_binary())
            .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
            .env(self.env, role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        Helper::start(cmd)
    }
}

/// A helper process: this test binary re-executed to run only one test in a
/// role (see [`Roles`]), talking a line protocol on stdin/stdout. Killed and
/// reaped when dropped.
#[derive(Debug)]
pub struct Helper {
    child: ChildGuard,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Helper {
    fn start(mut cmd: Command) -> Helper {
        let mut child = ChildGuard::spawn(&mut cmd);
        let stdin = child.child_mut().stdin.take().unwrap();
        let stdout = BufReader::new(child.child_mut().stdout.take().unwrap());
        let mut helper = Helper {
            child,
            stdin,
            stdout,
        };
        assert_eq!(helper.recv(), "ready");
        helper
    }

    /// The helper's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// For a helper from [`Roles::spawn_in_pid_namespace`]: its PID as this
    /// process sees it (the only child of `unshare`).
    pub fn pid_in_our_namespace(&self) -> u32 {
        let pid = self.pid();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
        let mut children = children.split_whitespace();
        let child = children.next().unwrap().parse().unwrap();
        assert_eq!(children.next(), None);
        child
    }

    /// The next protocol line (without the marker).
    pub fn recv(&mut self) -> String {
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "helper {} closed its stdout", self.pid());
            // The harness may have printed "test name ... " on the same line.
            if let Some(at) = line.find(MARK) {
                return line[at + MARK.len()..].trim_end_matches('\n').to_owned();
            }
        }
    }

    /// Sends one command line and returns the reply.
    pub fn call(&mut self, command: &str) -> String {
        self.send(command);
        self.recv()
    }

    /// Sends one command line without waiting for a reply.
    pub fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// SIGKILLs and reaps the helper.
    pub fn kill(self) {
        drop(self.child);
    }

    /// Gives up the guard (the caller reaps).
    pub fn into_child(self) -> ChildGuard {
        self.child
    }
}

/// In a helper: prints one protocol line.
pub fn reply(line: &str) {
    println!("{MARK}{line}");
}

/// In a helper: the command lines from stdin, until it closes.
pub fn commands() -> impl Iterator<Item = String> {
    std::io::stdin().lines().map_while(Result::ok)
}
