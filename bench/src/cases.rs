//! The benchmark cases. Each returns rows of (pidkit, baseline) series that
//! were measured interleaved in this run.

use std::hint::black_box;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use fs4::fs_std::FileExt as _;
use pidkit_monitor::Monitor;
use pidkit_pidfd::{PidFd, Signal};
use pidkit_pidhandle::PidHandle;
use rustix::process::{Pid, WaitId, WaitIdOptions, WaitOptions};

use testkit::ChildGuard;

use crate::floor;
use crate::measure::{interleave, interleave_batched};
use crate::op;
use crate::spawn;
use crate::{Config, Row};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// `pid` as rustix's type.
fn rpid(pid: u32) -> Pid {
    Pid::from_raw(pid as i32).expect("pid is positive")
}

/// A guarded `sleep 1000`.
fn sleeper() -> ChildGuard {
    ChildGuard::spawn(&mut testkit::sleep_cmd())
}

fn ns(d: Duration) -> f64 {
    d.as_nanos() as f64
}

/// Pins the whole process (and children spawned later) to one CPU, or undoes it.
pub(crate) fn pin(cpu: Option<usize>) {
    let mut set = rustix::thread::CpuSet::new();
    match cpu {
        Some(c) => set.set(c),
        None => {
            for c in 0..rustix::thread::CpuSet::MAX_CPU.min(1024) {
                set.set(c);
            }
        }
    }
    let _ = rustix::thread::sched_setaffinity(None, &set);
}

fn podman_style_kill(pid: u32, expected_start: u64) -> io::Result<()> {
    if testkit::start_ticks(pid) != Some(expected_start) {
        return Err(io::Error::from(io::ErrorKind::NotFound));
    }
    rustix::process::test_kill_process(rpid(pid)).map_err(io::Error::from)
}

/// Idle threads that share this process's fd table while they live: with
/// more than one thread, the kernel's fd lookup (`fdget`) takes a reference
/// on the file instead of its single-threaded fast path, which makes every
/// fd-based system call (`pidfd_send_signal`, not `kill`) a little dearer.
struct IdleThreads(Vec<(mpsc::Sender<()>, thread::JoinHandle<()>)>);

impl IdleThreads {
    fn spawn(n: usize) -> IdleThreads {
        IdleThreads(
            (0..n)
                .map(|_| {
                    let (tx, rx) = mpsc::channel::<()>();
                    let h = thread::spawn(move || {
                        let _ = rx.recv();
                    });
                    (tx, h)
                })
                .collect(),
        )
    }
}

impl Drop for IdleThreads {
    fn drop(&mut self) {
        for (tx, h) in self.0.drain(..) {
            drop(tx);
            let _ = h.join();
        }
    }
}

/// Threads the multi-threaded signal rows run with (besides the main one).
const IDLE_THREADS: usize = 3;

