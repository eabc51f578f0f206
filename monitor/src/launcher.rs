//! [`Launcher`]: what starting a process takes (the spawn, the pidfd or
//! exit pipe, and the hand-over to the reaper or a watcher thread), shared
//! by a [`Monitor`](crate::Monitor) and its `start_locked` threads.

use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

use pidkit_pidfd::PidFd;

use crate::entry::{Entry, Kind, Watch};
use crate::error::{Error, io_context};
use crate::fallback::ExitPipe;
use crate::process::Process;
use crate::reaper::Shared;

/// Stack of a fallback watcher thread: it only blocks in `waitid` and takes a
/// lock.
const WATCH_STACK: usize = 64 * 1024;

/// What a `start_locked` thread sends back: the command it was lent, and
/// the started process.
pub(crate) type Locked = (Command, Result<Process, Error>);

/// What a launch needs; cloned into `start_locked` threads.
#[derive(Clone, Debug)]
pub(crate) struct Launcher {
    /// The epoll reaper, or `None` for [`Backend::ThreadPerChild`](crate::Backend::ThreadPerChild).
    pub(crate) shared: Option<Arc<Shared>>,
    /// Fallback watcher threads still running.
    pub(crate) watchers: Arc<AtomicUsize>,
}

impl Launcher {
    /// Spawns in the current thread and watches the child. `own_thread`:
    /// the caller is a dedicated thread that will run
    /// [`Entry::watch_until_done`] itself, so no watcher thread is needed.
    /// Also says whether the reaper took the child.
    pub(crate) fn launch(
        &self,
        cmd: &mut Command,
        own_thread: bool,
    ) -> Result<(Process, bool), Error> {
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

    /// The body of a `start_locked` thread: spawns the command it is lent,
    /// sends it back with the result, and stays alive, as the child's parent
    /// thread, until the child has been reaped.
    pub(crate) fn launch_locked(self, cmd_rx: Receiver<Command>, res_tx: SyncSender<Locked>) {
        let Ok(mut cmd) = cmd_rx.recv() else {
            return;
        };
        let result = self.launch(&mut cmd, true);
        let entry = result
            .as_ref()
            .ok()
            .map(|(p, registered)| (Arc::clone(&p.entry), *registered));
        let watchers = Arc::clone(&self.watchers);
        drop(self);
        if let Some((_, false)) = entry {
            // Not with the reaper: this thread is its only watcher.
            watchers.fetch_add(1, Ordering::SeqCst);
        }
        // The caller waits for this message; if it were gone, the child
        // would still be reaped below.
        let _ = res_tx.send((cmd, result.map(|(p, _)| p)));
        if let Some((entry, registered)) = entry {
            entry.watch_until_done();
            drop(entry);
            if !registered {
                watchers.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Hands `entry` to the reaper (`Ok(true)`), or to a watcher thread.
    /// With `own_thread`, a pidfd entry is still registered (the reaper
    /// cleans up) but no watcher thread is started.
    pub(crate) fn watch(&self, entry: &Arc<Entry>, own_thread: bool) -> Result<bool, Error> {
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
                // As the reaper thread: signals are for the program's threads.
                let _ = pidkit_pidfd::low_level::block_signals();
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
