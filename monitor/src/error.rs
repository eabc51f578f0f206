//! The crate's [`Error`]: what goes inside the [`io::Error`]s the monitor returns.

use std::io;

use pidkit_pidfd::Signal;

/// Why a monitor operation failed.
///
/// The public methods return [`io::Result`] (like `std::process` and go-runc),
/// with an [`io::ErrorKind`] that says the broad class. The precise reason is
/// one of these variants, carried inside the [`io::Error`]; get it back with
/// [`Error::from_io`]:
///
/// ```
/// use pidkit_monitor::{Error, Monitor};
/// use std::process::Command;
///
/// let err = Monitor::global()
///     .start(&mut Command::new("/nonexistent/program"))
///     .unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// assert!(matches!(Error::from_io(&err), Some(Error::Spawn { .. })));
/// assert!(err.to_string().contains("/nonexistent/program"), "{err}");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command could not be started (missing binary, permission,
    /// resource limits). Nothing was spawned and no exit will ever be
    /// delivered for it. Kind: the kind of `source`.
    #[error("cannot start {program:?}: {source}")]
    Spawn {
        /// The program as given to the `Command`.
        program: String,
        /// What `std::process::Command::spawn` said.
        #[source]
        source: io::Error,
    },
    /// The process ran out of file descriptors (`EMFILE`) while starting a
    /// child: for the spawn itself, the child's pidfd or its exit pipe.
    /// Nothing was started (a child that was spawned has been killed and
    /// reaped), and every process started before stays monitored. Raise the
    /// soft limit (up to `hard`: [`raise_fd_limit`](crate::raise_fd_limit),
    /// `ulimit -n`, systemd's `LimitNOFILE=`). Kind: the kind of `source`.
    #[error(
        "cannot start {program:?}: out of file descriptors: RLIMIT_NOFILE is {soft} \
         (hard limit {hard}); raise the soft limit (pidkit_monitor::raise_fd_limit, \
         ulimit -n): {source}"
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
    /// The [`Monitor`](crate::Monitor) was asked for its epoll backend where
    /// pidfds do not work. Kind: [`io::ErrorKind::Unsupported`].
    #[error("the epoll backend needs pidfds, which are unavailable here: {reason}")]
    BackendUnavailable {
        /// Why, from `pidkit_pidfd::probe()`.
        reason: String,
    },
    /// Whether pidfds work could not be found out because the process or
    /// the system ran out of file descriptors or memory while probing
    /// ([`pidkit_pidfd::Support::resource_error`]). Returned by
    /// [`Monitor::new`](crate::Monitor::new) instead of silently choosing
    /// the fallback meant for systems without pidfds; the probe is not
    /// cached, so a later call, once resources are free, decides afresh.
    /// Kind: the kind of `source`.
    #[error("cannot tell whether pidfds work here: out of {what}: {source}")]
    OutOfResources {
        /// What ran out: "file descriptors (this process's RLIMIT_NOFILE)",
        /// "file descriptors (the system-wide limit)" or "memory".
        what: &'static str,
        /// The probe's error (`EMFILE`, `ENFILE` or `ENOMEM`).
        #[source]
        source: io::Error,
    },
    /// The process handle given to [`Monitor::adopt`](crate::Monitor::adopt)
    /// failed. Kind: mapped from the handle's error.
    #[error("process {pid}: {source}")]
    Handle {
        /// The handle's PID.
        pid: u32,
        /// The handle's error.
        #[source]
        source: pidkit_pidhandle::Error,
    },
    /// A process-group operation on a process that does not lead a group
    /// (it was not started by [`Monitor::start_group`](crate::Monitor::start_group)).
    /// Kind: [`io::ErrorKind::InvalidInput`].
    #[error("process {pid} does not lead a process group it was started with")]
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
    /// The group cannot be named safely any more: its leader has been
    /// reaped, and this kernel cannot signal a group through the leader's
    /// pidfd (`PIDFD_SIGNAL_PROCESS_GROUP` needs Linux 6.9), so its number
    /// could name another group. Kind: [`io::ErrorKind::Unsupported`].
    #[error(
        "process group {pid}: its leader has been reaped and this kernel cannot signal the group through the leader's pidfd"
    )]
    GroupUnreachable {
        /// The group id (the leader's PID).
        pid: u32,
    },
    /// A system call failed. Kind: the kind of `source`.
    #[error("process {pid}: {op}: {source}")]
    Io {
        /// The process's PID.
        pid: u32,
        /// What was being done.
        op: &'static str,
        /// The underlying error.
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

    /// The [`io::ErrorKind`] this error is returned under.
    ///
    /// ```
    /// use pidkit_monitor::{Error, Monitor, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start(&mut Command::new("true"))?;
    /// p.wait()?;
    /// let err = p.kill(Signal::TERM).unwrap_err();
    /// let gone = Error::from_io(&err).expect("the monitor's error");
    /// assert!(matches!(gone, Error::Gone { .. }));
    /// assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);
    /// assert_eq!(err.kind(), gone.kind());
    /// # Ok(())
    /// # }
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::Spawn { source, .. }
            | Error::FdLimit { source, .. }
            | Error::Io { source, .. }
            | Error::OutOfResources { source, .. } => source.kind(),
            Error::Gone { .. } | Error::GroupGone { .. } => io::ErrorKind::NotFound,
            Error::NotGroupLeader { .. } => io::ErrorKind::InvalidInput,
            Error::GroupUnreachable { .. } => io::ErrorKind::Unsupported,
            Error::StatusUnavailable { .. }
            | Error::NoPidfd { .. }
            | Error::SignalUnsupported { .. }
            | Error::BackendUnavailable { .. } => io::ErrorKind::Unsupported,
            Error::ReapedElsewhere { .. } => io::ErrorKind::Other,
            Error::Handle { source, .. } => source.kind(),
        }
    }

    /// The monitor's error inside an [`io::Error`] returned by this crate, if
    /// it is one.
    ///
    /// ```
    /// use pidkit_monitor::{Error, Monitor, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start(Command::new("sleep").arg("1000"))?;
    /// # p.set_kill_on_drop(true); // a failing example must not leave it running
    /// let err = p.kill_group(Signal::KILL).unwrap_err(); // not started with start_group
    /// assert!(matches!(Error::from_io(&err), Some(Error::NotGroupLeader { pid }) if *pid == p.pid()));
    /// assert!(Error::from_io(&std::io::Error::other("not ours")).is_none());
    /// # p.kill(Signal::KILL)?;
    /// # p.wait()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_io(err: &io::Error) -> Option<&Error> {
        err.get_ref().and_then(|e| e.downcast_ref::<Error>())
    }
}

