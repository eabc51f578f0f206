//! The errors of lock file operations: [`Error`], the step that failed
//! ([`Op`]), and the classification of an OS error into them.

use std::fmt;
use std::io;

use camino::{Utf8Path, Utf8PathBuf};
use rustix::io::Errno;

/// The step of an operation on a lock file that failed, as carried by [`Error`].
///
/// ```
/// use pidkit_lockfile::{Op, create_exclusive};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
/// let _held = create_exclusive(&path)?;
/// let err = create_exclusive(&path).unwrap_err();
/// assert_eq!(err.op(), Some(Op::Lock));
/// assert_eq!(Op::Lock.to_string(), "lock");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// Opening (or creating) the file.
    Open,
    /// Taking the `flock`.
    Lock,
    /// Truncating the file before writing the new content.
    Truncate,
    /// Writing the new content.
    Write,
    /// `fsync` of the file.
    SyncFile,
    /// Opening or `fsync`ing the parent directory.
    SyncParentDir,
    /// Reading the content.
    Read,
    /// Clearing the close-on-exec flag ([`LockFileGuard::keep_across_exec`](crate::LockFileGuard::keep_across_exec)).
    KeepAcrossExec,
    /// Releasing a lock taken only to look ([`read_held_claim`](crate::read_held_claim)).
    Unlock,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Open => "open",
            Op::Lock => "lock",
            Op::Truncate => "truncate",
            Op::Write => "write",
            Op::SyncFile => "fsync",
            Op::SyncParentDir => "fsync the parent directory of",
            Op::Read => "read",
            Op::KeepAcrossExec => "keep across exec the descriptor of",
            Op::Unlock => "unlock",
        })
    }
}

