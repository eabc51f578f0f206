//! [`Monitor`], [`ProcessMonitor`] and [`Backend`].

use std::fmt;
use std::io;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, mpsc};

use pidkit_pidfd::{PidFd, probe};
use pidkit_pidhandle::{PidHandle, State};

use crate::entry::{Entry, Kind, Watch};
use crate::error::{AdoptError, Error, io_context};
use crate::exit::Exit;
use crate::fallback::ExitPipe;
use crate::process::Process;
use crate::reaper::{Owner, Shared};

/// Stack of a fallback watcher thread: it only blocks in `waitid` and takes a
/// lock.
const WATCH_STACK: usize = 64 * 1024;
/// Stack of a `start_locked` thread: it also runs `Command::spawn`.
const LOCKED_STACK: usize = 256 * 1024;

/// go-runc's `ProcessMonitor`: starts processes and reports their exits.
///
/// Implemented by [`Monitor`] (with `Process = `[`Process`]). The trait
/// exists so that code can take "something that starts and waits for
/// processes" and be given a test double: the process type is the
/// implementor's own ([`ProcessMonitor::Process`]), because a [`Process`]
/// can only come from a real monitor (it owns a pidfd and its exit record),
/// while [`Exit`] has public fields and can be built by anyone. A custom
/// monitor must keep the contract below.
///
/// ```
/// use pidkit_monitor::{Error, Exit, Monitor, ProcessMonitor};
/// use std::process::Command;
///
/// fn run<M: ProcessMonitor>(m: &M, cmd: &mut Command) -> Result<i32, Error> {
///     let p = m.start(cmd)?;
///     Ok(m.wait(&p)?.code())
/// }
/// assert_eq!(run(Monitor::global(), Command::new("sh").args(["-c", "exit 4"]))?, 4);
/// # Ok::<(), Error>(())
/// ```
pub trait ProcessMonitor: Send + Sync {
    /// What [`ProcessMonitor::start`] returns and [`ProcessMonitor::wait`]
    /// takes: [`Process`] for [`Monitor`].
    type Process;

    /// Spawns `cmd` and starts watching the child. A spawn failure (missing
    /// binary, permission) is an error, and no exit is ever delivered for it.
    fn start(&self, cmd: &mut Command) -> Result<Self::Process, Error>;

    /// Like [`ProcessMonitor::start`], but the child is spawned from a
    /// dedicated thread that lives until the child is reaped, so a child
    /// that set `PR_SET_PDEATHSIG` is not killed when the calling thread
    /// exits (golang/go#27505).
    fn start_locked(&self, cmd: &mut Command) -> Result<Self::Process, Error>;

    /// Waits for `process` to exit: the same [`Exit`] every time it is
    /// called, from any thread, before or after the exit.
    fn wait(&self, process: &Self::Process) -> Result<Exit, Error>;
}

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

/// The default [`ProcessMonitor`]: exits are never lost, never delivered
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
    inner: Launcher,
}

