//! The errors of lock file operations: [`Error`], the step that failed
//! ([`Op`]), and the classification of OS errors into them.

use std::fmt;
use std::io;

use camino::{Utf8Path, Utf8PathBuf};
use rustix::io::Errno;

use crate::file::sticky_protection;

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

/// Classifies a failed `open`, looking at the file system where the errno alone
/// is ambiguous. Only runs on the error path.
pub(crate) fn open_error(path: &Utf8Path, creating: bool, source: io::Error) -> Error {
    let errno = Errno::from_io_error(&source);
    // O_NOFOLLOW reports a symlink in the last component as ELOOP; a loop
    // further up the path gives the same errno, so look. With O_CREAT, a
    // symlink of another user in a sticky world-writable directory gives
    // EACCES instead (the kernel's sticky check refuses any such symlink).
    let maybe_symlink = errno == Some(Errno::LOOP) || (creating && errno == Some(Errno::ACCESS));
    if maybe_symlink && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Error::Symlink {
            path: path.to_owned(),
        };
    }
    if creating && source.kind() == io::ErrorKind::NotFound {
        return Error::MissingParent {
            path: path.to_owned(),
        };
    }
    if creating && errno == Some(Errno::ACCESS) {
        if let Some(owner_uid) = sticky_protection(path) {
            return Error::ProtectedBySticky {
                path: path.to_owned(),
                owner_uid,
            };
        }
    }
    classify(path, Op::Open, source)
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    /// Every variant's message, and the rule that a message never repeats
    /// its source: a variant with a source says only what was being done.
    #[test]
    fn messages_name_the_path_and_never_repeat_the_source() {
        let path = || Utf8PathBuf::from("/run/x.lock");
        let cases: Vec<(Error, &str)> = vec![
            (
                Error::Locked { path: path() },
                "lock file /run/x.lock is locked by another holder",
            ),
            (
                Error::HeldByThisProcess { path: path() },
                "lock file /run/x.lock is already held by this process",
            ),
            (
                Error::Symlink { path: path() },
                "lock file /run/x.lock is a symlink; refusing to follow it",
            ),
            (
                Error::IsDirectory { path: path() },
                "lock file /run/x.lock is a directory",
            ),
            (
                Error::NotRegularFile { path: path() },
                "lock file /run/x.lock is not a regular file",
            ),
            (
                Error::MissingParent { path: path() },
                "cannot create lock file /run/x.lock: its parent directory does not exist",
            ),
            (
                Error::ReadOnlyFilesystem {
                    path: path(),
                    op: Op::Write,
                },
                "cannot write lock file /run/x.lock: read-only file system",
            ),
            (
                Error::PermissionDenied {
                    path: path(),
                    op: Op::Open,
                },
                "cannot open lock file /run/x.lock: permission denied",
            ),
            (
                Error::Io {
                    path: path(),
                    op: Op::SyncParentDir,
                    source: io::Error::from_raw_os_error(5),
                },
                "cannot fsync the parent directory of lock file /run/x.lock",
            ),
        ];
        for (e, want) in cases {
            let text = e.to_string();
            assert_eq!(text, want);
            assert_eq!(e.path(), "/run/x.lock");
            assert_eq!(
                text,
                text.to_lowercase().replace("utf-8", "UTF-8"),
                "{text}"
            );
            if let Some(source) = e.source() {
                assert!(!text.contains(&source.to_string()), "{text}");
                assert!(!text.contains("input/output"), "{text}");
            }
        }
    }

    /// The OS errors whose cause is a variant's name become that variant,
    /// without a source.
    #[test]
    fn refusals_and_read_only_file_systems_have_no_source() {
        let path = Utf8Path::new("/run/x.lock");
        for errno in [13, 1] {
            let e = classify(path, Op::Open, io::Error::from_raw_os_error(errno));
            assert!(
                matches!(e, Error::PermissionDenied { op: Op::Open, .. }),
                "{e:?}"
            );
            assert!(e.source().is_none());
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        }
        let e = classify(path, Op::Write, io::Error::from_raw_os_error(30));
        assert!(matches!(e, Error::ReadOnlyFilesystem { op: Op::Write, .. }));
        assert!(e.source().is_none());
        let e = classify(path, Op::Write, io::Error::from_raw_os_error(28));
        assert!(matches!(e, Error::Io { op: Op::Write, .. }), "{e:?}");
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert_eq!(e.op(), Some(Op::Write));
    }

    #[test]
    fn converts_to_io_error_with_its_kind_and_keeps_the_error() {
        let cases = [
            (
                Error::Locked { path: "/a".into() },
                io::ErrorKind::WouldBlock,
            ),
            (
                Error::HeldByThisProcess { path: "/a".into() },
                io::ErrorKind::Deadlock,
            ),
            (
                Error::MissingParent { path: "/a".into() },
                io::ErrorKind::NotFound,
            ),
        ];
        for (e, kind) in cases {
            let text = e.to_string();
            let io: io::Error = e.into();
            assert_eq!(io.kind(), kind, "{text}");
            assert_eq!(io.to_string(), text);
            assert!(io.get_ref().unwrap().downcast_ref::<Error>().is_some());
        }
    }
}
