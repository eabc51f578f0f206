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
