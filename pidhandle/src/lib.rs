//! Identity-checked Linux process handles that never signal a recycled PID,
//! and that survive a restart as one line of text.
//!
//! A PID names a process only until that process is reaped; then the kernel
//! hands the number to the next process it creates. A supervisor that keeps
//! a PID (in memory, in a state file, in a pidfile) and later signals it may
//! hit an unrelated process. [`PidHandle`] pins one process instead:
//!
//! - it holds a pidfd where the kernel has them (Linux 5.3+), and signals only
//!   through it, so a reaped process gives [`Error::Gone`] whatever
//!   now has its PID;
//! - it records who the process is: the pidfs inode id (Linux 6.9+), or its
//!   start time in clock ticks since boot where there is no pidfs id, and the
//!   boot id. [`Display`](std::fmt::Display) writes that as one versioned line
//!   and [`FromStr`](std::str::FromStr) restores it, after a restart of the
//!   supervisor: it opens a pidfd for the PID *first*, then checks that the
//!   process behind that pidfd is the recorded one, then signals only through
//!   that pidfd, so the check and the signal refer to the same process;
//! - a handle made for a PID with no process is [`State::Gone`] forever, even
//!   when the number is given to a new process later.
//!
//! With the `tokio` feature (off by default), `PidHandle::wait_exited_async`
//! awaits the exit of any pinned process in tokio's reactor, without a
//! thread. With the `serde` feature (off by default), [`Identity`] and
//! [`BootId`] serialize as their text forms for state files; deserializing
//! verifies nothing, [`PidHandle::restore`] does.
//!
//! What it adds over `pidkit-pidfd`: the identity check for bare PIDs and
//! restored text (a bare `pidfd_open` trusts the number), the text form, the
//! three-way [`State`], typed errors, and a fallback for systems where
//! pidfds are blocked.
//!
//! # Identity
//!
//! | what | when recorded | checked by |
//! |---|---|---|
//! | pidfd | pidfds usable ([`probe`]`().usable()`) | the kernel, on every signal |
//! | pidfs inode id | Linux 6.9+ (`probe().pidfs`) | `fstat` of the pidfd opened on restore |
//! | pidfs file handle (`fh=`) | Linux 6.17+ (`probe().pidfs_file_handles`), added when the text is first asked for | the kernel, for readers that open the process from it ([`Identity::file_handle`], [`PidFd::open_file_handle`]) |
//! | start ticks (`/proc/<pid>/stat` field 22) | only when there is no pidfs id | re-reading it after the pidfd is open (or before every signal in the fallback) |
//! | boot id | always | compared on restore; another boot is gone |
//!
//! # Other programs' names for a process
//!
//! | form | kernel | written by | restored (verified) by |
//! |---|---|---|---|
//! | pidkit text `pidkit-pid:v1:...` | any | `Display` | `FromStr`, [`PidHandle::restore`] |
//! | util-linux `PID:inode` ([`PidInode`]) | Linux 6.9+ (pidfs ids) | [`PidHandle::pid_inode`] | [`PidHandle::from_pid_inode`]: `pidfd_open`, pidfs magic, inode |
//! | systemd varlink `ProcessId` JSON ([`systemd::PidRef`], `serde` feature) | Linux 6.9+ (pidfs ids) | [`PidHandle::pid_ref`] | [`PidHandle::from_pid_ref`]: boot id, then as [`PidHandle::restore`] |
//! | systemd's `*PID`/`*PIDFDID` environment pairs | Linux 6.9+, systemd v257+ | (systemd) | [`PidHandle::from_env`]: as `PID:inode` |
//! | the peer of a Unix socket | pidfd on Linux 6.5+, else the `SO_PEERCRED` PID (unverified) | (the kernel) | [`PidHandle::from_peer`] |
//! | a received pidfd (`SCM_RIGHTS`, `SCM_PIDFD`) | Linux 5.3+ (6.5+ for `SCM_PIDFD`) | (the sender) | [`PidHandle::from_received_pidfd`] |
//!
//! Where the kernel has pidfs file handles the text also carries one, so
//! that any reader can open the process with no PID lookup at all
//! ([`PidFd::open_file_handle`]; a reaped process's handle is refused).
//! [`PidHandle::restore`] itself takes `pidfd_open(pid)` plus the pidfs-id
//! check below: just as exact (a PID reuse gives another pidfs id), and the
//! cheaper of the two, since opening from the handle leaves the PID the
//! text names to be checked with a `PIDFD_GET_INFO` call (measured in
//! ARCHITECTURE.md).
//!
//! When a pidfs id exists it is the whole check: the kernel never gives one
//! id to two processes of a boot. [`PidHandle::new`] then does not read
//! `/proc/<pid>/stat` at all (that read costs more than the rest of `new`
//! together), so text written on such a kernel carries `pidfs=` and no
//! `start=`. Start ticks are measured from boot, not from the wall clock, so
//! setting the clock never makes a live process look recycled.
//!
//! # Fallback without pidfds
//!
//! Where `pidfd_open` is missing or refused (kernels before 5.3, seccomp
//! filters returning `ENOSYS` or `EPERM`), a handle records the start ticks
//! and [`PidHandle::kill`] re-reads them and compares before each `kill(2)`.
//! **The race that remains there:** between that check and the `kill(2)`,
//! the process can exit, be reaped by its parent, and its PID be given to a
//! new process, which then receives the signal. The window is a few
//! microseconds, and the PID has to come round again in it (a full
//! wrap-around of the PID space, or a namespace with very few PIDs in use);
//! for our own unreaped children it cannot happen. Only a pidfd closes it.
//!
//! # Limitations
//!
//! - Linux only; other targets fail to compile with a clear message.
//! - [`PidHandle::new`] pins whatever process has the PID *now*; if the
//!   intended process already died and the number was reused before the
//!   call, the handle pins the new one. Use [`PidHandle::from_child`] for
//!   children, and text or [`PidHandle::from_pidfd`] to carry a handle on.
//! - The text form is meaningful in the PID namespace it was written in.
//! - Where start ticks are the identity (no pidfs ids: kernels before 6.9,
//!   or the fallback), two processes that got the same PID within one clock
//!   tick (`CLK_TCK`, 10 ms) would have the same ticks. pidkit therefore
//!   never issues such an identity (text, [`PidHandle::identity`]) before
//!   it has seen the process alive after its start tick ended: a successor
//!   can only start after that, in a later tick. The price: the first
//!   [`identity`](PidHandle::identity) or `to_string` of a handle made
//!   within its process's start tick waits out the rest of that tick (under
//!   10 ms), and a handle whose process was reaped before it could be
//!   checked so writes the `gone` form; the fallback without pidfds waits at
//!   creation instead. What remains: a clock tick that is not a clock tick
//!   (a time namespace whose boot-time offset is changed while handles
//!   exist), and in the fallback the check-then-kill race below. A held
//!   handle with a pidfd is not affected, and pidfs ids have no such limit.
//! - A thread id that is not a process id gives a gone handle with pidfds;
//!   in the fallback it pins the thread's process.
//! - The fallback path keeps the race described above, and cannot send
//!   real-time signals ([`Error::Unsupported`]).
//! - `PID:inode` exists only where the kernel has pidfs inode ids (6.9+);
//!   elsewhere both directions are [`Error::Unsupported`], never a guess
//!   from start ticks. The pair carries no boot id (util-linux's form has
//!   none), so one kept across a reboot is checked against the new boot's
//!   processes only by its inode.
//! - systemd's `ProcessId` without `pidfdId`/`bootId` (what systemd writes
//!   before Linux 6.9) and a `*PID` variable without its `*PIDFDID` name a
//!   process by its PID alone: refused ([`Error::Unsupported`]), never
//!   trusted.
//! - [`PidHandle::from_peer`] without peer pidfds (before Linux 6.5, or
//!   pidfds blocked) pins the `SO_PEERCRED` PID, marked
//!   [`PeerCheck::Credentials`]: if the peer exited, was reaped and its PID
//!   reused between its `connect` and the call, the handle pins the new
//!   process. Receiving `SCM_PIDFD` messages is the caller's (any cmsg
//!   parser); the fd then goes to [`PidHandle::from_received_pidfd`].
//! - Text whose only identity is a pidfs id cannot be verified where pidfs ids
//!   cannot be read; restoring it there is [`Error::Unsupported`] (unless no
//!   process has the PID at all, which is plainly [`State::Gone`]).
//!
//! # Example
//!
//! ```
//! use pidkit_pidhandle::{PidHandle, Signal, State};
//! use std::process::Command;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut child = Command::new("sleep").arg("10").spawn()?;
//! let handle = PidHandle::from_child(&child)?;
//! assert_eq!(handle.state()?, State::Running);
//!
//! // Save it, restart, restore it: the same process, verified.
//! let text = handle.to_string();
//! let restored: PidHandle = text.parse()?;
//! assert_eq!(restored.to_string(), text);
//!
//! restored.kill(Signal::TERM)?;
//! child.wait()?;
//!
//! // Reaped: both refuse, whatever process gets the PID next.
//! assert_eq!(restored.state()?, State::Gone);
//! assert!(matches!(handle.kill(Signal::TERM), Err(pidkit_pidhandle::Error::Gone { .. })));
//! assert_eq!(text.parse::<PidHandle>()?.state()?, State::Gone);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!("pidkit-pidhandle supports Linux only: it relies on pidfds and /proc");

mod boot_id;
mod calls;
mod error;
mod handle;
mod identity;
mod parse;
mod peer;
mod pid_inode;
mod pin;
mod proc;
mod restore;
#[cfg(feature = "serde")]
mod serde_text;
pub mod systemd;
#[cfg(feature = "tokio")]
mod tokio;

#[cfg(feature = "tokio")]
pub use self::tokio::ExitedFuture;
pub use boot_id::BootId;
pub use error::{Error, FromPidFdError};
pub use handle::{PidHandle, State};
pub use identity::Identity;
pub use peer::{Peer, PeerCheck};
pub use pid_inode::PidInode;
pub use pidkit_pidfd::{FileHandle, PidFd, PidfdInfo, Signal, SignalScope, Support, probe};
