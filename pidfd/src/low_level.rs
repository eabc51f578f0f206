//! Calls on bare PIDs, for the documented fallbacks only, the one
//! unchecked way to make a [`PidFd`] out of an fd, and what a helper thread
//! of the higher crates needs ([`block_signals`], [`Backoff`]).
//!
//! Everything else in pidkit reaches a process through a pidfd, which
//! cannot come to mean another process. The functions here take a bare
//! number, as `kill(2)` does, and so reach whatever process has that number
//! at the moment of the call. They exist for the fallbacks of the higher
//! crates on kernels without pidfds, where the caller has made the number
//! safe to use first: `pidkit-pidhandle` checks the process's start time
//! just before, `pidkit-monitor` signals only its own unreaped child (whose
//! number cannot be reused until it is reaped).

use std::io;
use std::time::{Duration, Instant};

use rustix::io::Errno;

use std::os::fd::OwnedFd;

use crate::{PidFd, Signal};

/// Sends `signal` to the process that has PID `pid` now, through
/// `kill(2)`; [`Signal::ZERO`] only checks that the process exists and may
/// be signalled.
///
/// This signals a bare number: if the process exited and was reaped, the
/// number may belong to another process, which gets the signal. Use it only
/// where that cannot happen (our own unreaped child) or where the caller
/// checked the process's identity just before and documents the window left
/// (the fallbacks of `pidkit-pidhandle` and `pidkit-monitor`); otherwise use
/// [`PidFd::kill`](crate::PidFd::kill).
///
/// # Errors
///
/// - [`io::ErrorKind::InvalidInput`] for a `pid` of 0 or above `i32::MAX`
///   ([`check_pid`](crate::check_pid));
/// - [`io::ErrorKind::Unsupported`] for a signal this path cannot send (the
///   real-time signals, which pidkit sends only through a pidfd), named in
///   the message;
/// - [`io::ErrorKind::NotFound`] when no process has the number (`ESRCH`);
/// - [`io::ErrorKind::PermissionDenied`] for `EPERM`.
///
/// ```
/// use pidkit_pidfd::{Signal, low_level::kill};
///
/// // Ourselves: a number nobody else can have while we run.
/// kill(std::process::id(), Signal::ZERO)?;
/// let rt = Signal::from_raw(40).unwrap();
/// let refused = kill(std::process::id(), rt).unwrap_err();
/// assert_eq!(refused.kind(), std::io::ErrorKind::Unsupported);
/// assert!(refused.to_string().contains("signal 40"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn kill(pid: u32, signal: Signal) -> io::Result<()> {
    let raw = crate::check_pid(pid)?;
    let target = rustix::process::Pid::from_raw(raw)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("invalid pid {pid}")))?;
    let result = if signal == Signal::ZERO {
        rustix::process::test_kill_process(target)
    } else {
        let Some(sig) = rustix::process::Signal::from_named_raw(signal.as_raw()) else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{signal} can only be sent through a pidfd, not to bare pid {pid}"),
            ));
        };
        rustix::process::kill_process(target, sig)
    };
    result.map_err(|e| match e {
        Errno::SRCH => io::Error::new(
            io::ErrorKind::NotFound,
            format!("no process has pid {pid} (kill: {})", io::Error::from(e)),
        ),
        e => io::Error::from(e),
    })
}

/// Wraps `fd` as a [`PidFd`] without checking that it is one.
///
/// For callers that made the fd themselves a moment ago with a call that
/// only ever returns a pidfd (a raw `pidfd_open`, `clone3` with
/// `CLONE_PIDFD`), where the check of [`PidFd::try_from`] would be a wasted
/// system call. For any fd that came from elsewhere (a socket, a parent,
/// std) use [`PidFd::try_from`], which refuses what is not a pidfd and
/// hands it back. Nothing unsafe follows from a wrong fd here: every call
/// on it fails (`EBADF`, `EINVAL`), but the failures will not say why.
///
/// ```
/// use pidkit_pidfd::{PidFd, Signal, low_level::pidfd_unchecked};
/// use std::os::fd::OwnedFd;
///
/// let made: OwnedFd = PidFd::open(std::process::id())?.into();
/// pidfd_unchecked(made).kill(Signal::ZERO)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn pidfd_unchecked(fd: OwnedFd) -> PidFd {
    PidFd::from_checked(fd)
}

