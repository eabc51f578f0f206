//! Lock files built on `flock(2)`, for "only one of us may run" claims.
//!
//! A lock file is an ordinary file whose `flock` marks who currently owns some
//! resource, and whose content says something about the owner. This crate
//! claims such a file ([`create_exclusive`], then
//! [`UnwrittenLockFile::write_content`]), and inspects it without ever blocking
//! ([`read_and_hold_lock_file`]). It knows nothing about process IDs; the
//! `pidkit-pidfile` crate builds pidfiles on top of it.
//!
//! # What this adds over a bare `flock`
//!
//! [`fs4`] gives the `flock` call. Taking a lock correctly needs more than that,
//! and the common mistakes are easy to make:
//!
//! - **A failed claim never damages the holder's file.** The file is opened
//!   without `O_TRUNC`, and only the process that got the lock truncates and
//!   rewrites it. (Opening with `O_TRUNC` and locking afterwards empties the
//!   holder's file every time someone *tries* to claim it.)
//! - **Everyone else's convention**: a claim holds `LOCK_EX` for its whole
//!   life, like neon's pidfiles, `flock(1)`, `pgrep -L` and most daemons, so
//!   `lslocks` shows it as a WRITE lock and those tools see it as held; and a
//!   file any of them holds reads as held here.
//! - **Symlinks are refused** (`O_NOFOLLOW`), so a planted link cannot redirect the
//!   write to some other file.
//! - **Planted files are refused**: in a sticky world-writable directory such
//!   as `/tmp`, a claim refuses a file that belongs to neither the caller nor
//!   the directory's owner, before locking or writing it, whatever the
//!   kernel's `fs.protected_regular` setting (the rule it applies when set).
//! - **Durable content**: the new content is `fsync`ed, and so is the parent
//!   directory, so the file and its directory entry survive a crash.
//! - **No inheritance by accident**: every descriptor is close-on-exec; keeping the
//!   lock in an `exec`ed program is an explicit call,
//!   [`LockFileGuard::keep_across_exec`].
//! - **Reads never block**, and read the content with a single positional
//!   read, at a moment when it cannot change.
//! - **Errors you can act on**: a directory, a symlink, a missing parent
//!   directory, a read-only file system, a file protected by a sticky directory and
//!   a lock held elsewhere are distinct [`Error`] variants that name the path.
//!
//! # What a read tells
//!
//! | the file is | a reader gets |
//! |---|---|
//! | missing | [`LockFileRead::NotExist`] (nothing is created) |
//! | not locked by anyone | [`LockFileRead::NotHeldByAnyProcess`] with the content, and the exclusive lock |
//! | locked (`flock`) by someone else, whoever it is | [`LockFileRead::LockedByOtherProcess`] with the content as it is now |
//!
//! The reader ([`read_and_hold_lock_file`]) opens the file and tries
//! `flock(LOCK_EX | LOCK_NB)` once: these are neon's semantics, and the cost
//! is one `open`, one `flock`, one `pread` and a `close`.
//!
//! Every claim has a moment when the claimer already holds the lock but the
//! file still holds the *previous* claim's content (or, right after the
//! truncation, nothing). A lock file cannot tell that moment from a written
//! claim: the lock does not say who holds it, and this crate knows nothing
//! about who its users are. [`LockFileRead::LockedByOtherProcess`] therefore
//! means "held", and its content is what the file holds, which during a claim
//! in progress is the previous holder's. A layer that knows what the content
//! names can prove it: `pidkit-pidfile` asks the kernel whether the process
//! the content names holds the lock on this very file.
//!
//! (Up to 0.1, claims converted their lock to `LOCK_SH` once written, so that
//! a reader could tell the two phases apart by the lock mode. No other program
//! follows that convention: `pgrep -L` rejected pidkit's files, `lslocks`
//! showed a READ lock, and every file held the usual way read as a claim in
//! progress forever. It is gone; see the CHANGELOG.)
//!
//! # Never unlink a lock file
//!
//! Dropping a [`LockFileGuard`] releases the lock and leaves the file where it is.
//! That is deliberate: the stale file is harmless, because the *lock*, not the
//! file's existence, says whether someone holds the claim. Removing the file on
//! exit, on the other hand, breaks mutual exclusion:
//!
//! 1. Holder `A` has the file open and locked.
//! 2. Newcomer `B` opens the same path (the same inode) and finds it locked.
//!    Suppose `B` waits for the lock, or retries on the descriptor it opened.
//! 3. `A` unlinks the path and exits, which releases the lock.
//! 4. `B` now locks the inode it opened, which no longer has a name.
//! 5. Newcomer `C` opens the path, finds nothing, creates a *new* inode there and
//!    locks it without any conflict.
//!
//! `B` and `C` now both believe they are the only holder. No ordering of "unlink
//! before unlock" or "unlock before unlink" closes this window, so this crate never
//! unlinks, and neither should its users.
//!
//! # Limitations
//!
//! - The lock is advisory. It only excludes processes that also take the
//!   `flock`; anyone else can still read, write or delete the file.
//! - The lock belongs to an *open file description*, not to a process. A
//!   `fork(2)`ed child shares it, and the lock lasts until every copy of the
//!   descriptor is closed. In a multi-threaded program, a child that another
//!   thread forks holds a copy from `fork` until its `exec`, so a lock you just
//!   dropped can stay held for that short moment.
//! - Two opens of the same file, even in the same process, are separate holders:
//!   the second [`create_exclusive`] fails with [`Error::Locked`].
//! - On network file systems `flock` may be emulated with byte-range locks (NFS)
//!   or be local to one machine; claims are only reliable on local file systems.
//! - The content returned by a read is a snapshot. It can change right after the
//!   read, unless the reader holds the lock.
//! - A held file's content is read without the lock, so it may be a claim
//!   in progress: the previous holder's content, an empty file, or (while the
//!   claimer writes) part of the new content. Readers that need to know who
//!   holds the file must prove it by other means (as `pidkit-pidfile` does).
//! - A program that holds the file with a *shared* `flock` makes it read as
//!   held too, though several may hold it at once.
//! - A guard returned by [`read_and_hold_lock_file`] holds a read-only descriptor.
//! - Linux only.
//!
//! # Example
//!
//! ```
//! use camino::Utf8PathBuf;
//! use pidkit_lockfile::{create_exclusive, read_and_hold_lock_file, Error, LockFileRead};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = Utf8PathBuf::try_from(dir.path().join("service.lock"))?;
//!
//! // Claim the file, then write what the claim is about.
//! let guard = create_exclusive(&path)?.write_content("owner: worker-1\n".to_owned())?;
//!
//! // A second claim fails while the guard lives, and does not touch the content.
//! assert!(matches!(create_exclusive(&path), Err(Error::Locked { .. })));
//!
//! // A reader sees the content and learns that the file is locked, without blocking.
//! match read_and_hold_lock_file(&path)? {
//!     LockFileRead::LockedByOtherProcess { content, .. } => assert_eq!(content, "owner: worker-1\n"),
//!     other => panic!("unexpected {other:?}"),
//! }
//!
//! // Dropping the guard releases the lock; the file stays.
//! drop(guard);
//!
//! // A claim that has locked the file but not written yet reads as held, with
//! // the content still the previous claim's: a lock file cannot tell.
//! let unwritten = create_exclusive(&path)?;
//! match read_and_hold_lock_file(&path)? {
//!     LockFileRead::LockedByOtherProcess { content, .. } => assert_eq!(content, "owner: worker-1\n"),
//!     other => panic!("unexpected {other:?}"),
//! }
//! drop(unwritten);
//! assert!(path.exists());
//! match read_and_hold_lock_file(&path)? {
//!     LockFileRead::NotHeldByAnyProcess(_reader_guard, stale) => assert_eq!(stale, "owner: worker-1\n"),
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!(
    "pidkit-lockfile supports Linux only: it relies on Linux flock(2) and open(2) semantics"
);

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::ops::Deref;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};

