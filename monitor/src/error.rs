//! The crate's [`Error`] and [`AdoptError`].

use std::fmt;
use std::io;

use pidkit_pidfd::Signal;
use pidkit_pidhandle::PidHandle;

/// Why a monitor operation failed: what every public function of the crate
/// returns in its `Err`.
///
/// Each variant names the pid (or program) it is about. A variant with a
/// [`source`](std::error::Error::source) says only what was being done, and
/// the cause is the source; a variant whose cause is its name
/// ([`Error::Gone`], [`Error::PermissionDenied`], ...) has none. The causes
/// the handle crate also has read the same here: a
/// [`pidkit_pidhandle::Error`] becomes the variant of the same name
/// (`From`), so "permission denied signalling pid N" is the same words from
/// a [`PidHandle`] and from a [`Process`](crate::Process).
///
/// For code whose own errors are [`io::Error`], `?` converts (`From<Error>
/// for io::Error`, of kind [`Error::kind`], carrying this enum).
///
/// ```
/// use pidkit_monitor::{Error, Monitor};
/// use std::process::Command;
///
/// let err = Monitor::global()
///     .start(&mut Command::new("/nonexistent/program"))
///     .unwrap_err();
/// assert!(matches!(err, Error::Spawn { .. }));
/// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// assert_eq!(err.to_string(), "cannot start \"/nonexistent/program\"");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command could not be started (missing binary, permission,
    /// resource limits). Nothing was spawned and no exit will ever be
    /// delivered for it. Kind: the kind of `source`.
    #[error("cannot start {program:?}")]
    Spawn {
        /// The program as given to the `Command`.
        program: String,
        /// What `std::process::Command::spawn` said.
        #[source]
        source: io::Error,
    },
    /// The process ran out of file descriptors (`EMFILE`, the source) while
    /// starting a child: for the spawn itself, the child's pidfd or its exit
    /// pipe. Nothing was started (a child that was spawned has been killed
    /// and reaped), and every process started before stays monitored. Raise
    /// the soft limit (up to `hard`: [`raise_fd_limit`](crate::raise_fd_limit),
    /// `ulimit -n`, systemd's `LimitNOFILE=`). Kind: the kind of `source`.
    #[error(
        "cannot start {program:?} with RLIMIT_NOFILE at {soft} (hard limit {hard}); \
         raise the soft limit (pidkit_monitor::raise_fd_limit, ulimit -n)"
    )]
    FdLimit {
        /// The program as given to the `Command`.
        program: String,
        /// The soft `RLIMIT_NOFILE` when it failed.
        soft: u64,
        /// The hard `RLIMIT_NOFILE` (what the soft limit can be raised to).
        hard: u64,
        /// The `EMFILE` error.
        #[source]
        source: io::Error,
    },
    /// The process is gone: it has exited and its exit was recorded, so it
    /// can no longer be signalled (its PID may already name another
    /// process); or the handle given to [`Monitor::adopt`](crate::Monitor::adopt)
    /// refers to a process that was already reaped, recycled or never
    /// existed, so there is nothing to watch. If the monitor recorded the
    /// exit, [`Process::wait`](crate::Process::wait) (or
    /// [`Process::try_wait`](crate::Process::try_wait)) returns it. Kind:
    /// [`io::ErrorKind::NotFound`].
    #[error("process {pid} is gone")]
    Gone {
        /// The process's PID.
        pid: u32,
    },
    /// The process (or a member of its group) exists, but we may not signal
    /// it (`EPERM`). Kind: [`io::ErrorKind::PermissionDenied`].
    #[error("permission denied signalling pid {pid}")]
    PermissionDenied {
        /// The process's PID (the group's id, for a group).
        pid: u32,
    },
    /// PID 0, or a PID above `i32::MAX`: no single process has it. Kind:
    /// [`io::ErrorKind::InvalidInput`].
    #[error("invalid pid {pid}: must be in 1..={max}", max = i32::MAX)]
    InvalidPid {
        /// The rejected number.
        pid: u32,
    },
    /// An adopted process (not our child) has exited, but this kernel does not
    /// give its exit status to a non-parent (`PIDFD_INFO_EXIT` needs Linux
    /// 6.15). Kind: [`io::ErrorKind::Unsupported`].
    #[error(
        "process {pid} exited; its exit status is not available to a non-parent on this kernel"
    )]
    StatusUnavailable {
        /// The process's PID.
        pid: u32,
    },
    /// Our child was reaped by someone else in this process (a
    /// `waitpid(-1)` elsewhere, or `SIGCHLD` set to `SIG_IGN`), and the kernel
    /// did not keep its status for us. Kind: [`io::ErrorKind::Other`].
    #[error(
        "process {pid} was reaped outside the monitor (waitpid(-1) or SIGCHLD ignored); its exit status is lost"
    )]
    ReapedElsewhere {
        /// The process's PID.
        pid: u32,
    },
    /// A process that is not our child can only be watched through a pidfd,
    /// and there is none (pidfds unavailable, or the handle holds none).
    /// Kind: [`io::ErrorKind::Unsupported`].
    #[error("cannot watch process {pid}: it is not our child and no pidfd is available for it")]
    NoPidfd {
        /// The handle's PID.
        pid: u32,
    },
    /// Without pidfds the monitor signals with `kill(2)`, which (without
    /// `unsafe`) it can only do for the named signals 1–31, not real-time
    /// ones. Kind: [`io::ErrorKind::Unsupported`].
    #[error(
        "cannot send {signal} to process {pid} without pidfds: only named signals are supported"
    )]
    SignalUnsupported {
        /// The process's PID.
        pid: u32,
        /// The refused signal.
        signal: Signal,
    },
    /// The handle given to the monitor cannot do this safely here
    /// ([`pidkit_pidhandle::Error::Unsupported`], same words). Kind:
    /// [`io::ErrorKind::Unsupported`].
    #[error("unsupported for pid {pid}: {reason}")]
    Unsupported {
        /// The PID concerned.
        pid: u32,
        /// Why it cannot be done.
        reason: String,
    },
    /// The [`Monitor`](crate::Monitor) was asked for its epoll backend where
    /// pidfds do not work. Kind: [`io::ErrorKind::Unsupported`].
    #[error("the epoll backend needs pidfds, which are unavailable here: {reason}")]
    BackendUnavailable {
        /// Why, from `pidkit_pidfd::probe()`.
        reason: String,
    },
    /// Whether pidfds work could not be found out because the process or
    /// the system ran out of file descriptors or memory while probing
    /// (`pidkit_pidfd::Support::resource_error`, the source). Returned by
    /// [`Monitor::new`](crate::Monitor::new) instead of silently choosing
    /// the fallback meant for systems without pidfds; the probe is not
    /// cached, so a later call, once resources are free, decides afresh.
    /// Kind: the kind of `source`.
    #[error("cannot tell whether pidfds work here: probing them needs {what}")]
    OutOfResources {
        /// What ran out: "file descriptors (this process's RLIMIT_NOFILE)",
        /// "file descriptors (the system-wide limit)" or "memory".
        what: &'static str,
        /// The probe's error (`EMFILE`, `ENFILE` or `ENOMEM`).
        #[source]
        source: io::Error,
    },
    /// The handle given to [`Monitor::adopt`](crate::Monitor::adopt) was
    /// closed ([`PidHandle::close`]). Kind: [`io::ErrorKind::InvalidInput`].
    #[error("the process handle is closed")]
    Closed,
    /// A process-group operation on a process that does not lead a group
    /// (neither started by [`Monitor::start_group`](crate::Monitor::start_group)
    /// nor leading its group when it was adopted). Kind:
    /// [`io::ErrorKind::InvalidInput`].
    #[error("process {pid} does not lead a process group")]
    NotGroupLeader {
        /// The process's PID.
        pid: u32,
    },
    /// The process group has no member left. Kind: [`io::ErrorKind::NotFound`].
    #[error("process group {pid} has no member left")]
    GroupGone {
        /// The group id (the leader's PID).
        pid: u32,
    },
    /// The group cannot be named safely: this kernel cannot signal a group
    /// through the leader's pidfd (`PIDFD_SIGNAL_PROCESS_GROUP` needs Linux
    /// 6.9), and the leader is not (or no longer) our unreaped child, so its
    /// number could name another group. Kind: [`io::ErrorKind::Unsupported`].
    #[error(
        "process group {pid}: its leader is not our unreaped child and this kernel cannot signal the group through the leader's pidfd"
    )]
    GroupUnreachable {
        /// The group id (the leader's PID).
        pid: u32,
    },
    /// Any other failure of the process handle given to the monitor (a
    /// [`pidkit_pidhandle::Error`] without a variant of its own here). Kind:
    /// the kind of `source`.
    #[error("the process handle failed")]
    Handle {
        /// The handle's error.
        #[source]
        source: pidkit_pidhandle::Error,
    },
    /// A cgroup directory or file of a process tree could not be used: the
    /// message names what was being done and the path, the cause is the
    /// [`source`](std::error::Error::source). Kind: the kind of `source`.
    #[error("cannot {action} cgroup {}", path.display())]
    Cgroup {
        /// What was being done ("create", "remove", "read", "write to").
        action: &'static str,
        /// The cgroup directory or file.
        path: std::path::PathBuf,
        /// The failure.
        #[source]
        source: io::Error,
    },
    /// A cgroup file or `/proc` file held text a process tree cannot use,
    /// shown as found. Kind: `InvalidData`.
    #[error("unexpected content in {}: {content:?}", path.display())]
    BadContent {
        /// The file.
        path: std::path::PathBuf,
        /// What it held (the offending line or all of it).
        content: String,
    },
    /// A process tree on a cgroup v2 was asked for
    /// ([`Mechanism::Cgroup`](crate::Mechanism::Cgroup)) and none can be made
    /// here; `reason` says why (no cgroup2 mount, no write access, ...).
    /// Kind: `Unsupported`.
    #[error("no cgroup v2 process tree here: {reason}")]
    TreeUnavailable {
        /// Why, naming the path.
        reason: String,
    },
    /// A system call failed. The message says what was being done, naming
    /// the pid; the cause is the [`source`](std::error::Error::source), not
    /// repeated in the message. Kind: the kind of `source`.
    #[error("i/o error {context}")]
    Io {
        /// What was being done, naming the pid.
        context: String,
        /// The failure.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// `Error::FdLimit` when `source` is `EMFILE`, else `None`.
    pub(crate) fn fd_limit(program: &std::ffi::OsStr, source: &io::Error) -> Option<Error> {
        if source.raw_os_error() != Some(rustix::io::Errno::MFILE.raw_os_error()) {
            return None;
        }
        let lim = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        Some(Error::FdLimit {
            program: program.to_string_lossy().into_owned(),
            soft: lim.current.unwrap_or(u64::MAX),
            hard: lim.maximum.unwrap_or(u64::MAX),
            source: io::Error::from_raw_os_error(rustix::io::Errno::MFILE.raw_os_error()),
        })
    }

    /// The [`Error::OutOfResources`] for a probe that ran out of resources.
    pub(crate) fn out_of_resources(source: io::Error) -> Error {
        use rustix::io::Errno;
        let errno = source.raw_os_error();
        let what = if errno == Some(Errno::MFILE.raw_os_error()) {
            "file descriptors (this process's RLIMIT_NOFILE)"
        } else if errno == Some(Errno::NFILE.raw_os_error()) {
            "file descriptors (the system-wide limit)"
        } else {
            "memory"
        };
        Error::OutOfResources { what, source }
    }

    /// The [`io::ErrorKind`] this error converts to (see the [`From`] impl):
    /// a gone process or group [`NotFound`](io::ErrorKind::NotFound), a
    /// refused signal [`PermissionDenied`](io::ErrorKind::PermissionDenied),
    /// what cannot be done here [`Unsupported`](io::ErrorKind::Unsupported),
    /// a bad argument [`InvalidInput`](io::ErrorKind::InvalidInput), an exit
    /// status lost to another reaper [`Other`](io::ErrorKind::Other), and an
    /// error wrapping another the kind of that one.
    ///
    /// ```
    /// use pidkit_monitor::{Error, Monitor, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start(&mut Command::new("true"))?;
    /// p.wait()?;
    /// let gone = p.kill(Signal::TERM).unwrap_err();
    /// assert!(matches!(gone, Error::Gone { pid } if pid == p.pid()));
    /// assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);
    /// let io: std::io::Error = gone.into();
    /// assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    /// assert!(io.get_ref().is_some_and(|e| e.is::<Error>()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::Spawn { source, .. }
            | Error::FdLimit { source, .. }
            | Error::Io { source, .. }
            | Error::Cgroup { source, .. }
            | Error::OutOfResources { source, .. } => source.kind(),
            Error::Handle { source } => source.kind(),
            Error::Gone { .. } | Error::GroupGone { .. } => io::ErrorKind::NotFound,
            Error::PermissionDenied { .. } => io::ErrorKind::PermissionDenied,
            Error::InvalidPid { .. } | Error::NotGroupLeader { .. } | Error::Closed => {
                io::ErrorKind::InvalidInput
            }
            Error::StatusUnavailable { .. }
            | Error::NoPidfd { .. }
            | Error::SignalUnsupported { .. }
            | Error::Unsupported { .. }
            | Error::BackendUnavailable { .. }
            | Error::GroupUnreachable { .. }
            | Error::TreeUnavailable { .. } => io::ErrorKind::Unsupported,
            Error::BadContent { .. } => io::ErrorKind::InvalidData,
            Error::ReapedElsewhere { .. } => io::ErrorKind::Other,
        }
    }
}

