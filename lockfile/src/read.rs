//! Reading a lock file the way neon does: one non-blocking `flock` and one
//! `pread` tell whether anyone holds the file and what it says
//! ([`read_and_hold_lock_file`], [`read_held_claim`]).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;

use camino::Utf8Path;

use crate::LockFileGuard;
use crate::error::{Error, open_error};
use crate::file::{read_content, try_lock, unlock};

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
///     LockFileRead::LockedByOtherProcess { content, .. } => assert_eq!(content, "me\n"),
///     other => panic!("unexpected {other:?}"),
/// }
/// drop(claim);
/// match read_and_hold_lock_file(&path)? {
///     LockFileRead::NotHeldByAnyProcess(_guard, stale) => assert_eq!(stale, "me\n"),
///     other => panic!("unexpected {other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
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
/// assert_eq!(content, "stale\n");
/// // While the reader's guard lives, claims fail.
/// assert!(matches!(create_exclusive(&path), Err(Error::Locked { .. })));
/// drop(guard);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::NotUtf8`] for content that is not UTF-8 text (the lock, if it was
/// taken, is released again), [`Error::Symlink`], [`Error::IsDirectory`],
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
            LockFileRead::NotHeldByAnyProcess(LockFileGuard::new(file, path.to_owned()), content)
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
/// file turned out free is released again before returning).
///
/// ```
/// use pidkit_lockfile::{LockFileRead, create_exclusive, read_and_hold_lock_file, read_held_claim};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("a.lock"))?;
/// let claim = create_exclusive(&path)?.write_content("me\n".to_owned())?;
/// let read = read_and_hold_lock_file(&path)?;
/// let LockFileRead::LockedByOtherProcess { not_locked_file: file, .. } = read else {
///     panic!("held");
/// };
/// assert_eq!(read_held_claim(&file, &path)?.as_deref(), Some("me\n"));
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

#[cfg(test)]
mod tests {
    use camino::Utf8PathBuf;
    use fs4::fs_std::FileExt as Flock;

    use super::*;
    use crate::create_exclusive;

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
}