/// Signal send cost: what one call costs, held and restored, against the
/// floors of `floor.rs` (every call inline, one path for all).
pub(crate) fn signal_cost(cfg: &Config) -> Result<Vec<Row>> {
    pin(Some(0));
    let target = sleeper();
    let pid = target.id();
    let ipid = pid as i32;
    let handle = PidHandle::from_child(target.child())?;
    let text = handle.to_string();
    let pidfd = PidFd::from_child(target.child())?;
    let rawfd = pidfd.as_fd().as_raw_fd();
    let ticks = testkit::start_ticks(pid).ok_or("the target is gone")?;
    let budget = cfg.budget(1.5);
    let mut rows = Vec::new();

    for threads in [1, 1 + IDLE_THREADS] {
        let _idle = IdleThreads::spawn(threads - 1);
        let tag = if threads == 1 {
            "1 thread".to_owned()
        } else {
            format!("{threads} threads")
        };
        let (a, b) = interleave_batched(
            budget,
            &mut || handle.kill(Signal::ZERO).expect("held kill"),
            &mut || floor::pidfd_send0(black_box(rawfd)).expect("pidfd_send_signal"),
        );
        rows.push(
            Row::new(
                "signal send",
                &format!("held PidHandle::kill(0) vs pidfd_send_signal(fd, 0) [{tag}]"),
                a,
                b,
            )
            .by(&format!("pidkit, {tag}"))
            .floor_of(op::HELD_VS_PIDFD),
        );
        let (a, b) = interleave_batched(
            budget,
            &mut || handle.kill(Signal::ZERO).expect("held kill"),
            &mut || floor::kill0(black_box(ipid)).expect("kill"),
        );
        rows.push(
            Row::new(
                "signal send",
                &format!("held PidHandle::kill(0) vs kill(pid, 0) [{tag}]"),
                a,
                b,
            )
            .by(&format!("pidkit, {tag}"))
            .floor_of(op::HELD_VS_KILL),
        );
    }

    let (a, b) = interleave_batched(
        budget,
        &mut || {
            let h: PidHandle = black_box(&text).parse().expect("restore");
            h.kill(Signal::ZERO).expect("restored kill");
        },
        &mut || floor::restore_sequence(black_box(ipid)),
    );
    rows.push(
        Row::new(
            "signal send",
            "restored PidHandle + kill(0) vs pidfd_open+fstat+pidfd_send_signal+close",
            a,
            b,
        )
        .floor_of("restored handle + signal 0 ÷ pidfd_open+fstat+pidfd_send_signal+close"),
    );

    // The layer below a restore, at its floor: pidkit-pidfd's open, fstat
    // (rustix), signal and close, with no text and no identity record. What
    // a restore costs beyond this row is parsing and checking the record and
    // the handle's own bookkeeping.
    let (a, b) = interleave_batched(
        budget,
        &mut || {
            let fd = PidFd::open(black_box(pid)).expect("PidFd::open");
            black_box(fd.pidfs_id().expect("fstat"));
            fd.kill(Signal::ZERO).expect("send_signal");
        },
        &mut || floor::restore_sequence(black_box(ipid)),
    );
    rows.push(
        Row::new(
            "signal send",
            "PidFd::open + pidfs_id + kill(0) + drop vs pidfd_open+fstat+pidfd_send_signal+close (restore's system calls, without the text)",
            a,
            b,
        )
        .floor_of("PidFd::open+fstat+send+drop ÷ pidfd_open+fstat+pidfd_send_signal+close"),
    );

    // The other route a restore could take where the text carries a pidfs
    // file handle (6.17+): no PID lookup, but the PID the text names is then
    // left to check. Raw against raw, to show why restore opens by PID.
    if let Some(fh) = handle.identity().file_handle() {
        let raw = floor::RawFileHandle::new(fh.handle_type(), fh.as_bytes());
        let (a, b) = interleave_batched(
            budget,
            &mut || {
                let fd = floor::open_by_pidfs_handle(black_box(&raw)).expect("open_by_handle_at");
                floor::pidfd_send0(fd).expect("pidfd_send_signal");
                floor::close(fd);
            },
            &mut || floor::restore_sequence(black_box(ipid)),
        );
        rows.push(Row::new(
            "signal send",
            "raw open_by_handle_at+pidfd_send_signal+close vs pidfd_open+fstat+pidfd_send_signal+close (the two restore routes, before the PID check the first still needs)",
            a,
            b,
        ));
    }

    let (a, b) = interleave_batched(
        budget,
        &mut || {
            let h: PidHandle = black_box(&text).parse().expect("restore");
            h.kill(Signal::ZERO).expect("restored kill");
        },
        &mut || podman_style_kill(black_box(pid), ticks).expect("podman-style kill"),
    );
    rows.push(Row::new(
        "signal send",
        "restored PidHandle + kill(0) vs podman-style /proc start-time check + kill",
        a,
        b,
    ));

    let (a, b) = interleave_batched(
        budget,
        &mut || drop(black_box(PidHandle::new(black_box(pid)).expect("new"))),
        &mut || {
            let fd = floor::pidfd_open(black_box(ipid)).expect("pidfd_open");
            black_box(floor::fstat_ino(fd).expect("fstat"));
            floor::close(fd);
        },
    );
    rows.push(
        Row::new(
            "signal send",
            "PidHandle::new(pid) + drop vs pidfd_open+fstat+close",
            a,
            b,
        )
        .floor_of("PidHandle::new ÷ pidfd_open+fstat+close"),
    );

    // What a peer's "handle from a bare pid" costs, against the same floor
    // the peers use: their own language's kill(pid, 0).
    let (a, b) = interleave_batched(
        budget,
        &mut || {
            PidHandle::new(black_box(pid))
                .expect("new")
                .kill(Signal::ZERO)
                .expect("kill")
        },
        &mut || floor::kill0(black_box(ipid)).expect("kill"),
    );
    rows.push(
        Row::new(
            "signal send",
            "PidHandle::new(pid) + kill(0) + drop vs kill(pid, 0)",
            a,
            b,
        )
        .floor_of(op::FROM_PID_VS_KILL),
    );
    drop(pidfd);
    pin(None);
    Ok(rows)
}

