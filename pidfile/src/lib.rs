//! Singleton pidfiles whose reader gets a verified process handle, not a number
//! that may already belong to someone else.
//!
//! A pidfile makes a program a singleton: at start-up the program
//! [claims](claim_for_current_process) the file, and only if that succeeds does
//! it act as *the* instance. The claim is an exclusive `flock` on the file,
//! held until the process exits (or drops the guard), and the file's content is
//! the process's PID in decimal followed by a newline, the format systemd's
//! `PIDFile=`, `start-stop-daemon` and shell scripts read. Anyone can
//! [`read`] the file to learn whether an instance runs and which process it is.
//!
//! # What this adds over `pidkit-lockfile`
//!
//! [`pidkit_lockfile`] gives the claim and the non-blocking read of any lock
//! file. This crate adds the PID content and two guarantees a bare lock file
//! cannot give:
//!
//! - **A reader never reports the previous holder's PID as the owner.** There is
//!   a moment in every claim when the new claimer already holds the lock but has
//!   not yet replaced the old content; a naive reader landing there reads the
//!   PID of the previous holder, which may be dead, and its number reused.
//!   [`read`] cross-checks the content with the kernel's own record of who
//!   holds the lock (see [Verifying the owner](#verifying-the-owner)), waits
//!   briefly for a claim in progress to finish, and otherwise reports
//!   [`Error::ClaimInProgress`].
//! - **"Signal the running instance" cannot hit a recycled PID.**
//!   [`Owner::handle`] returns a [`PidHandle`] that pins the process holding the
//!   lock, verified after pinning, so it refers to the holder and never to an
//!   unrelated process that inherited the number later. Signals sent through it
//!   go to that process or fail.
//!
//! # Verifying the owner
//!
//! The kernel lists every `flock` in `/proc/locks`, with the PID of the process
//! that took it and the device and inode of the file. When [`read`] finds the
//! pidfile locked, it looks up the lock record for the pidfile's inode (from
//! `fstat` of its own descriptor) and accepts the content only if it names the
//! same PID as the record. A claimer that has locked but not yet written shows
//! up as a mismatch (or as empty content), and [`read`] tries again, sleeping
//! between attempts, for up to [`DEFAULT_CLAIM_WAIT`] (use
//! [`read_with_wait`] to choose another bound). If the mismatch persists it
//! returns [`Error::ClaimInProgress`] naming the PID that holds the lock; if no
//! record is visible at all (the holder lives outside this PID namespace), it
//! returns [`Error::HolderNotVisible`]. It never guesses.
//!
//! [`Owner::handle`] then proceeds in this order:
//!
//! 1. **Pin** the process that has the PID now ([`PidHandle::new`]; a pidfd
//!    where the kernel has them).
//! 2. **Re-verify** in `/proc/locks` that a process with that PID still holds
//!    the lock on the same inode.
//! 3. **Check** that the pinned process is still running.
//!
//! Why this is enough: a PID is only handed out again after its process has
//! been reaped, and a process's `flock` is released when it exits, before it is
//! reaped. So if the record still names the PID *after* the pin, either the
//! process that holds the lock already had that PID when we pinned (we pinned
//! the holder), or the holder took the lock after the pin, in which case the
//! pinned process, if different, had already died and step 3 fails. A holder
//! that died between [`read`] and [`Owner::handle`], with its PID given to a
//! newcomer, therefore gives [`Error::HolderGone`], and the newcomer is never
//! touched.
//!
//! # Never unlink a pidfile
//!
//! It is tempting to delete the pidfile on exit so nobody finds a stale one.
//! Don't: staleness is already detectable (nobody holds the lock), and deleting
//! lets two instances run at once. Say instance `A` is shutting down while `B`
//! starts: `B` opens the path and finds it locked; `A` unlinks the file and
//! exits, which frees the lock; `B`, still holding a descriptor to the now
//! nameless file, locks it and writes its PID there; then `C` starts, finds no
//! file at the path, creates a fresh one and locks it without conflict. `B` and
//! `C` both believe they are the only instance, and a reader of the path sees
//! only `C`. No guard in this crate ever unlinks, and callers must not either.
//!
//! # Limitations
//!
//! - The lock belongs to the open file, not to the process. If the claimer
//!   passes the descriptor to a child by `fork` (classic double-fork
//!   daemonizing) and exits, the content names a dead process while the child
//!   holds the lock; [`Owner::handle`] then reports [`Error::HolderGone`] at
//!   best, and if the dead claimer's PID has meanwhile been reused *and* the
//!   kernel still lists the lock under that PID, it cannot tell. Claim in the
//!   final process, or claim before `exec` with
//!   [`LockFileGuard::keep_across_exec`] (an `exec` keeps the PID).
//! - Verification reads `/proc/locks`, whose PIDs are those of the PID namespace
//!   of the mounted `/proc`: that must be the caller's. A pidfile claimed in
//!   another PID namespace (a container sharing the directory) reads as
//!   [`Error::ClaimInProgress`] or [`Error::HolderNotVisible`], because its
//!   content is a PID of another namespace and means nothing here.
//! - Reading `/proc/locks` costs time proportional to the number of locks on
//!   the system; it is read only when the pidfile is held.
//! - A [`read`] that finds the file unclaimed takes the lock itself
//!   ([`PidFileRead::NotHeldByAnyProcess`]); until that guard is dropped,
//!   claims fail and other readers see [`Error::ClaimInProgress`], because the
//!   lock is held by a process whose PID is not in the file.
//! - Everything in [`pidkit_lockfile`]'s limitations applies (advisory lock,
//!   local file systems, fork duplicates the lock).
//! - Linux only.
//!
//! # Example
//!
//! ```
//! use camino::Utf8PathBuf;
//! use pidkit_pidfile::{claim_for_current_process, read, Error, PidFileRead, State};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = Utf8PathBuf::try_from(dir.path().join("myservice.pid"))?;
//!
//! // At start-up: become the instance, or learn who is.
//! let guard = claim_for_current_process(&path)?;
//! assert_eq!(std::fs::read_to_string(&path)?, format!("{}\n", std::process::id()));
//! match claim_for_current_process(&path) {
//!     Err(Error::AlreadyClaimed { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
//!     other => panic!("unexpected {other:?}"),
//! }
//!
//! // A controller reads the pidfile and gets a verified handle to the instance.
//! match read(&path)? {
//!     PidFileRead::LockedByOtherProcess(owner) => {
//!         assert_eq!(owner.pid(), std::process::id());
//!         let handle = owner.handle()?; // to signal it: handle.kill(Signal::TERM)
//!         assert_eq!(handle.state()?, State::Running);
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//!
//! // After the instance is gone the file stays, and reads as stale.
//! drop(guard);
//! assert!(matches!(read(&path)?, PidFileRead::NotHeldByAnyProcess(_)));
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!("pidkit-pidfile supports Linux only: it relies on flock(2), /proc/locks and pidfds");

