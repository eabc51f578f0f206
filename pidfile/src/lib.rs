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
//! `pidkit-lockfile` gives the claim (an exclusive `flock` held for the
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
//! - **A refused claim names the running instance.** [`Error::AlreadyClaimed`]
//!   carries the holder as a [`PidHandle`] proven exactly as
//!   [`Owner::handle`] proves it, or the reason it could not be proven; and a
//!   claim or read of a pidfile this process holds itself says so
//!   ([`Error::HeldByThisProcess`], [`PidFileRead::HeldByThisProcess`]).
//! - **Stale content is kept.** [`PidFileRead::NotHeldByAnyProcess`] carries
//!   the file's bytes, whatever they are ([`parse_pid`] reads a PID from
//!   them), so the previous instance can still be named in a log line.
//!
//! # Errors
//!
//! One [`Error`], naming the pidfile (and the PID where there is one).
//! Everything about the file itself (a missing directory, a symlink, a
//! read-only file system, a failed write) is the lock file layer's error,
//! re-exported here as [`LockError`] (its step as [`LockOp`]) and carried in
//! [`Error::Lock`] with its own message; nothing else of the layers below
//! needs naming: [`PidHandle`], [`Identity`], [`Signal`], [`State`] and the
//! handle layer's error ([`HandleError`]) are re-exported too. A missing
//! directory, for example:
//!
//! ```
//! use camino::Utf8PathBuf;
//! use pidkit_pidfile::{claim_for_current_process, Error, LockError};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let path = Utf8PathBuf::try_from(dir.path().join("run/myservice/myservice.pid"))?;
//! let guard = match claim_for_current_process(&path) {
//!     Err(Error::Lock(LockError::MissingParent { .. })) => {
//!         std::fs::create_dir_all(path.parent().expect("a file in a directory"))?;
//!         claim_for_current_process(&path)?
//!     }
//!     other => other?,
//! };
//! assert_eq!(guard.path(), path.as_path());
//! # Ok(())
//! # }
//! ```
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
//! `pidkit-lockfile`'s docs ("Never unlink a lock file"). No
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
//!   [`PidFileGuard::keep_across_exec`] (an `exec` keeps the PID).
//! - **This process's own holds** are known only while their
//!   [`PidFileGuard`] lives in this program (a registry the lock file layer
//!   keeps in the process). A lock this process took without this crate,
//!   or a claim kept across `exec`, reads as another process's
//!   ([`PidFileRead::LockedByOtherProcess`] naming this process's own PID,
//!   which [`Owner::handle`] proves; [`Error::AlreadyClaimed`]).
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
//! - Everything in `pidkit-lockfile`'s limitations applies (advisory lock,
//!   local file systems, fork duplicates the lock).
//! - Linux only.
//!
//! # Example
//!
//! ```
//! use camino::Utf8PathBuf;
//! use pidkit_pidfile::{claim_for_current_process, parse_pid, read, Error, PidFileRead, Signal};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = Utf8PathBuf::try_from(dir.path().join("myservice.pid"))?;
//! # let daemon = testkit::sh(&format!("exec 9>>'{path}'; flock -x -n 9 || exit 3; echo $$ > '{path}'; exec sleep 1000"));
//! # testkit::wait_until(|| std::fs::read_to_string(&path).is_ok_and(|c| c == format!("{}\n", daemon.id())));
//!
//! // At start-up: become the instance, or learn who is. Here another
//! // instance runs (a daemon of any kind that holds the file and wrote its
//! // PID), and the refused claim names it, proven by the kernel.
//! match claim_for_current_process(&path) {
//!     Err(Error::AlreadyClaimed { holder: Ok(instance), .. }) => {
//!         // To replace it: signal it, wait for its end, claim again.
//!         instance.kill(Signal::TERM)?;
//!         instance.wait_exited()?;
//!     }
//!     Err(Error::AlreadyClaimed { pid, holder: Err(why), .. }) => {
//!         return Err(format!("claimed by {pid:?}, not proven: {why}").into())
//!     }
//!     other => return Err(format!("unexpected {other:?}").into()),
//! }
//!
//! // Its file stays behind, unheld: the claim takes it over.
//! let guard = claim_for_current_process(&path)?;
//! assert_eq!(std::fs::read_to_string(&path)?, format!("{}\n", std::process::id()));
//! // In this process, the pidfile is known to be ours.
//! assert!(matches!(read(&path)?, PidFileRead::HeldByThisProcess));
//!
//! // After the instance is gone the file stays, and reads as stale, with
//! // the content it had.
//! drop(guard);
//! match read(&path)? {
//!     PidFileRead::NotHeldByAnyProcess(_guard, stale) => {
//!         assert_eq!(parse_pid(&stale), Some(std::process::id()))
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
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
use pidkit_lockfile::{
    LockFileGuard, LockFileRead, create_exclusive, read_and_hold_lock_file, read_held_claim,
};
use pidkit_pidfd::low_level::Backoff;
use proof::{FileId, Proof};