/// Signal delivery latency: SIGSTOP sent, until the sender learns the target
/// stopped (the target must run to act on it). One STOP/CONT cycle a sample.
pub(crate) fn signal_latency(cfg: &Config, pinned: bool) -> Result<Vec<Row>> {
    pin(if pinned { Some(0) } else { None });
    let target = sleeper();
    let rpid = rpid(target.id());
    let handle = PidHandle::from_child(target.child())?;
    let cycle = |send: &dyn Fn()| -> f64 {
        let t0 = Instant::now();
        send();
        let st = rustix::process::waitid(WaitId::Pid(rpid), WaitIdOptions::STOPPED)
            .expect("waitid stopped");
        let t = t0.elapsed();
        debug_assert!(st.is_some());
        rustix::process::kill_process(rpid, rustix::process::Signal::CONT).expect("cont");
        rustix::process::waitid(WaitId::Pid(rpid), WaitIdOptions::CONTINUED)
            .expect("waitid continued");
        ns(t)
    };
    let n = cfg.samples(2000);
    let (a, b) = interleave(
        cfg.budget(3.0),
        n / 4,
        n,
        &mut || cycle(&|| handle.kill(Signal::STOP).expect("stop")),
        &mut || {
            cycle(&|| {
                rustix::process::kill_process(rpid, rustix::process::Signal::STOP).expect("stop")
            })
        },
    );
    let label = if pinned {
        "SIGSTOP -> stopped, both on one CPU: PidHandle::kill vs raw kill"
    } else {
        "SIGSTOP -> stopped, unpinned (dominated by CPU wake-up): PidHandle::kill vs raw kill"
    };
    pin(None);
    Ok(vec![Row::new("signal latency", label, a, b).latency()])
}

/// Every variant lets its fresh child finish `exec` (and its waiter block)
/// for the same time before the kill, so the kill always hits a sleeping
/// `sleep`, not a process still loading.
pub(crate) fn settle() {
    thread::sleep(Duration::from_micros(500));
}

/// One exit-notification sample of the floor: SIGKILL to a settled `sleep`,
/// then `poll` on its pidfd and `waitid(P_PIDFD)`.
pub(crate) fn exit_sample_raw() -> f64 {
    let g = sleeper();
    let fd = PidFd::from_child(g.child()).expect("pidfd");
    settle();
    let t0 = Instant::now();
    rustix::process::kill_process(rpid(g.id()), rustix::process::Signal::KILL).expect("kill");
    let mut fds = [rustix::event::PollFd::new(
        &fd,
        rustix::event::PollFlags::IN,
    )];
    rustix::event::poll(&mut fds, None).expect("poll");
    let st =
        rustix::process::waitid(WaitId::PidFd(fd.as_fd()), WaitIdOptions::EXITED).expect("waitid");
    let t = t0.elapsed();
    black_box(st);
    // Reaped already: nothing for the guard to kill or wait for.
    drop(g.into_inner());
    ns(t)
}

