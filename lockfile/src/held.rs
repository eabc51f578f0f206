//! The lock files this process holds through this crate: the device and
//! inode of every file that a live [`UnwrittenLockFile`](crate::UnwrittenLockFile)
//! or [`LockFileGuard`](crate::LockFileGuard) has locked. A claim or a read
//! that finds a file locked looks here to tell this process's own hold
//! ([`Error::HeldByThisProcess`](crate::Error::HeldByThisProcess),
//! [`LockFileRead::HeldByThisProcess`](crate::LockFileRead::HeldByThisProcess))
//! from anyone else's; `flock` itself does not say who holds a lock.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// A file's identity: `st_dev` and `st_ino`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The identity of the file `meta` describes.
    pub(crate) fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// One entry per live holder (a multiset: the entry of a holder that is
/// being dropped and the entry of a new holder of the same inode may meet).
static HELD: Mutex<Vec<FileId>> = Mutex::new(Vec::new());

fn held() -> MutexGuard<'static, Vec<FileId>> {
    // A panic while the list is locked leaves it whole (push and
    // swap_remove do not unwind halfway).
    HELD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The entry of one holder, removed when it is dropped.
///
/// Holders declare it after their `File`, so the entry is made after the
/// lock is taken and removed after the descriptor is closed: a read in
/// another thread in between sees the lock as someone else's for that
/// moment, never a lock that is gone as this process's.
#[derive(Debug)]
pub(crate) struct Registration(FileId);

impl Registration {
    /// Records that this process now holds the lock on `id`.
    pub(crate) fn new(id: FileId) -> Registration {
        held().push(id);
        Registration(id)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut held = held();
        if let Some(i) = held.iter().position(|id| *id == self.0) {
            held.swap_remove(i);
        }
    }
}

/// Whether this process holds `id` through a live holder.
pub(crate) fn is_held(id: FileId) -> bool {
    held().contains(&id)
}

/// Whether this process holds any lock file; when it holds none, a read
/// needs no `fstat` to tell whose a lock is.
pub(crate) fn any_held() -> bool {
    !held().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_count_holders_and_go_with_them() {
        let id = FileId {
            dev: u64::MAX,
            ino: 7,
        };
        assert!(!is_held(id));
        let first = Registration::new(id);
        let second = Registration::new(id);
        assert!(is_held(id) && any_held());
        drop(first);
        assert!(is_held(id), "one holder is left");
        drop(second);
        assert!(!is_held(id));
    }
}