/// The lock file layer's error, inside [`Error::Lock`] for everything about
/// the file itself (a missing directory, a symlink, a read-only file
/// system, a failed write), and the step that failed ([`LockError::op`]).
pub use pidkit_lockfile::{Error as LockError, Op as LockOp};
/// The process handle layer: [`Owner::handle`] and [`Error::AlreadyClaimed`]
/// give a [`PidHandle`], its [`Identity`] can be stored and restored, and
/// its error is the source of [`Error::Handle`] and [`Error::Kill`].
pub use pidkit_pidhandle::{Error as HandleError, Identity, PidHandle, Signal, State};

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

/// Everything that can go wrong with a pidfile.
///
/// The messages name the pidfile, and the PID or content where one is
/// involved; a variant with a [`source`](std::error::Error::source) says only
/// what was being done, and a variant whose cause is its name has none.
/// Everything about the file itself is the lock file layer's
/// [`LockError`], inside [`Error::Lock`]:
///
/// ```
/// use pidkit_pidfile::{Error, LockError, claim_for_current_process};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let path = camino::Utf8PathBuf::try_from(dir.path().join("missing/d.pid"))?;
/// let guard = match claim_for_current_process(&path) {
///     Err(Error::Lock(LockError::MissingParent { .. })) => {
///         std::fs::create_dir_all(path.parent().unwrap())?;
///         claim_for_current_process(&path)?
///     }
///     other => other?,
/// };
/// // Claimed again by this process: refused, and named as ours.
/// let err = claim_for_current_process(&path).unwrap_err();
/// assert!(matches!(err, Error::HeldByThisProcess { .. }));
/// assert_eq!(err.to_string(), format!("pidfile {path} is already claimed by this process"));
/// drop(guard);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another process holds the pidfile. `pid` is the PID the file names,
    /// if its content is one, read once right after the failed claim.
    /// `holder` is that process, proven to hold the lock exactly as
    /// [`Owner::handle`] proves it (pinned, its descriptors shown by the
    /// kernel to hold the exclusive `flock` on this file, still running), or
    /// why it could not be proven: [`Error::NotHolder`] or
    /// [`Error::BadContent`] during a claim in progress, [`Error::Gone`] if
    /// the holder let go or exited in between, [`Error::CannotVerify`] for
    /// another user's process, and so on. Kind:
    /// [`io::ErrorKind::WouldBlock`].
    #[error("pidfile {path} is already claimed by {}", HolderPid(*pid))]
    AlreadyClaimed {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The PID the file names, if its content is one (not verified).
        pid: Option<u32>,
        /// The holder, proven, or why it is not (both boxed, to keep the
        /// error small).
        holder: Result<Box<PidHandle>, Box<Error>>,
    },
    /// This process already holds the pidfile: a live [`PidFileGuard`] of
    /// its own (a claim, or the guard of a [`read`] that found it free).
    /// Waiting for it would wait for ourselves. Kind:
    /// [`io::ErrorKind::Deadlock`]. A lock of this process that the lock
    /// file layer does not know of (taken without it, or kept across
    /// `exec`) is [`Error::AlreadyClaimed`] instead.
    #[error("pidfile {path} is already claimed by this process")]
    HeldByThisProcess {
        /// The pidfile.
        path: Utf8PathBuf,
    },
    /// The pidfile is held, but its content is not a PID: after trimming
    /// whitespace it must be a decimal number in `1..=i32::MAX`. [`read`]
    /// reports it after re-reading for its whole wait (a claim caught between
    /// its truncation and its write reads as empty for a moment). Content
    /// that is not UTF-8 is shown with U+FFFD in place of what is not text.
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
    #[error("process {pid} is gone or no longer holds pidfile {path}")]
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
    #[error("cannot verify from /proc/{pid}/fd that pid {pid} holds pidfile {path}")]
    CannotVerify {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The PID the content names.
        pid: u32,
        /// What reading `/proc/<pid>/fd` reported.
        #[source]
        source: io::Error,
    },
    /// The holder, proven, may not be signalled by us (`EPERM`: another
    /// user's process). Kind: [`io::ErrorKind::PermissionDenied`].
    #[error("permission denied signalling pid {pid}, the holder of pidfile {path}")]
    PermissionDenied {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The holder's PID.
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
        source: HandleError,
    },
    /// The signal could not be sent to the proven holder for another reason
    /// than [`Error::Gone`] or [`Error::PermissionDenied`] (a real-time
    /// signal on the fallback without pidfds, an unexpected errno).
    #[error("cannot send {signal} to pid {pid}, the holder of pidfile {path}")]
    Kill {
        /// The pidfile.
        path: Utf8PathBuf,
        /// The holder's PID.
        pid: u32,
        /// The signal.
        signal: Signal,
        /// What [`PidHandle::kill`] reported.
        #[source]
        source: HandleError,
    },
    /// The pidfile could not be opened, locked, read or written; the inner
    /// error names the path and the failed step.
    #[error(transparent)]
    Lock(#[from] LockError),
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
            | Error::HeldByThisProcess { path }
            | Error::BadContent { path, .. }
            | Error::Gone { path, .. }
            | Error::NotHolder { path, .. }
            | Error::CannotVerify { path, .. }
            | Error::PermissionDenied { path, .. }
            | Error::Handle { path, .. }
            | Error::Kill { path, .. } => path,
            Error::Lock(e) => e.path(),
        }
    }

    /// The [`io::ErrorKind`] this error converts to (see the [`From`] impl):
    /// a claim refused because someone holds the file is
    /// [`WouldBlock`](io::ErrorKind::WouldBlock) (what a non-blocking `flock`
    /// says), one refused because this process holds it
    /// [`Deadlock`](io::ErrorKind::Deadlock) (waiting would never end), a
    /// holder that is gone [`NotFound`](io::ErrorKind::NotFound), a refused
    /// signal [`PermissionDenied`](io::ErrorKind::PermissionDenied), content
    /// that is not a pid or does not name the holder
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
    /// assert_eq!(io.to_string(), "process 9 is gone or no longer holds pidfile /run/d.pid");
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::AlreadyClaimed { .. } => io::ErrorKind::WouldBlock,
            Error::HeldByThisProcess { .. } => io::ErrorKind::Deadlock,
            Error::BadContent { .. } | Error::NotHolder { .. } => io::ErrorKind::InvalidData,
            Error::Gone { .. } => io::ErrorKind::NotFound,
            Error::PermissionDenied { .. } => io::ErrorKind::PermissionDenied,
            Error::CannotVerify { source, .. } => source.kind(),
            Error::Handle { source, .. } | Error::Kill { source, .. } => source.kind(),
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

