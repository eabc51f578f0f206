//! Singleton pidfiles whose reader gets a verified process handle, not a number
//! that may already belong to someone else.
//!
//! A pidfile makes a program a singleton: at start-up the program
//! [claims](claim_for_current_process) the file, and only if that succeeds
//! does it act as *the* instance. The claim is an exclusive `flock` on the
//! file, held until the process exits (or drops the guard), and the file's
//! content is the process's PID in decimal followed by a newline, the format
//! systemd's `PIDFile=`, `start-stop-daemon`, `pgrep -F` and shell scripts
//! read. Anyone can [`read`] the file to learn whether an instance runs and
//! which process it is.
//!
//! # What this adds over `pidkit-lockfile`
//!
//! [`pidkit_lockfile`] gives the claim (an exclusive `flock` held for the
//! claim's whole life, the convention of neon, `flock(1)`, `pgrep -L`,
//! `start-stop-daemon` and most daemons) and neon's non-blocking read. This
//! crate adds the PID content and what a bare lock file cannot give:
//!
//! - **The owner is proven by the kernel, not taken from the file.** Every
//!   claim has a moment when the claimer holds the lock but the file still
//!   names the previous holder, which may be dead and its PID reused; a file
//!   written by another program may name anything. [`read`] reports the PID
//!   the file names; [`Owner::handle`] gives a [`PidHandle`] only when the
//!   kernel shows that the process with that PID holds the exclusive lock on
//!   that very file (same device and inode), and never merely because the
//!   file is locked and names a live PID.
//! - **"Signal the running instance" cannot hit a recycled PID.** The handle
//!   pins the process before the proof and checks it still runs after, so it
//!   refers to the holder and never to a process that inherited the number.
//!   Signals sent through it go to that process or fail.
//! - **Everyone else's pidfiles work.** A file any program holds with an
//!   exclusive `flock` and wrote its own PID into reads as
//!   [`PidFileRead::LockedByOtherProcess`], and [`Owner::handle`] proves and
//!   pins its holder; pidkit's own claims are found by `pgrep -L`, `pkill -L`,
//!   `start-stop-daemon` and `lslocks` (a WRITE lock).
//!
//! # How `Owner::handle` proves the holder
//!
//! [`Owner::handle`] proceeds in this order, for the PID `P` that [`read`]
//! found in the file it opened:
//!
//! 1. **Pin** the process that has the PID `P` now ([`PidHandle::new`]: a
//!    pidfd where the kernel has them, else its start time). Call it `Q`.
//! 2. **Prove** that the process with PID `P` holds the lock: among its
//!    descriptors (`/proc/P/fd`), one refers to the file that was read (the
//!    same device and inode, even if the path was replaced since), and its
//!    `/proc/P/fdinfo/<fd>` shows an exclusive `FLOCK` on that inode. The
//!    kernel lists there only locks owned by that descriptor's open file
//!    description.
//! 3. **Check** that `Q` is still running.
//!
//! Why this is enough: if `Q` still runs at step 3, it has had the PID `P`
//! without a break since step 1 (a PID is handed out again only after its
//! process has exited and been reaped), so the `/proc/P` of step 2, which
//! lies between, was `Q`'s, and `Q` holds the lock on the file. The content
//! of the file only chooses which process to ask about; it is never taken as
//! proof.
//!
//! If the holder died and a newcomer got its PID, step 2 looks at the
//! newcomer's descriptors, which hold no lock on the file (unless the
//! newcomer claimed it itself, and then it *is* the holder):
//! [`Error::NotHolder`]. A claim in progress, whose file still names the
//! previous holder, is the same case. If the holder died and nobody has the
//! PID, step 1 pins nothing and step 3 fails: [`Error::Gone`].
//!
//! The cost of step 2 grows with the number of descriptors of the process
//! `P`, not with the number of locks on the machine (a scan of `/proc/locks`
//! would; see ARCHITECTURE.md for the measurements).
//!
//! # Never unlink a pidfile
//!
//! Staleness is already detectable (nobody holds the lock), and deleting the
//! file on exit lets two instances run at once: the race is told in
//! [`pidkit_lockfile`'s docs](pidkit_lockfile#never-unlink-a-lock-file). No
//! guard in this crate ever unlinks, and callers must not either.
//!
//! # Limitations
//!
//! - **Where the proof cannot be had, there is no handle.** Reading another
//!   process's `/proc/<pid>/fd` needs the right to ptrace-read it: an
//!   unprivileged reader of a root daemon's pidfile, a `/proc` mounted with
//!   `hidepid`, or a `/proc` of another PID namespace gives
//!   [`Error::CannotVerify`] (never a guess); [`Owner::pid`] is still the
//!   number the file names, unverified.
//! - **PID namespaces**: a claimer writes its PID as *its* namespace sees
//!   it. A pidfile claimed in another PID namespace (a container sharing the
//!   directory) reads fine and [`Owner::pid`] is that number, but in the
//!   reader's namespace it names another process or none:
//!   [`Owner::handle`] then gives [`Error::NotHolder`] or
//!   [`Error::Gone`], never a handle to the wrong process.
//! - **The holder must be the process the file names.** A lock handed to a
//!   forked child whose parent then exits (classic double-fork daemonizing)
//!   leaves a file naming a dead process: [`Error::Gone`], or
//!   [`Error::NotHolder`] once the number is reused. Claim in the final
//!   process, or claim before `exec` with
//!   [`LockFileGuard::keep_across_exec`] (an `exec` keeps the PID).
//! - **Only `flock` counts.** A daemon that locks its pidfile with `fcntl` or
//!   `lockf` byte-range locks instead holds no `flock` (on Linux the two
//!   kinds do not interact): its file reads as
//!   [`PidFileRead::NotHeldByAnyProcess`], like `pgrep -L` sees it. A holder
//!   with a shared `flock` reads as held, but is not proven an owner.
//! - A [`read`] that finds the file unclaimed takes the lock itself
//!   ([`PidFileRead::NotHeldByAnyProcess`]); until that guard is dropped,
//!   claims fail and other readers see the file held, naming a stale PID
//!   that [`Owner::handle`] refuses.
//! - The cost of [`Owner::handle`] grows with the number of descriptors the
//!   holder has open (one `statat` each).
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