/// An [`Error::Io`] saying what was being done.
pub(crate) fn io_context(context: impl Into<String>, source: io::Error) -> Error {
    Error::Io {
        context: context.into(),
        source,
    }
}

/// A refused or failed signal to `pid`, in the words every pidkit crate
/// uses: gone is [`Error::Gone`], `EPERM` [`Error::PermissionDenied`], an
/// invalid number [`Error::InvalidPid`]; anything else names `how` it was
/// sent.
pub(crate) fn signal_error(pid: u32, how: &str, e: io::Error) -> Error {
    if is_esrch(&e) {
        return Error::Gone { pid };
    }
    match e.kind() {
        io::ErrorKind::NotFound => Error::Gone { pid },
        io::ErrorKind::PermissionDenied => Error::PermissionDenied { pid },
        io::ErrorKind::InvalidInput if pidkit_pidfd::check_pid(pid).is_err() => {
            Error::InvalidPid { pid }
        }
        _ => io_context(format!("signalling process {pid} {how}"), e),
    }
}

/// `ESRCH` as it comes from rustix (`pidkit-pidfd` gives it as
/// [`io::ErrorKind::NotFound`], std's kind for it is uncategorised).
pub(crate) fn is_esrch(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error())
}

/// The handle crate's error as the variant of the same name, so that a cause
/// keeps its name and words; what has no variant here is [`Error::Handle`].
///
/// ```
/// use pidkit_monitor::Error;
///
/// let e: Error = pidkit_pidhandle::Error::PermissionDenied { pid: 7 }.into();
/// assert!(matches!(e, Error::PermissionDenied { pid: 7 }));
/// assert_eq!(e.to_string(), "permission denied signalling pid 7");
/// ```
impl From<pidkit_pidhandle::Error> for Error {
    fn from(e: pidkit_pidhandle::Error) -> Error {
        use pidkit_pidhandle::Error as H;
        match e {
            H::Gone { pid } => Error::Gone { pid },
            H::PermissionDenied { pid } => Error::PermissionDenied { pid },
            H::InvalidPid { pid } => Error::InvalidPid { pid },
            H::Unsupported { pid, reason } => Error::Unsupported { pid, reason },
            H::Closed => Error::Closed,
            H::Io { context, source } => Error::Io { context, source },
            source => Error::Handle { source },
        }
    }
}