/// Parses pidfile content, text or bytes: surrounding ASCII whitespace is
/// ignored, and what is left must be a decimal number (digits only, no sign)
/// in `1..=i32::MAX` (the one valid-PID rule, `pidkit_pidfd::check_pid`).
///
/// ```
/// use pidkit_pidfile::parse_pid;
/// assert_eq!(parse_pid("4711\n"), Some(4711));
/// assert_eq!(parse_pid(b"  42 \t"), Some(42));
/// assert_eq!(parse_pid("0"), None);
/// assert_eq!(parse_pid("-1"), None);
/// assert_eq!(parse_pid("+1"), None);
/// assert_eq!(parse_pid("2147483648"), None);
/// assert_eq!(parse_pid(""), None);
/// assert_eq!(parse_pid([b'1', 0xff]), None);
/// ```
pub fn parse_pid(content: impl AsRef<[u8]>) -> Option<u32> {
    let digits = content.as_ref().trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Only ASCII digits: text, and parsing can fail only by overflow.
    let pid: u32 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    pidkit_pidfd::check_pid(pid).ok().map(|_| pid)
}

/// Keeps a claim on a pidfile until it is dropped; dereferences to the open,
/// locked [`File`].
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
/// assert_eq!(guard.path(), path.as_path());
/// // The open file: "<pid>\n".
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
    /// The path the pidfile was opened at.
    ///
    /// ```
    /// use pidkit_pidfile::claim_for_current_process;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
    /// let guard = claim_for_current_process(&path)?;
    /// assert_eq!(guard.path(), path.as_path());
    /// # Ok(())
    /// # }
    /// ```
    pub fn path(&self) -> &Utf8Path {
        self.0.path()
    }

    /// Clears the close-on-exec flag of the locked descriptor, so that a
    /// program this process `exec`s keeps holding the claim: the daemon
    /// pattern (a launcher forks, the child claims, calls this and `exec`s
    /// the daemon, which keeps the PID the file names and the lock).
    ///
    /// Every program this process `exec`s or spawns afterwards inherits the
    /// descriptor, and each copy keeps the lock alive. The `exec`ed program
    /// does not know the lock is its own: its claims and reads of the file
    /// see [`Error::AlreadyClaimed`] and [`PidFileRead::LockedByOtherProcess`]
    /// (naming its own PID, which [`Owner::handle`] proves).
    ///
    /// ```
    /// use pidkit_pidfile::claim_for_current_process;
    /// use std::os::fd::AsRawFd;
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
    /// let guard = claim_for_current_process(&path)?;
    /// let inherited = |fd: i32| Command::new("test").arg("-e").arg(format!("/proc/self/fd/{fd}")).status();
    /// assert!(!inherited(guard.as_raw_fd())?.success()); // close-on-exec by default
    /// guard.keep_across_exec()?;
    /// assert!(inherited(guard.as_raw_fd())?.success());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Lock`] with [`LockError::Io`] and [`LockOp::KeepAcrossExec`]
    /// if `fcntl(F_SETFD)` fails.
    pub fn keep_across_exec(&self) -> Result<(), Error> {
        Ok(self.0.keep_across_exec()?)
    }
}

