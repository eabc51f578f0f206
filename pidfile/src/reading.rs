//! neon's read of a pidfile ([`read`], [`read_with_wait`]): who holds it and
//! which PID it names, re-read with growing pauses while a holder's content
//! is not a PID yet.

use std::time::{Duration, Instant};

use camino::Utf8Path;
use pidkit_lockfile::{LockFileRead, read_and_hold_lock_file};
use pidkit_pidfd::low_level::Backoff;

use crate::content::parse_pid;
use crate::error::Error;
use crate::guard::PidFileGuard;
use crate::owner::Owner;

/// How long [`read`] keeps re-reading a held pidfile whose content is not a
/// PID (yet): a claimer between its truncation and its write leaves the file
/// empty for a moment.
///
/// ```
/// use pidkit_pidfile::{DEFAULT_CLAIM_WAIT, PidFileRead, read_with_wait};
/// use std::time::Duration;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
/// # let daemon = testkit::sh(&format!("exec 9>>'{path}'; flock -x -n 9 || exit 3; echo $$ > '{path}'; exec sleep 1000"));
/// # testkit::wait_until(|| std::fs::read_to_string(&path).is_ok_and(|c| c == format!("{}\n", daemon.id())));
/// assert_eq!(DEFAULT_CLAIM_WAIT, Duration::from_millis(100));
/// // What `read` does, for a pidfile a daemon holds.
/// let read = read_with_wait(&path, DEFAULT_CLAIM_WAIT)?;
/// assert!(matches!(read, PidFileRead::LockedByOtherProcess(o) if o.pid() == daemon.id()));
/// # Ok(())
/// # }
/// ```
pub const DEFAULT_CLAIM_WAIT: Duration = Duration::from_millis(100);

/// The first pause between two attempts of a read; it doubles up to
/// [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_micros(250);
const MAX_PAUSE: Duration = Duration::from_millis(10);

/// The outcome of [`read`].
///
/// ```
/// use pidkit_pidfile::{PidFileRead, claim_for_current_process, parse_pid, read};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
/// assert!(matches!(read(&path)?, PidFileRead::NotExist));
/// let guard = claim_for_current_process(&path)?;
/// assert!(matches!(read(&path)?, PidFileRead::HeldByThisProcess));
/// drop(guard);
/// match read(&path)? {
///     // Stale: the content is kept, whatever its bytes.
///     PidFileRead::NotHeldByAnyProcess(_guard, stale) => {
///         assert_eq!(parse_pid(&stale), Some(std::process::id()))
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub enum PidFileRead {
    /// No file exists at the path (nothing was created).
    NotExist,
    /// The pidfile exists but nobody holds it: whatever PID it names is stale
    /// and must not be acted on. The second field is its content, the bytes
    /// as they are (text, a PID, anything; [`parse_pid`] reads a PID from
    /// it).
    ///
    /// To find this out, [`read`] took the lock, and holds it through the
    /// guard: until it is dropped, claims fail, and other readers see the
    /// file held (and [`Owner::handle`] refuses the stale PID it names). Do
    /// not remove the file (see the crate documentation for why).
    NotHeldByAnyProcess(PidFileGuard, Vec<u8>),
    /// Someone else holds the pidfile, and its content is a PID: the
    /// [`Owner`] carries it. Whether that process is the holder is proven
    /// only by [`Owner::handle`].
    LockedByOtherProcess(Owner),
    /// This process holds the pidfile, through a live [`PidFileGuard`] (a
    /// claim, or the guard of an earlier read). A lock of this process that
    /// the lock file layer does not know of (taken without it, or kept
    /// across `exec`) reads as [`PidFileRead::LockedByOtherProcess`].
    HeldByThisProcess,
}

