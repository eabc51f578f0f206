//! Child processes that are always killed and reaped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};

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

/// `sh -c script` with stdin from `/dev/null`, not spawned yet.
pub fn sh_cmd(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).stdin(Stdio::null());
    cmd
}

/// `sleep 1000` with no stdio of ours (so that a sleep left behind by a
/// failed assertion cannot hold a test runner's pipes open), not spawned yet.
pub fn sleep_cmd() -> Command {
    let mut cmd = Command::new("sleep");
    cmd.arg("1000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Starts `sh -c 'sleep 1000 & echo $!; <then>'` and returns the guard of
/// the shell and the PID of its background `sleep` (our grandchild, not our
/// child). The grandchild's stdio is not ours, so that it cannot hold a test
/// runner's pipes open; `then` decides what the shell does meanwhile (e.g.
/// `wait $!` to reap it, `exit 0` to orphan it).
pub fn grandchild(then: &str) -> (ChildGuard, u32) {
    let mut cmd = sh_cmd(&format!("sleep 1000 >/dev/null 2>&1 & echo $!; {then}"));
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut guard = ChildGuard::spawn(&mut cmd);
    let mut line = String::new();
    BufReader::new(guard.child_mut().stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (guard, line.trim().parse().unwrap())
}

/// A PID that no process has right now: a child's, after it was reaped.
/// (Another process may get it later; use it only where that is harmless or
/// in a private PID namespace.)
pub fn free_pid() -> u32 {
    let child = sh("exit 0");
    let pid = child.id();
    child.wait();
    pid
}

/// Makes this process a child subreaper (orphans of its descendants come to
/// it, as to a container shim) and starts a grandchild whose parent never
/// reaps it: `sh -c 'sleep 1000 & echo $!; exec sleep 1000'`. Returns the
/// parent's guard and the grandchild's PID once both run `sleep` (a parent
/// still running `sh` could reap the grandchild itself when it dies);
/// killing the parent makes the grandchild an orphan of ours.
pub fn unreaped_grandchild() -> (ChildGuard, u32) {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).unwrap();
    let (parent, gpid) = grandchild("exec sleep 1000");
    let ppid = parent.id();
    crate::wait_until(|| {
        crate::comm(ppid).as_deref() == Some("sleep")
            && crate::comm(gpid).as_deref() == Some("sleep")
    });
    (parent, gpid)
}