impl Deref for PidFileGuard {
    type Target = File;

    fn deref(&self) -> &File {
        &self.0
    }
}

/// Claims `path` as the pidfile of the current process.
///
/// Opens (creating if needed, mode 0644) and locks the file
/// (`flock(LOCK_EX | LOCK_NB)`, without `O_TRUNC`), so a failed claim leaves
/// the holder's file untouched; then replaces the content with this
/// process's PID in decimal and a newline and `fsync`s the file and its
/// directory. The exclusive lock stays for as long as the guard lives:
/// `lslocks` shows a WRITE lock, `pgrep -F path -L`, `pkill -F path -L` and
/// `start-stop-daemon --pidfile path` find this process, and `flock -n path`
/// fails. If any step fails, the lock is released before the error is
/// returned.
///
/// Keep the returned guard alive for as long as this process is the instance.
///
/// ```
/// use pidkit_pidfile::{Error, Signal, claim_for_current_process};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
/// # let daemon = testkit::sh(&format!("exec 9>>'{path}'; flock -x -n 9 || exit 3; echo $$ > '{path}'; exec sleep 1000"));
/// # testkit::wait_until(|| std::fs::read_to_string(&path).is_ok_and(|c| c == format!("{}\n", daemon.id())));
/// // Another instance runs: it is named, proven, and can be signalled.
/// match claim_for_current_process(&path) {
///     Err(Error::AlreadyClaimed { holder: Ok(instance), .. }) => {
///         assert_eq!(instance.pid(), daemon.id());
///         instance.kill(Signal::TERM)?;
///         instance.wait_exited()?;
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// // It is gone, and its file stays behind, unheld: the claim takes it over.
/// let guard = claim_for_current_process(&path)?;
/// assert_eq!(std::fs::read_to_string(&path)?, format!("{}\n", std::process::id()));
/// drop(guard);
/// assert!(path.exists());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::AlreadyClaimed`] when another process holds the pidfile, with the
/// PID the file names and the holder proven or the reason it is not;
/// [`Error::HeldByThisProcess`] when this process does. [`Error::Lock`] for
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
/// [`Error::AlreadyClaimed`], this process holding it
/// [`Error::HeldByThisProcess`].
fn claim_failure(path: &Utf8Path, error: LockError) -> Error {
    match error {
        LockError::Locked { .. } => {
            let (pid, holder) = holder_now(path);
            Error::AlreadyClaimed {
                path: path.to_owned(),
                pid,
                holder: holder.map(Box::new).map_err(Box::new),
            }
        }
        LockError::HeldByThisProcess { .. } => Error::HeldByThisProcess {
            path: path.to_owned(),
        },
        other => other.into(),
    }
}

