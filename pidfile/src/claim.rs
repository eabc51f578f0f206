//! Claiming a pidfile for this process ([`claim_for_current_process`]), and
//! a refused claim's proof of who holds it.

use std::io;

use camino::Utf8Path;
use pidkit_lockfile::{Error as LockError, Op as LockOp, create_exclusive};
use pidkit_pidhandle::PidHandle;

use crate::content::{parse_pid, pid_line};
use crate::error::Error;
use crate::guard::PidFileGuard;
use crate::reading::{Attempt, PidFileRead, attempt};

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
        .write_content(pid_line(std::process::id()))
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

/// One read without waiting, and the proof of
/// [`Owner::handle`](crate::Owner::handle): the PID the file names, if its
/// content is one, and its proven holder or why there is none.
fn holder_now(path: &Utf8Path) -> (Option<u32>, Result<PidHandle, Error>) {
    match attempt(path) {
        Ok(Attempt::Done(PidFileRead::LockedByOtherProcess(owner))) => {
            (Some(owner.pid), owner.handle())
        }
        Ok(Attempt::NotAPid(content)) => (None, Err(Error::bad_content(path, &content))),
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
                None => (None, Err(Error::bad_content(path, &content))),
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

#[cfg(test)]
mod tests {
    use camino::Utf8PathBuf;

    use super::*;

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
}
