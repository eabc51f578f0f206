//! A tokio supervisor: starts workers, restarts them when they exit, keeps
//! their handles in a state file, and after its own restart restores them
//! and awaits the survivors. No thread per worker, and no PID is ever
//! trusted: the state file holds `PidHandle` text, which restores only the
//! very process that was written.
//!
//! ```text
//! tokio_supervisor start STATE WORKERS RESTARTS   start WORKERS workers
//! tokio_supervisor restore STATE RESTARTS         restore them from STATE
//! ```
//!
//! A worker is `sleep 1000` (the `PIDKIT_WORKER` environment variable can
//! name another shell command). Each exit is reported and the worker
//! restarted while the restart budget (`RESTARTS`, shared by all workers)
//! lasts; the supervisor ends when every worker has exited and the budget is
//! spent. A line `exec` on stdin restarts the supervisor itself: it writes
//! the state file and re-executes itself with `restore` (same PID, so its
//! workers stay its children and are reaped with their status). Started
//! from scratch after a crash, `restore` adopts survivors that are no
//! longer its children (their status then comes from `PIDFD_INFO_EXIT`,
//! Linux 6.15+, once their new parent reaps them).
//!
//! Every event is one line on stdout (`started 0 4242`, `exited 0 4242
//! code 143`, `state 3`, ...), which the `example_supervisor` test reads.
//!
//! `cargo run -p pidkit-monitor --example tokio_supervisor -- start /tmp/sv.state 3 5`

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pidkit_monitor::{Error, Monitor, PidHandle, Process, State};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// How a worker is watched.
enum Watched {
    /// Started or adopted by the monitor: its exit has a status.
    Process(Process),
    /// Restored where it cannot be adopted (no pidfds: a non-child cannot be
    /// watched by the monitor): its exit is seen, its status is not.
    Handle(Box<PidHandle>),
}

/// What a finished wait says.
struct Ended {
    slot: usize,
    pid: u32,
    code: Option<i32>,
}

struct Supervisor {
    state: PathBuf,
    monitor: &'static Monitor,
    /// slot -> handle of the worker in it, as written to the state file.
    handles: BTreeMap<usize, PidHandle>,
    restarts: u32,
}