use camino::{Utf8Path, Utf8PathBuf};
use fs4::fs_std::FileExt as Flock;
use rustix::io::Errno;

/// The mode a newly created lock file gets (before the umask): `rw-r--r--`.
pub const LOCK_FILE_MODE: u32 = 0o644;

/// Bytes read by the first (and, for small files, only) positional read.
const FIRST_READ: usize = 128;

/// The step of an operation on a lock file that failed, as carried by [`Error`].
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
    /// Clearing the close-on-exec flag ([`LockFileGuard::keep_across_exec`]).
    KeepAcrossExec,
    /// Releasing a lock taken only to look ([`read_held_claim`]).
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
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Someone else holds the lock: another process, or another open of the
    /// same file in this process. The file was not modified.
    #[error("lock file {path} is locked by another holder")]
    Locked {
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
    /// Permission denied.
    #[error("cannot {op} lock file {path}: permission denied")]
    PermissionDenied {
        /// The lock file.
        path: Utf8PathBuf,
        /// The step that failed.
        op: Op,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The content is not UTF-8 text.
    #[error("lock file {path} holds {} bytes that are not UTF-8 text", content.len())]
    NotUtf8 {
        /// The lock file.
        path: Utf8PathBuf,
        /// The raw content.
        content: Vec<u8>,
    },
    /// Any other I/O error; `op` says which step failed.
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
    pub fn path(&self) -> &Utf8Path {
        match self {
            Error::Locked { path }
            | Error::Symlink { path }
            | Error::IsDirectory { path }
            | Error::NotRegularFile { path }
            | Error::MissingParent { path }
            | Error::ReadOnlyFilesystem { path, .. }
            | Error::ProtectedBySticky { path, .. }
            | Error::PermissionDenied { path, .. }
            | Error::NotUtf8 { path, .. }
            | Error::Io { path, .. } => path,
        }
    }

    /// The step that failed, where one applies.
    pub fn op(&self) -> Option<Op> {
        match self {
            Error::Locked { .. } => Some(Op::Lock),
            Error::Symlink { .. }
            | Error::MissingParent { .. }
            | Error::ProtectedBySticky { .. } => Some(Op::Open),
            Error::ReadOnlyFilesystem { op, .. }
            | Error::PermissionDenied { op, .. }
            | Error::Io { op, .. } => Some(*op),
            Error::IsDirectory { .. } | Error::NotRegularFile { .. } | Error::NotUtf8 { .. } => {
                None
            }
        }
    }

    /// The [`io::ErrorKind`] this error converts to (see the [`From`] impl):
    /// a lock someone else holds is [`WouldBlock`](io::ErrorKind::WouldBlock)
    /// (what a non-blocking `flock` says), a missing parent
    /// [`NotFound`](io::ErrorKind::NotFound), refusals
    /// [`PermissionDenied`](io::ErrorKind::PermissionDenied), content that is
    /// not text [`InvalidData`](io::ErrorKind::InvalidData), a path that is
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
            Error::Symlink { .. } | Error::NotRegularFile { .. } => io::ErrorKind::InvalidInput,
            Error::IsDirectory { .. } => io::ErrorKind::IsADirectory,
            Error::MissingParent { .. } => io::ErrorKind::NotFound,
            Error::ReadOnlyFilesystem { .. } => io::ErrorKind::ReadOnlyFilesystem,
            Error::ProtectedBySticky { .. } | Error::PermissionDenied { .. } => {
                io::ErrorKind::PermissionDenied
            }
            Error::NotUtf8 { .. } => io::ErrorKind::InvalidData,
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
fn classify(path: &Utf8Path, op: Op, source: io::Error) -> Error {
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
            source,
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
fn open_error(path: &Utf8Path, creating: bool, source: io::Error) -> Error {
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

/// If `path` is an existing file that `fs.protected_regular` would stop us from
/// opening with `O_CREAT` (another user's file in a sticky, world-writable
/// directory it does not belong to the owner of), returns the file's owner.
fn sticky_protection(path: &Utf8Path) -> Option<u32> {
    let file = std::fs::symlink_metadata(path).ok()?;
    let dir = std::fs::metadata(parent_dir(path)).ok()?;
    let sticky_world_writable = dir.mode() & 0o1002 == 0o1002;
    (sticky_world_writable && file.uid() != dir.uid()).then_some(file.uid())
}

/// Refuses, after the open and before the lock, a regular file that someone
/// else may have planted in a sticky world-writable directory (see
/// [`Error::ProtectedBySticky`]): what the kernel refuses when
/// `fs.protected_regular` is set, refused here when it is not. The owner is
/// taken from the open file itself, so a swap of the path in between changes
/// nothing; a file of the caller's own is never refused (one fstat).
fn refuse_planted(file: &File, path: &Utf8Path) -> Result<(), Error> {
    let meta = file.metadata().map_err(|e| classify(path, Op::Open, e))?;
    if meta.uid() == rustix::process::geteuid().as_raw() || !meta.file_type().is_file() {
        return Ok(());
    }
    let foreign = std::fs::metadata(parent_dir(path))
        .is_ok_and(|dir| dir.mode() & 0o1002 == 0o1002 && meta.uid() != dir.uid());
    if foreign {
        return Err(Error::ProtectedBySticky {
            path: path.to_owned(),
            owner_uid: meta.uid(),
        });
    }
    Ok(())
}

/// The directory that holds `path`'s entry: `.` for a bare file name.
fn parent_dir(path: &Utf8Path) -> &Utf8Path {
    match path.parent() {
        Some(p) if !p.as_str().is_empty() => p,
        _ => Utf8Path::new("."),
    }
}

// The `flock` calls go through fs4 by their trait path: since Rust 1.89 `File`
// has inherent `try_lock_shared` and `unlock` methods (with other signatures)
// that method syntax would pick instead, and the crate's MSRV is older.

/// Takes `flock(LOCK_EX | LOCK_NB)`; `Ok(false)` when someone else holds a
/// lock.
fn try_lock(file: &File, path: &Utf8Path) -> Result<bool, Error> {
    Flock::try_lock_exclusive(file).map_err(|e| classify(path, Op::Lock, e))
}

/// `flock(LOCK_UN)`.
fn unlock(file: &File, path: &Utf8Path) -> Result<(), Error> {
    Flock::unlock(file).map_err(|e| classify(path, Op::Unlock, e))
}

/// What one non-blocking look at the lock of an open lock file found.
enum Probe {
    /// Nobody else held a lock; we now hold the exclusive lock on the
    /// descriptor. The content, read under our lock.
    Free(String),
    /// Someone else holds a lock. The content as it is now, read without a
    /// lock; we hold none.
    Held(String),
}

/// neon's read, on an open descriptor of the file: one `flock(LOCK_EX |
/// LOCK_NB)`, then one `pread`.
///
/// On error, the descriptor may still hold the lock; callers that keep it
/// must unlock it.
fn probe(file: &File, path: &Utf8Path) -> Result<Probe, Error> {
    Ok(if try_lock(file, path)? {
        Probe::Free(read_content(file, path)?)
    } else {
        Probe::Held(read_content(file, path)?)
    })
}

/// Reads the whole file with positional reads from offset 0.
///
/// For content shorter than [`FIRST_READ`] bytes this is a single `pread(2)`
/// into a stack buffer: a regular file returns fewer bytes than asked for only
/// at its end. Longer content doubles the buffer and reads on from where the
/// last read stopped.
fn read_content(file: &File, path: &Utf8Path) -> Result<String, Error> {
    let read_at = |buf: &mut [u8], offset: usize| loop {
        match file.read_at(buf, offset as u64) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other.map_err(|e| classify(path, Op::Read, e)),
        }
    };
    let mut first = [0u8; FIRST_READ];
    let n = read_at(&mut first, 0)?;
    let bytes = if n < FIRST_READ {
        first[..n].to_vec()
    } else {
        let mut buf = first.to_vec();
        let mut filled = n;
        loop {
            buf.resize(buf.len() * 2, 0);
            let n = read_at(&mut buf[filled..], filled)?;
            filled += n;
            if n == 0 || filled < buf.len() {
                break;
            }
        }
        buf.truncate(filled);
        buf
    };
    String::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
        path: path.to_owned(),
        content: e.into_bytes(),
    })
}

/// Opens (creating if needed) and locks `path`, without touching its content.
///
/// The file is opened with `O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW` and mode
/// [`LOCK_FILE_MODE`] (0644, before the umask), and **without** `O_TRUNC`. An
/// existing file that another user may have planted in a sticky
/// world-writable directory is refused ([`Error::ProtectedBySticky`]); then
/// `flock(LOCK_EX | LOCK_NB)` is taken. Only once the lock is held may the
/// content be replaced, through [`UnwrittenLockFile::write_content`].
///
/// # Errors
///
/// - [`Error::Locked`] when anyone else holds the lock, including another open
///   file of this same process. The file's bytes are left as they were.
/// - [`Error::Symlink`], [`Error::IsDirectory`], [`Error::MissingParent`],
///   [`Error::ReadOnlyFilesystem`], [`Error::ProtectedBySticky`],
///   [`Error::PermissionDenied`] for the matching conditions, and
///   [`Error::Io`] (with the failed [`Op`]) for the rest.
pub fn create_exclusive(path: &Utf8Path) -> Result<UnwrittenLockFile, Error> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(LOCK_FILE_MODE)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(|e| open_error(path, true, e))?;
    refuse_planted(&file, path)?;
    if try_lock(&file, path)? {
        Ok(UnwrittenLockFile {
            file,
            path: path.to_owned(),
        })
    } else {
        Err(Error::Locked {
            path: path.to_owned(),
        })
    }
}