/// The pause schedule of pidkit's polling loops, shared by its crates and not
/// part of the API: the first pause, then twice the previous one, never more
/// than a cap.
///
/// Polling is what remains where the kernel offers nothing to wait on: an
/// adopted process whose parent has not reaped it yet, a process group, a
/// claim in progress, the fallback without pidfds. Starting short keeps the
/// common case quick; doubling keeps a long wait cheap.
///
/// ```
/// use std::time::Duration;
/// use pidkit_pidfd::low_level::Backoff;
///
/// let ms = Duration::from_millis;
/// let mut pauses = Backoff::new(ms(1), ms(5));
/// let taken: Vec<_> = (0..5).map(|_| pauses.next_pause()).collect();
/// assert_eq!(taken, [ms(1), ms(2), ms(4), ms(5), ms(5)]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Pauses of `first`, doubling up to `max` (a `first` above `max` is
    /// `max`).
    ///
    /// ```
    /// use pidkit_pidfd::low_level::Backoff;
    /// use std::time::Duration;
    ///
    /// let ms = Duration::from_millis;
    /// assert_eq!(Backoff::new(ms(3), ms(10)).next_pause(), ms(3));
    /// // A first pause above the cap is the cap.
    /// assert_eq!(Backoff::new(ms(50), ms(10)).next_pause(), ms(10));
    /// ```
    pub const fn new(first: Duration, max: Duration) -> Backoff {
        let next = if first.as_nanos() > max.as_nanos() {
            max
        } else {
            first
        };
        Backoff { next, max }
    }

    /// The pause to take now; the next one is twice as long, up to the cap.
    ///
    /// ```
    /// use pidkit_pidfd::low_level::Backoff;
    /// use std::time::Duration;
    ///
    /// let mut b = Backoff::new(Duration::from_millis(4), Duration::from_millis(10));
    /// assert_eq!(b.next_pause(), Duration::from_millis(4));
    /// assert_eq!(b.next_pause(), Duration::from_millis(8));
    /// assert_eq!(b.next_pause(), Duration::from_millis(10));
    /// ```
    pub fn next_pause(&mut self) -> Duration {
        let now = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        now
    }

    /// [`Backoff::next_pause`], but never past `deadline`: the time left
    /// until it when that is shorter, and `None` once it has passed. With no
    /// deadline, always the next pause.
    ///
    /// ```
    /// use pidkit_pidfd::low_level::Backoff;
    /// use std::time::{Duration, Instant};
    ///
    /// let mut b = Backoff::new(Duration::from_millis(1), Duration::from_millis(8));
    /// assert_eq!(b.next_pause_before(None), Some(Duration::from_millis(1)));
    /// // A deadline that has passed: no more pauses.
    /// assert_eq!(b.next_pause_before(Some(Instant::now())), None);
    /// let far = Instant::now() + Duration::from_secs(3600);
    /// assert_eq!(b.next_pause_before(Some(far)), Some(Duration::from_millis(4)));
    /// ```
    pub fn next_pause_before(&mut self, deadline: Option<Instant>) -> Option<Duration> {
        let pause = self.next_pause();
        match deadline {
            None => Some(pause),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                (!left.is_zero()).then(|| pause.min(left))
            }
        }
    }
}

/// Makes every child that `cmd` spawns join the cgroup v2 whose
/// `cgroup.procs` file `cgroup_procs` is open for writing, before it runs
/// the program: the child writes `"0"` (itself) to it between fork and exec,
/// so the program and everything it starts are in that cgroup from their
/// first instruction. A refused write (`EACCES`, `EBUSY`, ...) fails the
/// spawn with that errno.
///
/// `cmd` keeps the descriptor for as long as it lives, and every later spawn
/// of it joins the same cgroup.
///
/// ```no_run
/// use std::fs::OpenOptions;
/// use std::process::Command;
///
/// # fn main() -> std::io::Result<()> {
/// let procs = OpenOptions::new().write(true).open("/sys/fs/cgroup/job/cgroup.procs")?;
/// let mut cmd = Command::new("true");
/// pidkit_pidfd::low_level::join_cgroup_before_exec(&mut cmd, procs.into());
/// cmd.status()?;
/// # Ok(())
/// # }
/// ```
pub fn join_cgroup_before_exec(
    cmd: &mut std::process::Command,
    cgroup_procs: std::os::fd::OwnedFd,
) {
    crate::sys::write_before_exec(cmd, cgroup_procs, b"0");
}

