//! The epoll reaper: one thread per [`Monitor`](crate::Monitor) that watches
//! the pidfds of all its processes.
//!
//! Invariants:
//! - A process's pidfd is in the epoll set only while its entry is in the
//!   table, and the table holds an `Arc` of the entry; so the pidfd is always
//!   removed from the set (`EPOLL_CTL_DEL`) before its last close. A stale
//!   event for a reused fd number cannot happen.
//! - The epoll data is a token, not the fd number; the table maps tokens to
//!   entries.
//! - Epoll is level-triggered: a pidfd that is readable when it is added (a
//!   child that exited before registration) is reported at once.
//! - A process someone waits for (a thread in `wait`, a task in
//!   `wait_async`) is not watched here while they wait: the first waiter
//!   takes its pidfd out of the set and reaps it itself, so an exit wakes
//!   one thread, not two. The last waiter to leave puts an unsettled
//!   process back (or, if the set refuses, hands it to the retry timers),
//!   or takes a settled one out of the table. These moves happen under the
//!   entry's lock, and whoever drops a settled entry from the table first
//!   takes its pidfd out of the set.
//! - Every wake-up of this thread costs a context switch, dear on a busy
//!   machine (bench/NOTES.md, "Sliding window"), so it wakes only for work:
//!   it blocks every signal (a process-wide signal, such as the `SIGCHLD`
//!   of a child that exits while its parent thread is inside `posix_spawn`,
//!   goes to the program's threads), and after handling exits it lets the
//!   next ones gather for [`GATHER`] before it looks again.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use rustix::event::epoll;
use rustix::event::{EventfdFlags, eventfd};
use rustix::io::Errno;

use pidkit_pidfd::PidFd;

use crate::entry::{Entry, Reaper, Step};
use crate::timers::{RETRY_MAX, Timers};

/// The token of the wake-up eventfd.
const WAKE: u64 = 0;
/// Stack of the reaper thread: it only makes system calls.
const REAPER_STACK: usize = 256 * 1024;
/// The reaper thread's nice value.
const REAPER_NICE: i32 = 19;

/// What the monitor and its reaper thread share.
#[derive(Debug)]
pub(crate) struct Shared {
    epoll: std::os::fd::OwnedFd,
    wake: std::os::fd::OwnedFd,
    table: Mutex<HashMap<u64, Arc<Entry>>>,
    /// Tokens the epoll set could not take back ([`Shared::rewatch`]), for
    /// the retry timers.
    polled: Mutex<Vec<u64>>,
    next_token: AtomicU64,
    closing: AtomicBool,
}

/// A monitor's hold on its reaper: dropped with the [`Monitor`], it tells
/// the reaper thread to stop once every registered process has been reaped.
///
/// [`Monitor`]: crate::Monitor
#[derive(Debug)]
pub(crate) struct Owner(Arc<Shared>);

impl Owner {
    pub(crate) fn new(shared: &Arc<Shared>) -> Owner {
        Owner(Arc::clone(shared))
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl Shared {
    /// Creates the epoll set and starts the reaper thread.
    pub(crate) fn start() -> io::Result<Arc<Shared>> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let wake = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        epoll::add(
            &epoll,
            &wake,
            epoll::EventData::new_u64(WAKE),
            epoll::EventFlags::IN,
        )?;
        let shared = Arc::new(Shared {
            epoll,
            wake,
            table: Mutex::new(HashMap::new()),
            polled: Mutex::new(Vec::new()),
            next_token: AtomicU64::new(WAKE + 1),
            closing: AtomicBool::new(false),
        });
        let for_thread = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("pidkit-reaper".into())
            .stack_size(REAPER_STACK)
            .spawn(move || run(&for_thread))?;
        Ok(shared)
    }

    fn table(&self) -> MutexGuard<'_, HashMap<u64, Arc<Entry>>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a pidfd entry to the table and the epoll set.
    pub(crate) fn register(self: &Arc<Self>, entry: &Arc<Entry>) -> io::Result<()> {
        let Some(fd) = entry.pidfd() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "only pidfd entries can be registered with the reaper",
            ));
        };
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        // Table first: the reaper must find the entry when the event comes.
        self.table().insert(token, Arc::clone(entry));
        if let Err(e) = epoll::add(
            &self.epoll,
            fd,
            epoll::EventData::new_u64(token),
            epoll::EventFlags::IN,
        ) {
            self.table().remove(&token);
            return Err(e.into());
        }
        let reaper: Weak<Shared> = Arc::downgrade(self);
        entry.registered(reaper, token);
        Ok(())
    }

    fn wake(&self) {
        let _ = rustix::io::write(&self.wake, &1u64.to_ne_bytes());
    }

    /// How many processes are registered and not yet cleaned up.
    pub(crate) fn watched(&self) -> usize {
        self.table().len()
    }

    /// The monitor is gone: the reaper stops once every registered process
    /// has been reaped.
    fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// Settles the entry of `token` if it can, and cleans up after it;
    /// says what to do next with it.
    fn service(&self, token: u64, in_epoll: bool) -> Next {
        let Some(entry) = self.table().get(&token).cloned() else {
            return Next::Done;
        };
        // A thread waiting on this process reaps it itself, sooner than we
        // would; do not compete with it for the CPU or the lock. Look again
        // at the next sweep (by then it is normally recorded and only needs
        // cleaning up).
        let step = if entry.has_waiters() {
            None
        } else {
            entry.try_lock().map(|mut slot| {
                let step = entry.resolve(&mut slot, true);
                if matches!(step, Ok(Step::Done)) {
                    // Recording the outcome took the entry out of the table
                    // (`Entry::record`), unless its registration had not
                    // finished; then it goes here.
                    self.table().remove(&token);
                }
                step
            })
        };
        // A settled entry left the epoll set when its outcome was recorded
        // (`Entry::record`). Any other is taken out here, before the entry
        // can be dropped (it is still in the table, and `entry` is an Arc of
        // it); that also stops the level-triggered event from repeating.
        if in_epoll && !matches!(step, Some(Ok(Step::Done))) {
            if let Some(fd) = entry.pidfd() {
                let _ = epoll::delete(&self.epoll, fd);
            }
        }
        match step {
            Some(Ok(Step::Done)) => Next::Done,
            None => Next::Defer,
            // Exited but no status yet (an adopted process whose parent has
            // not reaped it), or a transient error.
            Some(Ok(Step::NotYet) | Err(_)) => Next::Retry,
        }
    }
}