mod proc_locks;

use std::fmt;
use std::fs::File;
use std::ops::Deref;
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use pidkit_lockfile::{LockFileRead, create_exclusive, read_and_hold_lock_file};
use proc_locks::{FileKey, Holder};

pub use pidkit_lockfile::LockFileGuard;
pub use pidkit_pidhandle::{PidHandle, Signal, State};

/// How long [`read`] keeps re-reading while the file is locked by a process
/// whose PID is not (yet) the content: a claim caught between its lock and its
/// write.
pub const DEFAULT_CLAIM_WAIT: Duration = Duration::from_millis(100);

/// The first pause between two attempts of a read; it doubles up to
/// [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_micros(250);
const MAX_PAUSE: Duration = Duration::from_millis(10);

/// Everything that can go wrong with a pidfile.
///
/// The messages name the pidfile, and the PID or content where one is involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another process (or another claim in this process) holds the pidfile.
    /// `pid` is the holder's PID when it could be verified right away.
    #[error("pidfile {path} is already claimed by {}", HolderPid(*pid))]
    AlreadyClaimed {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The holder, if known.
        pid: Option<u32>,
    },
    /// The pidfile is held, but its content is not a PID: after trimming
    /// whitespace it must be a decimal number in `1..=i32::MAX`.
    #[error("pidfile {path} holds {}, which is not a pid", Shown(content))]
    BadContent {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The content as read.
        content: String,
    },
    /// The pidfile is locked by `lock_pid`, but its content names another PID
    /// (or none), and stayed so for the whole wait: a claim that has locked and
    /// not yet written, or a holder that wrote something other than its own
    /// PID (for example a PID of another PID namespace).
    #[error(
        "pidfile {path} is locked by pid {lock_pid} but holds {}: a claim is in progress, or the holder did not write its own pid",
        Shown(content)
    )]
    ClaimInProgress {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The PID the kernel records as holding the lock.
        lock_pid: u32,
        /// The content as read.
        content: String,
    },
    /// The pidfile is locked, but `/proc/locks` shows no holder for it: the
    /// holder lives in a PID namespace this process cannot see into.
    #[error("pidfile {path} is locked by a process that is not visible in this pid namespace")]
    HolderNotVisible {
        /// The pidfile.
        path: Utf8PathBuf,
    },
    /// The process that held the pidfile when it was read no longer does (it
    /// exited, or its PID now belongs to another process).
    #[error("pid {pid}, which held pidfile {path}, no longer holds it")]
    HolderGone {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The PID read from the pidfile.
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
        source: pidkit_pidhandle::Error,
    },
    /// `/proc/locks` could not be read, so the holder cannot be verified.
    #[error("cannot read /proc/locks to verify the holder of pidfile {path}")]
    ProcLocks {
        /// The pidfile.
        path: Utf8PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The pidfile could not be opened, locked, read or written; the inner
    /// error names the path and the failed step.
    #[error(transparent)]
    Lock(#[from] pidkit_lockfile::Error),
}

impl Error {
    /// The pidfile this error is about.
    pub fn path(&self) -> &Utf8Path {
        match self {
            Error::AlreadyClaimed { path, .. }
            | Error::BadContent { path, .. }
            | Error::ClaimInProgress { path, .. }
            | Error::HolderNotVisible { path }
            | Error::HolderGone { path, .. }
            | Error::Handle { path, .. }
            | Error::ProcLocks { path, .. } => path,
            Error::Lock(e) => e.path(),
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

/// Parses pidfile content: surrounding ASCII whitespace is ignored, and what is
/// left must be a decimal number (digits only, no sign) in `1..=i32::MAX`.
///
/// ```
/// use pidkit_pidfile::parse_pid;
/// assert_eq!(parse_pid("4711\n"), Some(4711));
/// assert_eq!(parse_pid("  42 \t"), Some(42));
/// assert_eq!(parse_pid("0"), None);
/// assert_eq!(parse_pid("-1"), None);
/// assert_eq!(parse_pid("+1"), None);
/// assert_eq!(parse_pid("2147483648"), None);
/// assert_eq!(parse_pid(""), None);
/// ```
pub fn parse_pid(content: &str) -> Option<u32> {
    let digits = content.trim_ascii();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Only digits: parsing can fail only by overflow.
    let pid: u32 = digits.parse().ok()?;
    (pid >= 1 && pid <= i32::MAX as u32).then_some(pid)
}

/// Keeps a claim on a pidfile until it is dropped; dereferences to the
/// [`LockFileGuard`] (and through it to the open file).
///
/// Returned by [`claim_for_current_process`], and by [`read`] for a pidfile that
/// nobody held. Dropping it releases the lock; it never removes the file. To
/// keep the claim for the rest of the process's life, keep the guard alive (for
/// example in `main`, or with [`std::mem::forget`]).
#[must_use = "dropping a PidFileGuard releases the claim at once"]
#[derive(Debug)]
pub struct PidFileGuard(LockFileGuard);

impl PidFileGuard {
    /// The lock file guard inside.
    pub fn into_inner(self) -> LockFileGuard {
        self.0
    }
}

impl Deref for PidFileGuard {
    type Target = LockFileGuard;

    fn deref(&self) -> &LockFileGuard {
        &self.0
    }
}

/// Claims `path` as the pidfile of the current process.
///
/// Opens (creating if needed, mode 0644) and locks the file exactly like
/// [`pidkit_lockfile::create_exclusive`], so a failed claim leaves the holder's
/// file untouched; then replaces the content with this process's PID in decimal
/// and a newline, and `fsync`s the file and its directory. If writing fails, the
/// lock is released before the error is returned.
///
/// Keep the returned guard alive for as long as this process is the instance.
///
/// # Errors
///
/// [`Error::AlreadyClaimed`] when someone holds the pidfile, with the holder's
/// PID when it can be verified at once (`None` while the holder is still
/// writing, for example). [`Error::Lock`] for everything that can go wrong with
/// the file itself (a directory, a symlink, a missing directory, a read-only
/// file system, a failed write, ...).
pub fn claim_for_current_process(path: &Utf8Path) -> Result<PidFileGuard, Error> {
    let unwritten = match create_exclusive(path) {
        Ok(unwritten) => unwritten,
        Err(pidkit_lockfile::Error::Locked { .. }) => {
            return Err(Error::AlreadyClaimed {
                path: path.to_owned(),
                pid: verified_holder_now(path),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let guard = unwritten.write_content(format!("{}\n", std::process::id()))?;
    Ok(PidFileGuard(guard))
}

/// One verifying read without waiting: the holder's PID if it checks out.
fn verified_holder_now(path: &Utf8Path) -> Option<u32> {
    match attempt(path) {
        Ok(Attempt::Done(PidFileRead::LockedByOtherProcess(owner))) => Some(owner.pid),
        _ => None,
    }
}

/// The outcome of [`read`].
#[derive(Debug)]
pub enum PidFileRead {
    /// No file exists at the path (nothing was created).
    NotExist,
    /// The pidfile exists but nobody holds it: whatever PID it names is stale
    /// and must not be acted on.
    ///
    /// To find this out, [`read`] took the lock, and holds it through the
    /// guard: until it is dropped, claims fail. Do not remove the file (see the
    /// crate documentation for why).
    NotHeldByAnyProcess(PidFileGuard),
    /// The pidfile is held by the process described by the [`Owner`], as
    /// verified with the kernel's lock records at the time of the read.
    LockedByOtherProcess(Owner),
}

/// The verified holder of a pidfile at the time of a [`read`].
///
/// The holder may exit at any moment after the read; [`Owner::pid`] is then a
/// stale number. Use [`Owner::handle`] (or [`Owner::signal`]) to act on the
/// process: it re-verifies and pins it.
#[derive(Debug)]
pub struct Owner {
    path: Utf8PathBuf,
    pid: u32,
    key: FileKey,
    /// Keeps the inode in use, so its number cannot be given to another file.
    _file: File,
}

impl Owner {
    /// The holder's PID, as read and verified.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The pidfile.
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// A [`PidHandle`] to the process that holds the pidfile: pinned first,
    /// then verified (see [Verifying the owner](crate#verifying-the-owner)).
    ///
    /// # Errors
    ///
    /// [`Error::HolderGone`] if the holder has exited or released the pidfile
    /// since the read, even if its PID now belongs to another process (that
    /// process is never pinned in a handle that is returned).
    /// [`Error::Handle`] if the process cannot be pinned;
    /// [`Error::ProcLocks`] if `/proc/locks` cannot be read.
    pub fn handle(&self) -> Result<PidHandle, Error> {
        let handle = PidHandle::new(self.pid).map_err(|source| self.handle_error(source))?;
        match proc_locks::holder(&self.key) {
            Ok(Holder::Pid(pid)) if pid == self.pid => {}
            Ok(_) => return Err(self.gone()),
            Err(source) => {
                return Err(Error::ProcLocks {
                    path: self.path.clone(),
                    source,
                });
            }
        }
        match handle.state() {
            Ok(State::Running) => Ok(handle),
            Ok(State::Exited | State::Gone) => Err(self.gone()),
            Err(source) => Err(self.handle_error(source)),
        }
    }

    /// Sends `signal` to the holder through a verified [`Owner::handle`].
    ///
    /// # Errors
    ///
    /// As [`Owner::handle`], and [`Error::Handle`] if the signal cannot be sent
    /// (its source is [`pidkit_pidhandle::Error::NoSuchProcess`] if the holder
    /// exited in between).
    pub fn signal(&self, signal: Signal) -> Result<(), Error> {
        self.handle()?
            .kill(signal)
            .map_err(|source| self.handle_error(source))
    }

    fn gone(&self) -> Error {
        Error::HolderGone {
            path: self.path.clone(),
            pid: self.pid,
        }
    }

    fn handle_error(&self, source: pidkit_pidhandle::Error) -> Error {
        Error::Handle {
            path: self.path.clone(),
            pid: self.pid,
            source,
        }
    }
}

/// Reads the pidfile at `path`: is it there, is it held, and by which process.
///
/// Never blocks on the lock and never creates the file. When the file is held,
/// its content is verified against the kernel's lock records, waiting up to
/// [`DEFAULT_CLAIM_WAIT`] for a claim in progress to write its PID (see
/// [Verifying the owner](crate#verifying-the-owner)). The content is only
/// parsed when the file is held; the content of an unheld file is stale
/// whatever it is.
///
/// # Errors
///
/// [`Error::BadContent`] if the file is held but its content is not a PID
/// (see [`parse_pid`]); [`Error::ClaimInProgress`] or
/// [`Error::HolderNotVisible`] if the holder could not be verified within the
/// wait; [`Error::ProcLocks`]; and [`Error::Lock`] for the file itself
/// (a symlink, a directory, content that is not UTF-8, ...).
pub fn read(path: &Utf8Path) -> Result<PidFileRead, Error> {
    read_with_wait(path, DEFAULT_CLAIM_WAIT)
}

/// [`read`], waiting up to `wait` (instead of [`DEFAULT_CLAIM_WAIT`]) for a
/// claim in progress. `Duration::ZERO` makes exactly one attempt.
///
/// # Errors
///
/// As [`read`].
pub fn read_with_wait(path: &Utf8Path, wait: Duration) -> Result<PidFileRead, Error> {
    let mut deadline = None;
    let mut pause = FIRST_PAUSE;
    loop {
        let unverified = match attempt(path)? {
            Attempt::Done(result) => return Ok(result),
            Attempt::Unverified(error) => error,
        };
        let now = Instant::now();
        let deadline = *deadline.get_or_insert(now + wait);
        if now >= deadline {
            return Err(unverified);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

enum Attempt {
    /// A verified answer.
    Done(PidFileRead),
    /// The file is held but the holder is not verified (yet); the error to
    /// report if it stays so.
    Unverified(Error),
}

/// One read of the pidfile, verified against `/proc/locks` if it is held.
fn attempt(path: &Utf8Path) -> Result<Attempt, Error> {
    let (file, content) = match read_and_hold_lock_file(path)? {
        LockFileRead::NotExist => return Ok(Attempt::Done(PidFileRead::NotExist)),
        LockFileRead::NotHeldByAnyProcess(guard, _stale) => {
            return Ok(Attempt::Done(PidFileRead::NotHeldByAnyProcess(
                PidFileGuard(guard),
            )));
        }
        LockFileRead::LockedByOtherProcess {
            not_locked_file,
            content,
        } => (not_locked_file, content),
    };
    let Some(pid) = parse_pid(&content) else {
        return Ok(Attempt::Unverified(Error::BadContent {
            path: path.to_owned(),
            content,
        }));
    };
    let meta = file.metadata().map_err(|source| {
        Error::Lock(pidkit_lockfile::Error::Io {
            path: path.to_owned(),
            op: pidkit_lockfile::Op::Read,
            source,
        })
    })?;
    let key = FileKey::of(&meta);
    let holder = proc_locks::holder(&key).map_err(|source| Error::ProcLocks {
        path: path.to_owned(),
        source,
    })?;
    Ok(match holder {
        Holder::Pid(lock_pid) if lock_pid == pid => {
            Attempt::Done(PidFileRead::LockedByOtherProcess(Owner {
                path: path.to_owned(),
                pid,
                key,
                _file: file,
            }))
        }
        Holder::Pid(lock_pid) => Attempt::Unverified(Error::ClaimInProgress {
            path: path.to_owned(),
            lock_pid,
            content,
        }),
        Holder::NotVisible => Attempt::Unverified(Error::HolderNotVisible {
            path: path.to_owned(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let e = Error::AlreadyClaimed {
            path: "/run/a.pid".into(),
            pid: Some(7),
        };
        assert_eq!(
            e.to_string(),
            "pidfile /run/a.pid is already claimed by pid 7"
        );
        let e = Error::AlreadyClaimed {
            path: "/run/a.pid".into(),
            pid: None,
        };
        assert_eq!(
            e.to_string(),
            "pidfile /run/a.pid is already claimed by another process"
        );
        let e = Error::BadContent {
            path: "/run/a.pid".into(),
            content: "x\n".into(),
        };
        assert_eq!(
            e.to_string(),
            "pidfile /run/a.pid holds \"x\\n\", which is not a pid"
        );
        let long = "y".repeat(100);
        let e = Error::BadContent {
            path: "/run/a.pid".into(),
            content: long,
        };
        assert!(
            e.to_string()
                .ends_with("(and 36 more bytes), which is not a pid"),
            "{e}"
        );
        let e = Error::HolderGone {
            path: "/run/a.pid".into(),
            pid: 9,
        };
        assert_eq!(
            e.to_string(),
            "pid 9, which held pidfile /run/a.pid, no longer holds it"
        );
        assert_eq!(e.path(), "/run/a.pid");
    }
}
