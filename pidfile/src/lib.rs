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

mod claim;
mod content;
mod error;
mod guard;
mod owner;
mod proof;
mod reading;

pub use claim::claim_for_current_process;
pub use content::parse_pid;
pub use error::Error;
pub use guard::PidFileGuard;
pub use owner::Owner;
/// The lock file layer's error, inside [`Error::Lock`] for everything about
/// the file itself (a missing directory, a symlink, a read-only file
/// system, a failed write), and the step that failed ([`LockError::op`]).
pub use pidkit_lockfile::{Error as LockError, Op as LockOp};
/// The process handle layer: [`Owner::handle`] and [`Error::AlreadyClaimed`]
/// give a [`PidHandle`], its [`Identity`] can be stored and restored, and
/// its error is the source of [`Error::Handle`] and [`Error::Kill`].
pub use pidkit_pidhandle::{Error as HandleError, Identity, PidHandle, Signal, State};
pub use reading::{DEFAULT_CLAIM_WAIT, PidFileRead, read, read_with_wait};
