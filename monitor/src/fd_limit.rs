//! [`raise_fd_limit`]: room for more children than the usual soft limit of
//! open files allows.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

use crate::error::{Error, io_context};

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit and returns
/// the new soft limit.
///
/// Distributions start processes with a soft limit of 1024 open files, and a
/// monitored child costs one (its pidfd; two for the exit pipe without
/// pidfds), so a supervisor of more than about a thousand children needs
/// more; past the limit [`Monitor::start`](crate::Monitor::start) fails with [`Error::FdLimit`].
/// The hard limit (often 4096, or 524288 under systemd) can be raised only
/// with `CAP_SYS_RESOURCE`. Children inherit the raised soft limit; set it
/// back in `pre_exec` if a child relies on `select(2)` and its 1024-fd sets.
///
/// ```
/// let soft = pidkit_monitor::raise_fd_limit()?;
/// assert!(soft >= 1);
/// # Ok::<(), pidkit_monitor::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Io`] if `setrlimit` refuses.
pub fn raise_fd_limit() -> Result<u64, Error> {
    let lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: lim.maximum,
                maximum: lim.maximum,
            },
        )
        .map_err(|e| {
            io_context(
                "raising the soft RLIMIT_NOFILE of this process to its hard limit",
                e.into(),
            )
        })?;
    }
    Ok(lim.maximum.unwrap_or(u64::MAX))
}
