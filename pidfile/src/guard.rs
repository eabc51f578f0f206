//! The claim's guard, [`PidFileGuard`]: the open, locked pidfile, released
//! when it is dropped and never unlinked.

use std::fs::File;
use std::ops::Deref;

use camino::Utf8Path;
use pidkit_lockfile::LockFileGuard;

use crate::error::Error;

/// Keeps a claim on a pidfile until it is dropped; dereferences to the open,
/// locked [`File`].
///
/// Returned by [`claim_for_current_process`](crate::claim_for_current_process),
/// and by [`read`](crate::read) for a pidfile that nobody held. Dropping it
/// releases the lock; it never removes the file. To keep the claim for the rest
/// of the process's life, keep the guard alive (for example in `main`, or with
/// [`std::mem::forget`]).
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
pub struct PidFileGuard(pub(crate) LockFileGuard);

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
    /// does not know the lock is its own: its claims and reads of the file see
    /// [`Error::AlreadyClaimed`] and
    /// [`PidFileRead::LockedByOtherProcess`](crate::PidFileRead::LockedByOtherProcess)
    /// (naming its own PID, which [`Owner::handle`](crate::Owner::handle)
    /// proves).
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
    /// [`Error::Lock`] with [`LockError::Io`](crate::LockError::Io) and
    /// [`LockOp::KeepAcrossExec`](crate::LockOp::KeepAcrossExec) if
    /// `fcntl(F_SETFD)` fails.
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
