//! [`Monitor`] and [`Backend`]: making a monitor, and starting processes.

use std::fmt;
use std::io;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, mpsc};

use pidkit_pidfd::probe;

use crate::error::{Error, io_context};
use crate::exit::Exit;
use crate::launcher::{Launcher, Locked};
use crate::process::Process;
use crate::reaper::{Owner, Shared};

/// Stack of a `start_locked` thread: it also runs `Command::spawn`.
const LOCKED_STACK: usize = 256 * 1024;

/// How a [`Monitor`] learns of exits.
///
/// ```
/// use pidkit_monitor::{Backend, Monitor};
/// use std::process::Command;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // The fallback works everywhere, pidfds or not.
/// let m = Monitor::with_backend(Backend::ThreadPerChild)?;
/// assert_eq!(m.backend(), Backend::ThreadPerChild);
/// let p = m.start(Command::new("sh").args(["-c", "exit 4"]))?;
/// assert_eq!(p.wait()?.code(), 4);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// One reaper thread per monitor with the pidfds of all its processes
    /// in one epoll set. Needs pidfds (Linux 5.4+, not blocked by seccomp).
    /// A thread waiting for a process reaps it itself; the reaper thread
    /// (nice 19) reaps the ones nobody waits for and cleans up.
    Epoll,
    /// The fallback without pidfds: one watcher thread per running child,
    /// blocked in `waitid(P_PID, WEXITED | WNOWAIT)` (go-runc's model).
    /// Costs a thread (a 64 KiB stack, of which a few pages are touched) per
    /// running child, and one more wake-up per exit (the watcher hands the
    /// exit to the waiting thread).
    ThreadPerChild,
}

/// The default [`ProcessMonitor`](crate::ProcessMonitor): exits are never lost, never delivered
/// twice, never stolen.
///
/// With the [`Backend::Epoll`] backend (wherever pidfds work) one reaper
/// thread watches the pidfds of every process of the monitor in one epoll
/// set and reaps each child with `waitid(P_PIDFD)` as it exits: exactly the
/// child that became readable, never another one. Without pidfds the
/// monitor falls back to [`Backend::ThreadPerChild`].
///
/// Dropping a `Monitor` does not kill or abandon its processes: their
/// [`Process`] values keep working, and the reaper thread keeps running
/// until the last of them has been reaped, then ends.
///
/// ```
/// use pidkit_monitor::Monitor;
/// use std::process::Command;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let monitor = Monitor::new()?;
/// let p = monitor.start(Command::new("sh").args(["-c", "exit 3"]))?;
/// let exit = p.wait()?;
/// assert_eq!(exit.code(), 3);
/// assert_eq!(p.wait()?, exit); // never lost, never delivered differently
/// # Ok(())
/// # }
/// ```
pub struct Monitor {
    /// Stops the reaper once the monitor is dropped and every process it
    /// watches is reaped; `None` for [`Backend::ThreadPerChild`].
    _owner: Option<Owner>,
    pub(crate) inner: Launcher,
}

impl Monitor {
    /// A monitor with its own reaper: [`Backend::Epoll`] where pidfds work
    /// (`pidkit_pidfd::probe().usable()`), else [`Backend::ThreadPerChild`].
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let monitor = Monitor::new()?;
    /// assert_eq!(monitor.watched(), 0);
    /// let p = monitor.start(&mut Command::new("true"))?;
    /// assert!(p.wait()?.success());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// - The probe could not tell whether pidfds work because the process or
    ///   system is out of file descriptors or memory
    ///   ([`pidkit_pidfd::Support::resource_error`]): [`Error::OutOfResources`],
    ///   naming what ran out. Not a fallback monitor: pidfds may well work once
    ///   descriptors are free, and the probe's answer is not cached.
    /// - The epoll set, its wake-up eventfd or the reaper thread cannot be
    ///   created (file descriptor or thread limits): [`Error::Io`].
    pub fn new() -> Result<Monitor, Error> {
        let support = probe();
        if let Some(source) = support.resource_error() {
            return Err(Error::out_of_resources(source));
        }
        if support.usable() {
            Monitor::with_backend(Backend::Epoll)
        } else {
            Monitor::with_backend(Backend::ThreadPerChild)
        }
    }

