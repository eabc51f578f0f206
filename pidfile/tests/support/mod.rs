//! Helpers shared by the integration tests of this crate: helper processes
//! (the test binary re-executed in a "role") and small utilities.
#![allow(dead_code, reason = "each test binary uses a different subset")]
#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step must fail the test loudly"
)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use testkit::ChildGuard;

/// Set (to the role name) in a helper process started by [`Helper::spawn`].
pub(crate) const ROLE_ENV: &str = "PIDKIT_PIDFILE_TEST_ROLE";
/// Set (to the test name) in a test body re-executed in a private mount namespace.
pub(crate) const MOUNT_NS_ENV: &str = "PIDKIT_PIDFILE_TEST_MOUNT_NS";
/// Prefix of the protocol lines a helper prints (the test harness prints its own lines too).
const MARK: &str = "@@ ";

/// Tests in a binary that spawns processes take this, so that no other test
/// thread forks (and so briefly duplicates our lock descriptors) while they run.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A temporary directory and a lock file path inside it.
pub(crate) fn temp_lock(name: &str) -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::try_from(dir.path().join(name)).unwrap();
    (dir, path)
}

/// True if process `pid` has a descriptor that holds a `flock` on the file at `path`
/// (per the `lock:` lines of `/proc/<pid>/fdinfo`).
pub(crate) fn process_holds_flock(pid: u32, path: &Utf8Path) -> bool {
    let ino = std::fs::metadata(path).unwrap().ino();
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

/// The modes (`"READ"` for `LOCK_SH`, `"WRITE"` for `LOCK_EX`) of the `flock`s
/// on `line`s of an fdinfo file that are about inode `ino` (any inode if `None`).
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

/// The modes of the `flock`s that process `pid`'s descriptors hold on the file
/// at `path`, one per descriptor, sorted.
pub(crate) fn flock_modes(pid: u32, path: &Utf8Path) -> Vec<&'static str> {
    let ino = std::fs::metadata(path).unwrap().ino();
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

/// The command name of process `pid`, if it exists.
pub(crate) fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Polls `cond` every millisecond until it holds. Bounded by the caller's watchdog.
pub(crate) fn wait_until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A helper process: this test binary re-executed to run only `test_name`, with
/// [`ROLE_ENV`] set, talking a line protocol on stdin/stdout.
#[derive(Debug)]
pub(crate) struct Helper {
    child: ChildGuard,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Helper {
    /// Starts the helper and waits for its `ready` line.
    pub(crate) fn spawn(test_name: &str, role: &str) -> Helper {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([test_name, "--exact", "--nocapture", "--test-threads=1"])
            .env(ROLE_ENV, role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        Self::start(cmd)
    }

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

    /// Starts the helper as PID 1 of a new PID namespace (with its own
    /// `/proc`), through `unshare --pid --fork --mount-proc --kill-child`;
    /// [`Helper::pid`] is then `unshare`'s PID, and
    /// [`Helper::pid_in_our_namespace`] the helper's. Needs root.
    pub(crate) fn spawn_in_pid_namespace(test_name: &str, role: &str) -> Helper {
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(std::env::current_exe().unwrap())
            .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
            .env(ROLE_ENV, role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        Self::start(cmd)
    }

    /// For a helper from [`Helper::spawn_in_pid_namespace`]: its PID as this
    /// process sees it (the only child of `unshare`).
    pub(crate) fn pid_in_our_namespace(&self) -> u32 {
        let pid = self.pid();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
        let mut children = children.split_whitespace();
        let child = children.next().unwrap().parse().unwrap();
        assert_eq!(children.next(), None);
        child
    }

    /// The helper's PID.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next protocol line (without the marker).
    pub(crate) fn recv(&mut self) -> String {
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
    pub(crate) fn call(&mut self, command: &str) -> String {
        self.send(command);
        self.recv()
    }

    /// Sends one command line without waiting for a reply.
    pub(crate) fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// SIGKILLs and reaps the helper.
    pub(crate) fn kill(self) {
        drop(self.child);
    }

    /// Gives up the guard (the caller reaps).
    pub(crate) fn into_child(self) -> ChildGuard {
        self.child
    }
}

/// In a helper: prints one protocol line.
pub(crate) fn reply(line: &str) {
    println!("{MARK}{line}");
}

/// In a helper: the command lines from stdin, until it closes.
pub(crate) fn commands() -> impl Iterator<Item = String> {
    std::io::stdin().lines().map_while(Result::ok)
}

/// Runs `body` in a fresh process of this test binary inside a private mount
/// namespace (`unshare --mount --propagation private`), where the body may
/// mount file systems without affecting the machine. Needs root; returns
/// `false` (after saying why) when that is missing outside CI.
pub(crate) fn run_in_mount_namespace(test_name: &str, body: impl FnOnce()) -> bool {
    if std::env::var(MOUNT_NS_ENV).is_ok_and(|v| v == test_name) {
        body();
        return true;
    }
    if !testkit::require(
        testkit::is_root(),
        "root, to mount file systems in a private mount namespace",
    ) {
        return false;
    }
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private"])
        .arg(std::env::current_exe().unwrap())
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(MOUNT_NS_ENV, test_name)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (status, out) = testkit::run_with_limit(cmd, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.success() && stdout.contains("1 passed"),
        "mount-namespace run of {test_name} failed: {status}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// Runs `mount` with `args`, panicking unless it succeeds.
pub(crate) fn mount(args: &[&str]) {
    let status = ChildGuard::spawn(Command::new("mount").args(args)).wait();
    assert!(status.success(), "mount {args:?}: {status}");
}

/// Unmounts `path`, panicking unless it succeeds.
pub(crate) fn umount(path: &Utf8Path) {
    let status = ChildGuard::spawn(Command::new("umount").arg(path.as_str())).wait();
    assert!(status.success(), "umount {path}: {status}");
}