/// What an entry asks of the reaper it is registered with.
impl Reaper for Shared {
    /// Takes a pidfd out of the epoll set (a waiter reaps it itself). Not
    /// being there is no error.
    fn unwatch(&self, fd: &PidFd) {
        let _ = epoll::delete(&self.epoll, fd);
    }

    /// Puts the pidfd of `token` back into the epoll set (its last waiter
    /// left before the exit). If the set refuses (out of memory, or the
    /// `max_user_watches` limit), the entry goes to the retry timers
    /// instead, which look at it with a pause of up to [`RETRY_MAX`].
    fn rewatch(&self, token: u64, fd: &PidFd) {
        let added = epoll::add(
            &self.epoll,
            fd,
            epoll::EventData::new_u64(token),
            epoll::EventFlags::IN,
        );
        match added {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(_) => {
                self.polled
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(token);
                self.wake();
            }
        }
    }

    /// Drops a settled entry whose pidfd is out of the epoll set (its waiter
    /// reaped it).
    fn forget(&self, token: u64) {
        let empty = {
            let mut table = self.table();
            table.remove(&token);
            table.is_empty()
        };
        if empty && self.closing.load(Ordering::SeqCst) {
            // The reaper stops once the table is empty: tell it.
            self.wake();
        }
    }
}

/// What the reaper does next with an entry it looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    /// Settled and cleaned up (or gone).
    Done,
    /// Left to a waiting thread: look again at the next sweep.
    Defer,
    /// Look again after a growing pause ([`Timers`]).
    Retry,
}

/// How long deferred entries may wait for their sweep when nothing else
/// wakes the reaper.
const SWEEP: Duration = Duration::from_millis(20);

/// After a wake-up that handled exits, how long the reaper lets further
/// exits gather before it looks again: while exits keep coming it wakes at
/// most once per `GATHER`, not once per exit, and an exit nobody waits for
/// is recorded (and timestamped) at most about this much late. The first
/// exit after a quiet spell is handled at once, and a waiting thread or
/// task reaps its own process without the reaper.
const GATHER: Duration = Duration::from_millis(1);

/// The reaper loop.
fn run(shared: &Shared) {
    // Lowest priority (nice 19, this thread only): the reaper only does work
    // that nobody is waiting for (a waiting thread reaps its own process),
    // so it should never take the CPU from a thread that is.
    let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), REAPER_NICE);
    // Signals are for the program's threads (module docs).
    let _ = pidkit_pidfd::low_level::block_signals();
    let mut events: Vec<epoll::Event> = Vec::with_capacity(256);
    let mut timers = Timers::default();
    // Entries left to waiting threads, swept at the next wake-up (another
    // exit, usually), so that cleaning up after a waited process costs no
    // wake-up of its own.
    let mut deferred: Vec<u64> = Vec::new();
    let mut sweep_at: Option<Instant> = None;
    let mut gather_until: Option<Instant> = None;
    loop {
        if let Some(at) = gather_until.take() {
            let left = at.saturating_duration_since(Instant::now());
            if !left.is_zero() {
                std::thread::sleep(left);
            }
        }
        let next = match (timers.next_deadline(), sweep_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = next.and_then(|d| {
            rustix::time::Timespec::try_from(d.saturating_duration_since(Instant::now())).ok()
        });
        events.clear();
        match epoll::wait(
            &shared.epoll,
            rustix::buffer::spare_capacity(&mut events),
            timeout.as_ref(),
        ) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(_) => std::thread::sleep(RETRY_MAX),
        }
        let now = Instant::now();
        let sweep = std::mem::take(&mut deferred);
        let polled =
            std::mem::take(&mut *shared.polled.lock().unwrap_or_else(PoisonError::into_inner));
        for token in polled {
            timers.schedule(token, now);
        }
        let due = timers.due(now);
        let mut handle = |token: u64, in_epoll: bool, deferred: &mut Vec<u64>| match shared
            .service(token, in_epoll)
        {
            Next::Done => timers.forget(token),
            Next::Defer => deferred.push(token),
            Next::Retry => timers.schedule(token, now),
        };
        let mut exits = false;
        for event in &events {
            let token = event.data.u64();
            if token == WAKE {
                let mut buf = [0u8; 8];
                let _ = rustix::io::read(&shared.wake, &mut buf);
            } else {
                exits = true;
                handle(token, true, &mut deferred);
            }
        }
        for token in sweep {
            handle(token, false, &mut deferred);
        }
        for token in due {
            handle(token, false, &mut deferred);
        }
        sweep_at = match sweep_at {
            _ if deferred.is_empty() => None,
            Some(at) if at > now => Some(at),
            _ => Some(now + SWEEP),
        };
        if shared.closing.load(Ordering::SeqCst) && shared.table().is_empty() {
            return;
        }
        // A full buffer means more are waiting already: no pause then.
        if exits && events.len() < events.capacity() {
            gather_until = Some(now + GATHER);
        }
    }
}