/// Exit-notification latency: SIGKILL sent, until the parent knows the exit.
pub(crate) fn exit_latency(cfg: &Config) -> Result<Vec<Row>> {
    pin(Some(0));
    let monitor = Monitor::new()?;
    let n = cfg.samples(400);
    let budget = cfg.budget(3.0);
    let mut rows = Vec::new();

    let mut via_monitor = || -> f64 {
        let p = monitor
            .start(Command::new("sleep").arg("1000"))
            .expect("start");
        let rpid = Pid::from_raw(p.pid() as i32).expect("pid");
        settle();
        let t0 = Instant::now();
        rustix::process::kill_process(rpid, rustix::process::Signal::KILL).expect("kill");
        let exit = monitor.wait(&p).expect("wait");
        let t = t0.elapsed();
        black_box(exit);
        ns(t)
    };

    let mut raw_pidfd = exit_sample_raw;
    let (a, b) = interleave(budget, n / 4, n, &mut via_monitor, &mut raw_pidfd);
    rows.push(
        Row::new(
            "exit notification",
            "Monitor::wait vs raw poll(pidfd)+waitid",
            a,
            b,
        )
        .floor_of(op::EXIT)
        .latency(),
    );

    let mut thread_per_child = || -> f64 {
        let mut child = sleeper().into_inner();
        let rpid = Pid::from_raw(child.id() as i32).expect("pid");
        let (tx, rx) = mpsc::channel();
        let waiter = thread::spawn(move || {
            let st = child.wait();
            let _ = tx.send(Instant::now());
            st
        });
        // The waiter blocks in waitpid during the settle time.
        settle();
        let t0 = Instant::now();
        rustix::process::kill_process(rpid, rustix::process::Signal::KILL).expect("kill");
        let t1 = rx.recv().expect("waiter");
        let _ = waiter.join();
        ns(t1 - t0)
    };
    let (a, b) = interleave(budget, n / 4, n, &mut via_monitor, &mut thread_per_child);
    rows.push(
        Row::new(
            "exit notification",
            "Monitor::wait vs blocking waitpid thread per child",
            a,
            b,
        )
        .latency(),
    );

    // A SIGCHLD-style reaper: one thread blocked in waitid(P_ALL) reaping any
    // child. It would steal the monitor's children, so it runs alone: the
    // monitor samples for this pair are taken while the reaper is parked.
    let (a, b) = sigchld_style_pair(cfg, &mut via_monitor)?;
    rows.push(
        Row::new(
            "exit notification",
            "Monitor::wait vs waitid(P_ALL) reaper thread",
            a,
            b,
        )
        .latency(),
    );
    pin(None);
    Ok(rows)
}

fn sigchld_style_pair(
    cfg: &Config,
    via_monitor: &mut dyn FnMut() -> f64,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = cfg.samples(400);
    let mut a = Vec::new();
    let mut b = Vec::new();
    let start = Instant::now();
    while b.len() < n && (b.len() < n / 4 || start.elapsed() < cfg.budget(3.0)) {
        a.push(via_monitor());
        // One reaper thread lifetime per sample keeps it from seeing the
        // monitor's children: it only runs while this sample's child exists.
        let g = sleeper();
        let rpid = rpid(g.id());
        let child = g.into_inner();
        let (tx, rx) = mpsc::channel();
        let reaper = thread::spawn(move || {
            let r = rustix::process::wait(WaitOptions::empty());
            let _ = tx.send(Instant::now());
            drop(child);
            r
        });
        settle();
        let t0 = Instant::now();
        rustix::process::kill_process(rpid, rustix::process::Signal::KILL)?;
        let t1 = rx.recv()?;
        let _ = reaper.join();
        b.push(ns(t1 - t0));
    }
    Ok((a, b))
}

/// Spawn + wait of `/bin/true`: time per child, sequential and 8 in flight.
pub(crate) fn spawn_throughput(cfg: &Config) -> Result<Vec<Row>> {
    pin(None);
    let monitor = Monitor::new()?;
    let budget = cfg.budget(3.0);
    let mut rows = Vec::new();

    let (a, b) = interleave(
        budget,
        20,
        100_000,
        &mut || spawn::monitor_sample(&monitor, 1),
        &mut || spawn::std_sample(1),
    );
    rows.push(
        Row::new(
            "spawn+wait",
            "sequential, per child: Monitor vs std::process::Command",
            a,
            b,
        )
        .floor_of(op::SPAWN_SEQ),
    );

    let mut mon_par = || spawn::monitor_sample(&monitor, spawn::BATCH);
    let mut tpc_par = || -> f64 {
        let t0 = Instant::now();
        let rxs: Vec<_> = (0..spawn::BATCH)
            .map(|_| {
                let mut c = spawn::true_cmd().spawn().expect("spawn");
                let (tx, rx) = mpsc::channel();
                thread::spawn(move || {
                    let st = c.wait();
                    let _ = tx.send(st.is_ok());
                });
                rx
            })
            .collect();
        for rx in rxs {
            rx.recv().expect("waiter");
        }
        ns(t0.elapsed()) / spawn::BATCH as f64
    };
    let (a, b) = interleave(budget, 20, 100_000, &mut mon_par, &mut || {
        spawn::std_sample(spawn::BATCH)
    });
    rows.push(
        Row::new(
            "spawn+wait",
            "8 in flight, per child: Monitor vs std::process::Command",
            a,
            b,
        )
        .floor_of(op::SPAWN_PAR),
    );
    let (a, b) = interleave(budget, 20, 100_000, &mut mon_par, &mut tpc_par);
    rows.push(Row::new(
        "spawn+wait",
        "8 in flight, per child: Monitor vs thread-per-child (go-runc model)",
        a,
        b,
    ));
    Ok(rows)
}