/// Blocks every signal that can be blocked in the calling thread (libc
/// keeps the few it needs for itself), so that signals sent to the process
/// are handled by its other threads.
///
/// For a library's own helper threads, such as `pidkit-monitor`'s reaper:
/// one that leaves signals unblocked is where the kernel delivers a
/// process-wide signal when the program's threads happen to block it (glibc
/// blocks every signal while `posix_spawn` waits for the child's exec, so
/// the `SIGCHLD` of a child exiting then wakes the helper for nothing), and
/// a program's signal handlers would run on a thread it does not know of.
/// Children spawned by `std::process::Command` start with no signal
/// blocked whichever thread spawns them.
///
/// ```
/// let blocked = std::thread::spawn(|| {
///     pidkit_pidfd::low_level::block_signals().unwrap();
///     let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
///     let mask = status.lines().find_map(|l| l.strip_prefix("SigBlk:")).unwrap();
///     u64::from_str_radix(mask.trim(), 16).unwrap()
/// })
/// .join()
/// .unwrap();
/// for sig in [libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGUSR1] {
///     assert_ne!(blocked & (1 << (sig - 1)), 0, "signal {sig} blocked");
/// }
/// ```
///
/// # Errors
///
/// The error of `pthread_sigmask`, which in practice does not fail.
pub fn block_signals() -> io::Result<()> {
    crate::sys::block_signals()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_what_was_refused() {
        let e = kill(0, Signal::ZERO).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("invalid pid 0"), "{e}");
        let e = kill(u32::MAX, Signal::TERM).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let rt = Signal::from_raw(libc::SIGRTMIN() + 1).unwrap();
        let e = kill(std::process::id(), rt).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        assert!(e.to_string().contains(&rt.to_string()), "{e}");
    }

    #[test]
    fn signals_a_child_and_says_not_found_for_a_free_number() {
        let _w = testkit::watchdog("kill", std::time::Duration::from_secs(60));
        let child = testkit::sleeper();
        kill(child.id(), Signal::ZERO).unwrap();
        kill(child.id(), Signal::KILL).unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().signal(), Some(libc::SIGKILL));
        // Above the kernel's largest pid_max (2^22): never a process's.
        let free = i32::MAX as u32;
        let e = kill(free, Signal::ZERO).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
        assert!(e.to_string().contains(&free.to_string()), "{e}");
    }

    proptest::proptest! {
        /// Every pause is at least the first (or the cap) and at most the
        /// cap, each is twice the one before until the cap, and the cap is
        /// reached and kept.
        #[test]
        fn backoff_doubles_to_the_cap(first in 0u64..10_000, max in 0u64..100_000) {
            let (first, max) = (Duration::from_micros(first), Duration::from_micros(max));
            let mut b = Backoff::new(first, max);
            let mut last: Option<Duration> = None;
            for _ in 0..64 {
                let p = b.next_pause();
                proptest::prop_assert!(p <= max);
                match last {
                    None => proptest::prop_assert_eq!(p, first.min(max)),
                    Some(l) => proptest::prop_assert_eq!(p, (l * 2).min(max)),
                }
                last = Some(p);
            }
            if !first.is_zero() {
                proptest::prop_assert_eq!(last, Some(max));
            }
        }
    }

    #[test]
    fn backoff_stops_at_the_deadline() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(10), ms(100));
        assert_eq!(b.next_pause_before(None), Some(ms(10)));
        let past = Instant::now() - ms(1);
        assert_eq!(b.next_pause_before(Some(past)), None);
        let far = Instant::now() + Duration::from_secs(3600);
        assert_eq!(b.next_pause_before(Some(far)), Some(ms(40)));
    }
}