mod proof;

use std::fmt;
use std::fs::File;
use std::io;
use std::ops::Deref;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use pidkit_lockfile::{LockFileRead, create_exclusive, read_and_hold_lock_file, read_held_claim};
use pidkit_pidfd::low_level::Backoff;
use proof::{FileId, Proof};

/// The lock file crate under the pidfiles: its [`LockFileGuard`] is what a
/// [`PidFileGuard`] dereferences to, and its `Error` is inside
/// [`Error::Lock`]. Re-exported so that its version always matches.
pub use pidkit_lockfile;
pub use pidkit_lockfile::LockFileGuard;
/// The handle crate: [`Owner::handle`] returns its [`PidHandle`], and its
/// `Error` is inside [`Error::Handle`]. Re-exported so that its version
/// always matches.
pub use pidkit_pidhandle;
pub use pidkit_pidhandle::{PidHandle, Signal, State};

/// How long [`read`] keeps re-reading a held pidfile whose content is not a
/// PID (yet): a claimer between its truncation and its write leaves the file
/// empty for a moment.
///
/// ```
/// use pidkit_pidfile::{DEFAULT_CLAIM_WAIT, PidFileRead, claim_for_current_process, read_with_wait};
/// use std::time::Duration;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
/// assert_eq!(DEFAULT_CLAIM_WAIT, Duration::from_millis(100));
/// let _guard = claim_for_current_process(&path)?;
/// // What `read` does.
/// let read = read_with_wait(&path, DEFAULT_CLAIM_WAIT)?;
/// assert!(matches!(read, PidFileRead::LockedByOtherProcess(o) if o.pid() == std::process::id()));
/// # Ok(())
/// # }
/// ```
pub const DEFAULT_CLAIM_WAIT: Duration = Duration::from_millis(100);

/// The first pause between two attempts of a read; it doubles up to
/// [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_micros(250);
const MAX_PAUSE: Duration = Duration::from_millis(10);