/// What a launch needs; cloned into `start_locked` threads.
#[derive(Clone, Debug)]
struct Launcher {
    /// The epoll reaper, or `None` for [`Backend::ThreadPerChild`].
    shared: Option<Arc<Shared>>,
    /// Fallback watcher threads still running.
    watchers: Arc<AtomicUsize>,
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
        let (res_tx, res_rx) = mpsc::sync_channel::<(Command, Result<Process, Error>)>(1);
        let launcher = self.inner.clone();
        let program = cmd.get_program().to_owned();
        let program = || program.to_string_lossy().into_owned();
        let spawned = std::thread::Builder::new()
            .name("pidkit-locked".into())
            .stack_size(LOCKED_STACK)
            .spawn(move || {
                let Ok(mut cmd) = cmd_rx.recv() else {
                    return;
                };
                let result = launcher.launch(&mut cmd, true);
                let entry = result
                    .as_ref()
                    .ok()
                    .map(|(p, registered)| (Arc::clone(&p.entry), *registered));
                let watchers = Arc::clone(&launcher.watchers);
                drop(launcher);
                if let Some((_, false)) = entry {
                    // Not with the reaper: this thread is its only watcher.
                    watchers.fetch_add(1, Ordering::SeqCst);
                }
                // The caller waits for this message; if it were gone, the
                // child would still be reaped below.
                let _ = res_tx.send((cmd, result.map(|(p, _)| p)));
                if let Some((entry, registered)) = entry {
                    // This thread is the child's parent thread: stay alive
                    // until the child has been reaped.
                    entry.watch_until_done();
                    drop(entry);
                    if !registered {
                        watchers.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            });
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

    /// Watches a process that is not our child, given a handle to it: a
    /// restarted supervisor re-attaching to what it started before
    /// (containerd's `loadProcess`).
    ///
    /// The exit is seen through the handle's pidfd (duplicated; the handle
    /// is dropped once the process is watched). Its status comes from `PIDFD_INFO_EXIT` (Linux 6.15+),
    /// which the kernel fills in when the process's *parent* reaps it; so
    /// [`Process::wait`] returns once the process has exited *and* been
    /// reaped by its parent, and [`Process::exit_fd`] becomes readable at the
    /// exit itself. On an older kernel (or with `PIDKIT_HIDE_FEATURES=info_exit`)
    /// `wait` fails, after the exit, with [`Error::StatusUnavailable`]
    /// ("process N exited; its exit status is not available to a non-parent
    /// on this kernel"): an error rather than an `Exit` with a made-up
    /// status. The [`Exit::pid`] is the handle's PID.
    ///
    /// A handle to one of our own children is watched and reaped like a
    /// started one. A process that leads its process group when it is
    /// adopted (its group id is its PID, as after `setsid` or
    /// `setpgid(0, 0)`) is adopted as a group leader: [`Process::kill_group`],
    /// [`Process::group_alive`] and [`Process::wait_group`] work for it as
    /// for one started by [`Monitor::start_group`]. The group id is read
    /// after the handle's pidfd pinned the process, and the process is then
    /// checked to be still unreaped, so the answer is about that process.
    ///
    /// # Errors
    ///
    /// On failure the handle is handed back inside the [`AdoptError`]
    /// ([`AdoptError::into_inner`], [`AdoptError::into_parts`]), unchanged,
    /// so the caller can still signal or wait through it; `?` into an
    /// [`Error`] or an [`io::Error`] drops it.
    ///
    /// - A handle whose process is already gone: [`Error::Gone`]; there is
    ///   nothing left to watch.
    /// - A handle without a pidfd (pidfds unavailable): [`Error::NoPidfd`];
    ///   a non-child cannot be watched without one.
    /// - A closed handle: [`Error::Closed`].
    /// - The handle's error, variant for variant (`From<pidkit_pidhandle::Error>`),
    ///   if its state cannot be read, and [`Error::Io`] if its pidfd cannot
    ///   be duplicated or watched.
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, PidHandle, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut child = Command::new("sleep").arg("1000").spawn()?;
    /// let handle = PidHandle::from_child(&child)?;
    /// match Monitor::global().adopt(handle) {
    ///     Ok(p) => {
    ///         p.kill(Signal::KILL)?;
    ///         assert_eq!(p.wait()?.signal(), Some(Signal::KILL));
    ///     }
    ///     // No pidfds here: the handle comes back and still works.
    ///     Err(failed) => {
    ///         failed.into_inner().kill(Signal::KILL)?;
    ///         child.wait()?;
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn adopt(&self, handle: PidHandle) -> Result<Process, AdoptError> {
        match self.watch_handle(&handle) {
            Ok(process) => Ok(process),
            Err(error) => Err(AdoptError {
                handle: Box::new(handle),
                error,
            }),
        }
    }

    /// [`Monitor::adopt`], borrowing the handle.
    fn watch_handle(&self, handle: &PidHandle) -> Result<Process, Error> {
        let pid = handle.pid();
        if handle.state()? == State::Gone {
            return Err(Error::Gone { pid });
        }
        let Some(fd) = handle.pidfd() else {
            return Err(Error::NoPidfd { pid });
        };
        let fd = fd.try_clone().map_err(|source| {
            io_context(format!("duplicating the pidfd of process {pid}"), source)
        })?;
        let leader = crate::group::leads_its_group(pid, &fd);
        // `waitid(WNOHANG | WNOWAIT)` succeeds only on our own child.
        let kind = if fd.peek_exit().is_ok() {
            Kind::Child
        } else {
            Kind::Adopted
        };
        let entry = Arc::new(Entry::new(pid, kind, Watch::Pidfd(Arc::new(fd))));
        self.inner.watch(&entry, false)?;
        let mut process = Process::new(entry, None, None, None);
        process.group_leader = leader;
        Ok(process)
    }
}

impl Launcher {
    /// Spawns in the current thread and watches the child. `own_thread`:
    /// the caller is a dedicated thread that will run
    /// [`Entry::watch_until_done`] itself, so no watcher thread is needed.
    /// Also says whether the reaper took the child.
    fn launch(&self, cmd: &mut Command, own_thread: bool) -> Result<(Process, bool), Error> {
        let mut child = cmd.spawn().map_err(|source| {
            Error::fd_limit(cmd.get_program(), &source).unwrap_or_else(|| Error::Spawn {
                program: cmd.get_program().to_string_lossy().into_owned(),
                source,
            })
        })?;
        let pid = child.id();
        let watch = match self.shared.as_ref().map(|_| PidFd::from_child(&child)) {
            Some(Ok(fd)) => Watch::Pidfd(Arc::new(fd)),
            // No pidfd backend, or no pidfd for this child (descriptor
            // limit): the exit pipe and a watcher thread.
            _ => match ExitPipe::new() {
                Ok(pipe) => Watch::Pipe(pipe),
                Err(e) => {
                    kill_and_reap(&mut child);
                    return Err(Error::fd_limit(cmd.get_program(), &e).unwrap_or_else(|| {
                        io_context(format!("creating the exit pipe of process {pid}"), e)
                    }));
                }
            },
        };
        let entry = Arc::new(Entry::new(pid, Kind::Child, watch));
        let registered = match self.watch(&entry, own_thread) {
            Ok(registered) => registered,
            Err(e) => {
                kill_and_reap(&mut child);
                return Err(e);
            }
        };
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        // Dropping a std Child neither kills nor reaps it.
        drop(child);
        Ok((Process::new(entry, stdin, stdout, stderr), registered))
    }

    /// Hands `entry` to the reaper (`Ok(true)`), or to a watcher thread.
    /// With `own_thread`, a pidfd entry is still registered (the reaper
    /// cleans up) but no watcher thread is started.
    fn watch(&self, entry: &Arc<Entry>, own_thread: bool) -> Result<bool, Error> {
        if let (Some(shared), Some(_)) = (&self.shared, entry.pidfd()) {
            if shared.register(entry).is_ok() {
                return Ok(true);
            }
            // The epoll set refused (watch limit): a thread instead.
        }
        if own_thread {
            return Ok(false);
        }
        let watchers = Arc::clone(&self.watchers);
        watchers.fetch_add(1, Ordering::SeqCst);
        let for_thread = Arc::clone(entry);
        let counter = Arc::clone(&watchers);
        let spawned = std::thread::Builder::new()
            .name("pidkit-watch".into())
            .stack_size(WATCH_STACK)
            .spawn(move || {
                for_thread.watch_until_done();
                drop(for_thread);
                counter.fetch_sub(1, Ordering::SeqCst);
            });
        match spawned {
            Ok(_) => Ok(false),
            Err(source) => {
                watchers.fetch_sub(1, Ordering::SeqCst);
                Err(io_context(
                    format!("starting the watcher thread of process {}", entry.pid()),
                    source,
                ))
            }
        }
    }
}

/// Error path before anyone watches the child: do not leave it running
/// unwatched or as a zombie.
fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

impl ProcessMonitor for Monitor {
    type Process = Process;

    fn start(&self, cmd: &mut Command) -> Result<Process, Error> {
        Monitor::start(self, cmd)
    }

    fn start_locked(&self, cmd: &mut Command) -> Result<Process, Error> {
        Monitor::start_locked(self, cmd)
    }

    fn wait(&self, process: &Process) -> Result<Exit, Error> {
        Monitor::wait(self, process)
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
