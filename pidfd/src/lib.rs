//! Safe, owned wrappers for the Linux pidfd system calls.
//!
//! A pidfd is a file descriptor that refers to one process for as long as the
//! descriptor is open. Unlike a PID, it cannot come to mean another process
//! when the first one exits and its number is reused: a signal sent through a
//! pidfd of a process that has been reaped fails with "no such process" even
//! if a new process now has the same PID.
//!
//! This crate is the bottom layer of pidkit. It adds, over the raw system
//! calls (and over rustix, which it uses where rustix has the call):
//!
//! - an owning [`PidFd`] (an [`OwnedFd`](std::os::fd::OwnedFd) inside, always `O_CLOEXEC`);
//! - exit statuses as [`std::process::ExitStatus`], so they compare and print
//!   like the ones std gives;
//! - errors that mean one thing: a gone process, including one that is dying
//!   (`EINVAL` from `pidfd_open`), is [`io::ErrorKind::NotFound`](std::io::ErrorKind::NotFound); `EINTR` is
//!   retried;
//! - [`probe`], a cached check of which pidfd features this kernel and
//!   sandbox allow, where `ENOSYS` and `EPERM` (seccomp) mean "absent";
//! - the pidfs inode id ([`PidFd::pidfs_id`]) and `PIDFD_GET_INFO`
//!   ([`PidFd::info`]) with a `/proc/self/fdinfo` fallback;
//! - with the `tokio` feature (off by default), `AsyncReadable`: a pidfd
//!   registered with tokio's reactor, to await an exit without a thread.
//!
//! All of pidkit's `unsafe` lives in this crate's private `sys` module: one
//! block per call the kernel has and rustix does not wrap, each with its
//! safety argument.
//!
//! # Kernel versions
//!
//! | feature | Linux |
//! |---|---|
//! | `pidfd_send_signal` | 5.1 |
//! | `pidfd_open` | 5.3 |
//! | `waitid(P_PIDFD)` | 5.4 |
//! | `pidfd_getfd` | 5.6 |
//! | `PIDFD_NONBLOCK` | 5.10 |
//! | pidfs inode ids, `PIDFD_THREAD`, signal scopes | 6.9 |
//! | `PIDFD_GET_INFO` | 6.13 |
//! | `PIDFD_INFO_EXIT` | 6.15 |
//! | `PIDFD_INFO_COREDUMP` ([`PidfdInfo::coredump`]) | 6.16 |
//! | pidfs file handles opened on the pidfs root ([`PidFd::file_handle`], [`PidFd::open_file_handle`]) | 6.17 |
//! | `PIDFD_INFO_SUPPORTED_MASK` (used by [`probe`]) | 6.19 |
//!
//! `struct pidfd_info` grew from 64 bytes (VER0) to 88 (VER3, Linux 7.x), and
//! one field moved: `supported_mask` sits at offset 72 in VER2 and at 80 in
//! VER3. [`PidFd::info`] passes the largest layout and decodes the answer by
//! the layout the kernel filled in (recognised from the answer itself), and
//! trusts a field only when its mask bit is set and it lies within the bytes
//! passed; an answer that fits no published layout is an error, never a guess.
//!
//! # Limitations
//!
//! - Linux only; other targets fail to compile with a clear message.
//! - A [`PidFd`] pins a process, not a PID: opening one with [`PidFd::open`]
//!   from a bare number still races with that number's reuse *before* the
//!   open. Only [`PidFd::from_child`] (our own unreaped child) and a pidfd
//!   received from another process are free of that race; `pidkit-pidhandle`
//!   closes the gap for bare PIDs by checking the process's identity after
//!   the open.
//! - [`PidFd::wait`] reaps only our own children (`ECHILD` otherwise); a
//!   non-child's exit is observed through [`PidFd::wait_exited`] and, on 6.15+,
//!   its status through [`PidFd::info`].
//! - [`PidFd::pidfs_id`] is `None` before Linux 6.9 (pidfds were anonymous
//!   inodes then, all with the same number).
//! - [`PidFd::open_file_handle`] needs Linux 6.17 (`FD_PIDFS_ROOT`); 6.13 to
//!   6.16 encode pidfs handles but can open them only relative to another
//!   pidfd, which this crate does not offer. A handle is meaningful only in
//!   the boot it was made in, and only for processes visible in the caller's
//!   PID namespace.
//!
//! # Example
//!
//! ```
//! use pidkit_pidfd::{PidFd, Signal};
//! use std::process::Command;
//! use std::time::Duration;
//!
//! # fn main() -> std::io::Result<()> {
//! let mut child = Command::new("sleep").arg("10").spawn()?;
//! let pidfd = PidFd::from_child(&child)?;
//! assert!(!pidfd.has_exited()?);
//!
//! pidfd.kill(Signal::TERM)?;
//! assert!(pidfd.wait_exited_timeout(Duration::from_secs(5))?);
//! let status = pidfd.wait()?;
//! use std::os::unix::process::ExitStatusExt;
//! assert_eq!(status.signal(), Some(Signal::TERM.as_raw()));
//!
//! // Reaped: the pidfd now refuses, whatever process gets the PID next.
//! assert_eq!(pidfd.kill(Signal::ZERO).unwrap_err().kind(), std::io::ErrorKind::NotFound);
//! # let _ = child.try_wait();
//! # Ok(())
//! # }
//! ```

// Every `unsafe` block of pidkit lives in `sys`; the rest of this crate may not have one.
#![deny(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!("pidkit-pidfd supports Linux only: pidfds are a Linux kernel feature");

mod file_handle;
mod flags;
mod from_fd;
mod get_info;
mod hide;
mod info;
pub mod low_level;
mod peer;
mod pidfd;
mod probe;
mod signal;
mod steps;
mod support;
#[allow(
    unsafe_code,
    reason = "the one module with unsafe: the system calls rustix does not offer"
)]
mod sys;
#[cfg(feature = "tokio")]
mod tokio;
mod wait;

#[cfg(feature = "tokio")]
pub use self::tokio::AsyncReadable;
pub use file_handle::FileHandle;
pub use flags::{OpenFlags, SignalScope};
pub use from_fd::FromOwnedFdError;
pub use info::{CoreDump, InfoSource, PidfdInfo};
pub use pidfd::{PidFd, check_pid};
pub use probe::probe;
pub use signal::{ParseSignalError, Signal};
/// The test hook `PIDKIT_HIDE_FEATURES` (hiding kernel features to test the
/// fallbacks); not part of the API.
#[doc(hidden)]
pub use support::{Feature, ParseFeatureError};
pub use support::{ProbeStep, Support, Unusable};
