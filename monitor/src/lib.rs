//! A process monitor for Linux: start processes, learn of their exits, with
//! exits never lost, never delivered twice and never stolen.
//!
//! This is go-runc's `ProcessMonitor` (`start`, `start_locked`, `wait`,
//! `Exit { timestamp, pid, status }`) with containerd's process surface (an
//! exit fd for event loops, the exit status or "not exited yet", signals,
//! the PID, re-attaching after a restart), built on pidfds.
//!
//! What it adds over `pidkit-pidfd` (and over `std::process::Child`):
//!
//! - **One reaper thread for many processes.** A [`Monitor`] keeps the pidfds
//!   of all its processes in one epoll set, watched by one thread, and reaps
//!   each child with `waitid(P_PIDFD)` as it becomes readable: exactly that
//!   child, never another process's (no `waitpid(-1)`), and none missed,
//!   even one that exits before it is registered. No thread per child.
//! - **Exits recorded once, read by anyone.** [`Process::wait`] returns the
//!   same [`Exit`] every time, from any thread; a waiting thread reaps its
//!   own child itself when it gets there before the reaper, which saves the
//!   hand-over wake-up. Processes nobody waits for are reaped anyway: no
//!   zombies.
//! - **Statuses that mean something.** [`Exit::status`] is a std
//!   `ExitStatus` with the exit code or the signal and core-dump flag;
//!   [`Exit::code`] folds it into the shell's `128 + signal`. Never go-runc's
//!   -1, never a fabricated 0 on a second wait, never 255 for a signal death.
//! - **Signals that cannot hit a recycled PID.** [`Process::kill`] goes
//!   through the pidfd and is serialised with reaping: after the exit it is
//!   an error, never a signal to whatever process got the number.
//! - **`start_locked`** keeps the spawning thread alive until the child is
//!   reaped, so `PR_SET_PDEATHSIG` children survive the caller's thread
//!   (golang/go#27505).
//! - **An exit fd** for any event loop ([`Process::exit_fd`]), and with the
//!   `tokio` feature `Process::wait_async`: the exit awaited in tokio's
//!   reactor, no thread per waiter, cancel-safe (see the `tokio_supervisor`
//!   example).
//! - **Re-attaching** to a process that is not our child ([`Monitor::adopt`]),
//!   with its exit status on Linux 6.15+ (`PIDFD_INFO_EXIT`): the wait
//!   status the kernel kept from the parent's reaping, so [`Exit::core_dumped`]
//!   is exactly what the parent saw. An adopted process that leads its
//!   process group can be signalled and waited for as a group.
//! - **Process groups** ([`Monitor::start_group`], or an adopted group
//!   leader): signal the whole group
//!   through the leader's pidfd ([`Process::kill_group`],
//!   `PIDFD_SIGNAL_PROCESS_GROUP`, Linux 6.9+; before that `killpg` only while
//!   the leader is our unreaped child), and wait until every member is gone
//!   ([`Process::wait_group`]).
//! - **Whole process trees** ([`Monitor::start_tree`]): the root gets a
//!   cgroup v2 of its own, joined before exec, so nothing it starts escapes,
//!   `setsid` and double forks included; [`Tree::kill_tree`] (`cgroup.kill`,
//!   Linux 5.14+), [`Tree::wait_tree`] (the kernel's "populated 0" notice,
//!   no polling), [`Tree::tree_members`], [`Monitor::adopt_tree`] after a
//!   restart. Where no cgroup v2 can be made, a subreaper fallback, reported
//!   by [`Tree::mechanism`] and [`Tree::fallback_reason`].
//! - **Kill on drop** ([`Process::set_kill_on_drop`]) on every kernel, the
//!   whole group for a leader; runs on unwinding too.
//! - **A fallback without pidfds** (old kernels, seccomp profiles that
//!   refuse them): one watcher thread per running child, with the same
//!   guarantees ([`Backend::ThreadPerChild`]).
//!
//! # Limitations
//!
//! - Linux only; other targets fail to compile with a clear message.
//! - Like std, the monitor assumes nobody else in the process reaps its
//!   children: no `waitpid(-1)` loops, no `SIGCHLD` set to `SIG_IGN`
//!   (which makes the kernel reap them). If it happens anyway, the exit is
//!   still seen, and its status is recovered from `PIDFD_INFO_EXIT` on Linux
//!   6.15+; otherwise `wait` fails with [`Error::ReapedElsewhere`]. Also,
//!   a child reaped elsewhere *before* the monitor opened its pidfd (a
//!   window of microseconds after the spawn) could have had its PID reused.
//! - An adopted process's status exists only once its parent has reaped it
//!   (the kernel records it then), and only on Linux 6.15+; before 6.15
//!   `wait` fails with [`Error::StatusUnavailable`] after the exit.
//! - Without pidfds ([`Backend::ThreadPerChild`]): a thread per running
//!   child, one more wake-up per exit, [`Process::exit_fd`] is a pipe that
//!   becomes readable when the exit has been recorded (not at the exit
//!   itself), `kill` sends only the named signals 1–31, and
//!   [`Monitor::adopt`] is unavailable (a non-child cannot be watched
//!   without a pidfd).
//! - [`Monitor::start_locked`] costs one thread per child while it runs.
//! - The reaper thread runs at nice 19 (that thread only): it only reaps
//!   what nobody is waiting for, so it never takes the CPU from a thread
//!   that is. Under full CPU load, processes nobody waits for may stay
//!   zombies a little longer before it gets to them.
//! - Dropping a [`Monitor`] or a [`Process`] does not kill anything, unless
//!   the `Process` was marked with [`Process::set_kill_on_drop`]; a
//!   dropped monitor's reaper thread keeps running until its last process
//!   has exited and been reaped. Kill on drop does not cover the owner
//!   dying without unwinding (`SIGKILL`, `abort`); the kernel's
//!   `CLONE_PIDFD_AUTOKILL` (7.1) would, and is not used (ARCHITECTURE.md).
//! - Whether an adopted process dumped core is known only with its status
//!   (Linux 6.15+, once its parent reaped it); until then [`Process::wait`]
//!   fails with [`Error::StatusUnavailable`] rather than guess. The
//!   kernel's separate core-dump record (`PIDFD_INFO_COREDUMP`, 6.16) is
//!   filled only for dumps to a coredump socket and is not used for the flag.
//! - Groups: a member that leaves the group (`setpgid`, `setsid`) is out of
//!   reach of [`Process::kill_group`] and not waited for; zombie members
//!   count until reaped; [`Process::wait_group`] polls (the kernel sends no
//!   notice when a group empties). Before 6.9 the group cannot be signalled
//!   once the monitor has reaped the leader, nor through an adopted leader
//!   that is not our child ([`Error::GroupUnreachable`]), and
//!   [`Process::group_alive`] may then err towards "alive" if the group's
//!   number is reused. An adopted process counts as a leader if it led its
//!   group when it was adopted.
//! - Trees ([`Mechanism`]): with a cgroup v2 (a cgroup2 mount found in
//!   `/proc/self/mountinfo`, write access to the parent cgroup: root, or a
//!   delegated subtree), every descendant is held, except one privileged to
//!   move itself into another cgroup; `SIGKILL` is one `cgroup.kill` write on
//!   5.14+, and member by member through pidfds before (repeated until none
//!   is left, at most 30 s); other signals reach the members of the moment,
//!   each through a pidfd checked to be a member. Where cgroup v2 is missing
//!   (cgroup v1 only), read-only or refused (`EACCES`, `EPERM`, `EROFS`),
//!   the subreaper fallback ([`Mechanism::Subreaper`]) makes the whole
//!   program a child subreaper for good, polls `/proc`, and cannot see a
//!   descendant that left the root's group while its parent outside the
//!   group still runs, nor tell an orphan that leads its own group in the
//!   program's session from the program's own group leaders; see
//!   [`Mechanism::Subreaper`]. A process the program starts in a session
//!   of its own counts as an orphan of every subreaper tree.
//! - [`Exit::timestamp`] is the wall clock at the moment the exit was
//!   recorded, not the moment the process died. A process someone waits
//!   for is recorded by its waiter as it exits; one nobody waits for, by
//!   the reaper thread, which after handling exits lets the next ones
//!   gather for 1 ms (one wake-up for a stream of exits, not one each), so
//!   under a stream of exits such a timestamp can trail the exit by that
//!   much, more under full CPU load.
//! - The reaper thread (and each fallback watcher thread) blocks every
//!   signal libc lets it block: process-wide signals, and their handlers,
//!   go to the program's own threads.
//!
//! # Example
//!
//! ```
//! use pidkit_monitor::{Monitor, Signal};
//! use std::io::Read;
//! use std::process::{Command, Stdio};
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let monitor = Monitor::global();
//!
//! // An exit code.
//! let p = monitor.start(Command::new("sh").args(["-c", "exit 7"]))?;
//! assert_eq!(p.wait()?.code(), 7);
//!
//! // A signal: 128 + 9, and killing again is an error, not a stray signal.
//! let p = monitor.start(&mut Command::new("sleep").arg("1000"))?;
//! assert_eq!(p.wait_timeout(Duration::from_millis(10))?, None);
//! p.kill(Signal::KILL)?;
//! let exit = p.wait()?;
//! assert_eq!((exit.code(), exit.signal()), (137, Some(Signal::KILL)));
//! assert!(p.kill(Signal::KILL).is_err());
//!
//! // Pipes belong to the caller: drain them, then wait.
//! let mut p = monitor.start(Command::new("echo").arg("hello").stdout(Stdio::piped()))?;
//! let mut out = String::new();
//! p.stdout().expect("piped").read_to_string(&mut out)?;
//! assert_eq!(out, "hello\n");
//! assert!(p.wait()?.success());
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!(
    "pidkit-monitor supports Linux only: it is built on pidfds and Linux wait semantics"
);

mod adopt;
mod entry;
mod error;
mod exit;
mod fallback;
mod fd_limit;
mod group;
mod handle;
mod launcher;
mod monitor;
mod process;
mod process_monitor;
mod reaper;
mod timers;
#[cfg(feature = "tokio")]
mod tokio;
mod tree;

#[cfg(feature = "tokio")]
pub use self::tokio::WaitFuture;
pub use error::{AdoptError, Error};
pub use exit::Exit;
pub use fd_limit::raise_fd_limit;
pub use monitor::{Backend, Monitor};
/// The handle types of `pidkit-pidhandle` this crate's signatures use
/// ([`Monitor::adopt`] takes a [`PidHandle`], [`Process::handle`] and
/// [`Process::identity`] give one and its [`Identity`]), re-exported so that
/// their version always matches this crate's.
pub use pidkit_pidhandle::{Identity, PidHandle, Signal, State};
pub use process::Process;
pub use process_monitor::ProcessMonitor;
pub use tree::{Mechanism, Tree, TreeOptions};