/// One read without waiting, and the proof of [`Owner::handle`]: the PID the
/// file names, if its content is one, and its proven holder or why there is
/// none.
fn holder_now(path: &Utf8Path) -> (Option<u32>, Result<PidHandle, Error>) {
    let bad_content = |content: &[u8]| Error::BadContent {
        path: path.to_owned(),
        content: String::from_utf8_lossy(content).into_owned(),
    };
    match attempt(path) {
        Ok(Attempt::Done(PidFileRead::LockedByOtherProcess(owner))) => {
            (Some(owner.pid), owner.handle())
        }
        Ok(Attempt::NotAPid(content)) => (None, Err(bad_content(&content))),
        // The holder let go since the claim failed; dropping the guard
        // releases the file at once.
        Ok(Attempt::Done(PidFileRead::NotHeldByAnyProcess(_guard, content))) => {
            match parse_pid(&content) {
                Some(pid) => (
                    Some(pid),
                    Err(Error::Gone {
                        path: path.to_owned(),
                        pid,
                    }),
                ),
                None => (None, Err(bad_content(&content))),
            }
        }
        Ok(Attempt::Done(PidFileRead::HeldByThisProcess)) => (
            Some(std::process::id()),
            Err(Error::HeldByThisProcess {
                path: path.to_owned(),
            }),
        ),
        // Unlinked since the claim failed (which pidfiles never should be).
        Ok(Attempt::Done(PidFileRead::NotExist)) => (
            None,
            Err(Error::Lock(LockError::Io {
                path: path.to_owned(),
                op: LockOp::Open,
                source: io::ErrorKind::NotFound.into(),
            })),
        ),
        Err(e) => (None, Err(e)),
    }
}

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