/// Everything that can go wrong with a pidfile.
///
/// The messages name the pidfile, and the PID or content where one is involved.
///
/// ```
/// use pidkit_pidfile::{Error, claim_for_current_process, pidkit_lockfile};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
/// let _guard = claim_for_current_process(&path)?;
/// match claim_for_current_process(&path) {
///     Err(Error::AlreadyClaimed { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
///     other => panic!("unexpected {other:?}"),
/// }
/// let nowhere = camino::Utf8PathBuf::try_from(dir.path().join("missing/d.pid"))?;
/// let err = claim_for_current_process(&nowhere).unwrap_err();
/// assert!(matches!(err, Error::Lock(pidkit_lockfile::Error::MissingParent { .. })));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another process (or another claim in this process) holds the pidfile.
    /// `pid` is the PID the file names, if its content is one, read once
    /// right after the failed claim and not verified: during a claim in
    /// progress it is the previous holder's. Use [`read`] and
    /// [`Owner::handle`] to act on the holder.
    #[error("pidfile {path} is already claimed by {}", HolderPid(*pid))]
    AlreadyClaimed {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The holder, if known.
        pid: Option<u32>,
    },
    /// The pidfile is held, but its content is not a PID: after trimming
    /// whitespace it must be a decimal number in `1..=i32::MAX`. [`read`]
    /// reports it after re-reading for its whole wait (a claim caught between
    /// its truncation and its write reads as empty for a moment).
    #[error("pidfile {path} holds {}, which is not a pid", Shown(content))]
    BadContent {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The content as read.
        content: String,
    },
    /// The process that held the pidfile when it was read no longer does: it
    /// exited (its PID may now belong to another process, which is never
    /// handed out), or it let go. Kind: [`io::ErrorKind::NotFound`].
    #[error("pid {pid}, which held pidfile {path}, is gone or no longer holds it")]
    Gone {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The PID read from the pidfile.
        pid: u32,
    },
    /// The pidfile is locked, and the process its content names is running,
    /// but the kernel shows that this process does not hold the lock on this
    /// file: a claim in progress (the new claimer has locked the file and not
    /// yet replaced the previous holder's PID, whose number may since belong
    /// to someone else), a file written by something other than its holder
    /// (a PID of another PID namespace, a lock handed to a forked child and
    /// the content naming the parent), or a reader holding a stale file.
    /// Reading again once a claim has finished gives its holder.
    #[error("pid {pid}, named by pidfile {path}, does not hold its lock")]
    NotHolder {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The PID the content names.
        pid: u32,
    },
    /// Whether the process named by the pidfile holds its lock cannot be
    /// found out here: `/proc/<pid>/fd` or its fdinfo is not readable for
    /// this caller (a process of another user, without `CAP_SYS_PTRACE`; a
    /// `/proc` mounted with `hidepid`; a `/proc` of another PID namespace),
    /// or reading it ran out of descriptors or memory (`source` says which).
    /// No handle is given without that proof; [`Owner::pid`] is still the
    /// number the file names, unverified.
    #[error(
        "cannot verify that pid {pid} holds pidfile {path}: /proc/{pid}/fd cannot be read here"
    )]
    CannotVerify {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The PID the content names.
        pid: u32,
        /// What reading `/proc/<pid>/fd` reported.
        #[source]
        source: io::Error,
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
    ///
    /// ```
    /// use pidkit_pidfile::claim_for_current_process;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
    /// let _guard = claim_for_current_process(&path)?;
    /// let err = claim_for_current_process(&path).unwrap_err();
    /// assert_eq!(err.path(), path.as_path());
    /// assert!(err.to_string().contains(path.as_str()), "{err}");
    /// # Ok(())
    /// # }
    /// ```
    pub fn path(&self) -> &Utf8Path {
        match self {
            Error::AlreadyClaimed { path, .. }
            | Error::BadContent { path, .. }
            | Error::Gone { path, .. }
            | Error::NotHolder { path, .. }
            | Error::CannotVerify { path, .. }
            | Error::Handle { path, .. } => path,
            Error::Lock(e) => e.path(),
        }
    }

    /// The [`io::ErrorKind`] this error converts to (see the [`From`] impl):
    /// a claim refused because someone holds the file is
    /// [`WouldBlock`](io::ErrorKind::WouldBlock) (what a non-blocking `flock`
    /// says), a holder that is gone [`NotFound`](io::ErrorKind::NotFound),
    /// content that is not a pid or does not name the holder
    /// [`InvalidData`](io::ErrorKind::InvalidData), and the errors that carry
    /// another error (a [`PidHandle`] error, the lock file's, the `/proc` read
    /// of [`Error::CannotVerify`]) the kind of that error.
    ///
    /// ```
    /// use pidkit_pidfile::Error;
    /// use std::io;
    ///
    /// let e = Error::Gone { path: "/run/d.pid".into(), pid: 9 };
    /// assert_eq!(e.kind(), io::ErrorKind::NotFound);
    /// let io: io::Error = e.into();
    /// assert!(io.to_string().contains("/run/d.pid"), "{io}");
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::AlreadyClaimed { .. } => io::ErrorKind::WouldBlock,
            Error::BadContent { .. } | Error::NotHolder { .. } => io::ErrorKind::InvalidData,
            Error::Gone { .. } => io::ErrorKind::NotFound,
            Error::CannotVerify { source, .. } => source.kind(),
            Error::Handle { source, .. } => source.kind(),
            Error::Lock(e) => e.kind(),
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
    // The one valid-PID rule, pidfd's.
    pidkit_pidfd::check_pid(pid)
        .ok()
        .map(|_| pid)
}

