//! One watched process: its set-once outcome and the reaping protocol.
//!
//! Every path that reaps (the epoll reaper, a waiting caller, a
//! `start_locked` thread, a fallback watcher thread) does so while holding the
//! entry's mutex, and only after checking that no outcome is recorded yet; the
//! first one records the [`Outcome`], the others find it. `kill` holds the same
//! mutex, so it can never run between "reaped" and "recorded".

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError, Weak};
use std::task::Waker;
use std::time::{Duration, Instant, SystemTime};

use pidkit_pidfd::low_level::Backoff;
use pidkit_pidfd::{PidFd, Signal, probe};
use rustix::io::Errno;

use crate::error::{Error, io_context, signal_error};
use crate::exit::Exit;
use crate::fallback::{self, ExitPipe, Reap};
use crate::timers::{RETRY_MAX, RETRY_MIN};

/// Whose process it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Our child: we reap it with `waitid`.
    Child,
    /// Someone else's child ([`Monitor::adopt`](crate::Monitor::adopt)): we
    /// see its exit through the pidfd and its status through
    /// `PIDFD_INFO_EXIT`.
    Adopted,
}

/// How the exit is noticed.
#[derive(Debug)]
pub(crate) enum Watch {
    /// Through the pidfd, readable once the process exited. Shared so that
    /// an async waiter can register it with its runtime's reactor.
    Pidfd(Arc<PidFd>),
    /// Without a pidfd (the fallback, in the `fallback` module): a watcher
    /// thread blocks in `waitid(P_PID, WNOWAIT)`; the pipe becomes readable
    /// when the outcome is recorded.
    Pipe(ExitPipe),
}

/// What finally became of the process. Set once.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Outcome {
    Exited(Exit),
    /// An adopted process exited; the kernel does not tell its status.
    StatusUnavailable,
    /// Our child was reaped by someone else and its status is gone.
    ReapedElsewhere,
}

/// Whether [`Entry::resolve`] settled the outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Done,
    NotYet,
}

/// What an entry asks of the reaper it is registered with (the epoll
/// reaper, `reaper::Shared`), under the entry's lock.
pub(crate) trait Reaper: Send + Sync {
    /// Takes the pidfd out of the epoll set; not being there is no error.
    fn unwatch(&self, fd: &PidFd);
    /// Puts the pidfd of `token` back into the epoll set, or, if the set
    /// refuses, hands the entry to the retry timers.
    fn rewatch(&self, token: u64, fd: &PidFd);
    /// Drops the settled entry of `token` from the table.
    fn forget(&self, token: u64);
}

/// Tasks to wake when an entry's outcome is recorded, by waiter key (async
/// waiters that left the reaping to the monitor; the `tokio` module adds
/// and removes them).
pub(crate) type Tasks = Mutex<Vec<(u64, Waker)>>;

/// One watched process.
#[derive(Debug)]
pub(crate) struct Entry {
    pid: u32,
    kind: Kind,
    watch: Watch,
    outcome: Mutex<Option<Outcome>>,
    cond: Condvar,
    /// Threads asleep on `cond`, so that a record with none (the common
    /// case: waiters wait on the pidfd) makes no `futex` call. Changed under
    /// the entry's lock, as the record is made.
    sleeping: AtomicUsize,
    /// Threads blocked on the pidfd in [`Entry::wait_deadline`] and async
    /// waiters, about to reap the process themselves; the reaper thread
    /// leaves it to them. Changed under the entry's lock.
    waiters: AtomicUsize,
    /// The reaper this entry is registered with, and its token there.
    registration: OnceLock<(Weak<dyn Reaper>, u64)>,
    /// Whether the pidfd may be in the reaper's epoll set: `false` only once
    /// it is certainly out. Changed under the entry's lock.
    in_reaper_set: AtomicBool,
    /// Tasks to wake when the outcome is recorded.
    pub(crate) tasks: Tasks,
}

