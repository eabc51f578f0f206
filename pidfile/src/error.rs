//! The one [`Error`] of the crate: what went wrong, with the pidfile (and
//! the PID where there is one), and the [`io::ErrorKind`] each cause
//! converts to.

use std::fmt;
use std::io;

use camino::{Utf8Path, Utf8PathBuf};
use pidkit_lockfile::Error as LockError;
use pidkit_pidhandle::{Error as HandleError, PidHandle, Signal};

/// Everything that can go wrong with a pidfile.
///
/// The messages name the pidfile, and the PID or content where one is
/// involved; a variant with a [`source`](std::error::Error::source) says only
/// what was being done, and a variant whose cause is its name has none.
/// Everything about the file itself is the lock file layer's
/// [`LockError`], inside [`Error::Lock`]:
///
/// ```
/// use pidkit_pidfile::{Error, LockError, claim_for_current_process};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let path = camino::Utf8PathBuf::try_from(dir.path().join("missing/d.pid"))?;
/// let guard = match claim_for_current_process(&path) {
///     Err(Error::Lock(LockError::MissingParent { .. })) => {
///         std::fs::create_dir_all(path.parent().unwrap())?;
///         claim_for_current_process(&path)?
///     }
///     other => other?,
/// };
/// // Claimed again by this process: refused, and named as ours.
/// let err = claim_for_current_process(&path).unwrap_err();
/// assert!(matches!(err, Error::HeldByThisProcess { .. }));
/// assert_eq!(err.to_string(), format!("pidfile {path} is already claimed by this process"));
/// drop(guard);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another process holds the pidfile. `pid` is the PID the file names, if
    /// its content is one, read once right after the failed claim. `holder` is
    /// that process, proven to hold the lock exactly as
    /// [`Owner::handle`](crate::Owner::handle) proves it (pinned, its
    /// descriptors shown by the kernel to hold the exclusive `flock` on this
    /// file, still running), or why it could not be proven:
    /// [`Error::NotHolder`] or [`Error::BadContent`] during a claim in
    /// progress, [`Error::Gone`] if the holder let go or exited in between,
    /// [`Error::CannotVerify`] for another user's process, and so on. Kind:
    /// [`io::ErrorKind::WouldBlock`].
    #[error("pidfile {path} is already claimed by {}", HolderPid(*pid))]
    AlreadyClaimed {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The PID the file names, if its content is one (not verified).
        pid: Option<u32>,
        /// The holder, proven, or why it is not (both boxed, to keep the
        /// error small).
        holder: Result<Box<PidHandle>, Box<Error>>,
    },
    /// This process already holds the pidfile: a live
    /// [`PidFileGuard`](crate::PidFileGuard) of its own (a claim, or the guard
    /// of a [`read`](crate::read) that found it free). Waiting for it would
    /// wait for ourselves. Kind: [`io::ErrorKind::Deadlock`]. A lock of this
    /// process that the lock file layer does not know of (taken without it, or
    /// kept across `exec`) is [`Error::AlreadyClaimed`] instead.
    #[error("pidfile {path} is already claimed by this process")]
    HeldByThisProcess {
        /// The pidfile.
        path: Utf8PathBuf,
    },
    /// The pidfile is held, but its content is not a PID: after trimming
    /// whitespace it must be a decimal number in `1..=i32::MAX`.
    /// [`read`](crate::read) reports it after re-reading for its whole wait (a
    /// claim caught between its truncation and its write reads as empty for a
    /// moment). Content that is not UTF-8 is shown with U+FFFD in place of what
    /// is not text.
    #[error("pidfile {path} holds {}, which is not a pid", Shown(content))]
    BadContent {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The content as read.
        content: String,
    },
    /// The process that held the pidfile when it was read no longer does: it
    /// exited (its PID may now belong to another process, which is never
    /// handed out), or it let go. Kind: [`io::ErrorKind::NotFound`].
    #[error("process {pid} is gone or no longer holds pidfile {path}")]
    Gone {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The PID read from the pidfile.
        pid: u32,
    },
    /// The pidfile is locked, and the process its content names is running,
    /// but the kernel shows that this process does not hold the lock on this
    /// file: a claim in progress (the new claimer has locked the file and not
    /// yet replaced the previous holder's PID, whose number may since belong
    /// to someone else), a file written by something other than its holder
    /// (a PID of another PID namespace, a lock handed to a forked child and
    /// the content naming the parent), or a reader holding a stale file.
    /// Reading again once a claim has finished gives its holder.
    #[error("pid {pid}, named by pidfile {path}, does not hold its lock")]
    NotHolder {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The PID the content names.
        pid: u32,
    },
    /// Whether the process named by the pidfile holds its lock cannot be found
    /// out here: `/proc/<pid>/fd` or its fdinfo is not readable for this caller
    /// (a process of another user, without `CAP_SYS_PTRACE`; a `/proc` mounted
    /// with `hidepid`; a `/proc` of another PID namespace), or reading it ran
    /// out of descriptors or memory (`source` says which). No handle is given
    /// without that proof; [`Owner::pid`](crate::Owner::pid) is still the
    /// number the file names, unverified.
    #[error("cannot verify from /proc/{pid}/fd that pid {pid} holds pidfile {path}")]
    CannotVerify {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The PID the content names.
        pid: u32,
        /// What reading `/proc/<pid>/fd` reported.
        #[source]
        source: io::Error,
    },
    /// The holder, proven, may not be signalled by us (`EPERM`: another
    /// user's process). Kind: [`io::ErrorKind::PermissionDenied`].
    #[error("permission denied signalling pid {pid}, the holder of pidfile {path}")]
    PermissionDenied {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The holder's PID.
        pid: u32,
    },
    /// The holder could not be pinned or inspected.
    #[error("cannot pin pid {pid}, the holder of pidfile {path}")]
    Handle {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The PID read from the pidfile.
        pid: u32,
        /// What [`PidHandle`] reported.
        #[source]
        source: HandleError,
    },
    /// The signal could not be sent to the proven holder for another reason
    /// than [`Error::Gone`] or [`Error::PermissionDenied`] (a real-time
    /// signal on the fallback without pidfds, an unexpected errno).
    #[error("cannot send {signal} to pid {pid}, the holder of pidfile {path}")]
    Kill {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The holder's PID.
        pid: u32,
        /// The signal.
        signal: Signal,
        /// What [`PidHandle::kill`] reported.
        #[source]
        source: HandleError,
    },
    /// The pidfile could not be opened, locked, read or written; the inner
    /// error names the path and the failed step.
    #[error(transparent)]
    Lock(#[from] LockError),
}