/// Pidfile claim+drop and read, against the raw syscall sequences.
pub(crate) fn pidfile(cfg: &Config) -> Result<Vec<Row>> {
    pin(Some(0));
    let dir = cfg.out.join("scratch");
    std::fs::create_dir_all(&dir)?;
    let claim_path =
        Utf8PathBuf::from_path_buf(dir.join("claim.pid")).map_err(|_| "non-UTF-8 path")?;
    let raw_path = dir.join("raw.pid");
    let budget = cfg.budget(1.5);
    let me = std::process::id();
    let mut rows = Vec::new();
    let dir_for_raw = dir.clone();

    let raw_claim = |path: &std::path::Path| {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o644)
            .custom_flags(
                rustix::fs::OFlags::NOFOLLOW.bits() as i32
                    | rustix::fs::OFlags::CLOEXEC.bits() as i32,
            )
            .open(path)
            .expect("open");
        assert!(f.try_lock_exclusive().expect("flock"));
        f.set_len(0).expect("truncate");
        f.write_all_at(format!("{me}\n").as_bytes(), 0)
            .expect("write");
        f.sync_all().expect("fsync");
        std::fs::File::open(&dir_for_raw)
            .expect("dir")
            .sync_all()
            .expect("fsync dir");
    };
    let (a, b) = interleave_batched(
        budget,
        &mut || {
            drop(black_box(
                pidkit_pidfile::claim_for_current_process(&claim_path).expect("claim"),
            ))
        },
        &mut || raw_claim(&raw_path),
    );
    rows.push(Row::new(
        "pidfile",
        "claim+drop vs raw open+flock+truncate+write+fsync+fsync(dir)+close",
        a,
        b,
    ));

    // Read while another process holds the lock (a running daemon; a claim
    // of this process would read as `HeldByThisProcess`).
    let _holder = ForeignDaemon::start(claim_path.as_std_path())?;
    let raw_holder = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&raw_path)?;
    assert!(raw_holder.try_lock_exclusive()?);
    // neon's read: open, flock(EX|NB) (fails), pread, parse, close.
    let raw_read = |path: &std::path::Path| {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(
                (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32,
            )
            .open(path)
            .expect("open");
        assert!(!f.try_lock_exclusive().expect("flock"));
        let mut buf = [0u8; 128];
        let n = f.read_at(&mut buf, 0).expect("pread");
        let pid: u32 = std::str::from_utf8(&buf[..n])
            .expect("utf8")
            .trim()
            .parse()
            .expect("pid");
        black_box((f, pid));
    };
    let pidkit_read = || match pidkit_pidfile::read(&claim_path).expect("read") {
        pidkit_pidfile::PidFileRead::LockedByOtherProcess(owner) => {
            black_box(owner.pid());
        }
        _ => panic!("the pidfile should be held"),
    };
    let (a, b) = interleave_batched(budget, &mut || pidkit_read(), &mut || raw_read(&raw_path));
    rows.push(Row::new(
        "pidfile",
        "read (held by another) vs raw open+flock(EX try)+pread+parse+close (neon)",
        a,
        b,
    ));
    drop(raw_holder);
    drop(_holder);

    // Owner::handle() of a daemon that holds its pidfile (a `sleep` that
    // inherited the locked descriptor and whose PID the file names).
    let daemon_path = dir.join("daemon.pid");
    let daemon = ForeignDaemon::start(&daemon_path)?;
    let daemon_utf8 =
        Utf8PathBuf::from_path_buf(daemon_path.clone()).map_err(|_| "non-UTF-8 path")?;
    let owner = match pidkit_pidfile::read(&daemon_utf8)? {
        pidkit_pidfile::PidFileRead::LockedByOtherProcess(owner) => owner,
        other => return Err(format!("the daemon's pidfile reads as {other:?}").into()),
    };
    let owner_file = std::fs::File::open(&daemon_path)?;
    let dpid = daemon.pid();
    let mut handle = || drop(black_box(owner.handle().expect("handle")));
    let (a, b) = interleave_batched(budget, &mut handle, &mut || {
        drop(black_box(testkit::raw::prove_owner(
            black_box(dpid),
            &owner_file,
        )))
    });
    rows.push(Row::new(
        "pidfile",
        "Owner::handle() vs raw pidfd_open+fstat+fstat+/proc/<pid>/fd scan+fdinfo+poll",
        a,
        b,
    ));

    // The same with 10,000 flocks held on other files, against none: the
    // files stay open, only their locks are taken and dropped between rounds.
    let (a, b) = handle_under_foreign_locks(cfg, &dir, &mut handle)?;
    rows.push(Row::new(
        "pidfile",
        "Owner::handle() with 10,000 flocks held on other files vs with none",
        a,
        b,
    ));
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
    pin(None);
    Ok(rows)
}