impl Entry {
    pub(crate) fn new(pid: u32, kind: Kind, watch: Watch) -> Entry {
        Entry {
            pid,
            kind,
            watch,
            outcome: Mutex::new(None),
            cond: Condvar::new(),
            sleeping: AtomicUsize::new(0),
            waiters: AtomicUsize::new(0),
            registration: OnceLock::new(),
            in_reaper_set: AtomicBool::new(false),
            tasks: Tasks::default(),
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// The pidfd, shared so that an async waiter can register it with its
    /// runtime's reactor.
    pub(crate) fn pidfd(&self) -> Option<&Arc<PidFd>> {
        match &self.watch {
            Watch::Pidfd(fd) => Some(fd),
            Watch::Pipe(_) => None,
        }
    }

    /// Records that `reaper` watches this entry's pidfd under `token` (its
    /// epoll set holds it from now on).
    pub(crate) fn registered(&self, reaper: Weak<dyn Reaper>, token: u64) {
        let slot = self.lock();
        if self.registration.set((reaper, token)).is_ok() {
            self.in_reaper_set.store(true, Ordering::SeqCst);
            if slot.is_some() {
                // Settled before registration finished: nothing to watch.
                self.leave_reaper();
            }
        }
    }

    /// A waiter that reaps the process itself arrives (`_slot`: the entry's
    /// lock is held): a thread in [`Entry::wait_deadline`] or an async
    /// waiter. The first one takes the pidfd out of the reaper's epoll set,
    /// so that the exit wakes only the waiters, not the reaper thread too
    /// (one context switch less per waited process).
    pub(crate) fn waiter_arrives(&self, _slot: &Option<Outcome>) {
        if self.waiters.fetch_add(1, Ordering::SeqCst) == 0 {
            if let (Some(shared), Some(fd)) = (self.reaper(), self.pidfd()) {
                if self.in_reaper_set.load(Ordering::SeqCst) {
                    shared.unwatch(fd);
                    self.in_reaper_set.store(false, Ordering::SeqCst);
                }
            }
        }
    }

    /// A waiter leaves (`slot`: under the entry's lock). The last one hands
    /// an unsettled process back to the reaper's epoll set (a settled one
    /// left the reaper when its outcome was recorded).
    pub(crate) fn waiter_leaves(&self, slot: &Option<Outcome>) {
        if self.waiters.fetch_sub(1, Ordering::SeqCst) != 1 || slot.is_some() {
            return;
        }
        let (Some(shared), Some(fd)) = (self.reaper(), self.pidfd()) else {
            return;
        };
        let Some(&(_, token)) = self.registration.get() else {
            return;
        };
        if !self.in_reaper_set.load(Ordering::SeqCst) {
            // Marked first: if the add fails, the pidfd is not in the set
            // and `rewatch` has handed the entry to the reaper's timers.
            self.in_reaper_set.store(true, Ordering::SeqCst);
            shared.rewatch(token, fd);
        }
    }

    /// Takes a settled entry out of its reaper, under the entry's lock: its
    /// pidfd out of the epoll set if it may be there, then the entry out of
    /// the table, so that whoever finds the outcome recorded finds the
    /// entry gone from [`Monitor::watched`](crate::Monitor::watched) too,
    /// and the reaper never hears of it again.
    fn leave_reaper(&self) {
        let Some(shared) = self.reaper() else {
            return;
        };
        if self.in_reaper_set.load(Ordering::SeqCst) {
            if let Some(fd) = self.pidfd() {
                shared.unwatch(fd);
            }
            self.in_reaper_set.store(false, Ordering::SeqCst);
        }
        if let Some(&(_, token)) = self.registration.get() {
            shared.forget(token);
        }
    }

    /// The reaper this entry is registered with, while it runs.
    fn reaper(&self) -> Option<Arc<dyn Reaper>> {
        self.registration
            .get()
            .and_then(|(shared, _)| shared.upgrade())
    }

    pub(crate) fn exit_fd(&self) -> BorrowedFd<'_> {
        match &self.watch {
            Watch::Pidfd(fd) => fd.as_fd(),
            Watch::Pipe(pipe) => pipe.exit_fd(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Option<Outcome>> {
        self.outcome.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lock, unless another thread holds it.
    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, Option<Outcome>>> {
        match self.outcome.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Whether a thread is waiting on the pidfd to reap the process itself.
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::SeqCst) > 0
    }

    fn record(&self, slot: &mut Option<Outcome>, outcome: Outcome) {
        *slot = Some(outcome);
        self.leave_reaper();
        if self.sleeping.load(Ordering::SeqCst) > 0 {
            self.cond.notify_all();
        }
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for (_, task) in tasks {
            task.wake();
        }
        if let Watch::Pipe(pipe) = &self.watch {
            pipe.close();
        }
    }

    fn exited(&self, slot: &mut Option<Outcome>, status: std::process::ExitStatus) {
        let exit = Exit {
            timestamp: SystemTime::now(),
            pid: self.pid,
            status,
        };
        self.record(slot, Outcome::Exited(exit));
    }

    /// Turns an outcome into what `wait` answers.
    pub(crate) fn answer(&self, outcome: Outcome) -> Result<Exit, Error> {
        match outcome {
            Outcome::Exited(exit) => Ok(exit),
            Outcome::StatusUnavailable => Err(Error::StatusUnavailable { pid: self.pid }),
            Outcome::ReapedElsewhere => Err(Error::ReapedElsewhere { pid: self.pid }),
        }
    }

    /// A failure to learn whether the process exited (`waitid`, `poll`, the
    /// pidfd's info), in the crate's words.
    pub(crate) fn wait_error(&self, source: io::Error) -> Error {
        io_context(format!("waiting for process {}", self.pid), source)
    }

    /// Tries, without blocking, to settle the outcome. Must be called with
    /// the entry's lock held (`slot` is the guarded value). `exited`: the
    /// caller knows the process has exited (its pidfd polled readable).
    ///
    /// For a [`Watch::Pipe`] entry only its watcher thread may call this with
    /// the child possibly exited: it is the only reaper of that entry (see
    /// [`Entry::watch_until_done`]).
    pub(crate) fn resolve(&self, slot: &mut Option<Outcome>, exited: bool) -> io::Result<Step> {
        if slot.is_some() {
            return Ok(Step::Done);
        }
        match &self.watch {
            // For an adopted process too: one that has been reparented to us
            // (we are a child subreaper, like a container shim) is ours to
            // reap now.
            Watch::Pidfd(fd) => match fd.try_wait() {
                Ok(Some(status)) => {
                    self.exited(slot, status);
                    Ok(Step::Done)
                }
                Ok(None) => Ok(Step::NotYet),
                // Not our child: an adopted process, or our child reaped by
                // someone else although no outcome is recorded. The kernel
                // may have its status for pidfd holders.
                Err(e) if e.raw_os_error() == Some(Errno::CHILD.raw_os_error()) => {
                    self.resolve_by_info(fd, slot, exited || self.kind == Kind::Child)
                }
                Err(e) => Err(e),
            },
            Watch::Pipe(_) => match fallback::try_reap(self.pid)? {
                Reap::Exited(status) => {
                    self.exited(slot, status);
                    Ok(Step::Done)
                }
                Reap::NotYet => Ok(Step::NotYet),
                Reap::Elsewhere => {
                    self.record(slot, Outcome::ReapedElsewhere);
                    Ok(Step::Done)
                }
            },
        }
    }

    /// The status of a process we cannot (or can no longer) reap: from
    /// `PIDFD_INFO_EXIT`, which the kernel fills in when the process's parent
    /// reaps it (Linux 6.15+).
    fn resolve_by_info(
        &self,
        fd: &PidFd,
        slot: &mut Option<Outcome>,
        exited: bool,
    ) -> io::Result<Step> {
        if !(exited || fd.has_exited()?) {
            return Ok(Step::NotYet);
        }
        let unknown = match self.kind {
            Kind::Child => Outcome::ReapedElsewhere,
            Kind::Adopted => Outcome::StatusUnavailable,
        };
        if !probe().info_exit {
            self.record(slot, unknown);
            return Ok(Step::Done);
        }
        match fd.info() {
            Ok(info) => match info.exit_status {
                Some(status) => {
                    self.exited(slot, status);
                    Ok(Step::Done)
                }
                // Exited, but its parent has not reaped it yet.
                None => Ok(Step::NotYet),
            },
            // Reaped and the kernel kept nothing for us.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.record(slot, unknown);
                Ok(Step::Done)
            }
            Err(e) => Err(e),
        }
    }

    /// The outcome if it is settled, trying once without blocking to settle
    /// it (reaping the child if it has exited).
    pub(crate) fn try_outcome(&self) -> Result<Option<Outcome>, Error> {
        let mut slot = self.lock();
        if slot.is_none() && matches!(self.watch, Watch::Pidfd(_)) {
            // A fallback entry is reaped only by its watcher thread.
            self.resolve(&mut slot, false)
                .map_err(|e| self.wait_error(e))?;
        }
        Ok(*slot)
    }

    /// Blocks until the outcome is settled or `deadline` passes
    /// (`Ok(None)`).
    pub(crate) fn wait_deadline(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Option<Outcome>, Error> {
        let mut slot = self.lock();
        if let Some(outcome) = *slot {
            return Ok(Some(outcome));
        }
        match &self.watch {
            Watch::Pidfd(fd) => {
                // A child that has already exited (the oldest of a job
                // runner's window, typically) is reaped here at once, as
                // `Child::wait` would: no epoll change, no poll.
                if self.kind == Kind::Child
                    && self
                        .resolve(&mut slot, false)
                        .map_err(|e| self.wait_error(e))?
                        == Step::Done
                {
                    return Ok(*slot);
                }
                // Tell the reaper thread to leave this one to us (it would
                // otherwise wake up and compete for the CPU and the lock
                // right when the process exits).
                self.waiter_arrives(&slot);
                drop(slot);
                let result = self.wait_pidfd(fd, deadline);
                let slot = self.lock();
                self.waiter_leaves(&slot);
                result.map_err(|e| self.wait_error(e))
            }
            Watch::Pipe(_) => {
                // The watcher thread reaps and notifies.
                loop {
                    if let Some(outcome) = *slot {
                        return Ok(Some(outcome));
                    }
                    slot = match remaining(deadline) {
                        Some(left) if left.is_zero() => return Ok(None),
                        left => self.sleep(slot, left),
                    };
                }
            }
        }
    }

    /// Sleeps on the entry's condition variable (at most `timeout`) until a
    /// record wakes it; counted in `sleeping` meanwhile.
    fn sleep<'a>(
        &self,
        slot: MutexGuard<'a, Option<Outcome>>,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, Option<Outcome>> {
        self.sleeping.fetch_add(1, Ordering::SeqCst);
        let slot = match timeout {
            None => self.cond.wait(slot).unwrap_or_else(PoisonError::into_inner),
            Some(t) => {
                self.cond
                    .wait_timeout(slot, t)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
        self.sleeping.fetch_sub(1, Ordering::SeqCst);
        slot
    }

    /// [`Entry::wait_deadline`] with a pidfd, as a counted waiter: waits for
    /// the exit on the pidfd and reaps the process itself (handing it over
    /// from the reaper thread would cost one more wake-up).
    fn wait_pidfd(&self, fd: &PidFd, deadline: Option<Instant>) -> io::Result<Option<Outcome>> {
        let exited = match remaining(deadline) {
            None => fd.wait_exited().map(|()| true)?,
            Some(left) => fd.wait_exited_timeout(left)?,
        };
        if !exited {
            return Ok(None);
        }
        let mut slot = self.lock();
        if self.resolve(&mut slot, true)? == Step::Done {
            return Ok(*slot);
        }
        // Exited, but no status yet (an adopted process whose parent
        // has not reaped it): look again with a growing pause.
        let mut pauses = Backoff::new(RETRY_MIN, RETRY_MAX);
        loop {
            let Some(wait) = pauses.next_pause_before(deadline) else {
                return Ok(None);
            };
            slot = self.sleep(slot, Some(wait));
            if self.resolve(&mut slot, true)? == Step::Done {
                return Ok(*slot);
            }
        }
    }

    /// Blocks until the outcome is settled, whatever it takes: the body of a
    /// watcher thread (fallback children, `start_locked` threads, processes
    /// the epoll reaper could not take). Never returns an error; transient
    /// failures are retried with a growing pause.
    pub(crate) fn watch_until_done(&self) {
        let mut pauses = Backoff::new(RETRY_MIN, RETRY_MAX);
        loop {
            let settled = match &self.watch {
                Watch::Pidfd(_) => matches!(self.wait_deadline(None), Ok(Some(_))),
                Watch::Pipe(_) => self.reap_pid_blocking(),
            };
            if settled {
                return;
            }
            std::thread::sleep(pauses.next_pause());
        }
    }

    /// Fallback: waits for the exit without reaping, then reaps under the
    /// lock. Only the entry's watcher thread calls this, so the PID it waits
    /// on is always our unreaped child, never a recycled number.
    fn reap_pid_blocking(&self) -> bool {
        if !fallback::wait_exited(self.pid) {
            return false;
        }
        let mut slot = self.lock();
        matches!(self.resolve(&mut slot, true), Ok(Step::Done))
    }

    /// Sends `signal`, unless the exit has been recorded. Serialised with
    /// reaping by the entry's lock.
    pub(crate) fn kill(&self, signal: Signal) -> Result<(), Error> {
        let slot = self.lock();
        if slot.is_some() {
            return Err(Error::Gone { pid: self.pid });
        }
        match &self.watch {
            // `ESRCH`: reaped by someone else meanwhile; the pidfd refuses,
            // whatever now has the number.
            Watch::Pidfd(fd) => fd
                .kill(signal)
                .map_err(|e| signal_error(self.pid, "through its pidfd", e)),
            Watch::Pipe(_) => {
                // Our child, not reaped (only the watcher thread reaps, and
                // it records the exit under this lock in the same step): its
                // PID cannot have been reused, so kill(2) reaches it.
                fallback::kill(self.pid, signal)
            }
        }
    }
}

/// Time left until `deadline` (zero once passed); `None` for no deadline.
pub(crate) fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}