/// The holder of a pidfile at the time of a [`read`], as the file names it.
///
/// [`Owner::pid`] is the number the file held; it is not verified. During a
/// claim in progress it is the previous holder's, the holder may exit at any
/// moment after the read, and a file written by another program may name
/// anything. Use [`Owner::handle`] (or [`Owner::kill`]) to act on the
/// process: it gives a handle only when the kernel shows that this very
/// process holds the lock on this very file.
///
/// ```
/// use pidkit_pidfile::{PidFileRead, State, read};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
/// # let daemon = testkit::sh(&format!("exec 9>>'{path}'; flock -x -n 9 || exit 3; echo $$ > '{path}'; exec sleep 1000"));
/// # testkit::wait_until(|| std::fs::read_to_string(&path).is_ok_and(|c| c == format!("{}\n", daemon.id())));
/// // A daemon holds the pidfile.
/// let PidFileRead::LockedByOtherProcess(owner) = read(&path)? else {
///     panic!("held");
/// };
/// assert_eq!(owner.pid(), daemon.id()); // as the file says
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
    /// use pidkit_pidfile::{PidFileRead, read};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
    /// std::fs::write(&path, "4711\n")?;
    /// // Held by a program that wrote some other PID than its own.
    /// # let _holder = testkit::sh(&format!("exec 9<'{path}'; flock -x -n 9 || exit 3; echo >'{path}.ready'; exec sleep 1000"));
    /// # testkit::wait_until(|| std::path::Path::new(&format!("{path}.ready")).exists());
    /// let PidFileRead::LockedByOtherProcess(owner) = read(&path)? else { panic!("held") };
    /// assert_eq!(owner.pid(), 4711);
    /// # Ok(())
    /// # }
    /// ```
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The pidfile.
    ///
    /// ```
    /// use pidkit_pidfile::{PidFileRead, read};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
    /// # let daemon = testkit::sh(&format!("exec 9>>'{path}'; flock -x -n 9 || exit 3; echo $$ > '{path}'; exec sleep 1000"));
    /// # testkit::wait_until(|| std::fs::read_to_string(&path).is_ok_and(|c| c == format!("{}\n", daemon.id())));
    /// let PidFileRead::LockedByOtherProcess(owner) = read(&path)? else { panic!("held") };
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
    /// use pidkit_pidfile::{Error, PidFileRead, Signal, read};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
    /// # let daemon = testkit::sh(&format!("exec 9>>'{path}'; flock -x -n 9 || exit 3; echo $$ > '{path}'; exec sleep 1000"));
    /// # testkit::wait_until(|| std::fs::read_to_string(&path).is_ok_and(|c| c == format!("{}\n", daemon.id())));
    /// let PidFileRead::LockedByOtherProcess(owner) = read(&path)? else {
    ///     panic!("held");
    /// };
    /// let handle = owner.handle()?;
    /// assert_eq!(handle.pid(), daemon.id());
    /// // Once the holder is gone, nobody is proven to hold it.
    /// handle.kill(Signal::KILL)?;
    /// handle.wait_exited()?;
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
        let meta = self.file.metadata().map_err(|source| LockError::Io {
            path: self.path.clone(),
            op: LockOp::Read,
            source,
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
    /// use pidkit_pidfile::{Error, PidFileRead, Signal, read};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = camino::Utf8PathBuf::try_from(dir.path().join("d.pid"))?;
    /// # let mut daemon = testkit::sh(&format!("exec 9>>'{path}'; flock -x -n 9 || exit 3; echo $$ > '{path}'; exec sleep 1000"));
    /// # testkit::wait_until(|| std::fs::read_to_string(&path).is_ok_and(|c| c == format!("{}\n", daemon.id())));
    /// let PidFileRead::LockedByOtherProcess(owner) = read(&path)? else {
    ///     panic!("held");
    /// };
    /// owner.kill(Signal::ZERO)?; // the holder is there
    /// owner.kill(Signal::TERM)?;
    /// # daemon.child_mut().wait()?;
    /// assert!(matches!(owner.kill(Signal::ZERO), Err(Error::Gone { .. })));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Owner::handle`]; then [`Error::Gone`] if the holder exited in
    /// between, [`Error::PermissionDenied`] if we may not signal it, and
    /// [`Error::Kill`] for any other failure to send the signal.
    pub fn kill(&self, signal: Signal) -> Result<(), Error> {
        self.handle()?.kill(signal).map_err(|source| match source {
            HandleError::Gone { .. } => self.gone(),
            HandleError::PermissionDenied { .. } => Error::PermissionDenied {
                path: self.path.clone(),
                pid: self.pid,
            },
            source => Error::Kill {
                path: self.path.clone(),
                pid: self.pid,
                signal,
                source,
            },
        })
    }

    fn gone(&self) -> Error {
        Error::Gone {
            path: self.path.clone(),
            pid: self.pid,
        }
    }

    fn handle_error(&self, source: HandleError) -> Error {
        match source {
            HandleError::Gone { .. } => self.gone(),
            source => Error::Handle {
                path: self.path.clone(),
                pid: self.pid,
                source,
            },
        }
    }
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
            return Err(Error::BadContent {
                path: path.to_owned(),
                content: String::from_utf8_lossy(&content).into_owned(),
            });
        };
        std::thread::sleep(pause);
    }
}

