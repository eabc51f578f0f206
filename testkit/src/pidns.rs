//! Forcing the PID a child gets, for real PID-reuse tests.

use std::io;
use std::process::Command;

use crate::ChildGuard;

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