impl Error {
    /// The pidfile this error is about.
    ///
    /// ```
    /// use pidkit_pidfile::claim_for_current_process;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
    /// let _guard = claim_for_current_process(&path)?;
    /// let err = claim_for_current_process(&path).unwrap_err();
    /// assert_eq!(err.path(), path.as_path());
    /// assert!(err.to_string().contains(path.as_str()), "{err}");
    /// # Ok(())
    /// # }
    /// ```
    pub fn path(&self) -> &Utf8Path {
        match self {
            Error::AlreadyClaimed { path, .. }
            | Error::HeldByThisProcess { path }
            | Error::BadContent { path, .. }
            | Error::Gone { path, .. }
            | Error::NotHolder { path, .. }
            | Error::CannotVerify { path, .. }
            | Error::PermissionDenied { path, .. }
            | Error::Handle { path, .. }
            | Error::Kill { path, .. } => path,
            Error::Lock(e) => e.path(),
        }
    }

    /// The [`io::ErrorKind`] this error converts to (see the [`From`] impl):
    /// a claim refused because someone holds the file is
    /// [`WouldBlock`](io::ErrorKind::WouldBlock) (what a non-blocking `flock`
    /// says), one refused because this process holds it
    /// [`Deadlock`](io::ErrorKind::Deadlock) (waiting would never end), a
    /// holder that is gone [`NotFound`](io::ErrorKind::NotFound), a refused
    /// signal [`PermissionDenied`](io::ErrorKind::PermissionDenied), content
    /// that is not a pid or does not name the holder
    /// [`InvalidData`](io::ErrorKind::InvalidData), and the errors that carry
    /// another error (a [`PidHandle`] error, the lock file's, the `/proc` read
    /// of [`Error::CannotVerify`]) the kind of that error.
    ///
    /// ```
    /// use pidkit_pidfile::Error;
    /// use std::io;
    ///
    /// let e = Error::Gone { path: "/run/d.pid".into(), pid: 9 };
    /// assert_eq!(e.kind(), io::ErrorKind::NotFound);
    /// let io: io::Error = e.into();
    /// assert_eq!(io.to_string(), "process 9 is gone or no longer holds pidfile /run/d.pid");
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::AlreadyClaimed { .. } => io::ErrorKind::WouldBlock,
            Error::HeldByThisProcess { .. } => io::ErrorKind::Deadlock,
            Error::BadContent { .. } | Error::NotHolder { .. } => io::ErrorKind::InvalidData,
            Error::Gone { .. } => io::ErrorKind::NotFound,
            Error::PermissionDenied { .. } => io::ErrorKind::PermissionDenied,
            Error::CannotVerify { source, .. } => source.kind(),
            Error::Handle { source, .. } | Error::Kill { source, .. } => source.kind(),
            Error::Lock(e) => e.kind(),
        }
    }
}

/// The error inside an [`io::Error`] of kind [`Error::kind`] (get it back
/// with [`io::Error::get_ref`] and `downcast_ref::<Error>()`).
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

impl Error {
    /// [`Error::BadContent`] for `content`, shown as text.
    pub(crate) fn bad_content(path: &Utf8Path, content: &[u8]) -> Error {
        Error::BadContent {
            path: path.to_owned(),
            content: String::from_utf8_lossy(content).into_owned(),
        }
    }
}

/// Displays an optional holder PID.
struct HolderPid(Option<u32>);

impl fmt::Display for HolderPid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(pid) => write!(f, "pid {pid}"),
            None => f.write_str("another process"),
        }
    }
}

/// Displays content quoted and escaped, at most its first 64 characters.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 64;
        match self.0.char_indices().nth(SHOWN) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => write!(
                f,
                "{:?} (and {} more bytes)",
                &self.0[..cut],
                self.0.len() - cut
            ),
        }
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