/// What one read of the pidfile found.
enum Attempt {
    Done(PidFileRead),
    /// Held by another process, and the content is not a PID (yet).
    NotAPid(Vec<u8>),
}

/// One read of the pidfile.
fn attempt(path: &Utf8Path) -> Result<Attempt, Error> {
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

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn path() -> Utf8PathBuf {
        "/run/a.pid".into()
    }

    /// Every variant's message, and the rule that a message never repeats
    /// its source.
    #[test]
    fn messages_name_the_pid_and_path_and_never_repeat_the_source() {
        let cases: Vec<(Error, &str)> = vec![
            (
                Error::AlreadyClaimed {
                    path: path(),
                    pid: Some(7),
                    holder: Err(Box::new(Error::Gone {
                        path: path(),
                        pid: 7,
                    })),
                },
                "pidfile /run/a.pid is already claimed by pid 7",
            ),
            (
                Error::AlreadyClaimed {
                    path: path(),
                    pid: None,
                    holder: Err(Box::new(Error::BadContent {
                        path: path(),
                        content: String::new(),
                    })),
                },
                "pidfile /run/a.pid is already claimed by another process",
            ),
            (
                Error::HeldByThisProcess { path: path() },
                "pidfile /run/a.pid is already claimed by this process",
            ),
            (
                Error::BadContent {
                    path: path(),
                    content: "x\n".into(),
                },
                "pidfile /run/a.pid holds \"x\\n\", which is not a pid",
            ),
            (
                Error::Gone {
                    path: path(),
                    pid: 9,
                },
                "process 9 is gone or no longer holds pidfile /run/a.pid",
            ),
            (
                Error::NotHolder {
                    path: path(),
                    pid: 12,
                },
                "pid 12, named by pidfile /run/a.pid, does not hold its lock",
            ),
            (
                Error::CannotVerify {
                    path: path(),
                    pid: 13,
                    source: io::Error::from_raw_os_error(13),
                },
                "cannot verify from /proc/13/fd that pid 13 holds pidfile /run/a.pid",
            ),
            (
                Error::PermissionDenied {
                    path: path(),
                    pid: 14,
                },
                "permission denied signalling pid 14, the holder of pidfile /run/a.pid",
            ),
            (
                Error::Handle {
                    path: path(),
                    pid: 15,
                    source: HandleError::Io {
                        context: "reading /proc/15/stat".into(),
                        source: io::Error::from_raw_os_error(5),
                    },
                },
                "cannot pin pid 15, the holder of pidfile /run/a.pid",
            ),
            (
                Error::Kill {
                    path: path(),
                    pid: 16,
                    signal: Signal::TERM,
                    source: HandleError::Unsupported {
                        pid: 16,
                        reason: "real-time signal".into(),
                    },
                },
                "cannot send SIGTERM to pid 16, the holder of pidfile /run/a.pid",
            ),
            (
                Error::Lock(LockError::PermissionDenied {
                    path: path(),
                    op: LockOp::Open,
                }),
                "cannot open lock file /run/a.pid: permission denied",
            ),
        ];
        for (e, want) in cases {
            let text = e.to_string();
            assert_eq!(text, want);
            assert_eq!(e.path(), "/run/a.pid");
            assert_eq!(text, text.to_lowercase().replace("sigterm", "SIGTERM"));
            // Each cause in the chain is said once.
            let mut source = e.source();
            while let Some(s) = source {
                assert!(!text.contains(&s.to_string()), "{text} repeats {s}");
                source = s.source();
            }
            let kind = e.kind();
            let io: io::Error = e.into();
            assert_eq!((io.kind(), io.to_string()), (kind, text));
        }
        let long = "y".repeat(100);
        let e = Error::BadContent {
            path: path(),
            content: long,
        };
        assert!(
            e.to_string()
                .ends_with("(and 36 more bytes), which is not a pid"),
            "{e}"
        );
    }

    #[test]
    fn kinds() {
        let cases = [
            (
                Error::AlreadyClaimed {
                    path: path(),
                    pid: None,
                    holder: Err(Box::new(Error::HeldByThisProcess { path: path() })),
                },
                io::ErrorKind::WouldBlock,
            ),
            (
                Error::HeldByThisProcess { path: path() },
                io::ErrorKind::Deadlock,
            ),
            (
                Error::Gone {
                    path: path(),
                    pid: 1,
                },
                io::ErrorKind::NotFound,
            ),
            (
                Error::PermissionDenied {
                    path: path(),
                    pid: 1,
                },
                io::ErrorKind::PermissionDenied,
            ),
            (
                Error::NotHolder {
                    path: path(),
                    pid: 1,
                },
                io::ErrorKind::InvalidData,
            ),
            (
                Error::Lock(LockError::MissingParent { path: path() }),
                io::ErrorKind::NotFound,
            ),
        ];
        for (e, kind) in cases {
            assert_eq!(e.kind(), kind, "{e}");
        }
    }

    /// A claim that finds the file locked by another is AlreadyClaimed, by
    /// this process HeldByThisProcess; other lock file errors pass through
    /// as they are.
    #[test]
    fn claim_failures() {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::try_from(dir.path().join("a.pid")).unwrap();
        let e = claim_failure(&path, LockError::Locked { path: path.clone() });
        assert!(
            matches!(&e, Error::AlreadyClaimed { path: p, pid: None, holder: Err(_) } if *p == path),
            "{e:?}"
        );
        let e = claim_failure(&path, LockError::HeldByThisProcess { path: path.clone() });
        assert!(
            matches!(&e, Error::HeldByThisProcess { path: p } if *p == path),
            "{e:?}"
        );
        let e = claim_failure(&path, LockError::MissingParent { path: path.clone() });
        assert!(
            matches!(&e, Error::Lock(LockError::MissingParent { .. })),
            "{e:?}"
        );
    }

    #[test]
    fn parse_pid_takes_text_and_bytes_alike() {
        for (content, want) in [
            (&b"1\n"[..], Some(1)),
            (b" 2147483647 ", Some(i32::MAX as u32)),
            (b"2147483648", None),
            (b"0", None),
            (b"\xff1", None),
            (b"1 2", None),
            (b"", None),
        ] {
            assert_eq!(parse_pid(content), want, "{content:?}");
            if let Ok(text) = std::str::from_utf8(content) {
                assert_eq!(parse_pid(text), want, "{text:?}");
            }
        }
    }
}