/// A lock file that is locked by us but whose content has not been written yet.
///
/// Returned by [`create_exclusive`]. The content is still whatever the previous
/// holder left. Dropping it releases the lock and leaves the content as it was.
#[must_use = "dropping an UnwrittenLockFile releases the lock at once"]
#[derive(Debug)]
pub struct UnwrittenLockFile {
    file: File,
    path: Utf8PathBuf,
}

impl UnwrittenLockFile {
    /// The path the file was opened at.
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// Replaces the content and returns the guard that keeps the claim.
    ///
    /// The steps are, all under the exclusive lock: truncate to zero length,
    /// write all of `content` at offset 0, `fsync` the file, and `fsync` the
    /// parent directory (`.` for a bare file name) so that a newly created
    /// entry is durable as well. The returned guard keeps holding the
    /// exclusive lock, for as long as it lives.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
    /// use pidkit_lockfile::create_exclusive;
    ///
    /// let guard = match create_exclusive(&path)?.write_content("v1\n".to_owned()) {
    ///     Ok(guard) => guard,
    ///     // Still ours: try once more (or drop it to let go).
    ///     Err(failed) => failed.into_claim().write_content("v1\n".to_owned())?,
    /// };
    /// assert_eq!(std::fs::read_to_string(guard.path())?, "v1\n");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// If any step fails, the claim is handed back in the [`WriteError`]
    /// ([`WriteError::into_claim`]), still locked: nobody else can claim the
    /// file until it is dropped. [`WriteError::error`] names the failed step
    /// ([`Error::op`]): [`Op::Truncate`], [`Op::Write`], [`Op::SyncFile`] or
    /// [`Op::SyncParentDir`]; a path that cannot be truncated (a FIFO, a
    /// device) is [`Error::NotRegularFile`]. Depending on the step, the file
    /// may then be empty or hold part of `content`; a reader sees it as held
    /// by the claimer (as any claim in progress) until the claim is dropped,
    /// and then as stale.
    pub fn write_content(self, content: String) -> Result<LockFileGuard, WriteError> {
        match self.write(&content) {
            Ok(()) => Ok(LockFileGuard {
                file: self.file,
                path: self.path,
            }),
            Err(error) => Err(WriteError { claim: self, error }),
        }
    }

