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
//!   directory, a read-only file system, a file protected by a sticky directory,
//!   a lock held elsewhere and a lock this process holds itself are distinct
//!   [`Error`] variants that name the path.
//! - **Your own holds are yours**: a claim or read of a file this process
//!   already holds (through a live claim or guard of this crate) says so
//!   ([`Error::HeldByThisProcess`], [`LockFileRead::HeldByThisProcess`])
//!   instead of reporting a stranger, whom a caller might wait for forever.
//! - **Content is bytes**: a read returns what the file holds, text or not;
//!   stale content is never lost to a decoding error.
//!
//! # What a read tells
//!
//! | the file is | a reader gets |
//! |---|---|
//! | missing | [`LockFileRead::NotExist`] (nothing is created) |
//! | not locked by anyone | [`LockFileRead::NotHeldByAnyProcess`] with the content, and the exclusive lock |
//! | locked by this process, through this crate | [`LockFileRead::HeldByThisProcess`] with the content as it is now |
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
//!   the second [`create_exclusive`] fails. This process's own holds are
//!   known from a registry kept in the process (the device and inode of
//!   every file a live [`UnwrittenLockFile`] or [`LockFileGuard`] has
//!   locked), so the failure is [`Error::HeldByThisProcess`]. What the
//!   registry cannot see reads as someone else's
//!   ([`Error::Locked`], [`LockFileRead::LockedByOtherProcess`]): a lock this
//!   process took without this crate (a bare `flock`), a descriptor kept
//!   across `exec` ([`LockFileGuard::keep_across_exec`]: the new program
//!   starts with an empty registry), and a copy of a guard's descriptor that
//!   outlives the guard (`try_clone`, or a forked child's inherited copy once
//!   the parent dropped the guard). A forked child inherits the registry
//!   with the descriptors, so in the child its parent's holds read as its
//!   own, which they are (they are shared).
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
//! assert!(matches!(create_exclusive(&path), Err(Error::HeldByThisProcess { .. })));
//!
//! // A reader sees the content and learns that the file is locked, without
//! // blocking; in this process it learns that the lock is its own.
//! match read_and_hold_lock_file(&path)? {
//!     LockFileRead::HeldByThisProcess { content } => assert_eq!(content, b"owner: worker-1\n"),
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
//!     LockFileRead::HeldByThisProcess { content } => assert_eq!(content, b"owner: worker-1\n"),
//!     other => panic!("unexpected {other:?}"),
//! }
//! drop(unwritten);
//! assert!(path.exists());
//! match read_and_hold_lock_file(&path)? {
//!     LockFileRead::NotHeldByAnyProcess(_reader_guard, stale) => assert_eq!(stale, b"owner: worker-1\n"),
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

mod claim;
mod error;
mod file;
mod held;
mod read;

pub use claim::{LOCK_FILE_MODE, LockFileGuard, UnwrittenLockFile, WriteError, create_exclusive};
pub use error::{Error, Op};
pub use read::{LockFileRead, read_and_hold_lock_file, read_held_claim};
