//! Reading a lock file the way neon does: one non-blocking `flock` and one
//! `pread` tell whether anyone holds the file and what it says
//! ([`read_and_hold_lock_file`], [`read_held_claim`]); this process's own
//! holds are told apart through the registry of [`crate::held`].

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;

use camino::Utf8Path;

use crate::claim::LockFileGuard;
use crate::error::Error;
use crate::file::{file_id, open_error, read_content, try_lock, unlock};
use crate::held::{self, Registration};

/// The outcome of [`read_and_hold_lock_file`].
///
/// ```
/// use pidkit_lockfile::{LockFileRead, create_exclusive, read_and_hold_lock_file};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
/// assert!(matches!(read_and_hold_lock_file(&path)?, LockFileRead::NotExist));
/// let claim = create_exclusive(&path)?.write_content("me\n".to_owned())?;
/// match read_and_hold_lock_file(&path)? {
///     LockFileRead::HeldByThisProcess { content } => assert_eq!(content, b"me\n"),
///     other => panic!("unexpected {other:?}"),
/// }
/// drop(claim);
/// // Another program holds it (here flock(1), which runs `cat` while it
/// // holds the lock and writes nothing).
/// let mut flock = std::process::Command::new("flock")
///     .args(["-n", path.as_str(), "cat"])
///     .stdin(std::process::Stdio::piped())
///     .spawn()?;
/// # while !testkit::process_holds_flock(flock.id(), &path) { std::thread::sleep(std::time::Duration::from_millis(1)) }
/// match read_and_hold_lock_file(&path)? {
///     LockFileRead::LockedByOtherProcess { content, .. } => assert_eq!(content, b"me\n"),
///     other => panic!("unexpected {other:?}"),
/// }
/// drop(flock.stdin.take()); // `cat` ends, and flock(1) lets go
/// flock.wait()?;
/// match read_and_hold_lock_file(&path)? {
///     LockFileRead::NotHeldByAnyProcess(_guard, stale) => assert_eq!(stale, b"me\n"),
///     other => panic!("unexpected {other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub enum LockFileRead {
    /// Nothing exists at the path. Nothing was created.
    NotExist,
    /// Nobody held the lock, so the content is stale: its bytes as they
    /// are, whatever they are. The reader now holds the exclusive lock
    /// through the guard (on a read-only descriptor): until it is dropped,
    /// claims fail (in this process with [`Error::HeldByThisProcess`],
    /// elsewhere as locked) and other readers see the file as held. Do not
    /// unlink the file.
    NotHeldByAnyProcess(LockFileGuard, Vec<u8>),
    /// Someone else holds a lock on the file: another process's claim
    /// (written or still in progress) or reader's guard, any other program's
    /// `flock`, or a lock this process took other than through this crate.
    /// `content` is what the file holds now, read without the lock: while a
    /// claim is in progress that is the previous holder's content, or part of
    /// the new one. The holder may let go at any moment after the read.
    LockedByOtherProcess {
        /// The open file, read-only and not locked (it can be given to
        /// [`read_held_claim`] to check again later, on the same inode).
        not_locked_file: File,
        /// The content as read.
        content: Vec<u8>,
    },
    /// This process holds the lock, through a live
    /// [`UnwrittenLockFile`](crate::UnwrittenLockFile) or
    /// [`LockFileGuard`] (its own claim, or a guard of an earlier read).
    /// `content` is what the file holds now.
    HeldByThisProcess {
        /// The content as read.
        content: Vec<u8>,
    },
}

/// Opens an existing lock file, finds out whether anyone holds it, and reads
/// its content; never blocks and never creates anything.
///
/// The file is opened read-only with `O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK`
/// (`O_NONBLOCK` so that a FIFO at the path cannot hang the reader; it has no
/// effect on a regular file). Then `flock(LOCK_EX | LOCK_NB)`: if it succeeds
/// nobody held a lock, the content is read and the reader keeps the lock
/// ([`LockFileRead::NotHeldByAnyProcess`]; one `fstat` records the hold); if
/// it fails someone holds a lock, and the content is read as it is:
/// [`LockFileRead::HeldByThisProcess`] if this process holds it through this
/// crate (one `fstat`, made only while this process holds any lock file),
/// else [`LockFileRead::LockedByOtherProcess`]. Content under 128 bytes takes
/// one `pread`.
///
/// ```
/// use pidkit_lockfile::{Error, LockFileRead, create_exclusive, read_and_hold_lock_file};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
/// std::fs::write(&path, "stale\n")?;
/// let LockFileRead::NotHeldByAnyProcess(guard, content) = read_and_hold_lock_file(&path)? else {
///     panic!("nobody holds it");
/// };
/// assert_eq!(content, b"stale\n");
/// // While the reader's guard lives, claims fail.
/// assert!(matches!(create_exclusive(&path), Err(Error::HeldByThisProcess { .. })));
/// drop(guard);
/// // Content is bytes: a file that is not text is read like any other.
/// std::fs::write(&path, [0xff, 0xfe])?;
/// let LockFileRead::NotHeldByAnyProcess(_guard, content) = read_and_hold_lock_file(&path)? else {
///     panic!("nobody holds it");
/// };
/// assert_eq!(content, [0xff, 0xfe]);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::Symlink`], [`Error::IsDirectory`],
/// [`Error::NotRegularFile`], [`Error::PermissionDenied`], and
/// [`Error::Io`] with the failed [`Op`](crate::Op).
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
        Probe::Free(content) => {
            let held = Registration::new(file_id(&file, path)?);
            LockFileRead::NotHeldByAnyProcess(
                LockFileGuard::new(file, path.to_owned(), held),
                content,
            )
        }
        Probe::Held(content) if held::any_held() && held::is_held(file_id(&file, path)?) => {
            LockFileRead::HeldByThisProcess { content }
        }
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
/// file turned out free is released again before returning). A hold of this
/// process counts as held, like anyone else's.
///
/// ```
/// use pidkit_lockfile::{create_exclusive, read_held_claim};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
/// let claim = create_exclusive(&path)?.write_content("me\n".to_owned())?;
/// // Any descriptor of the file that holds no lock, such as the
/// // `not_locked_file` of a read.
/// let file = std::fs::File::open(&path)?;
/// assert_eq!(read_held_claim(&file, &path)?.as_deref(), Some(&b"me\n"[..]));
/// drop(claim);
/// assert_eq!(read_held_claim(&file, &path)?, None);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// As [`read_and_hold_lock_file`], and [`Error::Io`] with [`Op::Unlock`](crate::Op::Unlock) if
/// releasing fails.
pub fn read_held_claim(file: &File, path: &Utf8Path) -> Result<Option<Vec<u8>>, Error> {
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

/// What one non-blocking look at the lock of an open lock file found.
enum Probe {
    /// Nobody else held a lock; we now hold the exclusive lock on the
    /// descriptor. The content, read under our lock.
    Free(Vec<u8>),
    /// Someone else holds a lock. The content as it is now, read without a
    /// lock; we hold none.
    Held(Vec<u8>),
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

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