impl Error {
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
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

/// A failed [`Monitor::adopt`](crate::Monitor::adopt): the error, and the
/// handle, handed back unchanged.
///
/// Displays as its [`io::Error`] (whose [`Error::from_io`] gives the precise
/// reason) and has that error's source. Converting it into an [`io::Error`]
/// (so `?` in a function returning [`io::Result`]) drops the handle.
///
/// ```
/// use pidkit_monitor::Monitor;
/// use pidkit_monitor::pidkit_pidhandle::PidHandle;
/// use std::process::Command;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut child = Command::new("true").spawn()?;
/// let handle = PidHandle::from_child(&child)?;
/// child.wait()?; // reaped: nothing is left to adopt
/// let failed = Monitor::global().adopt(handle).unwrap_err();
/// assert_eq!(failed.kind(), std::io::ErrorKind::NotFound);
/// // The handle comes back unchanged.
/// assert_eq!(failed.into_handle().pid(), child.id());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct AdoptError {
    /// Boxed: a handle is large, and an `Err` should not make every
    /// `Result` of `adopt` that large.
    pub(crate) handle: Box<pidkit_pidhandle::PidHandle>,
    pub(crate) error: io::Error,
}

impl AdoptError {
    /// Why the process could not be adopted.
    ///
    /// ```
    /// use pidkit_monitor::{Error, Monitor};
    /// use pidkit_monitor::pidkit_pidhandle::PidHandle;
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut child = Command::new("true").spawn()?;
    /// # let handle = PidHandle::from_child(&child)?;
    /// # child.wait()?; // reaped: nothing is left to adopt
    /// let failed = Monitor::global().adopt(handle).unwrap_err();
    /// assert!(matches!(Error::from_io(failed.error()), Some(Error::Gone { .. })));
    /// # Ok(())
    /// # }
    /// ```
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The kind of [`AdoptError::error`].
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use pidkit_monitor::pidkit_pidhandle::PidHandle;
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut child = Command::new("true").spawn()?;
    /// # let handle = PidHandle::from_child(&child)?;
    /// # child.wait()?; // reaped: nothing is left to adopt
    /// let failed = Monitor::global().adopt(handle).unwrap_err();
    /// assert_eq!(failed.kind(), std::io::ErrorKind::NotFound);
    /// # Ok(())
    /// # }
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        self.error.kind()
    }

    /// The handle given to `adopt`, unchanged.
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use pidkit_monitor::pidkit_pidhandle::PidHandle;
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut child = Command::new("true").spawn()?;
    /// # let handle = PidHandle::from_child(&child)?;
    /// # child.wait()?; // reaped: nothing is left to adopt
    /// let failed = Monitor::global().adopt(handle).unwrap_err();
    /// assert_eq!(failed.handle().pid(), child.id());
    /// # Ok(())
    /// # }
    /// ```
    pub fn handle(&self) -> &pidkit_pidhandle::PidHandle {
        &self.handle
    }

    /// The handle given to `adopt`, unchanged, to use or drop.
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use pidkit_monitor::pidkit_pidhandle::{PidHandle, State};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut child = Command::new("true").spawn()?;
    /// # let handle = PidHandle::from_child(&child)?;
    /// # child.wait()?; // reaped: nothing is left to adopt
    /// let failed = Monitor::global().adopt(handle).unwrap_err();
    /// let handle = failed.into_handle();
    /// assert_eq!(handle.state()?, State::Gone);
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_handle(self) -> pidkit_pidhandle::PidHandle {
        *self.handle
    }

    /// The handle and the error.
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use pidkit_monitor::pidkit_pidhandle::PidHandle;
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut child = Command::new("true").spawn()?;
    /// # let handle = PidHandle::from_child(&child)?;
    /// # child.wait()?; // reaped: nothing is left to adopt
    /// let failed = Monitor::global().adopt(handle).unwrap_err();
    /// let (handle, error) = failed.into_parts();
    /// assert_eq!(handle.pid(), child.id());
    /// assert!(error.to_string().contains(&child.id().to_string()), "{error}");
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_parts(self) -> (pidkit_pidhandle::PidHandle, io::Error) {
        (*self.handle, self.error)
    }
}

impl std::fmt::Display for AdoptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for AdoptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

/// Drops the handle and keeps the error.
impl From<AdoptError> for io::Error {
    fn from(e: AdoptError) -> io::Error {
        e.error
    }
}