    /// The steps of [`UnwrittenLockFile::write_content`].
    fn write(&self, content: &str) -> Result<(), Error> {
        let UnwrittenLockFile { file, path } = self;
        if let Err(e) = file.set_len(0) {
            // A FIFO or a device can be opened and locked, but not truncated.
            if file.metadata().is_ok_and(|m| !m.file_type().is_file()) {
                return Err(Error::NotRegularFile { path: path.clone() });
            }
            return Err(classify(path, Op::Truncate, e));
        }
        file.write_all_at(content.as_bytes(), 0)
            .map_err(|e| classify(path, Op::Write, e))?;
        file.sync_all()
            .map_err(|e| classify(path, Op::SyncFile, e))?;
        File::open(parent_dir(path))
            .and_then(|dir| dir.sync_all())
            .map_err(|e| classify(path, Op::SyncParentDir, e))
    }
}

/// A failed [`UnwrittenLockFile::write_content`]: the error, and the claim,
/// still locked, handed back to retry or to drop.
///
/// Displays as its [`Error`] and has that error's source, so `?` into
/// `Box<dyn Error>` or [`io::Error`] (kind [`Error::kind`]) reads the same.
/// Converting it into an [`Error`] or an [`io::Error`] drops the claim.
#[derive(Debug)]
pub struct WriteError {
    claim: UnwrittenLockFile,
    error: Error,
}

