//! Singleton pidfiles whose reader gets a verified process handle, not a number
//! that may already belong to someone else.
//!
//! A pidfile makes a program a singleton: at start-up the program
//! [claims](claim_for_current_process) the file, and only if that succeeds does
//! it act as *the* instance. The claim is a `flock` on the file, held until the
//! process exits (or drops the guard), and the file's content is the process's
//! PID in decimal followed by a newline, the format systemd's `PIDFile=`,
//! `start-stop-daemon` and shell scripts read. Anyone can [`read`] the file to
//! learn whether an instance runs and which process it is.
//!
//! # What this adds over `pidkit-lockfile`
//!
//! [`pidkit_lockfile`] gives the claim and the non-blocking read of any lock
//! file, including the distinction between a claim whose content is written and
//! one still in progress. This crate adds the PID content and two guarantees a
//! bare lock file cannot give:
//!
//! - **A reader never reports the previous holder's PID for a claim in
//!   progress.** There is a moment in every claim when the new claimer already
//!   holds the lock but has not yet replaced the old content; a naive reader
//!   landing there reads the PID of the previous holder, which may be dead, and
//!   its number reused. Here the claimer writes under an exclusive lock and
//!   only then converts it to a shared one, so [`read`] sees the claim in
//!   progress as such, waits briefly for it to finish (up to
//!   [`DEFAULT_CLAIM_WAIT`]; [`read_with_wait`] chooses another bound), and
//!   otherwise reports [`Error::ClaimInProgress`]. When it reports an owner,
//!   the PID was read under a shared lock, while no new claim could start.
//! - **"Signal the running instance" cannot hit a recycled PID.**
//!   [`Owner::handle`] returns a [`PidHandle`] that pins the process first and
//!   then re-checks the claim, so it refers to the claimer and never to an
//!   unrelated process that inherited the number after the claimer died.
//!   Signals sent through it go to that process or fail.
//!
//! # How `Owner::handle` verifies the holder
//!
//! [`Owner::handle`] proceeds in this order:
//!
//! 1. **Pin** the process that has the PID `P` now ([`PidHandle::new`]: a pidfd
//!    where the kernel has them, else its start time). Call it `Q`.
//! 2. **Re-check the claim** through the file the read opened (the same inode,
//!    even if the path was replaced since), with the reader's protocol of
//!    [`pidkit_lockfile::read_held_claim`]: a written claim must still hold the
//!    file (its shared lock is there, and no exclusive lock), and its content,
//!    read under a shared lock, must still parse to `P`.
//! 3. **Check** that `Q` is still running.
//!
//! Why this is enough: if `Q` is still running at step 3, it has had the PID
//! `P` without a break since step 1 (a PID is handed out again only after its
//! process has exited and been reaped). At step 2, which lies between, a
//! written claim naming `P` held the file. [`claim_for_current_process`]
//! writes the claimer's own PID, and the claim's lock goes away when the
//! claimer exits; so at step 2 the claimer was alive with PID `P`, and so was
//! `Q`. Only one process has a given PID at a time: `Q` is the claimer.
//!
//! If instead the holder died after the [`read`] and a newcomer got its PID,
//! step 2 finds no written claim naming `P` (the file is free, being claimed,
//! or claimed anew with another PID; unless the newcomer claimed it itself, and
//! then it is the holder), or, if no process had the PID at step 1, the handle
//! is gone from the start and step 3 fails. Either way the result is
//! [`Error::HolderGone`] and the newcomer is never handed out.
//!
//! The argument rests on the claim naming its holder, which fails in the cases
//! listed under Limitations (a lock handed to a forked child, content written
//! by other means, another PID namespace), and on step 2 seeing the claim
//! correctly, which has one narrow window (a read overlapping a holder's
//! release, also under Limitations).
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
//! - **The content is trusted to be the claimer's own PID.**
//!   [`claim_for_current_process`] guarantees that, but nothing checks it:
//!   the kernel's lock does not say who holds it (short of `/proc/locks`, which
//!   this crate does not read). So [`Owner::handle`] cannot tell when the claim
//!   names a process that does not hold it:
//!   - The lock belongs to the open file, not to the process. If the claimer
//!     passes the descriptor to a child by `fork` (classic double-fork
//!     daemonizing) and exits, the content names a dead process while the
//!     child holds the lock; [`Owner::handle`] gives [`Error::HolderGone`] while
//!     the PID is unused, but a handle to whatever process gets that PID next.
//!     Claim in the final process, or claim before `exec` with
//!     [`LockFileGuard::keep_across_exec`] (an `exec` keeps the PID).
//!   - A file claimed through [`pidkit_lockfile`] directly, or by another
//!     program, with some other PID as content.
//!   - **PID namespaces**: the claimer writes its PID as *it* sees it. A pidfile
//!     claimed in another PID namespace (a container sharing the directory)
//!     reads fine, and [`Owner::pid`] is that number, but it means nothing in
//!     the reader's namespace, or names an unrelated process there. Use
//!     [`Owner::handle`] and [`Owner::signal`] only for pidfiles claimed in
//!     the caller's own PID namespace.
//! - A [`read`] that finds the file unclaimed takes the lock itself
//!   ([`PidFileRead::NotHeldByAnyProcess`]); until that guard is dropped,
//!   claims fail and other readers see a claim in progress (and wait, then
//!   report [`Error::ClaimInProgress`]).
//! - Programs that hold the pidfile with a plain exclusive `flock` and never
//!   convert it (neon, `flock(1)`) are seen as a claim in progress for as long
//!   as they hold it: [`read`] reports [`Error::ClaimInProgress`] after its wait.
//! - Readers hold a shared lock for a moment, so in a window of a few system
//!   calls right after a holder lets go, a read that overlaps another read can
//!   take that read's shared lock for a claim and report the claim that has
//!   just ended as the owner (see [`pidkit_lockfile`]'s Limitations). For
//!   [`read`] that is no worse than the holder exiting right after the read.
//!   Step 2 of [`Owner::handle`] uses the same check, so the one sequence in
//!   which it can pin a newcomer is: the claimer died, its PID was reused
//!   before step 1, nobody claimed the file since, and step 2 ran exactly while
//!   another holder of the file (a reader's guard) let go and a second reader
//!   was between its first and last step. A new claim, or any reader that is
//!   not at that very point, closes it.
//! - [`Owner::handle`] in the fallback without pidfds pins by start time
//!   (clock ticks), with the limits `pidkit-pidhandle` documents.
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
compile_error!("pidkit-pidfile supports Linux only: it relies on flock(2) and pidfds");