/// A `sleep 1000` holding an exclusive `flock` on a pidfile that names it,
/// as a daemon that knows nothing of pidkit would. Killed and reaped on drop.
struct ForeignDaemon(ChildGuard);

impl ForeignDaemon {
    fn start(path: &std::path::Path) -> Result<ForeignDaemon> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        assert!(file.try_lock_exclusive()?);
        // The child inherits the locked descriptor (same open file description).
        rustix::io::fcntl_setfd(&file, rustix::io::FdFlags::empty())?;
        let child = Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .spawn()?;
        let daemon = ForeignDaemon(ChildGuard::new(child));
        file.set_len(0)?;
        file.write_all_at(format!("{}\n", daemon.pid()).as_bytes(), 0)?;
        // Our copy goes; the child's keeps the lock.
        drop(file);
        Ok(daemon)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

/// Samples of `handle` with 10,000 `flock`s held on other files (a) and
/// with none (b), alternating rounds. Raises `RLIMIT_NOFILE` for the files.
fn handle_under_foreign_locks(
    cfg: &Config,
    dir: &std::path::Path,
    handle: &mut dyn FnMut(),
) -> Result<(Vec<f64>, Vec<f64>)> {
    use rustix::fs::FlockOperation;
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    const LOCKS: usize = 10_000;
    let saved = getrlimit(Resource::Nofile);
    let need = (LOCKS + 512) as u64;
    if saved.current.is_some_and(|c| c < need) {
        let maximum = match saved.maximum {
            Some(m) if m < need => Some(need),
            other => other,
        };
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(need),
                maximum,
            },
        )
        .map_err(|e| format!("raising RLIMIT_NOFILE to {need} for 10,000 locks: {e}"))?;
    }
    let lock_dir = dir.join("foreign-locks");
    std::fs::create_dir_all(&lock_dir)?;
    let files = (0..LOCKS)
        .map(|i| std::fs::File::create(lock_dir.join(format!("{i}.lock"))))
        .collect::<io::Result<Vec<_>>>()?;
    let set = |op: FlockOperation| {
        for f in &files {
            rustix::fs::flock(f, op).expect("flock");
        }
    };
    let iters = crate::measure::calibrate(handle, Duration::from_millis(2));
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let start = Instant::now();
    let per_round = 10;
    while a.len() < 20 * per_round / 2 || start.elapsed() < cfg.budget(1.5) {
        set(FlockOperation::NonBlockingLockExclusive);
        for _ in 0..per_round {
            a.push(crate::measure::per_op(iters, handle));
        }
        set(FlockOperation::Unlock);
        for _ in 0..per_round {
            b.push(crate::measure::per_op(iters, handle));
        }
        if a.len() >= 100_000 {
            break;
        }
    }
    drop(files);
    let _ = std::fs::remove_dir_all(&lock_dir);
    let _ = setrlimit(Resource::Nofile, saved);
    Ok((a, b))
}