/// The error inside an [`io::Error`] of kind [`Error::kind`]; get it back
/// with [`io::Error::get_ref`] and `downcast_ref::<Error>()`, or
/// [`io::Error::into_inner`] and `downcast`.
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

/// A failed [`Monitor::adopt`](crate::Monitor::adopt): the error, and the
/// handle handed back unchanged (the shape of std's
/// [`IntoInnerError`](std::io::IntoInnerError), which every pidkit crate
/// uses where a consuming call fails).
///
/// Displays as its [`Error`] and has that error's source. `?` converts it
/// into an [`Error`] or an [`io::Error`], dropping the handle.
///
/// ```
/// use pidkit_monitor::{Error, Monitor, PidHandle, State};
/// use std::process::Command;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut child = Command::new("true").spawn()?;
/// let handle = PidHandle::from_child(&child)?;
/// child.wait()?; // reaped: nothing is left to adopt
/// let failed = Monitor::global().adopt(handle).unwrap_err();
/// assert!(matches!(failed.error(), Error::Gone { pid } if *pid == child.id()));
/// assert_eq!(failed.to_string(), format!("process {} is gone", child.id()));
/// // The handle comes back unchanged.
/// let (error, handle) = failed.into_parts();
/// assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
/// assert_eq!(handle.pid(), child.id());
/// assert_eq!(handle.state()?, State::Gone);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct AdoptError {
    pub(crate) error: Error,
    /// Boxed: a handle is large, and an `Err` should not make every
    /// `Result` of `adopt` that large.
    pub(crate) handle: Box<PidHandle>,
}

impl AdoptError {
    /// Why the process could not be adopted.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The error, dropping the handle.
    pub fn into_error(self) -> Error {
        self.error
    }

    /// The handle given to `adopt`, unchanged, dropping the error.
    pub fn into_inner(self) -> PidHandle {
        *self.handle
    }

    /// The error and the handle given to `adopt`.
    pub fn into_parts(self) -> (Error, PidHandle) {
        (self.error, *self.handle)
    }
}

impl fmt::Display for AdoptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for AdoptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

/// Drops the handle and keeps the error.
impl From<AdoptError> for Error {
    fn from(e: AdoptError) -> Error {
        e.error
    }
}

/// Drops the handle and keeps the error.
impl From<AdoptError> for io::Error {
    fn from(e: AdoptError) -> io::Error {
        e.error.into()
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