use std::fmt;
use std::fs::File;
use std::ops::Deref;
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use pidkit_lockfile::{LockFileRead, create_exclusive, read_and_hold_lock_file, read_held_claim};

pub use pidkit_lockfile::LockFileGuard;
pub use pidkit_pidhandle::{PidHandle, Signal, State};

/// How long [`read`] keeps re-reading while a claim is in progress (the file
/// is locked exclusively: a claimer between its lock and the end of its write,
/// or a reader holding a [`PidFileRead::NotHeldByAnyProcess`] guard).
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
    /// `pid` is the PID its written claim names, if one could be read right
    /// away (`None` while that claim is still being written, or when a reader
    /// holds the file). Like every PID read from a pidfile, it can be stale by
    /// the time it is looked at.
    #[error("pidfile {path} is already claimed by {}", HolderPid(*pid))]
    AlreadyClaimed {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The holder, if known.
        pid: Option<u32>,
    },
    /// The pidfile is held by a written claim, but its content is not a PID:
    /// after trimming whitespace it must be a decimal number in
    /// `1..=i32::MAX`.
    #[error("pidfile {path} holds {}, which is not a pid", Shown(content))]
    BadContent {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The content as read.
        content: String,
    },
    /// The pidfile stayed locked exclusively for the whole wait: a claimer
    /// that has locked it but not finished writing its PID, a reader holding a
    /// [`PidFileRead::NotHeldByAnyProcess`] guard, or a program that holds it
    /// with a plain exclusive `flock`. Its content is not reported: it may be
    /// the previous holder's PID.
    #[error(
        "pidfile {path} has a claim in progress: it stayed exclusively locked, without a written pid, for {} ms",
        waited.as_millis()
    )]
    ClaimInProgress {
        /// The pidfile.
        path: Utf8PathBuf,
        /// How long the read waited for the claim to finish.
        waited: Duration,
    },
    /// The process that held the pidfile when it was read no longer does (it
    /// exited, or its PID now belongs to another process, or the claim ended).
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
            | Error::HolderGone { path, .. }
            | Error::Handle { path, .. } => path,
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
/// and a newline, `fsync`s the file and its directory, and converts the lock to
/// a shared one, which tells readers that the PID is written. If any of that
/// fails, the lock is released before the error is returned.
///
/// Keep the returned guard alive for as long as this process is the instance.
///
/// # Errors
///
/// [`Error::AlreadyClaimed`] when someone holds the pidfile, with the PID its
/// written claim names when that can be read at once (`None` while the holder
/// is still writing, for example). Also [`Error::AlreadyClaimed`] in the case
/// [`pidkit_lockfile::Error::LostDuringDowngrade`] describes (someone took the
/// file during the final lock conversion; not on current kernels).
/// [`Error::Lock`] for everything that can go wrong with the file itself (a
/// directory, a symlink, a missing directory, a read-only file system, a
/// failed write, ...).
pub fn claim_for_current_process(path: &Utf8Path) -> Result<PidFileGuard, Error> {
    let unwritten = create_exclusive(path).map_err(|e| claim_failure(path, e))?;
    let guard = unwritten
        .write_content(format!("{}\n", std::process::id()))
        .map_err(|e| claim_failure(path, e))?;
    Ok(PidFileGuard(guard))
}