/// Reads the pidfile at `path`: is it there, is it held, by whom, and which
/// PID does it name.
///
/// neon's read: one `open`, one `flock(LOCK_EX | LOCK_NB)`, one `pread` and a
/// `close` (and one `fstat` while this process holds any pidfile or lock
/// file, to tell its own holds apart); never blocks on the lock and never
/// creates the file. The content is only parsed when another process holds
/// the file; the content of an unheld file is stale, whatever its bytes, and
/// is returned as it is. A held file whose content is not a PID is read
/// again, with growing pauses, for up to [`DEFAULT_CLAIM_WAIT`] (a claim
/// caught between its truncation and its write); [`read_with_wait`] chooses
/// another bound.
///
/// The PID of [`PidFileRead::LockedByOtherProcess`] is what the file names:
/// during a claim in progress that is still the previous holder's. The read
/// does not prove who holds the file (that costs a look at the holder's
/// descriptors); [`Owner::handle`] does.
///
/// ```
/// use pidkit_pidfile::{PidFileRead, read};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
/// assert!(matches!(read(&path)?, PidFileRead::NotExist));
/// # let daemon = testkit::sh(&format!("exec 9>>'{path}'; flock -x -n 9 || exit 3; echo $$ > '{path}'; exec sleep 1000"));
/// # testkit::wait_until(|| std::fs::read_to_string(&path).is_ok_and(|c| c == format!("{}\n", daemon.id())));
/// // A daemon holds it.
/// let PidFileRead::LockedByOtherProcess(owner) = read(&path)? else {
///     panic!("held");
/// };
/// assert_eq!(owner.pid(), daemon.id());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::BadContent`] if another process holds the file but its content
/// stayed something other than a PID (see [`parse_pid`]) for the whole wait,
/// and [`Error::Lock`] for the file itself (a symlink, a directory, ...).
pub fn read(path: &Utf8Path) -> Result<PidFileRead, Error> {
    read_with_wait(path, DEFAULT_CLAIM_WAIT)
}

/// [`read`], re-reading a held file whose content is not a PID for up to
/// `wait` (instead of [`DEFAULT_CLAIM_WAIT`]). `Duration::ZERO` makes exactly
/// one attempt.
///
/// ```
/// use pidkit_pidfile::{Error, read_with_wait};
/// use std::time::Duration;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
/// // Held by a daemon that wrote something other than a pid.
/// # let _daemon = testkit::sh(&format!("exec 9>>'{path}'; flock -x -n 9 || exit 3; echo starting > '{path}'; exec sleep 1000"));
/// # testkit::wait_until(|| std::fs::read_to_string(&path).is_ok_and(|c| c == "starting\n"));
/// match read_with_wait(&path, Duration::ZERO) {
///     Err(Error::BadContent { content, .. }) => assert_eq!(content, "starting\n"),
///     other => panic!("unexpected {other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// As [`read`].
pub fn read_with_wait(path: &Utf8Path, wait: Duration) -> Result<PidFileRead, Error> {
    // Counted from the first attempt's answer (`None` inside: no end).
    let mut deadline: Option<Option<Instant>> = None;
    let mut pauses = Backoff::new(FIRST_PAUSE, MAX_PAUSE);
    loop {
        let content = match attempt(path)? {
            Attempt::Done(result) => return Ok(result),
            Attempt::NotAPid(content) => content,
        };
        let until = *deadline.get_or_insert_with(|| Instant::now().checked_add(wait));
        let Some(pause) = pauses.next_pause_before(until) else {
            return Err(Error::bad_content(path, &content));
        };
        std::thread::sleep(pause);
    }
}

/// What one read of the pidfile found.
pub(crate) enum Attempt {
    /// A read with an answer.
    Done(PidFileRead),
    /// Held by another process, and the content is not a PID (yet).
    NotAPid(Vec<u8>),
}

/// One read of the pidfile.
pub(crate) fn attempt(path: &Utf8Path) -> Result<Attempt, Error> {
    Ok(Attempt::Done(match read_and_hold_lock_file(path)? {
        LockFileRead::NotExist => PidFileRead::NotExist,
        LockFileRead::NotHeldByAnyProcess(guard, stale) => {
            PidFileRead::NotHeldByAnyProcess(PidFileGuard(guard), stale)
        }
        LockFileRead::HeldByThisProcess { .. } => PidFileRead::HeldByThisProcess,
        LockFileRead::LockedByOtherProcess {
            not_locked_file,
            content,
        } => match parse_pid(&content) {
            Some(pid) => PidFileRead::LockedByOtherProcess(Owner {
                path: path.to_owned(),
                pid,
                file: not_locked_file,
            }),
            None => return Ok(Attempt::NotAPid(content)),
        },
    }))
}
