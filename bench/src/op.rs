//! Chart groups that pidkit rows and peer rows share. Each names the
//! operation and the floor every ratio in it is taken against.

/// A held process handle, signal 0, over `kill(pid, 0)` in the same process.
pub(crate) const HELD_VS_KILL: &str = "held handle: signal 0 ÷ kill(pid, 0)";
/// A held process handle, signal 0, over `pidfd_send_signal(fd, 0)`.
pub(crate) const HELD_VS_PIDFD: &str = "held handle: signal 0 ÷ pidfd_send_signal(fd, 0)";
/// From a bare pid to a signal 0, over `kill(pid, 0)`.
pub(crate) const FROM_PID_VS_KILL: &str = "from a pid: handle + signal 0 ÷ kill(pid, 0)";
/// Exit notification latency, over poll(pidfd) + waitid.
pub(crate) const EXIT: &str = "exit notification ÷ poll(pidfd)+waitid";
/// Sequential spawn+wait of `true`, over std::process.
pub(crate) const SPAWN_SEQ: &str = "spawn+wait, sequential ÷ std::process";
/// Spawn+wait of `true` with 8 in flight, over std::process.
pub(crate) const SPAWN_PAR: &str = "spawn+wait, 8 in flight ÷ std::process";