/// The error of a failed claim: someone else holding the file (or taking it
/// during the final conversion) is [`Error::AlreadyClaimed`].
fn claim_failure(path: &Utf8Path, error: pidkit_lockfile::Error) -> Error {
    match error {
        pidkit_lockfile::Error::Locked { .. }
        | pidkit_lockfile::Error::LostDuringDowngrade { .. } => Error::AlreadyClaimed {
            path: path.to_owned(),
            pid: holder_now(path),
        },
        other => other.into(),
    }
}

/// One read without waiting: the PID a written claim names, if one holds the
/// file and its content is a PID.
fn holder_now(path: &Utf8Path) -> Option<u32> {
    match read_and_hold_lock_file(path) {
        Ok(LockFileRead::LockedByOtherProcess { content, .. }) => parse_pid(&content),
        // Dropping a NotHeldByAnyProcess guard here releases it at once.
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
    /// guard: until it is dropped, claims fail, and other readers see a claim
    /// in progress. Do not remove the file (see the crate documentation for
    /// why).
    NotHeldByAnyProcess(PidFileGuard),
    /// The pidfile is held by a written claim, and the [`Owner`] carries the
    /// PID that claim wrote.
    LockedByOtherProcess(Owner),
}

/// The holder of a pidfile at the time of a [`read`]: the PID its written
/// claim names.
///
/// The holder may exit at any moment after the read; [`Owner::pid`] is then a
/// stale number. Use [`Owner::handle`] (or [`Owner::signal`]) to act on the
/// process: it pins it and checks the claim again.
#[derive(Debug)]
pub struct Owner {
    path: Utf8PathBuf,
    pid: u32,
    /// The file as the read opened it (not locked): [`Owner::handle`] checks
    /// the claim again through it, on the same inode.
    file: File,
}

impl Owner {
    /// The holder's PID, as its claim wrote it.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The pidfile.
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// A [`PidHandle`] to the process that holds the pidfile: pinned first,
    /// then the claim checked again, then the pinned process checked to be
    /// running (see [How `Owner::handle` verifies the
    /// holder](crate#how-ownerhandle-verifies-the-holder), and its limits).
    ///
    /// # Errors
    ///
    /// [`Error::HolderGone`] if the holder has exited or released the pidfile
    /// since the read, even if its PID now belongs to another process (that
    /// process is never pinned in a handle that is returned).
    /// [`Error::Handle`] if the process cannot be pinned; [`Error::Lock`] if
    /// the file cannot be read again.
    pub fn handle(&self) -> Result<PidHandle, Error> {
        let handle = PidHandle::new(self.pid).map_err(|source| self.handle_error(source))?;
        let still_claimed = read_held_claim(&self.file, &self.path)?
            .is_some_and(|content| parse_pid(&content) == Some(self.pid));
        if !still_claimed {
            return Err(self.gone());
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
/// Never blocks on the lock and never creates the file. A held file's content
/// is read under a shared lock, while no new claim can start, and only when
/// its claim has finished writing; while a claim is in progress the read waits
/// up to [`DEFAULT_CLAIM_WAIT`], re-reading with growing pauses. The content is
/// only parsed when the file is held; the content of an unheld file is stale
/// whatever text it is. Bytes that are not UTF-8 text at all are an error,
/// held or not ([`pidkit_lockfile::Error::NotUtf8`], which `pidkit-lockfile`
/// reports before anyone can tell whether the file is held); a claim still
/// replaces such a file.
///
/// The cost of a read of a held pidfile is one `open`, three `flock`s, one
/// `pread` and a `close`.
///
/// # Errors
///
/// [`Error::BadContent`] if the file is held but its content is not a PID
/// (see [`parse_pid`]); [`Error::ClaimInProgress`] if a claim stayed in
/// progress for the whole wait; and [`Error::Lock`] for the file itself (a
/// symlink, a directory, content that is not UTF-8, ...).
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
    let mut started: Option<Instant> = None;
    let mut pause = FIRST_PAUSE;
    loop {
        if let Some(result) = attempt(path)? {
            return Ok(result);
        }
        let now = Instant::now();
        let start = *started.get_or_insert(now);
        let waited = now - start;
        if waited >= wait {
            return Err(Error::ClaimInProgress {
                path: path.to_owned(),
                waited,
            });
        }
        std::thread::sleep(pause.min(wait - waited));
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// One read of the pidfile; `None` while a claim is in progress.
fn attempt(path: &Utf8Path) -> Result<Option<PidFileRead>, Error> {
    Ok(Some(match read_and_hold_lock_file(path)? {
        LockFileRead::NotExist => PidFileRead::NotExist,
        LockFileRead::NotHeldByAnyProcess(guard, _stale) => {
            PidFileRead::NotHeldByAnyProcess(PidFileGuard(guard))
        }
        LockFileRead::LockedByOtherProcess {
            not_locked_file,
            content,
        } => match parse_pid(&content) {
            Some(pid) => PidFileRead::LockedByOtherProcess(Owner {
                path: path.to_owned(),
                pid,
                file: not_locked_file,
            }),
            None => {
                return Err(Error::BadContent {
                    path: path.to_owned(),
                    content,
                });
            }
        },
        LockFileRead::ClaimInProgress { .. } => return Ok(None),
    }))
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
        let e = Error::ClaimInProgress {
            path: "/run/a.pid".into(),
            waited: Duration::from_millis(100),
        };
        assert_eq!(
            e.to_string(),
            "pidfile /run/a.pid has a claim in progress: it stayed exclusively locked, without a written pid, for 100 ms"
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

    /// A claim that loses the file during the final lock conversion (which
    /// current kernels never do) is reported like any other lost race.
    #[test]
    fn lost_downgrade_is_already_claimed() {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::try_from(dir.path().join("a.pid")).unwrap();
        let e = claim_failure(
            &path,
            pidkit_lockfile::Error::LostDuringDowngrade { path: path.clone() },
        );
        assert!(
            matches!(&e, Error::AlreadyClaimed { path: p, pid: None } if *p == path),
            "{e:?}"
        );
        let e = claim_failure(
            &path,
            pidkit_lockfile::Error::MissingParent { path: path.clone() },
        );
        assert!(
            matches!(
                &e,
                Error::Lock(pidkit_lockfile::Error::MissingParent { .. })
            ),
            "{e:?}"
        );
    }
}