/// Keeps a claim on a pidfile until it is dropped; dereferences to the
/// [`LockFileGuard`] (and through it to the open file).
///
/// Returned by [`claim_for_current_process`], and by [`read`] for a pidfile that
/// nobody held. Dropping it releases the lock; it never removes the file. To
/// keep the claim for the rest of the process's life, keep the guard alive (for
/// example in `main`, or with [`std::mem::forget`]).
///
/// ```
/// use pidkit_pidfile::claim_for_current_process;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
/// let guard = claim_for_current_process(&path)?;
/// // Through the lock file guard to the open file: "<pid>\n".
/// assert_eq!(guard.path(), path.as_path());
/// assert_eq!(guard.metadata()?.len(), format!("{}\n", std::process::id()).len() as u64);
/// drop(guard);
/// // Released, and the file is still there to claim again.
/// let _again = claim_for_current_process(&path)?;
/// # Ok(())
/// # }
/// ```
#[must_use = "dropping a PidFileGuard releases the claim at once"]
#[derive(Debug)]
pub struct PidFileGuard(LockFileGuard);

impl PidFileGuard {
    /// The lock file guard inside.
    ///
    /// ```
    /// use pidkit_pidfile::{Error, LockFileGuard, claim_for_current_process};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
    /// let lock: LockFileGuard = claim_for_current_process(&path)?.into_inner();
    /// // Still the claim.
    /// let err = claim_for_current_process(&path).unwrap_err();
    /// assert!(matches!(err, Error::AlreadyClaimed { .. }));
    /// assert_eq!(lock.path(), path.as_path());
    /// # Ok(())
    /// # }
    /// ```
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
/// [`pidkit_lockfile::create_exclusive`] (`flock(LOCK_EX | LOCK_NB)`), so a
/// failed claim leaves the holder's file untouched; then replaces the content
/// with this process's PID in decimal and a newline and `fsync`s the file and
/// its directory. The exclusive lock stays for as long as the guard lives:
/// `lslocks` shows a WRITE lock, `pgrep -F path -L`, `pkill -F path -L` and
/// `start-stop-daemon --pidfile path` find this process, and `flock -n path`
/// fails. If any step fails, the lock is released before the error is
/// returned.
///
/// Keep the returned guard alive for as long as this process is the instance.
///
/// ```
/// use pidkit_pidfile::claim_for_current_process;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
/// let guard = claim_for_current_process(&path)?;
/// assert_eq!(std::fs::read_to_string(&path)?, format!("{}\n", std::process::id()));
/// drop(guard);
/// // The file stays behind, unheld, and can be claimed again.
/// assert!(path.exists());
/// let _again = claim_for_current_process(&path)?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::AlreadyClaimed`] when someone holds the pidfile, with the PID the
/// file names when its content is one (unverified). [`Error::Lock`] for
/// everything that can go wrong with the file itself (a directory, a
/// symlink, a missing directory, a read-only file system, a failed write,
/// ...).
pub fn claim_for_current_process(path: &Utf8Path) -> Result<PidFileGuard, Error> {
    let unwritten = create_exclusive(path).map_err(|e| claim_failure(path, e))?;
    let guard = unwritten
        .write_content(format!("{}\n", std::process::id()))
        .map_err(|e| claim_failure(path, e.into_error()))?;
    Ok(PidFileGuard(guard))
}

/// The error of a failed claim: someone else holding the file is
/// [`Error::AlreadyClaimed`].
fn claim_failure(path: &Utf8Path, error: pidkit_lockfile::Error) -> Error {
    match error {
        pidkit_lockfile::Error::Locked { .. } => Error::AlreadyClaimed {
            path: path.to_owned(),
            pid: holder_now(path),
        },
        other => other.into(),
    }
}

/// One read without waiting: the PID the file names, if someone holds it and
/// its content is a PID.
fn holder_now(path: &Utf8Path) -> Option<u32> {
    match read_and_hold_lock_file(path) {
        Ok(LockFileRead::LockedByOtherProcess { content, .. }) => parse_pid(&content),
        // Dropping a NotHeldByAnyProcess guard here releases it at once.
        _ => None,
    }
}

/// The outcome of [`read`].
///
/// ```
/// use pidkit_pidfile::{PidFileRead, claim_for_current_process, read};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
/// assert!(matches!(read(&path)?, PidFileRead::NotExist));
/// let guard = claim_for_current_process(&path)?;
/// match read(&path)? {
///     PidFileRead::LockedByOtherProcess(owner) => assert_eq!(owner.pid(), std::process::id()),
///     other => panic!("unexpected {other:?}"),
/// }
/// drop(guard);
/// assert!(matches!(read(&path)?, PidFileRead::NotHeldByAnyProcess(_)));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub enum PidFileRead {
    /// No file exists at the path (nothing was created).
    NotExist,
    /// The pidfile exists but nobody holds it: whatever PID it names is stale
    /// and must not be acted on.
    ///
    /// To find this out, [`read`] took the lock, and holds it through the
    /// guard: until it is dropped, claims fail, and other readers see the
    /// file held (and [`Owner::handle`] refuses the stale PID it names). Do
    /// not remove the file (see the crate documentation for why).
    NotHeldByAnyProcess(PidFileGuard),
    /// Someone holds the pidfile, and its content is a PID: the [`Owner`]
    /// carries it. Whether that process is the holder is proven only by
    /// [`Owner::handle`].
    LockedByOtherProcess(Owner),
}