fn say(line: impl std::fmt::Display) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn worker() -> Command {
    let script = std::env::var("PIDKIT_WORKER").unwrap_or_else(|_| "exec sleep 1000".into());
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

impl Supervisor {
    fn start_worker(&mut self, slot: usize, set: &mut JoinSet<Ended>) -> io::Result<()> {
        let p = self.monitor.start(&mut worker())?;
        say(format_args!("started {slot} {}", p.pid()));
        self.handles.insert(slot, p.handle()?);
        watch(set, slot, Watched::Process(p));
        Ok(())
    }

    /// Writes the state file: one `slot handle` line per worker, replaced
    /// atomically (write, fsync, rename).
    fn save(&self) -> io::Result<()> {
        let tmp = self.state.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        for (slot, h) in &self.handles {
            writeln!(f, "{slot} {h}")?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, &self.state)?;
        say(format_args!("state {}", self.handles.len()));
        Ok(())
    }

    /// Supervises until every worker has exited and no restart is left, or
    /// until told to re-execute itself.
    async fn run(mut self, mut set: JoinSet<Ended>) -> io::Result<()> {
        let (tx, mut commands) = mpsc::unbounded_channel();
        // Stdin is read on a plain thread (tokio's stdin would do the same).
        std::thread::spawn(move || {
            for line in io::stdin().lock().lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        loop {
            tokio::select! {
                ended = set.join_next() => {
                    let Some(ended) = ended else {
                        say("done");
                        return Ok(());
                    };
                    let Ended { slot, pid, code } = ended.map_err(io::Error::other)?;
                    match code {
                        Some(code) => say(format_args!("exited {slot} {pid} code {code}")),
                        None => say(format_args!("exited {slot} {pid} status unknown")),
                    }
                    self.handles.remove(&slot);
                    if self.restarts > 0 {
                        self.restarts -= 1;
                        self.start_worker(slot, &mut set)?;
                    }
                    self.save()?;
                }
                Some(command) = commands.recv() => {
                    if command.trim() == "exec" {
                        self.save()?;
                        say("exec");
                        let exe = std::env::current_exe()?;
                        let err = Command::new(exe)
                            .arg("restore")
                            .arg(&self.state)
                            .arg(self.restarts.to_string())
                            .exec();
                        return Err(err);
                    }
                }
            }
        }
    }
}

/// Awaits `watched` in `set`; the task ends with the worker's exit.
fn watch(set: &mut JoinSet<Ended>, slot: usize, watched: Watched) {
    set.spawn(async move {
        match watched {
            Watched::Process(p) => {
                let code = p.wait_async().await.ok().map(|e| e.code());
                Ended {
                    slot,
                    pid: p.pid(),
                    code,
                }
            }
            Watched::Handle(h) => {
                // An error here (a closed handle) cannot happen: the handle
                // is ours. Either way the worker is treated as ended.
                let _ = h.wait_exited_async().await;
                Ended {
                    slot,
                    pid: h.pid(),
                    code: reap_if_ours(h.pid()),
                }
            }
        }
    });
}

/// After a restart by `exec` without pidfds, an exited worker is still our
/// child, a zombie nobody else reaps: reap it (its PID cannot have been
/// reused while it is our zombie) and return its code. `None` for a process
/// that is not our child.
fn reap_if_ours(pid: u32) -> Option<i32> {
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
    let (_, status) =
        rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::NOHANG).ok()??;
    status
        .exit_status()
        .or_else(|| status.terminating_signal().map(|s| 128 + s))
}

fn read_state(path: &Path) -> io::Result<BTreeMap<usize, PidHandle>> {
    let text = std::fs::read_to_string(path)?;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let bad = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: bad line {line:?}", path.display()),
            )
        };
        let (slot, handle) = line.split_once(' ').ok_or_else(bad)?;
        let slot: usize = slot.parse().map_err(|_| bad())?;
        let handle: PidHandle = handle.parse().map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })?;
        out.insert(slot, handle);
    }
    Ok(out)
}

fn usage() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "usage: tokio_supervisor start STATE WORKERS RESTARTS | restore STATE RESTARTS",
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |s: &String| s.parse::<u32>().map_err(|_| usage());
    let mut set = JoinSet::new();
    let mut sv = Supervisor {
        state: PathBuf::from(args.get(1).ok_or_else(usage)?),
        monitor: Monitor::global(),
        handles: BTreeMap::new(),
        restarts: 0,
    };
    match args.first().map(String::as_str) {
        Some("start") if args.len() == 4 => {
            sv.restarts = number(&args[3])?;
            for slot in 0..number(&args[2])? as usize {
                sv.start_worker(slot, &mut set)?;
            }
        }
        Some("restore") if args.len() == 3 => {
            sv.restarts = number(&args[2])?;
            for (slot, handle) in read_state(&sv.state)? {
                let state = handle.state()?;
                if state == State::Gone {
                    // Exited and reaped while we were away: its status is
                    // gone with it. Counted as an exit (restarted below).
                    say(format_args!("gone {slot} {}", handle.pid()));
                    let ended = handle.try_clone()?;
                    watch(&mut set, slot, Watched::Handle(Box::new(ended)));
                    sv.handles.insert(slot, handle);
                    continue;
                }
                say(format_args!("restored {slot} {}", handle.pid()));
                sv.handles.insert(slot, handle.try_clone()?);
                match sv.monitor.adopt(handle) {
                    Ok(p) => watch(&mut set, slot, Watched::Process(p)),
                    // No pidfds here: the handle comes back; await it.
                    Err(e) if matches!(e.error(), Error::NoPidfd { .. }) => {
                        watch(&mut set, slot, Watched::Handle(Box::new(e.into_inner())))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        _ => return Err(usage()),
    }
    sv.save()?;
    sv.run(set).await
}