    /// A monitor with the given backend. [`Backend::Epoll`] fails with
    /// [`Error::BackendUnavailable`] where pidfds do not work, and with
    /// [`Error::OutOfResources`] where the probe ran out of descriptors or
    /// memory (as [`Monitor::new`]); [`Backend::ThreadPerChild`] always
    /// works (and is how the fallback can be used or measured on a kernel
    /// that has pidfds).
    ///
    /// ```
    /// use pidkit_monitor::{Backend, Error, Monitor};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// match Monitor::with_backend(Backend::Epoll) {
    ///     Ok(m) => assert_eq!(m.backend(), Backend::Epoll),
    ///     // No pidfds on this system.
    ///     Err(e) => assert!(matches!(e, Error::BackendUnavailable { .. }), "{e}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_backend(backend: Backend) -> Result<Monitor, Error> {
        let shared =
            match backend {
                Backend::Epoll => {
                    let support = probe();
                    if let Some(source) = support.resource_error() {
                        return Err(Error::out_of_resources(source));
                    }
                    if !support.usable() {
                        return Err(Error::BackendUnavailable {
                            reason: support
                                .reason
                                .map_or_else(|| "pidfds are unusable".into(), |r| r.to_string()),
                        });
                    }
                    Some(Shared::start().map_err(|e| {
                        io_context("starting the reaper thread and its epoll set", e)
                    })?)
                }
                Backend::ThreadPerChild => None,
            };
        Ok(Monitor::with_reaper(shared))
    }

    /// A monitor with the epoll reaper `shared`, or the fallback for `None`.
    fn with_reaper(shared: Option<Arc<Shared>>) -> Monitor {
        Monitor {
            _owner: shared.as_ref().map(Owner::new),
            inner: Launcher {
                shared,
                watchers: Arc::new(AtomicUsize::new(0)),
            },
        }
    }

    /// The process-wide monitor (go-runc's package-level `Monitor`), created
    /// on first use with [`Monitor::new`] and never dropped.
    ///
    /// It never keeps a backend chosen for lack of resources: while
    /// [`Monitor::new`] fails (the probe or the reaper ran out of file
    /// descriptors, memory or threads: [`Error::OutOfResources`] and the
    /// like), each call returns a [`Backend::ThreadPerChild`] monitor, which
    /// needs nothing up front, and the next call tries [`Monitor::new`]
    /// again; the first success is kept for good. So a program whose first
    /// use happened at its descriptor limit gets the epoll backend once
    /// descriptors are free. Processes started on the stand-in keep working.
    /// Use [`Monitor::new`] to see the error instead.
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// assert!(std::ptr::eq(Monitor::global(), Monitor::global()));
    /// let p = Monitor::global().start(&mut Command::new("true"))?;
    /// assert!(p.wait()?.success());
    /// # Ok(())
    /// # }
    /// ```
    pub fn global() -> &'static Monitor {
        static GLOBAL: OnceLock<Monitor> = OnceLock::new();
        static STAND_IN: OnceLock<Monitor> = OnceLock::new();
        static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
        if let Some(m) = GLOBAL.get() {
            return m;
        }
        // One creator at a time, so that no second reaper is started and
        // thrown away.
        let _init = INIT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(m) = GLOBAL.get() {
            return m;
        }
        match Monitor::new() {
            Ok(m) => GLOBAL.get_or_init(|| m),
            Err(_) => STAND_IN.get_or_init(|| Monitor::with_reaper(None)),
        }
    }

    /// Which backend this monitor uses.
    ///
    /// ```
    /// use pidkit_monitor::{Backend, Monitor};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = Monitor::with_backend(Backend::ThreadPerChild)?;
    /// assert_eq!(m.backend(), Backend::ThreadPerChild);
    /// // Epoll wherever pidfds work.
    /// let m = Monitor::new()?;
    /// assert_eq!(m.backend() == Backend::Epoll, Monitor::with_backend(Backend::Epoll).is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn backend(&self) -> Backend {
        if self.inner.shared.is_some() {
            Backend::Epoll
        } else {
            Backend::ThreadPerChild
        }
    }

    /// How many processes the monitor is watching: started or adopted and
    /// not yet settled and cleaned up. Drops back as exits are reaped, even
    /// for processes nobody waits for.
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = Monitor::new()?;
    /// let p = m.start(Command::new("sleep").arg("1000"))?;
    /// # p.set_kill_on_drop(true); // a failing example must not leave it running
    /// assert_eq!(m.watched(), 1);
    /// p.kill(Signal::KILL)?;
    /// p.wait()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn watched(&self) -> usize {
        self.inner.shared.as_ref().map_or(0, |s| s.watched())
            + self.inner.watchers.load(Ordering::SeqCst)
    }

    /// Spawns `cmd` and watches the child.
    ///
    /// The child is spawned with `Command::spawn`, its pidfd opened at once
    /// (race-free: std never reaps a child except in `wait`, so its PID
    /// cannot be reused meanwhile), its pipes moved into the [`Process`], and
    /// its pidfd handed to the reaper. A child that exits before that is
    /// still caught: an already-readable pidfd is reported when added.
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::io::Read;
    /// use std::process::{Command, Stdio};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut p = Monitor::global().start(Command::new("echo").arg("hi").stdout(Stdio::piped()))?;
    /// let mut out = String::new();
    /// p.stdout().expect("piped").read_to_string(&mut out)?;
    /// assert_eq!(out, "hi\n");
    /// assert!(p.wait()?.success());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// A spawn failure is [`Error::Spawn`], with the kind of std's error
    /// (`NotFound` for a missing binary, `PermissionDenied`, ...); nothing
    /// was started and no exit will ever be delivered. If the child cannot be
    /// watched (no descriptor for its exit fd, no thread for the fallback)
    /// it is killed and reaped, and the error returned.
    pub fn start(&self, cmd: &mut Command) -> Result<Process, Error> {
        self.inner.launch(cmd, false).map(|(p, _)| p)
    }

    /// Like [`Monitor::start`], but spawns from a dedicated thread that lives
    /// until the child is reaped, so a child that asked for
    /// `PR_SET_PDEATHSIG` (the kernel signals it when the *thread* that
    /// forked it exits) is not killed when the calling thread retires
    /// (golang/go#27505).
    ///
    /// Cost: one thread (256 KiB stack, mostly untouched) per such child for
    /// as long as it runs. The thread waits on the child's pidfd and reaps it
    /// itself (or, in the fallback, is the child's watcher thread).
    ///
    /// `cmd` is moved to that thread for the spawn and put back before this
    /// returns, so it can be inspected or reused as after `start`.
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "exit 4"]);
    /// let p = Monitor::global().start_locked(&mut cmd)?;
    /// assert_eq!(p.wait()?.code(), 4);
    /// assert_eq!(cmd.get_program(), "sh"); // the command is given back
    /// # Ok(())
    /// # }
    /// ```
    pub fn start_locked(&self, cmd: &mut Command) -> Result<Process, Error> {
        let (cmd_tx, cmd_rx) = mpsc::sync_channel::<Command>(1);
        let (res_tx, res_rx) = mpsc::sync_channel::<Locked>(1);
        let launcher = self.inner.clone();
        let program = cmd.get_program().to_owned();
        let program = || program.to_string_lossy().into_owned();
        let spawned = std::thread::Builder::new()
            .name("pidkit-locked".into())
            .stack_size(LOCKED_STACK)
            .spawn(move || launcher.launch_locked(cmd_rx, res_tx));
        if let Err(source) = spawned {
            return Err(io_context(
                format!("starting the spawning thread for {:?}", program()),
                source,
            ));
        }
        // The thread exists: lend it the command.
        let lost = |what: &str| Error::Spawn {
            program: program(),
            source: io::Error::other(format!("the spawning thread ended {what}")),
        };
        let owned = std::mem::replace(cmd, Command::new(""));
        if let Err(mpsc::SendError(owned)) = cmd_tx.send(owned) {
            *cmd = owned;
            return Err(lost("before spawning"));
        }
        match res_rx.recv() {
            Ok((owned, result)) => {
                *cmd = owned;
                result
            }
            Err(_) => Err(lost("before reporting the spawn")),
        }
    }

    /// Waits for `process` (same as [`Process::wait`]).
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = Monitor::global();
    /// let p = m.start(Command::new("sh").args(["-c", "exit 6"]))?;
    /// let exit = m.wait(&p)?;
    /// assert_eq!(exit.code(), 6);
    /// assert_eq!(p.wait()?, exit);
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait(&self, process: &Process) -> Result<Exit, Error> {
        process.wait()
    }
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("backend", &self.backend())
            .field("watched", &self.watched())
            .finish()
    }
}
