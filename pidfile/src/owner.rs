//! The holder a read found ([`Owner`]), and the kernel's proof that it
//! holds the pidfile ([`Owner::handle`]): pin, prove, check it still runs.

use std::fs::File;
use std::os::unix::fs::MetadataExt;

use camino::{Utf8Path, Utf8PathBuf};
use pidkit_lockfile::{Error as LockError, Op as LockOp, read_held_claim};
use pidkit_pidhandle::{Error as HandleError, PidHandle, Signal, State};

use crate::error::Error;
use crate::proof::{self, FileId, Proof};

/// The holder of a pidfile at the time of a [`read`](crate::read), as the file
/// names it.
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
    pub(crate) path: Utf8PathBuf,
    pub(crate) pid: u32,
    /// The file as the read opened it (not locked): [`Owner::handle`] proves
    /// the lock on this inode, even if the path was replaced since.
    pub(crate) file: File,
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
