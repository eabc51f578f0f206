//! Claiming a lock file: [`create_exclusive`] takes the lock, the
//! [`UnwrittenLockFile`] writes the content, and the [`LockFileGuard`] keeps
//! the claim for as long as it lives; a failed write hands the claim back in
//! a [`WriteError`].

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::ops::Deref;
use std::os::unix::fs::{FileExt, OpenOptionsExt};

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{Error, Op, classify};
use crate::file::{open_error, parent_dir, refuse_planted, try_lock};
use crate::held::{self, Registration};

/// The mode a newly created lock file gets (before the umask): `rw-r--r--`.
///
/// ```
/// use pidkit_lockfile::{LOCK_FILE_MODE, create_exclusive};
/// use std::os::unix::fs::PermissionsExt;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
/// let _claim = create_exclusive(&path)?;
/// let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
/// // The umask may only have taken bits away.
/// assert_eq!(mode & !LOCK_FILE_MODE, 0);
/// assert_ne!(mode & 0o600, 0);
/// # Ok(())
/// # }
/// ```
pub const LOCK_FILE_MODE: u32 = 0o644;

/// Opens (creating if needed) and locks `path`, without touching its content.
///
/// The file is opened with `O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW` and mode
/// [`LOCK_FILE_MODE`] (0644, before the umask), and **without** `O_TRUNC`. An
/// existing file that another user may have planted in a sticky
/// world-writable directory is refused ([`Error::ProtectedBySticky`]); then
/// `flock(LOCK_EX | LOCK_NB)` is taken. Only once the lock is held may the
/// content be replaced, through [`UnwrittenLockFile::write_content`].
///
/// ```
/// use pidkit_lockfile::{Error, create_exclusive};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
/// std::fs::write(&path, "previous holder\n")?;
/// let first = create_exclusive(&path)?;
/// // Held by this same process: a second claim fails and changes nothing.
/// assert!(matches!(create_exclusive(&path), Err(Error::HeldByThisProcess { .. })));
/// assert_eq!(std::fs::read_to_string(&path)?, "previous holder\n");
/// drop(first);
/// let _again = create_exclusive(&path)?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// - [`Error::Locked`] when anyone else holds the lock, and
///   [`Error::HeldByThisProcess`] when this process holds it through a live
///   [`UnwrittenLockFile`] or [`LockFileGuard`] (see
///   [Limitations](crate#limitations) for the holds it cannot see). The
///   file's bytes are left as they were.
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
    let id = refuse_planted(&file, path)?;
    if try_lock(&file, path)? {
        Ok(UnwrittenLockFile {
            file,
            path: path.to_owned(),
            held: Registration::new(id),
        })
    } else if held::is_held(id) {
        Err(Error::HeldByThisProcess {
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
///
/// ```
/// use pidkit_lockfile::create_exclusive;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
/// std::fs::write(&path, "old\n")?;
/// let unwritten = create_exclusive(&path)?;
/// // Locked by us, but still the previous content.
/// assert_eq!(std::fs::read_to_string(&path)?, "old\n");
/// let _guard = unwritten.write_content("new\n".to_owned())?;
/// assert_eq!(std::fs::read_to_string(&path)?, "new\n");
/// # Ok(())
/// # }
/// ```
#[must_use = "dropping an UnwrittenLockFile releases the lock at once"]
#[derive(Debug)]
pub struct UnwrittenLockFile {
    file: File,
    path: Utf8PathBuf,
    /// After `file`: removed once the descriptor is closed.
    held: Registration,
}

impl UnwrittenLockFile {
    /// The path the file was opened at.
    ///
    /// ```
    /// use pidkit_lockfile::create_exclusive;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
    /// let unwritten = create_exclusive(&path)?;
    /// assert_eq!(unwritten.path(), path.as_path());
    /// # Ok(())
    /// # }
    /// ```
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
    ///     Err(failed) => failed.into_inner().write_content("v1\n".to_owned())?,
    /// };
    /// assert_eq!(std::fs::read_to_string(guard.path())?, "v1\n");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// If any step fails, the claim is handed back in the [`WriteError`]
    /// ([`WriteError::into_inner`]), still locked: nobody else can claim the
    /// file until it is dropped. [`WriteError::error`] names the failed step
    /// ([`Error::op`]): [`Op::Truncate`], [`Op::Write`], [`Op::SyncFile`] or
    /// [`Op::SyncParentDir`]; a path that cannot be truncated (a FIFO, a
    /// device) is [`Error::NotRegularFile`]. Depending on the step, the file
    /// may then be empty or hold part of `content`; a reader sees it as held
    /// by the claimer (as any claim in progress) until the claim is dropped,
    /// and then as stale.
    pub fn write_content(self, content: String) -> Result<LockFileGuard, WriteError> {
        match self.write(&content) {
            Ok(()) => Ok(LockFileGuard::new(self.file, self.path, self.held)),
            Err(error) => Err(WriteError { claim: self, error }),
        }
    }

    /// The steps of [`UnwrittenLockFile::write_content`].
    fn write(&self, content: &str) -> Result<(), Error> {
        let UnwrittenLockFile { file, path, .. } = self;
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
/// still locked, handed back to retry or to drop (the shape of std's
/// [`IntoInnerError`](std::io::IntoInnerError), which every pidkit crate
/// uses where a consuming call fails).
///
/// Displays as its [`Error`] and has that error's source, so `?` into
/// `Box<dyn Error>` or [`io::Error`] (kind [`Error::kind`]) reads the same.
/// Converting it into an [`Error`] or an [`io::Error`] drops the claim.
///
/// ```
/// use pidkit_lockfile::{Error, create_exclusive};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("fifo"))?;
/// // A FIFO can be opened and locked, but not truncated: the write fails.
/// assert!(std::process::Command::new("mkfifo").arg(&path).status()?.success());
/// let failed = create_exclusive(&path)?.write_content("1\n".to_owned()).unwrap_err();
/// assert!(matches!(failed.error(), Error::NotRegularFile { .. }));
/// // The claim came back, still locked.
/// assert!(matches!(create_exclusive(&path), Err(Error::HeldByThisProcess { .. })));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct WriteError {
    claim: UnwrittenLockFile,
    error: Error,
}

impl WriteError {
    /// What failed.
    ///
    /// ```
    /// use pidkit_lockfile::{Error, create_exclusive};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("fifo"))?;
    /// # // A FIFO can be opened and locked, but not truncated: the write fails.
    /// # assert!(std::process::Command::new("mkfifo").arg(&path).status()?.success());
    /// # let failed = create_exclusive(&path)?.write_content("1\n".to_owned()).unwrap_err();
    /// let error: &Error = failed.error();
    /// assert!(matches!(error, Error::NotRegularFile { .. }));
    /// assert_eq!(error.path(), path.as_path());
    /// # Ok(())
    /// # }
    /// ```
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The claim, still holding its lock.
    ///
    /// ```
    /// use pidkit_lockfile::{Error, create_exclusive};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("fifo"))?;
    /// # // A FIFO can be opened and locked, but not truncated: the write fails.
    /// # assert!(std::process::Command::new("mkfifo").arg(&path).status()?.success());
    /// # let failed = create_exclusive(&path)?.write_content("1\n".to_owned()).unwrap_err();
    /// let claim = failed.into_inner();
    /// assert!(matches!(create_exclusive(&path), Err(Error::HeldByThisProcess { .. })));
    /// drop(claim);
    /// let _again = create_exclusive(&path)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_inner(self) -> UnwrittenLockFile {
        self.claim
    }

    /// The error, releasing the claim.
    ///
    /// ```
    /// use pidkit_lockfile::{Error, create_exclusive};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("fifo"))?;
    /// # // A FIFO can be opened and locked, but not truncated: the write fails.
    /// # assert!(std::process::Command::new("mkfifo").arg(&path).status()?.success());
    /// # let failed = create_exclusive(&path)?.write_content("1\n".to_owned()).unwrap_err();
    /// let error = failed.into_error();
    /// assert!(matches!(error, Error::NotRegularFile { .. }));
    /// // The claim is released with it.
    /// let _again = create_exclusive(&path)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_error(self) -> Error {
        self.error
    }

    /// The error and the claim, in the order of std's
    /// [`IntoInnerError::into_parts`](std::io::IntoInnerError::into_parts).
    ///
    /// ```
    /// use pidkit_lockfile::create_exclusive;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("fifo"))?;
    /// # // A FIFO can be opened and locked, but not truncated: the write fails.
    /// # assert!(std::process::Command::new("mkfifo").arg(&path).status()?.success());
    /// # let failed = create_exclusive(&path)?.write_content("1\n".to_owned()).unwrap_err();
    /// let (error, claim) = failed.into_parts();
    /// assert_eq!(claim.path(), error.path());
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_parts(self) -> (Error, UnwrittenLockFile) {
        (self.error, self.claim)
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
/// [`read_and_hold_lock_file`](crate::read_and_hold_lock_file) ([`LockFileRead::NotHeldByAnyProcess`](crate::LockFileRead::NotHeldByAnyProcess)) holds
/// the exclusive `flock`: no claim can be made while it lives.
///
/// Dereferences to the open [`File`]. Dropping the guard closes the file, which
/// releases the lock (once every copy of the descriptor, e.g. one inherited
/// by a forked child, is closed). It never unlinks the file: see the crate
/// documentation for why.
///
/// ```
/// use pidkit_lockfile::create_exclusive;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
/// let guard = create_exclusive(&path)?.write_content("42\n".to_owned())?;
/// // Dereferences to the open file.
/// assert_eq!(guard.metadata()?.len(), 3);
/// drop(guard);
/// // The lock is gone; the file stays.
/// assert!(path.exists());
/// let _again = create_exclusive(&path)?;
/// # Ok(())
/// # }
/// ```
#[must_use = "dropping a LockFileGuard releases the lock at once"]
#[derive(Debug)]
pub struct LockFileGuard {
    file: File,
    path: Utf8PathBuf,
    /// After `file`: removed once the descriptor is closed. Kept only to
    /// be dropped.
    _held: Registration,
}

impl LockFileGuard {
    /// The guard of `file`, on which we hold the exclusive lock of `path`.
    pub(crate) fn new(file: File, path: Utf8PathBuf, held: Registration) -> LockFileGuard {
        LockFileGuard {
            file,
            path,
            _held: held,
        }
    }

    /// The path the file was opened at.
    ///
    /// ```
    /// use pidkit_lockfile::create_exclusive;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
    /// let guard = create_exclusive(&path)?.write_content("x".to_owned())?;
    /// assert_eq!(guard.path(), path.as_path());
    /// # Ok(())
    /// # }
    /// ```
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
    /// ```
    /// use pidkit_lockfile::create_exclusive;
    /// use std::os::fd::AsRawFd;
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
    /// let guard = create_exclusive(&path)?.write_content("x".to_owned())?;
    /// let fd = guard.as_raw_fd();
    /// let inherited = |fd: i32| {
    ///     let test = format!("test -e /proc/self/fd/{fd}");
    ///     Command::new("sh").args(["-c", &test]).status()
    /// };
    /// assert!(!inherited(fd)?.success()); // close-on-exec by default
    /// guard.keep_across_exec()?;
    /// assert!(inherited(fd)?.success());
    /// # Ok(())
    /// # }
    /// ```
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