impl WriteError {
    /// What failed.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The claim, still holding its lock.
    pub fn into_claim(self) -> UnwrittenLockFile {
        self.claim
    }

    /// The error, releasing the claim.
    pub fn into_error(self) -> Error {
        self.error
    }

    /// The claim and the error.
    pub fn into_parts(self) -> (UnwrittenLockFile, Error) {
        (self.claim, self.error)
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

/// Drops the claim and keeps the error.
impl From<WriteError> for Error {
    fn from(e: WriteError) -> Error {
        e.error
    }
}

/// Drops the claim; the [`Error`] inside, of kind [`Error::kind`].
impl From<WriteError> for io::Error {
    fn from(e: WriteError) -> io::Error {
        e.error.into()
    }
}

/// Proof that we hold the lock on a lock file.
///
/// A guard from [`UnwrittenLockFile::write_content`] (a written claim) or from
/// [`read_and_hold_lock_file`] ([`LockFileRead::NotHeldByAnyProcess`]) holds
/// the exclusive `flock`: no claim can be made while it lives.
///
/// Dereferences to the open [`File`]. Dropping the guard closes the file, which
/// releases the lock (once every copy of the descriptor, e.g. one inherited
/// by a forked child, is closed). It never unlinks the file: see the crate
/// documentation for why.
#[must_use = "dropping a LockFileGuard releases the lock at once"]
#[derive(Debug)]
pub struct LockFileGuard {
    file: File,
    path: Utf8PathBuf,
}

impl LockFileGuard {
    /// The path the file was opened at.
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// Clears the close-on-exec flag of the locked descriptor, so that a program
    /// this process `exec`s keeps holding the lock.
    ///
    /// This is the daemon pattern: a launcher forks, the child claims the lock
    /// file (for a pidfile: writes its own PID, which `exec` keeps), calls this,
    /// and `exec`s the daemon, which now holds the lock until it exits without
    /// knowing about it. Without this call no `exec`ed program inherits the
    /// lock, because every descriptor this crate opens is close-on-exec.
    ///
    /// Note that the descriptor is then inherited by *every* program this
    /// process `exec`s or spawns afterwards, and each copy keeps the lock alive.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] with [`Op::KeepAcrossExec`] if `fcntl(F_SETFD)` fails.
    pub fn keep_across_exec(&self) -> Result<(), Error> {
        rustix::io::fcntl_setfd(&self.file, rustix::io::FdFlags::empty())
            .map_err(|e| classify(&self.path, Op::KeepAcrossExec, e.into()))
    }
}

impl Deref for LockFileGuard {
    type Target = File;

    fn deref(&self) -> &File {
        &self.file
    }
}

/// The outcome of [`read_and_hold_lock_file`].
#[derive(Debug)]
pub enum LockFileRead {
    /// Nothing exists at the path. Nothing was created.
    NotExist,
    /// Nobody held the lock, so the content is stale. The reader now holds the
    /// exclusive lock through the guard (on a read-only descriptor): until it
    /// is dropped, claims fail with [`Error::Locked`] and other readers see
    /// the file as held. Do not unlink the file.
    NotHeldByAnyProcess(LockFileGuard, String),
    /// Someone else holds a lock on the file: a claim (written or still in
    /// progress), a reader's [`LockFileRead::NotHeldByAnyProcess`] guard, or
    /// any other program's `flock`. `content` is what the file holds now,
    /// read without the lock: while a claim is in progress that is the
    /// previous holder's content, or part of the new one. The holder may let
    /// go at any moment after the read.
    LockedByOtherProcess {
        /// The open file, read-only and not locked (it can be given to
        /// [`read_held_claim`] to check again later, on the same inode).
        not_locked_file: File,
        /// The content as read.
        content: String,
    },
}

/// Opens an existing lock file, finds out whether anyone holds it, and reads
/// its content; never blocks and never creates anything.
///
/// The file is opened read-only with `O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK`
/// (`O_NONBLOCK` so that a FIFO at the path cannot hang the reader; it has no
/// effect on a regular file). Then `flock(LOCK_EX | LOCK_NB)`: if it succeeds
/// nobody held a lock, the content is read and the reader keeps the lock
/// ([`LockFileRead::NotHeldByAnyProcess`]); if it fails someone else holds a
/// lock, and the content is read as it is
/// ([`LockFileRead::LockedByOtherProcess`]). Content under 128 bytes takes one
/// `pread`.
///
/// # Errors
///
/// [`Error::NotUtf8`] for content that is not UTF-8 text (the lock, if it was
/// taken, is released again), [`Error::Symlink`], [`Error::IsDirectory`],
/// [`Error::NotRegularFile`], [`Error::PermissionDenied`], and
/// [`Error::Io`] with the failed [`Op`].
pub fn read_and_hold_lock_file(path: &Utf8Path) -> Result<LockFileRead, Error> {
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(LockFileRead::NotExist),
        Err(e) => return Err(open_error(path, false, e)),
    };
    // On error the file is dropped here, which releases whatever lock it had.
    Ok(match probe(&file, path)? {
        Probe::Free(content) => LockFileRead::NotHeldByAnyProcess(
            LockFileGuard {
                file,
                path: path.to_owned(),
            },
            content,
        ),
        Probe::Held(content) => LockFileRead::LockedByOtherProcess {
            not_locked_file: file,
            content,
        },
    })
}

/// Checks again, through a file opened earlier, whether someone else holds a
/// lock on it now, and returns its content if so; `None` if nobody does.
/// Never blocks.
///
/// `file` is typically the `not_locked_file` of an earlier
/// [`LockFileRead::LockedByOtherProcess`]: it refers to the same file (inode)
/// even if the path has been replaced since. It must be an open descriptor of
/// a regular file that this process does not hold a lock on; `path` only names
/// it in errors. The steps are those of [`read_and_hold_lock_file`], and the
/// descriptor is left without a lock in every case (a lock taken because the
/// file turned out free is released again before returning).
///
/// # Errors
///
/// As [`read_and_hold_lock_file`], and [`Error::Io`] with [`Op::Unlock`] if
/// releasing fails.
pub fn read_held_claim(file: &File, path: &Utf8Path) -> Result<Option<String>, Error> {
    match probe(file, path) {
        Ok(Probe::Held(content)) => Ok(Some(content)),
        Ok(Probe::Free(_)) => unlock(file, path).map(|()| None),
        Err(e) => {
            // The probe may have stopped while holding the lock; the original
            // error is the one worth reporting.
            let _ = unlock(file, path);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_bare_name_is_dot() {
        assert_eq!(parent_dir(Utf8Path::new("x.lock")), Utf8Path::new("."));
        assert_eq!(parent_dir(Utf8Path::new("/x.lock")), Utf8Path::new("/"));
        assert_eq!(
            parent_dir(Utf8Path::new("a/b/x.lock")),
            Utf8Path::new("a/b")
        );
    }

    #[test]
    fn op_messages_read_as_sentences() {
        let e = Error::Io {
            path: "/run/x.lock".into(),
            op: Op::SyncParentDir,
            source: io::Error::from_raw_os_error(5),
        };
        assert_eq!(
            e.to_string(),
            "cannot fsync the parent directory of lock file /run/x.lock"
        );
        assert_eq!(e.op(), Some(Op::SyncParentDir));
        assert_eq!(e.path(), "/run/x.lock");
    }

    fn temp_file(content: &str) -> (tempfile::TempDir, Utf8PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::try_from(dir.path().join("p.lock")).unwrap();
        std::fs::write(&path, content).unwrap();
        (dir, path)
    }

    fn open_read(path: &Utf8Path) -> File {
        File::open(path).unwrap()
    }

    fn is_free(path: &Utf8Path) -> bool {
        Flock::try_lock_exclusive(&open_read(path)).unwrap()
    }

    fn describe(probe: Probe) -> String {
        match probe {
            Probe::Free(c) => format!("free {c}"),
            Probe::Held(c) => format!("held {c}"),
        }
    }

    /// Each kind of holder (a written claim, a claim that has not written,
    /// a reader's guard) makes the probe see the file as held, with the
    /// content as the file holds it; the probe leaves no lock behind then.
    #[test]
    fn probe_sees_every_holder_and_the_content_as_it_is() {
        let (_dir, path) = temp_file("old claim");
        let reader = open_read(&path);

        let claim = create_exclusive(&path)
            .unwrap()
            .write_content("claim".into())
            .unwrap();
        assert_eq!(describe(probe(&reader, &path).unwrap()), "held claim");
        drop(claim);
        assert!(is_free(&path), "a held probe must leave no lock");

        let unwritten = create_exclusive(&path).unwrap();
        assert_eq!(describe(probe(&reader, &path).unwrap()), "held claim");
        drop(unwritten);

        let guard = match read_and_hold_lock_file(&path).unwrap() {
            LockFileRead::NotHeldByAnyProcess(guard, content) => {
                assert_eq!(content, "claim");
                guard
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(describe(probe(&reader, &path).unwrap()), "held claim");
        drop(guard);

        assert_eq!(describe(probe(&reader, &path).unwrap()), "free claim");
        assert!(!is_free(&path), "the free probe keeps the lock");
        drop(reader);
        assert!(is_free(&path));
    }

    #[test]
    fn read_held_claim_leaves_no_lock_behind() {
        let (_dir, path) = temp_file("stale");
        let file = open_read(&path);
        // Free: the lock it had to take is released again.
        assert_eq!(read_held_claim(&file, &path).unwrap(), None);
        assert!(is_free(&path));
        let claim = create_exclusive(&path)
            .unwrap()
            .write_content("mine".into())
            .unwrap();
        assert_eq!(
            read_held_claim(&file, &path).unwrap().as_deref(),
            Some("mine")
        );
        drop(claim);
        assert!(is_free(&path));
        let unwritten = create_exclusive(&path).unwrap();
        assert_eq!(
            read_held_claim(&file, &path).unwrap().as_deref(),
            Some("mine"),
            "a claim in progress is held, with the old content"
        );
        drop(unwritten);
        // Content that is not UTF-8: an error, and no lock left behind.
        std::fs::write(&path, [0xff_u8]).unwrap();
        assert!(matches!(
            read_held_claim(&file, &path),
            Err(Error::NotUtf8 { .. })
        ));
        assert!(is_free(&path));
        let claim = create_exclusive(&path)
            .unwrap()
            .write_content("x".into())
            .unwrap();
        std::fs::write(&path, [0xff_u8]).unwrap();
        assert!(matches!(
            read_held_claim(&file, &path),
            Err(Error::NotUtf8 { .. })
        ));
        drop(claim);
        assert!(is_free(&path));
    }

    /// The classification behind [`Error::ProtectedBySticky`]: the kernel only
    /// refuses when `fs.protected_regular` is set, which a test must not change
    /// for the whole machine, so the detection is checked on its own.
    #[test]
    fn sticky_protection_detects_a_foreign_file_in_a_sticky_world_writable_dir() {
        use std::os::unix::fs::PermissionsExt;
        if !testkit::require(testkit::is_root(), "root, to give a file to another user") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let sticky = dir.path().join("sticky");
        std::fs::create_dir(&sticky).unwrap();
        let path = Utf8PathBuf::try_from(sticky.join("a.lock")).unwrap();
        std::fs::write(&path, "").unwrap();
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();

        std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(sticky_protection(&path), None, "not sticky");
        std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(0o1755)).unwrap();
        assert_eq!(sticky_protection(&path), None, "not world-writable");
        std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(sticky_protection(&path), Some(65534));
        std::os::unix::fs::chown(&path, Some(0), None).unwrap();
        assert_eq!(
            sticky_protection(&path),
            None,
            "owned by the directory's owner"
        );

        let err = Error::ProtectedBySticky {
            path: path.clone(),
            owner_uid: 65534,
        };
        assert!(err.to_string().starts_with(&format!(
            "cannot open lock file {path}: it belongs to uid 65534"
        )));
    }
}