/// Everything that can go wrong with a lock file.
///
/// Every variant names the path it is about. The messages are meant to be
/// shown as they are; where the operating system reported an error it is
/// available through [`std::error::Error::source`].
///
/// ```
/// use pidkit_lockfile::{Error, create_exclusive};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
/// let missing = camino::Utf8PathBuf::try_from(dir.path().join("no/such/dir/a.lock"))?;
/// match create_exclusive(&missing) {
///     Err(Error::MissingParent { path }) => assert_eq!(path, missing),
///     other => panic!("unexpected {other:?}"),
/// }
/// let _held = create_exclusive(&path)?;
/// let err = create_exclusive(&path).unwrap_err();
/// assert!(matches!(err, Error::HeldByThisProcess { .. }));
/// assert_eq!(err.to_string(), format!("lock file {path} is already held by this process"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Someone else holds the lock: another process, or a lock this process
    /// took other than through this crate. The file was not modified.
    #[error("lock file {path} is locked by another holder")]
    Locked {
        /// The lock file.
        path: Utf8PathBuf,
    },
    /// This process already holds the lock, through a live
    /// [`UnwrittenLockFile`](crate::UnwrittenLockFile) or
    /// [`LockFileGuard`](crate::LockFileGuard) (a claim, or a reader's
    /// guard): waiting for it would wait for ourselves. The file was not
    /// modified. Kind: [`io::ErrorKind::Deadlock`].
    #[error("lock file {path} is already held by this process")]
    HeldByThisProcess {
        /// The lock file.
        path: Utf8PathBuf,
    },
    /// The path is a symbolic link. Lock files are opened with `O_NOFOLLOW`.
    #[error("lock file {path} is a symlink; refusing to follow it")]
    Symlink {
        /// The lock file.
        path: Utf8PathBuf,
    },
    /// The path is a directory.
    #[error("lock file {path} is a directory")]
    IsDirectory {
        /// The lock file.
        path: Utf8PathBuf,
    },
    /// The path is neither a regular file nor a directory (a FIFO, a socket, a
    /// device), so it cannot hold content.
    #[error("lock file {path} is not a regular file")]
    NotRegularFile {
        /// The lock file.
        path: Utf8PathBuf,
    },
    /// The file could not be created because a directory on the way to it does
    /// not exist.
    #[error("cannot create lock file {path}: its parent directory does not exist")]
    MissingParent {
        /// The lock file.
        path: Utf8PathBuf,
    },
    /// The file lives on a read-only file system.
    #[error("cannot {op} lock file {path}: read-only file system")]
    ReadOnlyFilesystem {
        /// The lock file.
        path: Utf8PathBuf,
        /// The step that failed.
        op: Op,
    },
    /// The file, in a sticky world-writable directory such as `/tmp`, belongs to
    /// another user (neither the caller nor the directory's owner), so anyone
    /// may have planted it there, and may still write to it or hold it. A
    /// claim refuses it before locking or writing it: the kernel's
    /// `fs.protected_regular` rule, applied whether or not that setting is on
    /// (when it is, the kernel refuses the open itself). Use a directory that
    /// only the service can write to.
    #[error(
        "cannot open lock file {path}: it belongs to uid {owner_uid} in a sticky world-writable directory, and claiming a file someone else may have planted there is refused (the rule of fs.protected_regular)"
    )]
    ProtectedBySticky {
        /// The lock file.
        path: Utf8PathBuf,
        /// The user that owns the file.
        owner_uid: u32,
    },
    /// The operating system refused the step (`EACCES` or `EPERM`): the
    /// cause is this variant, so it has no source.
    #[error("cannot {op} lock file {path}: permission denied")]
    PermissionDenied {
        /// The lock file.
        path: Utf8PathBuf,
        /// The step that failed.
        op: Op,
    },
    /// Any other I/O error; `op` says which step failed, and the message
    /// says only that: the operating system's error is the
    /// [`source`](std::error::Error::source).
    #[error("cannot {op} lock file {path}")]
    Io {
        /// The lock file.
        path: Utf8PathBuf,
        /// The step that failed.
        op: Op,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The lock file this error is about.
    ///
    /// ```
    /// use pidkit_lockfile::create_exclusive;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
    /// let _held = create_exclusive(&path)?;
    /// let err = create_exclusive(&path).unwrap_err();
    /// assert_eq!(err.path(), path.as_path());
    /// # Ok(())
    /// # }
    /// ```
    pub fn path(&self) -> &Utf8Path {
        match self {
            Error::Locked { path }
            | Error::HeldByThisProcess { path }
            | Error::Symlink { path }
            | Error::IsDirectory { path }
            | Error::NotRegularFile { path }
            | Error::MissingParent { path }
            | Error::ReadOnlyFilesystem { path, .. }
            | Error::ProtectedBySticky { path, .. }
            | Error::PermissionDenied { path, .. }
            | Error::Io { path, .. } => path,
        }
    }

    /// The step that failed, where one applies.
    ///
    /// ```
    /// use pidkit_lockfile::{Op, create_exclusive};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
    /// let missing = camino::Utf8PathBuf::try_from(dir.path().join("no/such/dir/a.lock"))?;
    /// let err = create_exclusive(&missing).unwrap_err();
    /// assert_eq!(err.op(), Some(Op::Open));
    /// # Ok(())
    /// # }
    /// ```
    pub fn op(&self) -> Option<Op> {
        match self {
            Error::Locked { .. } | Error::HeldByThisProcess { .. } => Some(Op::Lock),
            Error::Symlink { .. }
            | Error::MissingParent { .. }
            | Error::ProtectedBySticky { .. } => Some(Op::Open),
            Error::ReadOnlyFilesystem { op, .. }
            | Error::PermissionDenied { op, .. }
            | Error::Io { op, .. } => Some(*op),
            Error::IsDirectory { .. } | Error::NotRegularFile { .. } => None,
        }
    }

    /// The [`io::ErrorKind`] this error converts to (see the [`From`] impl):
    /// a lock someone else holds is [`WouldBlock`](io::ErrorKind::WouldBlock)
    /// (what a non-blocking `flock` says), a lock this process holds itself
    /// [`Deadlock`](io::ErrorKind::Deadlock) (waiting would never end), a
    /// missing parent [`NotFound`](io::ErrorKind::NotFound), refusals
    /// [`PermissionDenied`](io::ErrorKind::PermissionDenied), a path that is
    /// not a regular file [`IsADirectory`](io::ErrorKind::IsADirectory) or
    /// [`InvalidInput`](io::ErrorKind::InvalidInput), and an operating system
    /// error the kind of its source.
    ///
    /// ```
    /// use pidkit_lockfile::Error;
    /// use std::io;
    ///
    /// let e = Error::Locked { path: "/run/a.lock".into() };
    /// assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    /// let io: io::Error = e.into();
    /// assert_eq!(io.to_string(), "lock file /run/a.lock is locked by another holder");
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::Locked { .. } => io::ErrorKind::WouldBlock,
            Error::HeldByThisProcess { .. } => io::ErrorKind::Deadlock,
            Error::Symlink { .. } | Error::NotRegularFile { .. } => io::ErrorKind::InvalidInput,
            Error::IsDirectory { .. } => io::ErrorKind::IsADirectory,
            Error::MissingParent { .. } => io::ErrorKind::NotFound,
            Error::ReadOnlyFilesystem { .. } => io::ErrorKind::ReadOnlyFilesystem,
            Error::ProtectedBySticky { .. } | Error::PermissionDenied { .. } => {
                io::ErrorKind::PermissionDenied
            }
            Error::Io { source, .. } => source.kind(),
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

/// Turns an OS error from step `op` into the most telling [`Error`].
pub(crate) fn classify(path: &Utf8Path, op: Op, source: io::Error) -> Error {
    let path_buf = || path.to_owned();
    match Errno::from_io_error(&source) {
        Some(Errno::ROFS) => Error::ReadOnlyFilesystem {
            path: path_buf(),
            op,
        },
        Some(Errno::ISDIR) => Error::IsDirectory { path: path_buf() },
        Some(Errno::SPIPE | Errno::NXIO) => Error::NotRegularFile { path: path_buf() },
        Some(Errno::ACCESS | Errno::PERM) => Error::PermissionDenied {
            path: path_buf(),
            op,
        },
        _ => Error::Io {
            path: path_buf(),
            op,
            source,
        },
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
