//! Helper processes and `/proc` readers shared by the integration tests of
//! the lock file and PID file crates (and any test that needs a second,
//! scriptable process).
//!
//! A helper process is the test binary itself, re-executed to run only one
//! test with a role environment variable set; the test, seeing the variable,
//! plays that role: it prints [`reply`]`("ready")`, then answers each line of
//! [`commands`] with one [`reply`]. The parent drives it through [`Helper`].
//! Each crate names its own role variable ([`Roles::new`]), so that helpers of
//! different crates cannot be confused.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

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

/// The command name of process `pid`, if it exists.
pub fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Polls `cond` every millisecond until it holds. Bounded by the caller's
/// watchdog.
pub fn wait_until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The inode number of the file at `path` (panics if it cannot be read).
fn inode(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .ino()
}

/// True if process `pid` has a descriptor that holds a `flock` on the file
/// at `path` (per the `lock:` lines of `/proc/<pid>/fdinfo`).
pub fn process_holds_flock(pid: u32, path: impl AsRef<Path>) -> bool {
    let ino = inode(path.as_ref());
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return false;
    };
    entries.flatten().any(|entry| {
        std::fs::read_to_string(entry.path()).is_ok_and(|info| {
            info.lines().any(|l| {
                l.starts_with("lock:")
                    && l.contains("FLOCK")
                    && l.split_whitespace()
                        .any(|f| f.rsplit(':').next() == Some(&ino.to_string()))
            })
        })
    })
}

/// The modes (`"READ"` for `LOCK_SH`, `"WRITE"` for `LOCK_EX`) of the
/// `flock`s on `lock:` lines of an fdinfo file that are about inode `ino`
/// (any inode if `None`).
fn flock_modes_in(info: &str, ino: Option<u64>) -> Vec<&'static str> {
    info.lines()
        .filter(|l| l.starts_with("lock:") && l.contains("FLOCK"))
        .filter(|l| {
            ino.is_none_or(|ino| {
                l.split_whitespace()
                    .any(|f| f.rsplit(':').next() == Some(&ino.to_string()))
            })
        })
        .filter_map(|l| {
            if l.contains(" WRITE ") {
                Some("WRITE")
            } else if l.contains(" READ ") {
                Some("READ")
            } else {
                None
            }
        })
        .collect()
}

/// The mode of the `flock` held through `file`'s open file description
/// (`"READ"` for shared, `"WRITE"` for exclusive), per `/proc/self/fdinfo`.
pub fn fd_lock(file: &std::fs::File) -> Option<&'static str> {
    use std::os::unix::io::AsRawFd;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", file.as_raw_fd())).unwrap();
    let modes = flock_modes_in(&info, None);
    assert!(modes.len() <= 1, "{info}");
    modes.first().copied()
}

/// The modes of the `flock`s that process `pid`'s descriptors hold on the
/// file at `path`, one per descriptor, sorted.
pub fn flock_modes(pid: u32, path: impl AsRef<Path>) -> Vec<&'static str> {
    let ino = inode(path.as_ref());
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return Vec::new();
    };
    let mut modes: Vec<&'static str> = entries
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .flat_map(|info| flock_modes_in(&info, Some(ino)))
        .collect();
    modes.sort_unstable();
    modes
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
        let mut cmd = Command::new(std::env::current_exe().unwrap());
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
            .arg(std::env::current_exe().unwrap())
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

/// Runs `body` in a fresh process of this test binary inside a private mount
/// namespace (`unshare --mount --propagation private`), where the body may
/// mount file systems without affecting the machine. `env` names the
/// variable (set to `test_name`) that tells the re-run it is inside. Needs
/// root; returns `false` (after saying why) when that is missing outside CI.
pub fn run_in_mount_namespace(env: &str, test_name: &str, body: impl FnOnce()) -> bool {
    if std::env::var(env).is_ok_and(|v| v == test_name) {
        body();
        return true;
    }
    if !crate::require(
        crate::is_root(),
        "root, to mount file systems in a private mount namespace",
    ) {
        return false;
    }
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private"])
        .arg(std::env::current_exe().unwrap())
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(env, test_name)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (status, out) = crate::run_with_limit(cmd, Duration::from_secs(60));
    let text = format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        status.success(),
        "mount-namespace run of {test_name} failed: {status}\n{text}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "mount-namespace run of {test_name} did not run exactly one test\n{text}"
    );
    true
}

/// Runs `mount` with `args`, panicking unless it succeeds.
pub fn mount(args: &[&str]) {
    let status = ChildGuard::spawn(Command::new("mount").args(args)).wait();
    assert!(status.success(), "mount {args:?}: {status}");
}

/// Unmounts `path`, panicking unless it succeeds.
pub fn umount(path: impl AsRef<Path>) {
    let path = path.as_ref();
    let status = ChildGuard::spawn(Command::new("umount").arg(path)).wait();
    assert!(status.success(), "umount {}: {status}", path.display());
}
