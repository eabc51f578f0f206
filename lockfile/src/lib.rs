//! Exclusive lock files built on `flock(2)`, for "only one of us may run" claims.
//!
//! A lock file is an ordinary file whose exclusive `flock` marks who currently
//! owns some resource. This crate claims such a file ([`create_exclusive`], then
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
//! - **Symlinks are refused** (`O_NOFOLLOW`), so a planted link cannot redirect the
//!   write to some other file.
//! - **Durable content**: the new content is `fsync`ed, and so is the parent
//!   directory, so the file and its directory entry survive a crash.
//! - **No inheritance by accident**: every descriptor is close-on-exec; keeping the
//!   lock in an `exec`ed program is an explicit call,
//!   [`LockFileGuard::keep_across_exec`].
//! - **Reads never block**, and tell whether anyone holds the lock together with
//!   the content, using a single positional read after the lock attempt.
//! - **Errors you can act on**: a directory, a symlink, a missing parent
//!   directory, a read-only file system, a file protected by a sticky directory and
//!   a lock held elsewhere are distinct [`Error`] variants that name the path.
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
use fs4::fs_std::FileExt as _;
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
    /// another user, and the kernel (`fs.protected_regular`) refuses to open
    /// such a file with `O_CREAT`. This protects against a file planted by
    /// someone else; use a directory that only the service can write to.
    #[error(
        "cannot open lock file {path}: it belongs to uid {owner_uid} in a sticky world-writable directory, and the kernel (fs.protected_regular) refuses to open it for creation"
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
    if errno == Some(Errno::LOOP) {
        // O_NOFOLLOW reports a symlink in the last component as ELOOP; a loop
        // further up the path gives the same errno, so look.
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Error::Symlink {
                path: path.to_owned(),
            };
        }
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

/// The directory that holds `path`'s entry: `.` for a bare file name.
fn parent_dir(path: &Utf8Path) -> &Utf8Path {
    match path.parent() {
        Some(p) if !p.as_str().is_empty() => p,
        _ => Utf8Path::new("."),
    }
}

/// Takes `flock(LOCK_EX | LOCK_NB)`; `Ok(false)` when someone else holds it.
fn try_lock(file: &File, path: &Utf8Path) -> Result<bool, Error> {
    file.try_lock_exclusive()
        .map_err(|e| classify(path, Op::Lock, e))
}

/// Reads the whole file with positional reads from offset 0.
///
/// For content shorter than [`FIRST_READ`] bytes this is a single `pread(2)`:
/// a regular file returns fewer bytes than asked for only at its end. Longer
/// content doubles the buffer and reads on from where the last read stopped.
fn read_content(file: &File, path: &Utf8Path) -> Result<String, Error> {
    let mut buf = vec![0u8; FIRST_READ];
    let mut filled = 0;
    loop {
        match file.read_at(&mut buf[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => {
                filled += n;
                if filled < buf.len() {
                    break;
                }
                buf.resize(buf.len() * 2, 0);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(classify(path, Op::Read, e)),
        }
    }
    buf.truncate(filled);
    String::from_utf8(buf).map_err(|e| Error::NotUtf8 {
        path: path.to_owned(),
        content: e.into_bytes(),
    })
}

/// Opens (creating if needed) and locks `path`, without touching its content.
///
/// The file is opened with `O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW` and mode
/// [`LOCK_FILE_MODE`] (0644, before the umask), and **without** `O_TRUNC`; then
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

    /// Replaces the content and returns the guard that keeps the lock.
    ///
    /// The steps are: truncate to zero length, write all of `content` at offset
    /// 0, `fsync` the file, and `fsync` the parent directory (`.` for a bare
    /// file name) so that a newly created entry is durable as well.
    ///
    /// # Errors
    ///
    /// If any step fails, the descriptor is closed, which releases the lock, and
    /// the error names the failed step ([`Error::op`]): [`Op::Truncate`],
    /// [`Op::Write`], [`Op::SyncFile`] or [`Op::SyncParentDir`]. Depending on
    /// the step, the file may then be empty or hold part of `content`; since
    /// nobody holds the lock any more, readers treat it as stale.
    pub fn write_content(self, content: String) -> Result<LockFileGuard, Error> {
        let UnwrittenLockFile { file, path } = self;
        if let Err(e) = file.set_len(0) {
            // A FIFO or a device can be opened and locked, but not truncated.
            if file.metadata().is_ok_and(|m| !m.file_type().is_file()) {
                return Err(Error::NotRegularFile { path });
            }
            return Err(classify(&path, Op::Truncate, e));
        }
        file.write_all_at(content.as_bytes(), 0)
            .map_err(|e| classify(&path, Op::Write, e))?;
        file.sync_all()
            .map_err(|e| classify(&path, Op::SyncFile, e))?;
        File::open(parent_dir(&path))
            .and_then(|dir| dir.sync_all())
            .map_err(|e| classify(&path, Op::SyncParentDir, e))?;
        Ok(LockFileGuard { file, path })
    }
}

/// Proof that we hold the lock on a lock file.
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
    /// lock through the guard (on a read-only descriptor): until it is dropped,
    /// claims fail with [`Error::Locked`]. Do not unlink the file.
    NotHeldByAnyProcess(LockFileGuard, String),
    /// Someone holds the lock. `content` is what the file held right after the
    /// lock attempt; the holder may have just taken the lock and not written yet.
    LockedByOtherProcess {
        /// The open (not locked) file, read-only.
        not_locked_file: File,
        /// The content as read.
        content: String,
    },
}

/// Opens an existing lock file, tries to lock it, and reads its content; never
/// blocks and never creates anything.
///
/// The file is opened read-only with `O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK`
/// (`O_NONBLOCK` so that a FIFO at the path cannot hang the reader; it has no
/// effect on a regular file). Then `flock(LOCK_EX | LOCK_NB)` is attempted, and
/// the content is read with a positional read from offset 0, whether or not the
/// lock was obtained.
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
    let locked = try_lock(&file, path)?;
    let content = read_content(&file, path)?;
    Ok(if locked {
        LockFileRead::NotHeldByAnyProcess(
            LockFileGuard {
                file,
                path: path.to_owned(),
            },
            content,
        )
    } else {
        LockFileRead::LockedByOtherProcess {
            not_locked_file: file,
            content,
        }
    })
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
