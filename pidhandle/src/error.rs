//! The crate's [`Error`].

use std::fmt;
use std::io;

/// Everything that can go wrong with a [`PidHandle`](crate::PidHandle).
///
/// A process that is gone is [`Error::Gone`]; a process that exists
/// but may not be signalled by us is [`Error::PermissionDenied`] (never
/// reported as "dead"). Text that is not a handle is [`Error::Parse`].
///
/// ```
/// use pidkit_pidhandle::{Error, PidHandle, Signal};
///
/// let mut child = std::process::Command::new("true").spawn()?;
/// let handle = PidHandle::from_child(&child)?;
/// child.wait()?;
/// let e = handle.kill(Signal::TERM).unwrap_err();
/// assert!(matches!(e, Error::Gone { pid } if pid == child.id()));
/// assert_eq!(e.to_string(), format!("process {} is gone", child.id()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The pinned process is gone (reaped, or never existed when the handle
    /// was made), even if its PID now names another process. Kind:
    /// [`io::ErrorKind::NotFound`].
    #[error("process {pid} is gone")]
    Gone {
        /// The PID the handle was made for.
        pid: u32,
    },
    /// The process exists but we may not signal it (`EPERM`).
    #[error("permission denied signalling pid {pid}")]
    PermissionDenied {
        /// The PID the handle was made for.
        pid: u32,
    },
    /// PID 0, or a PID above `i32::MAX`: no single process has it.
    #[error("invalid pid {pid}: must be in 1..={max}", max = i32::MAX)]
    InvalidPid {
        /// The rejected number.
        pid: u32,
    },
    /// The text is not a serialized handle this version understands.
    #[error("invalid process handle text {}: {reason}", Abbrev(input))]
    Parse {
        /// The text as given (the message shows at most its first 100
        /// characters, escaped).
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The operation cannot be done safely here: a serialized handle whose
    /// only identity is a pidfs id, restored where pidfs ids cannot be read
    /// (no pidfd, or a kernel before 6.9); or a real-time signal on the
    /// fallback path. Never answered with an unverified handle or kill.
    #[error("unsupported for pid {pid}: {reason}")]
    Unsupported {
        /// The PID concerned.
        pid: u32,
        /// Why it cannot be done.
        reason: String,
    },
    /// [`PidHandle::from_pidfd`](crate::PidHandle::from_pidfd) was given a
    /// pidfd of another process than the PID it was told.
    #[error("the pidfd refers to pid {actual}, not pid {pid}")]
    PidMismatch {
        /// The PID the caller named.
        pid: u32,
        /// The PID the pidfd refers to.
        actual: u32,
    },
    /// A `PID:inode` ([`PidInode`](crate::PidInode)) names no live
    /// process: no process has the PID, or the one that has it now has
    /// another pidfs inode id (it is not the process the pair was written
    /// for). Kind: [`io::ErrorKind::NotFound`].
    #[error("no process with pid {pid} has pidfs inode {inode}")]
    NoSuchPidInode {
        /// The PID of the pair.
        pid: u32,
        /// The pidfs inode id of the pair.
        inode: u64,
    },
    /// An environment variable that should name a process
    /// ([`PidHandle::from_env`](crate::PidHandle::from_env)) is unset or
    /// not a number. Kind: [`io::ErrorKind::InvalidData`].
    #[error("environment variable {var} {reason}")]
    Env {
        /// The variable's name.
        var: String,
        /// What is wrong with it (its value, quoted, when it has one).
        reason: String,
    },
    /// The handle was closed with [`PidHandle::close`](crate::PidHandle::close).
    #[error("the process handle is closed")]
    Closed,
    /// Any other I/O failure (reading `/proc`, an unexpected errno). The
    /// message says what was being done, naming the pid or path; the cause
    /// is the [`source`](std::error::Error::source), not repeated in the message.
    #[error("i/o error {context}")]
    Io {
        /// What was being done, naming the pid or path.
        context: String,
        /// The failure.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The [`io::ErrorKind`] this error converts to (see the
    /// [`From`] impl): a gone process is [`NotFound`](io::ErrorKind::NotFound),
    /// a refused signal [`PermissionDenied`](io::ErrorKind::PermissionDenied),
    /// bad text [`InvalidData`](io::ErrorKind::InvalidData), what cannot be
    /// done safely here [`Unsupported`](io::ErrorKind::Unsupported), a bad
    /// argument or a closed handle [`InvalidInput`](io::ErrorKind::InvalidInput),
    /// and an I/O failure the kind of its source.
    ///
    /// ```
    /// use pidkit_pidhandle::Error;
    /// use std::io;
    ///
    /// let e = Error::Gone { pid: 7 };
    /// assert_eq!(e.kind(), io::ErrorKind::NotFound);
    /// let io: io::Error = e.into();
    /// assert_eq!(io.kind(), io::ErrorKind::NotFound);
    /// assert_eq!(io.to_string(), "process 7 is gone");
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::Gone { .. } | Error::NoSuchPidInode { .. } => io::ErrorKind::NotFound,
            Error::PermissionDenied { .. } => io::ErrorKind::PermissionDenied,
            Error::Unsupported { .. } => io::ErrorKind::Unsupported,
            Error::Parse { .. } | Error::Env { .. } => io::ErrorKind::InvalidData,
            Error::InvalidPid { .. } | Error::PidMismatch { .. } | Error::Closed => {
                io::ErrorKind::InvalidInput
            }
            Error::Io { source, .. } => source.kind(),
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

/// Shows at most the first 100 characters of a text, escaped.
pub(crate) struct Abbrev<'a>(pub(crate) &'a str);

impl fmt::Display for Abbrev<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 100;
        let total = self.0.chars().count();
        if total <= SHOWN {
            write!(f, "{:?}", self.0)
        } else {
            let head: String = self.0.chars().take(SHOWN).collect();
            write!(f, "{head:?}... ({total} characters)")
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

/// [`PidHandle::from_pidfd`](crate::PidHandle::from_pidfd) refused the
/// pidfd: the error, and the pidfd handed back (the shape of std's
/// [`IntoInnerError`](std::io::IntoInnerError), which every pidkit crate
/// uses where a consuming call fails).
///
/// ```
/// use pidkit_pidhandle::{Error, PidFd, PidHandle};
///
/// let mine = PidFd::open(std::process::id())?;
/// let refused = PidHandle::from_pidfd(1, mine).unwrap_err();
/// assert!(matches!(refused.error(), Error::PidMismatch { pid: 1, .. }));
/// let mine: PidFd = refused.into_inner(); // still open, still ours
/// mine.kill(pidkit_pidhandle::Signal::ZERO)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FromPidFdError {
    pub(crate) error: Error,
    pub(crate) pidfd: crate::PidFd,
}

impl FromPidFdError {
    /// Why the pidfd was refused.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The error, dropping the pidfd.
    pub fn into_error(self) -> Error {
        self.error
    }

    /// The pidfd, dropping the error.
    pub fn into_inner(self) -> crate::PidFd {
        self.pidfd
    }

    /// The error and the pidfd.
    pub fn into_parts(self) -> (Error, crate::PidFd) {
        (self.error, self.pidfd)
    }
}

impl fmt::Display for FromPidFdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for FromPidFdError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl From<FromPidFdError> for Error {
    fn from(e: FromPidFdError) -> Error {
        e.error
    }
}

impl From<FromPidFdError> for io::Error {
    fn from(e: FromPidFdError) -> io::Error {
        e.error.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_name_the_subject() {
        let cases: Vec<(Error, &str)> = vec![
            (Error::Gone { pid: 7 }, "process 7 is gone"),
            (
                Error::PermissionDenied { pid: 7 },
                "permission denied signalling pid 7",
            ),
            (
                Error::InvalidPid { pid: 0 },
                "invalid pid 0: must be in 1..=2147483647",
            ),
            (
                Error::Parse {
                    input: "x\0".into(),
                    reason: "bad".into(),
                },
                "invalid process handle text \"x\\0\": bad",
            ),
            (Error::Closed, "the process handle is closed"),
            (
                Error::NoSuchPidInode {
                    pid: 4338,
                    inode: 12345,
                },
                "no process with pid 4338 has pidfs inode 12345",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
        let long = "a".repeat(1000);
        let msg = Error::Parse {
            input: long,
            reason: "too long".into(),
        }
        .to_string();
        assert!(msg.contains("(1000 characters)"), "{msg}");
        assert!(msg.len() < 200, "{msg}");
        let e = io_context(
            "reading /proc/5/stat",
            io::Error::from(io::ErrorKind::InvalidData),
        );
        assert_eq!(e.to_string(), "i/o error reading /proc/5/stat");
        let source = std::error::Error::source(&e).expect("the cause is the source");
        assert!(!e.to_string().contains(&source.to_string()), "{e}");
    }

    #[test]
    fn converts_to_io_error_with_its_kind_and_keeps_the_error() {
        let cases = [
            (Error::Gone { pid: 3 }, io::ErrorKind::NotFound),
            (
                Error::PermissionDenied { pid: 3 },
                io::ErrorKind::PermissionDenied,
            ),
            (Error::InvalidPid { pid: 0 }, io::ErrorKind::InvalidInput),
            (
                Error::Parse {
                    input: "x".into(),
                    reason: "bad".into(),
                },
                io::ErrorKind::InvalidData,
            ),
            (
                Error::Unsupported {
                    pid: 3,
                    reason: "r".into(),
                },
                io::ErrorKind::Unsupported,
            ),
            (Error::Closed, io::ErrorKind::InvalidInput),
            (
                Error::Env {
                    var: "X".into(),
                    reason: "r".into(),
                },
                io::ErrorKind::InvalidData,
            ),
            (
                Error::NoSuchPidInode { pid: 3, inode: 9 },
                io::ErrorKind::NotFound,
            ),
            (
                io_context("x", io::Error::from(io::ErrorKind::OutOfMemory)),
                io::ErrorKind::OutOfMemory,
            ),
        ];
        for (e, kind) in cases {
            testkit::assert_into_io!(Error, e, kind);
        }
    }
}