/// The holder of a pidfile at the time of a [`read`], as the file names it.
///
/// [`Owner::pid`] is the number the file held; it is not verified. During a
/// claim in progress it is the previous holder's, the holder may exit at any
/// moment after the read, and a file written by another program may name
/// anything. Use [`Owner::handle`] (or [`Owner::signal`]) to act on the
/// process: it gives a handle only when the kernel shows that this very
/// process holds the lock on this very file.
///
/// ```
/// use pidkit_pidfile::{PidFileRead, State, claim_for_current_process, read};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
/// let _guard = claim_for_current_process(&path)?;
/// let PidFileRead::LockedByOtherProcess(owner) = read(&path)? else {
///     panic!("held");
/// };
/// assert_eq!(owner.pid(), std::process::id()); // as the file says
/// assert_eq!(owner.handle()?.state()?, State::Running); // as the kernel proves
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Owner {
    path: Utf8PathBuf,
    pid: u32,
    /// The file as the read opened it (not locked): [`Owner::handle`] proves
    /// the lock on this inode, even if the path was replaced since.
    file: File,
}

impl Owner {
    /// The PID the pidfile names, as read (not verified).
    ///
    /// ```
    /// use pidkit_pidfile::{PidFileRead, claim_for_current_process, read};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
    /// # let _guard = claim_for_current_process(&path)?;
    /// # let PidFileRead::LockedByOtherProcess(owner) = read(&path)? else { panic!("held") };
    /// assert_eq!(owner.pid(), std::process::id());
    /// # Ok(())
    /// # }
    /// ```
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The pidfile.
    ///
    /// ```
    /// use pidkit_pidfile::{PidFileRead, claim_for_current_process, read};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
    /// # let _guard = claim_for_current_process(&path)?;
    /// # let PidFileRead::LockedByOtherProcess(owner) = read(&path)? else { panic!("held") };
    /// assert_eq!(owner.path(), path.as_path());
    /// # Ok(())
    /// # }
    /// ```
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// A [`PidHandle`] to the process that holds the pidfile, proven by the
    /// kernel: the process is pinned first, then `/proc` must show that it
    /// holds the exclusive `flock` on the file that was read (same device and
    /// inode), then the pinned process must still run (see [How
    /// `Owner::handle` proves the holder](crate#how-ownerhandle-proves-the-holder)).
    ///
    /// Works on pidfiles held by any program that holds an exclusive `flock`
    /// on the file and wrote its own PID there (neon, `flock(1)`, most
    /// daemons), not only on pidkit's.
    ///
    /// ```
    /// use pidkit_pidfile::{Error, PidFileRead, claim_for_current_process, read};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
    /// let guard = claim_for_current_process(&path)?;
    /// let PidFileRead::LockedByOtherProcess(owner) = read(&path)? else {
    ///     panic!("held");
    /// };
    /// assert_eq!(owner.handle()?.pid(), std::process::id());
    /// // Once the holder lets go, nobody is proven to hold it.
    /// drop(guard);
    /// assert!(matches!(owner.handle(), Err(Error::Gone { .. })));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// - [`Error::Gone`] if the process the file names has exited (even
    ///   if its PID now belongs to another process, which is never pinned in a
    ///   handle that is returned), or runs but nobody holds the file any more.
    /// - [`Error::NotHolder`] if that process runs but does not hold the lock
    ///   on this file: a claim in progress, or a file that names another
    ///   process than its holder.
    /// - [`Error::CannotVerify`] if `/proc/<pid>/fd` cannot be read here
    ///   (another user's process, `hidepid`, another PID namespace's `/proc`).
    /// - [`Error::Handle`] if the process cannot be pinned or inspected;
    ///   [`Error::Lock`] if the file cannot be inspected.
    pub fn handle(&self) -> Result<PidHandle, Error> {
        // 1. Pin: from here on, `handle` refers to the process that had the
        //    PID now, or is Gone.
        let handle = PidHandle::new(self.pid).map_err(|source| self.handle_error(source))?;
        // 2. Prove, on the inode the read opened.
        let meta = self.file.metadata().map_err(|source| {
            Error::Lock(pidkit_lockfile::Error::Io {
                path: self.path.clone(),
                op: pidkit_lockfile::Op::Read,
                source,
            })
        })?;
        let file = FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        };
        let proof = proof::holds_exclusive_flock(self.pid, file);
        // 3. The pinned process still runs: it had the PID throughout, so
        //    the `/proc/<pid>` read in step 2 was about it.
        match handle.state() {
            Ok(State::Running) => {}
            Ok(State::Exited | State::Gone) => return Err(self.gone()),
            Err(source) => return Err(self.handle_error(source)),
        }
        match proof {
            Proof::Holds => Ok(handle),
            // Nobody holds the file any more: the holder let go. Else someone
            // else holds it (a claim in progress, a reader, a stranger).
            Proof::DoesNotHold => match read_held_claim(&self.file, &self.path)? {
                None => Err(self.gone()),
                Some(_) => Err(Error::NotHolder {
                    path: self.path.clone(),
                    pid: self.pid,
                }),
            },
            Proof::Unavailable(source) => Err(Error::CannotVerify {
                path: self.path.clone(),
                pid: self.pid,
                source,
            }),
        }
    }

    /// Sends `signal` to the holder through a proven [`Owner::handle`].
    ///
    /// ```
    /// use pidkit_pidfile::{Error, PidFileRead, Signal, claim_for_current_process, read};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
    /// let guard = claim_for_current_process(&path)?;
    /// let PidFileRead::LockedByOtherProcess(owner) = read(&path)? else {
    ///     panic!("held");
    /// };
    /// owner.signal(Signal::ZERO)?; // the holder is there
    /// drop(guard);
    /// assert!(matches!(owner.signal(Signal::ZERO), Err(Error::Gone { .. })));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Owner::handle`], and [`Error::Handle`] if the signal cannot be sent
    /// (its source is [`pidkit_pidhandle::Error::Gone`] if the holder
    /// exited in between).
    pub fn signal(&self, signal: Signal) -> Result<(), Error> {
        self.handle()?
            .kill(signal)
            .map_err(|source| self.handle_error(source))
    }

    fn gone(&self) -> Error {
        Error::Gone {
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

/// Reads the pidfile at `path`: is it there, is it held, and which PID does
/// it name.
///
/// neon's read: one `open`, one `flock(LOCK_EX | LOCK_NB)`, one `pread` and a
/// `close`; never blocks on the lock and never creates the file. The content
/// is only parsed when the file is held; the content of an unheld file is
/// stale whatever text it is. A held file whose content is not a PID is read
/// again, with growing pauses, for up to [`DEFAULT_CLAIM_WAIT`] (a claim
/// caught between its truncation and its write); [`read_with_wait`] chooses
/// another bound. Bytes that are not UTF-8 text at all are an error, held or
/// not ([`pidkit_lockfile::Error::NotUtf8`]); a claim still replaces such a
/// file.
///
/// The PID of [`PidFileRead::LockedByOtherProcess`] is what the file names:
/// during a claim in progress that is still the previous holder's. The read
/// does not prove who holds the file (that costs a look at the holder's
/// descriptors); [`Owner::handle`] does.
///
/// ```
/// use pidkit_pidfile::{PidFileRead, claim_for_current_process, read};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
/// assert!(matches!(read(&path)?, PidFileRead::NotExist));
/// let _guard = claim_for_current_process(&path)?;
/// let PidFileRead::LockedByOtherProcess(owner) = read(&path)? else {
///     panic!("held");
/// };
/// assert_eq!(owner.pid(), std::process::id());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::BadContent`] if the file is held but its content stayed something
/// other than a PID (see [`parse_pid`]) for the whole wait, and
/// [`Error::Lock`] for the file itself (a symlink, a directory, content that
/// is not UTF-8, ...).
pub fn read(path: &Utf8Path) -> Result<PidFileRead, Error> {
    read_with_wait(path, DEFAULT_CLAIM_WAIT)
}

/// [`read`], re-reading a held file whose content is not a PID for up to
/// `wait` (instead of [`DEFAULT_CLAIM_WAIT`]). `Duration::ZERO` makes exactly
/// one attempt.
///
/// ```
/// use pidkit_pidfile::{Error, pidkit_lockfile, read_with_wait};
/// use std::time::Duration;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
/// // Held, but its content is not a pid: one attempt, then the error.
/// let claim = pidkit_lockfile::create_exclusive(&path)?;
/// let _held = claim.write_content("starting\n".to_owned())?;
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
            return Err(Error::BadContent {
                path: path.to_owned(),
                content,
            });
        };
        std::thread::sleep(pause);
    }
}

