//! The integration tests of pidkit-pidhandle, one binary. Bodies that change
//! process-wide state (a lowered `RLIMIT_NOFILE`, a PID namespace, a seccomp
//! filter) run in processes of their own through `testkit::run_isolated`.

mod api;
mod async_wait;
mod fuzz;
mod peer;
mod pid_inode;
mod resources;
mod reuse;
mod state_file;
mod systemd;
mod util_linux;

/// Whether the kernel and sandbox give pidfs inode ids, which the
/// `PID:inode` and systemd forms need.
fn pidfs_ids() -> bool {
    pidkit_pidhandle::probe().usable() && pidkit_pidhandle::probe().pidfs
}