/// What one read of the pidfile found.
enum Attempt {
    Done(PidFileRead),
    /// Held, and the content is not a PID (yet).
    NotAPid(String),
}

/// One read of the pidfile.
fn attempt(path: &Utf8Path) -> Result<Attempt, Error> {
    Ok(Attempt::Done(match read_and_hold_lock_file(path)? {
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
            None => return Ok(Attempt::NotAPid(content)),
        },
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
        let e = Error::NotHolder {
            path: "/run/a.pid".into(),
            pid: 12,
        };
        assert_eq!(
            e.to_string(),
            "pid 12, named by pidfile /run/a.pid, does not hold its lock"
        );
        let e = Error::CannotVerify {
            path: "/run/a.pid".into(),
            pid: 13,
            source: io::Error::from_raw_os_error(13),
        };
        assert_eq!(
            e.to_string(),
            "cannot verify that pid 13 holds pidfile /run/a.pid: /proc/13/fd cannot be read here"
        );
        assert_eq!(e.path(), "/run/a.pid");
        let e = Error::Gone {
            path: "/run/a.pid".into(),
            pid: 9,
        };
        assert_eq!(
            e.to_string(),
            "pid 9, which held pidfile /run/a.pid, is gone or no longer holds it"
        );
        assert_eq!(e.path(), "/run/a.pid");
    }

    /// A claim that finds the file locked is AlreadyClaimed; other lock
    /// file errors pass through.
    #[test]
    fn claim_failures() {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::try_from(dir.path().join("a.pid")).unwrap();
        let e = claim_failure(&path, pidkit_lockfile::Error::Locked { path: path.clone() });
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
