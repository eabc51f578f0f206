//! Integration tests for pidkit-monitor on real processes.
//!
//! Every test arms a watchdog; every process is reaped (by the monitor, or
//! by a `ChildGuard`). Under `cargo xtask test`'s seccomp modes
//! (`PIDKIT_SANDBOX`) pidfds are refused, so every monitor runs on its
//! documented fallback ([`Backend::ThreadPerChild`]) and the tests check the
//! same behaviour there; where behaviour legitimately differs (adopting a
//! non-child needs a pidfd; the fallback costs a thread per child) the test
//! asserts the documented sandboxed behaviour instead.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use pidkit_monitor::PidHandle;
use pidkit_monitor::{Backend, Error, Exit, Monitor, Process, ProcessMonitor, Signal};
use pidkit_pidfd::probe;
use testkit::{ChildGuard, Isolation, SeccompMode, watchdog};

const LIMIT: Duration = Duration::from_secs(120);

fn sandboxed() -> bool {
    testkit::sandbox().is_some()
}

/// The backend `Monitor::new` must pick here.
fn expected_backend() -> Backend {
    if probe().usable() {
        Backend::Epoll
    } else {
        Backend::ThreadPerChild
    }
}

/// A fresh directory under the temp dir, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "pidkit-monitor-{tag}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Kills the grandchild `gpid` (identity-checked through a handle, so never
/// a reused PID), then the shell.
fn kill_grandchild(sh: ChildGuard, gpid: u32) {
    if let Ok(handle) = PidHandle::new(gpid) {
        let _ = handle.kill(Signal::KILL);
    }
    drop(sh);
}

#[test]
fn monitor_and_process_are_send_and_sync() {
    let _w = watchdog("send_sync", LIMIT);
    fn both<T: Send + Sync>() {}
    both::<Monitor>();
    both::<Process>();
    both::<Exit>();
    both::<Error>();
    // The trait is object safe and usable through a reference.
    let m: &dyn ProcessMonitor<Process = Process> = Monitor::global();
    let p = m.start(&mut testkit::sh_cmd("exit 3")).unwrap();
    assert_eq!(m.wait(&p).unwrap().code(), 3);
}

#[test]
fn new_and_global_pick_the_backend_the_kernel_allows() {
    let _w = watchdog("backend", LIMIT);
    assert_eq!(Monitor::new().unwrap().backend(), expected_backend());
    assert_eq!(Monitor::global().backend(), expected_backend());
    assert!(std::ptr::eq(Monitor::global(), Monitor::global()));
    assert_eq!(
        Monitor::with_backend(Backend::ThreadPerChild)
            .unwrap()
            .backend(),
        Backend::ThreadPerChild
    );
    match Monitor::with_backend(Backend::Epoll) {
        Ok(m) => {
            assert!(probe().usable());
            assert_eq!(m.backend(), Backend::Epoll);
        }
        Err(e) => {
            assert!(!probe().usable(), "{e}");
            assert_eq!(e.kind(), io::ErrorKind::Unsupported);
            assert!(matches!(&e, Error::BackendUnavailable { .. }));
        }
    }
    if sandboxed() {
        assert_eq!(expected_backend(), Backend::ThreadPerChild);
    }
}

#[test]
fn exit_code_7() {
    let _w = watchdog("exit7", LIMIT);
    let p = Monitor::global()
        .start(&mut testkit::sh_cmd("exit 7"))
        .unwrap();
    let exit = p.wait().unwrap();
    assert_eq!(exit.code(), 7);
    assert_eq!(exit.status.code(), Some(7));
    assert_eq!(exit.signal(), None);
    assert!(!exit.core_dumped());
    assert_eq!(exit.pid, p.pid());
    assert_eq!(
        exit.to_string(),
        format!("process {} exited with code 7", p.pid())
    );
}

#[test]
fn sigkill_is_code_137_and_signal_9() {
    let _w = watchdog("sigkill", LIMIT);
    let p = Monitor::global().start(&mut testkit::sleep_cmd()).unwrap();
    p.kill(Signal::KILL).unwrap();
    let exit = p.wait().unwrap();
    assert_eq!(exit.code(), 137);
    assert_eq!(exit.status.signal(), Some(9));
    assert_eq!(exit.signal(), Some(Signal::KILL));
    assert_eq!(exit.status.code(), None);
    assert!(!exit.success());
}

#[test]
fn sigquit_with_core_reports_core_dumped() {
    let _w = watchdog("core", LIMIT);
    let dir = TempDir::new("core");
    let mut cmd = testkit::sh_cmd("ulimit -c unlimited; kill -QUIT $$");
    cmd.current_dir(&dir.0);
    let exit = Monitor::global().start(&mut cmd).unwrap().wait().unwrap();
    assert_eq!(exit.signal(), Some(Signal::QUIT));
    assert_eq!(exit.code(), 131);
    // Whether a core is written depends on core_pattern; the flag must say
    // what happened, and here (core_pattern "core") it happened.
    let wrote_core = std::fs::read_dir(&dir.0)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("core"));
    assert_eq!(exit.core_dumped(), wrote_core, "{exit}");
    if testkit::require(wrote_core, "core_pattern writing a core file in the cwd") {
        assert!(exit.core_dumped());
        assert!(exit.to_string().ends_with("(core dumped)"), "{exit}");
    }
}

#[test]
fn missing_binary_is_an_error_and_nothing_is_delivered() {
    let _w = watchdog("missing", LIMIT);
    let m = Monitor::new().unwrap();
    for locked in [false, true] {
        let mut cmd = Command::new("/nonexistent/pidkit-no-such-binary");
        let err = if locked {
            m.start_locked(&mut cmd).unwrap_err()
        } else {
            m.start(&mut cmd).unwrap_err()
        };
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        assert!(
            err.to_string()
                .contains("/nonexistent/pidkit-no-such-binary"),
            "{err}"
        );
        assert!(matches!(&err, Error::Spawn { .. }));
        // The command is given back intact.
        assert_eq!(cmd.get_program(), "/nonexistent/pidkit-no-such-binary");
        assert_eq!(m.watched(), 0, "nothing is watched for a failed spawn");
    }
    // Permission denied (a directory is not executable).
    let err = m.start(&mut Command::new("/")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
    assert_eq!(m.watched(), 0);
}

#[test]
fn wait_twice_and_from_many_threads_gives_the_same_exit() {
    let _w = watchdog("twice", LIMIT);
    let p = Arc::new(
        Monitor::global()
            .start(&mut testkit::sh_cmd("exit 5"))
            .unwrap(),
    );
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let p = Arc::clone(&p);
            std::thread::spawn(move || p.wait().unwrap())
        })
        .collect();
    let first = p.wait().unwrap();
    let second = p.wait().unwrap();
    assert_eq!(first, second);
    assert_eq!(first.timestamp, second.timestamp);
    for w in waiters {
        assert_eq!(w.join().unwrap(), first);
    }
    assert_eq!(p.try_wait().unwrap(), Some(first));
    assert_eq!(p.wait_timeout(Duration::ZERO).unwrap(), Some(first));
    assert_eq!(Monitor::global().wait(&p).unwrap(), first);
}

#[test]
fn a_thousand_instant_children_none_missed() {
    let _w = watchdog("thousand", LIMIT);
    // A pidfd per child: more than the default soft limit of 1024 files.
    testkit::raise_nofile(4096);
    let m = Monitor::new().unwrap();
    let count = testkit::capacity(1000, 200);
    let procs: Vec<Process> = (0..count)
        .map(|_| {
            let mut cmd = Command::new("true");
            cmd.stdin(Stdio::null());
            m.start(&mut cmd).unwrap()
        })
        .collect();
    let mut pids = HashSet::new();
    for p in &procs {
        let exit = p.wait().unwrap();
        assert_eq!(exit.code(), 0);
        assert_eq!(exit.pid, p.pid());
        pids.insert(exit.pid);
    }
    assert_eq!(pids.len(), count);
    for p in &procs {
        testkit::assert_no_zombie_of_ours(p.pid());
    }
}

/// A job runner's window: one thread keeps eight children in flight and
/// waits for the oldest, which has exited by then (its exit fd is readable
/// first), so the wait reaps it at once. Each status goes to its own process,
/// none is left a zombie.
#[test]
fn sliding_window_of_exited_children() {
    let _w = watchdog("window", LIMIT);
    let m = Monitor::new().unwrap();
    let start = |i: usize| {
        m.start(&mut testkit::sh_cmd(&format!("exit {}", i % 100)))
            .unwrap()
    };
    let mut window: std::collections::VecDeque<(usize, Process)> =
        (0..8).map(|i| (i, start(i))).collect();
    for i in 8..108 {
        let (j, oldest) = window.pop_front().unwrap();
        testkit::block_until_readable(oldest.exit_fd());
        let exit = m.wait(&oldest).unwrap();
        assert_eq!((exit.code(), exit.pid), ((j % 100) as i32, oldest.pid()));
        assert_eq!(oldest.try_wait().unwrap(), Some(exit));
        testkit::assert_no_zombie_of_ours(oldest.pid());
        window.push_back((i, start(i)));
    }
    for (j, p) in &window {
        assert_eq!(p.wait().unwrap().code(), (j % 100) as i32);
    }
}

#[test]
fn two_hundred_concurrent_children_each_delivered_once_to_the_right_process() {
    let _w = watchdog("two_hundred", LIMIT);
    let m = Arc::new(Monitor::new().unwrap());
    // Started from 8 threads at once, waited from 8 other threads at once.
    let starters: Vec<_> = (0..8)
        .map(|t| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                (0..25)
                    .map(|k| {
                        let i: i32 = t * 25 + k;
                        let code = (i * 37) % 256;
                        let p = m
                            .start(&mut testkit::sh_cmd(&format!("exit {code}")))
                            .unwrap();
                        (code, p)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let all: Vec<(i32, Process)> = starters
        .into_iter()
        .flat_map(|s| s.join().unwrap())
        .collect();
    assert_eq!(all.len(), 200);
    let all = Arc::new(all);
    let waiters: Vec<_> = (0..8)
        .map(|t| {
            let all = Arc::clone(&all);
            std::thread::spawn(move || {
                // Every thread waits for every process, in a different order.
                let n = all.len();
                for k in 0..n {
                    let (code, p) = &all[(k * 7 + t * 13) % n];
                    let exit = p.wait().unwrap();
                    assert_eq!(exit.pid, p.pid());
                    assert_eq!(exit.code(), *code, "{exit}");
                }
            })
        })
        .collect();
    for w in waiters {
        w.join().unwrap();
    }
    let pids: HashSet<u32> = all.iter().map(|(_, p)| p.wait().unwrap().pid).collect();
    assert_eq!(pids.len(), 200);
}

#[test]
fn wait_timeout_then_kill_leaves_no_zombie() {
    let _w = watchdog("timeout_kill", LIMIT);
    let p = Monitor::global().start(&mut testkit::sleep_cmd()).unwrap();
    assert_eq!(p.wait_timeout(Duration::from_millis(20)).unwrap(), None);
    assert_eq!(p.try_wait().unwrap(), None);
    assert_eq!(p.try_wait().unwrap(), None);
    p.kill(Signal::ZERO).unwrap();
    p.kill(Signal::TERM).unwrap();
    let exit = p.wait_timeout(Duration::from_secs(100)).unwrap().unwrap();
    assert_eq!(exit.signal(), Some(Signal::TERM));
    assert_eq!(exit.code(), 143);
    testkit::assert_no_zombie_of_ours(p.pid());
}

#[test]
fn kill_after_exit_is_an_error_never_a_stray_signal() {
    let _w = watchdog("kill_after", LIMIT);
    let p = Monitor::global()
        .start(&mut testkit::sh_cmd("exit 0"))
        .unwrap();
    p.wait().unwrap();
    for sig in [Signal::ZERO, Signal::KILL, Signal::TERM] {
        let err = p.kill(sig).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        assert!(matches!(&err, Error::Gone { pid } if *pid == p.pid()));
        assert_eq!(err.to_string(), format!("process {} is gone", p.pid()));
    }
}

/// The same cause reads the same from the monitor and from the handle
/// crate: a gone process is `Gone`, "process N is gone", from a `Process`
/// and from a `PidHandle` of the same process.
#[test]
fn gone_reads_the_same_from_a_process_and_from_its_handle() {
    let _w = watchdog("same_words", LIMIT);
    let p = Monitor::global().start(&mut testkit::sleep_cmd()).unwrap();
    let handle = p.handle().unwrap();
    p.kill(Signal::KILL).unwrap();
    p.wait().unwrap();
    let from_process = p.kill(Signal::TERM).unwrap_err();
    let from_handle = handle.kill(Signal::TERM).unwrap_err();
    assert_eq!(from_process.to_string(), from_handle.to_string());
    assert_eq!(from_process.kind(), from_handle.kind());
    // And the handle's error, converted, is the monitor's variant.
    assert!(matches!(Error::from(from_handle), Error::Gone { pid } if pid == p.pid()));
}

/// `Process::identity` is plain data: the handle's identity, made once and
/// kept after the exit; asked for the first time after the exit it is
/// `Gone` (nothing left to prove it with).
#[test]
fn identity_is_the_handles_and_is_kept_after_the_exit() {
    let _w = watchdog("identity", LIMIT);
    let p = Monitor::global().start(&mut testkit::sleep_cmd()).unwrap();
    let id = p.identity().unwrap();
    assert_eq!(id.pid(), p.pid());
    assert!(!id.is_gone());
    assert_eq!(id, *p.handle().unwrap().identity());
    assert_eq!(
        PidHandle::restore(&id).unwrap().state().unwrap(),
        pidkit_monitor::State::Running
    );
    p.kill(Signal::KILL).unwrap();
    p.wait().unwrap();
    assert_eq!(p.identity().unwrap(), id);
    let late = Monitor::global()
        .start(&mut testkit::sh_cmd("exit 0"))
        .unwrap();
    late.wait().unwrap();
    assert!(matches!(late.identity(), Err(Error::Gone { pid }) if pid == late.pid()));
}

#[test]
fn exit_fd_is_readable_only_after_the_exit() {
    let _w = watchdog("exit_fd", LIMIT);
    let p = Monitor::global().start(&mut testkit::sleep_cmd()).unwrap();
    assert!(!testkit::readable(p.exit_fd()));
    assert_eq!(p.wait_timeout(Duration::from_millis(20)).unwrap(), None);
    assert!(!testkit::readable(p.exit_fd()));
    p.kill(Signal::KILL).unwrap();
    testkit::block_until_readable(p.exit_fd());
    // Readable means the exit can be had without blocking.
    let exit = p.try_wait().unwrap().unwrap();
    assert_eq!(exit.signal(), Some(Signal::KILL));
    assert!(
        testkit::readable(p.exit_fd()),
        "stays readable after the exit"
    );
    assert_eq!(p.wait().unwrap(), exit);
    let flags = rustix::io::fcntl_getfd(p.exit_fd()).unwrap();
    assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
}

#[test]
fn one_mib_of_output_is_drained_then_waited() {
    let _w = watchdog("drain", LIMIT);
    let mut cmd = Command::new("head");
    cmd.args(["-c", "1048576", "/dev/zero"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut p = Monitor::global().start(&mut cmd).unwrap();
    let mut out = p.stdout().unwrap();
    assert!(p.stdout().is_none(), "handed out once");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        out.read_to_end(&mut buf).unwrap();
        buf
    });
    let exit = p.wait().unwrap();
    let buf = reader.join().unwrap();
    assert!(exit.success(), "{exit}");
    assert_eq!(buf.len(), 1 << 20);
    assert!(buf.iter().all(|b| *b == 0));
}

#[test]
fn stdin_and_stderr_are_handed_to_the_caller() {
    let _w = watchdog("stdio", LIMIT);
    let mut cmd = testkit::sh_cmd("cat; echo oops >&2; exit 4");
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut p = Monitor::global().start(&mut cmd).unwrap();
    let mut stdin = p.stdin().unwrap();
    stdin.write_all(b"ping\n").unwrap();
    drop(stdin);
    let mut out = String::new();
    p.stdout().unwrap().read_to_string(&mut out).unwrap();
    let mut err = String::new();
    p.stderr().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!((out.as_str(), err.as_str()), ("ping\n", "oops\n"));
    assert_eq!(p.wait().unwrap().code(), 4);
    assert!(p.stdin().is_none() && p.stdout().is_none() && p.stderr().is_none());
}

/// Blocks until thread `tid` of this process has fully exited (its
/// `/proc/self/task` entry is gone): by then the kernel has sent the
/// parent-death signals of the children it forked.
fn until_thread_gone(tid: i32) {
    testkit::wait_until(|| !std::path::Path::new(&format!("/proc/self/task/{tid}")).exists());
}

fn pdeathsig_cmd() -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--pdeathsig", "KILL", "sleep", "1000"])
        .stdin(Stdio::null());
    cmd
}

/// Starts `setpriv --pdeathsig KILL sleep 1000` from a thread that then
/// exits (with `start_locked` or plain `start`), and returns once that
/// thread is gone; `None` (said loudly; required under CI) without
/// util-linux `setpriv`.
fn start_pdeathsig_child_from_a_short_lived_thread(locked: bool) -> Option<Process> {
    let have_setpriv = Command::new("setpriv")
        .arg("--help")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !testkit::require(have_setpriv, "util-linux setpriv") {
        return None;
    }
    let m = Arc::new(Monitor::new().unwrap());
    let (p, tid) = std::thread::spawn(move || {
        let mut cmd = pdeathsig_cmd();
        let p = if locked {
            let p = m.start_locked(&mut cmd).unwrap();
            assert_eq!(cmd.get_program(), "setpriv", "the command is given back");
            p
        } else {
            m.start(&mut cmd).unwrap()
        };
        testkit::wait_until(|| testkit::comm(p.pid()).as_deref() == Some("sleep"));
        (p, rustix::thread::gettid().as_raw_nonzero().get())
    })
    .join()
    .unwrap();
    until_thread_gone(tid);
    Some(p)
}

#[test]
fn start_locked_child_with_pdeathsig_outlives_the_calling_thread() {
    let _w = watchdog("pdeathsig", LIMIT);
    let Some(p) = start_pdeathsig_child_from_a_short_lived_thread(true) else {
        return;
    };
    // Had PDEATHSIG fired, SIGKILL would already be queued and would be
    // what the exit reports; our SIGTERM comes after it.
    assert_eq!(p.try_wait().unwrap(), None);
    p.kill(Signal::TERM).unwrap();
    let exit = p.wait().unwrap();
    assert_eq!(exit.signal(), Some(Signal::TERM), "{exit}");
}

#[test]
fn control_plain_spawn_from_a_short_lived_thread_is_killed_by_pdeathsig() {
    let _w = watchdog("pdeathsig_control", LIMIT);
    // Proves the test above can fail: the same child spawned with `start`
    // from a thread that then exits is killed by its parent-death signal.
    let Some(p) = start_pdeathsig_child_from_a_short_lived_thread(false) else {
        return;
    };
    // SIGTERM is ignored by a process already dying of SIGKILL.
    let _ = p.kill(Signal::TERM);
    let exit = p.wait().unwrap();
    assert_eq!(exit.signal(), Some(Signal::KILL), "{exit}");
}

#[test]
fn adopt_a_non_child_and_get_its_status() {
    let _w = watchdog("adopt", LIMIT);
    // The shell waits for its background sleep, so it reaps it: the kernel
    // then records the status for every pidfd holder.
    let (sh, gpid) = testkit::grandchild("wait $!");
    let handle = PidHandle::new(gpid).unwrap();
    let m = Monitor::new().unwrap();
    let result = m.adopt(handle);
    if handle_has_no_pidfd_here() {
        let err = result.unwrap_err();
        assert_eq!(err.error().kind(), io::ErrorKind::Unsupported, "{err}");
        assert!(matches!(err.error(), Error::NoPidfd { pid } if *pid == gpid));
        assert!(err.to_string().contains(&gpid.to_string()), "{err}");
        assert_eq!(err.into_inner().pid(), gpid);
        kill_grandchild(sh, gpid);
        return;
    }
    let p = result.unwrap();
    assert!(p.is_adopted());
    assert_eq!(p.pid(), gpid);
    assert_eq!(p.try_wait().unwrap(), None);
    assert!(!testkit::readable(p.exit_fd()));
    p.kill(Signal::TERM).unwrap();
    if probe().info_exit {
        let exit = p.wait().unwrap();
        assert_eq!(exit.pid, gpid);
        assert_eq!(exit.signal(), Some(Signal::TERM), "{exit}");
        assert_eq!(exit.code(), 143);
        assert_eq!(p.wait().unwrap(), exit);
    } else {
        let err = p.wait().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
    }
    assert!(p.kill(Signal::TERM).is_err());
    // The shell's `wait` returned the sleep's status.
    assert_eq!(sh.wait().code(), Some(143));
}

/// Whether a `PidHandle` made here carries a pidfd (not in the sandbox).
fn handle_has_no_pidfd_here() -> bool {
    !probe().usable()
}

testkit::isolated_test!(
    adopt_waits_for_the_parent_to_reap_and_reaps_a_reparented_orphan,
    Isolation::Process,
    LIMIT,
    || {
        let _w = watchdog("adopt_orphan", LIMIT);
        let m = Monitor::new().unwrap();
        let Some((sh, gpid, p)) = crate::adopted_unreaped_exit(
            "adopt_waits_for_the_parent_to_reap_and_reaps_a_reparented_orphan",
            &m,
        ) else {
            return;
        };
        // Exited, but not reaped by its parent: no status yet.
        assert_eq!(p.wait_timeout(Duration::from_millis(30)).unwrap(), None);
        assert_eq!(p.try_wait().unwrap(), None);
        // Its parent dies; the zombie is reparented to us and the monitor
        // reaps it.
        drop(sh);
        let exit = p.wait().unwrap();
        assert_eq!((exit.pid, exit.signal()), (gpid, Some(Signal::TERM)));
        testkit::assert_no_zombie_of_ours(gpid);
    },
);

testkit::isolated_test!(
    /// `probe()` reads `PIDKIT_HIDE_FEATURES` once per process: a fresh one.
    adopt_without_exit_info_is_unsupported_after_the_exit,
    Isolation::Process,
    LIMIT,
    env: &[("PIDKIT_HIDE_FEATURES", "info_exit")],
    adopt_without_exit_info_body,
);

fn adopt_without_exit_info_body() {
    let _w = watchdog("adopt_no_info", LIMIT);
    assert!(!probe().info_exit);
    let (sh, gpid) = testkit::grandchild("wait $!");
    let m = Monitor::new().unwrap();
    let result = m.adopt(PidHandle::new(gpid).unwrap());
    if handle_has_no_pidfd_here() {
        assert_eq!(
            result.unwrap_err().error().kind(),
            io::ErrorKind::Unsupported
        );
        kill_grandchild(sh, gpid);
        return;
    }
    let p = result.unwrap();
    p.kill(Signal::TERM).unwrap();
    for _ in 0..2 {
        let err = p.wait().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
        assert!(matches!(&err, Error::StatusUnavailable { pid } if *pid == gpid));
        assert_eq!(
            err.to_string(),
            format!(
                "process {gpid} exited; its exit status is not available to a non-parent on this kernel"
            )
        );
    }
    assert_eq!(p.try_wait().unwrap_err().kind(), io::ErrorKind::Unsupported);
    assert!(testkit::readable(p.exit_fd()));
    assert_eq!(sh.wait().code(), Some(143));
}

#[test]
fn adopt_of_a_gone_process_is_not_found() {
    let _w = watchdog("adopt_gone", LIMIT);
    let child = Command::new("true").spawn().unwrap();
    let handle = PidHandle::from_child(&child).unwrap();
    let pid = child.id();
    let status = ChildGuard::new(child).wait();
    assert!(status.success());
    let text = handle.to_string();
    let err = Monitor::global().adopt(handle).unwrap_err();
    assert_eq!(err.error().kind(), io::ErrorKind::NotFound, "{err}");
    assert!(matches!(err.error(), Error::Gone { pid: p } if *p == pid));
    assert_eq!(err.to_string(), format!("process {pid} is gone"));
    // The handle comes back unchanged, and still says the process is gone.
    let handle = err.into_inner();
    assert_eq!((handle.pid(), handle.to_string()), (pid, text));
    assert_eq!(handle.state().unwrap(), pidkit_monitor::State::Gone);
    let io_err: io::Error = Monitor::global().adopt(handle).unwrap_err().into();
    assert_eq!(io_err.kind(), io::ErrorKind::NotFound);
}

testkit::isolated_test!(
    /// Without pidfds (a seccomp filter makes `pidfd_open` fail) a live
    /// process cannot be adopted; the failed adopt hands back the very handle,
    /// which still signals the process.
    a_failed_adopt_hands_back_a_working_handle,
    Isolation::Seccomp(SeccompMode::Enosys),
    LIMIT,
    || {
            let _w = watchdog("adopt_hands_back", LIMIT);
            let child = ChildGuard::spawn(Command::new("sleep").arg("1000"));
            let pid = child.id();
            let handle = PidHandle::new(pid).unwrap();
            assert!(handle.pidfd().is_none(), "the filter left pidfds working");
            let text = handle.to_string();
            let m = Monitor::with_backend(Backend::ThreadPerChild).unwrap();
            let err = m.adopt(handle).unwrap_err();
            assert_eq!(err.error().kind(), io::ErrorKind::Unsupported, "{err}");
            assert!(
                matches!(err.error(), Error::NoPidfd { pid: p } if *p == pid),
                "{err}"
            );
            let handle = err.into_inner();
            assert_eq!((handle.pid(), handle.to_string()), (pid, text));
            assert!(handle.is_alive().unwrap());
            handle.kill(Signal::KILL).unwrap();
            let status = child.wait();
            assert_eq!(status.signal(), Some(Signal::KILL.as_raw()), "{status}");
        },
);

#[test]
fn adopting_our_own_child_reaps_it() {
    let _w = watchdog("adopt_own", LIMIT);
    let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
    let handle = PidHandle::from_child(&child).unwrap();
    let m = Monitor::new().unwrap();
    let p = match m.adopt(handle) {
        Ok(p) => p,
        Err(e) => {
            assert!(handle_has_no_pidfd_here(), "{e}");
            assert_eq!(e.error().kind(), io::ErrorKind::Unsupported);
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
    };
    assert!(!p.is_adopted(), "our own child is a child");
    p.kill(Signal::KILL).unwrap();
    assert_eq!(p.wait().unwrap().signal(), Some(Signal::KILL));
    testkit::assert_no_zombie_of_ours(child.id());
    // std finds nothing left to reap.
    assert!(child.try_wait().is_err());
}

#[test]
fn a_child_reaped_elsewhere_still_reports_its_status() {
    let _w = watchdog("reaped_elsewhere", LIMIT);
    if crate::adopting_is_refused_here("a_child_reaped_elsewhere_still_reports_its_status") {
        return;
    }
    // Two parties reap the same child: std's `Child::wait` and the monitor
    // (through an adopted handle of our own child). Whoever loses the race
    // must still see the right status, never a made-up one.
    for _ in 0..20 {
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        let m = Monitor::new().unwrap();
        let p = m.adopt(PidHandle::from_child(&child).unwrap()).unwrap();
        let std_side = std::thread::spawn(move || child.wait());
        p.kill(Signal::KILL).unwrap();
        match p.wait() {
            Ok(exit) => assert_eq!(exit.signal(), Some(Signal::KILL), "{exit}"),
            Err(e) => {
                assert!(!probe().info_exit, "{e}");
                assert!(matches!(&e, Error::ReapedElsewhere { .. }));
            }
        }
        if let Ok(status) = std_side.join().unwrap() {
            assert_eq!(status.signal(), Some(9));
        }
    }
}

#[test]
fn dropped_processes_are_reaped_by_the_monitor() {
    let _w = watchdog("dropped", LIMIT);
    let m = Monitor::new().unwrap();
    let pids: Vec<u32> = (0..50)
        .map(|_| m.start(&mut testkit::sh_cmd("exit 0")).unwrap().pid())
        .collect();
    // Nobody waits: the monitor still reaps every one.
    testkit::wait_until(|| m.watched() == 0);
    for pid in pids {
        testkit::assert_no_zombie_of_ours(pid);
    }
}

#[test]
fn a_dropped_monitor_keeps_its_processes_working() {
    let _w = watchdog("dropped_monitor", LIMIT);
    let m = Monitor::new().unwrap();
    let p = m.start(&mut testkit::sleep_cmd()).unwrap();
    let unwaited = m.start(&mut testkit::sh_cmd("exit 0")).unwrap().pid();
    let locked = m.start_locked(&mut testkit::sh_cmd("exit 9")).unwrap();
    drop(m);
    assert_eq!(locked.wait().unwrap().code(), 9);
    p.kill(Signal::KILL).unwrap();
    assert_eq!(p.wait().unwrap().code(), 137);
    // The reaper of the dropped monitor still reaps what nobody waits for.
    testkit::wait_until(|| !testkit::is_our_zombie(unwaited));
}

#[test]
fn start_locked_works_like_start() {
    let _w = watchdog("locked", LIMIT);
    let mut cmd = testkit::sh_cmd("read x; exit $x");
    cmd.stdin(Stdio::piped());
    let mut p = Monitor::global().start_locked(&mut cmd).unwrap();
    writeln!(p.stdin().unwrap(), "42").unwrap();
    let exit = p.wait().unwrap();
    assert_eq!((exit.code(), exit.pid), (42, p.pid()));
    assert!(p.kill(Signal::KILL).is_err());
}

#[test]
fn stress_three_thousand_children() {
    let _w = watchdog("stress", Duration::from_secs(300));
    let m = Arc::new(Monitor::new().unwrap());
    // Four threads, each with up to 50 children in flight; each child exits
    // with 0 or 1 and must report exactly that.
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                let mut seen = 0;
                for wave in 0..testkit::capacity(15, 3) {
                    let procs: Vec<(bool, Process)> = (0..50)
                        .map(|k| {
                            let ok = (t + wave + k) % 3 != 0;
                            let mut cmd = Command::new(if ok { "true" } else { "false" });
                            cmd.stdin(Stdio::null());
                            (ok, m.start(&mut cmd).unwrap())
                        })
                        .collect();
                    for (ok, p) in procs.iter().rev() {
                        let exit = p.wait().unwrap();
                        assert_eq!(exit.success(), *ok, "{exit}");
                        assert_eq!(exit.code(), if *ok { 0 } else { 1 });
                        seen += 1;
                    }
                }
                seen
            })
        })
        .collect();
    let total: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(total, 4 * 50 * testkit::capacity(15, 3));
    testkit::wait_until(|| m.watched() == 0);
}

testkit::isolated_test!(
    thread_count_stays_flat_while_holding_500_children,
    Isolation::Process,
    LIMIT,
    || {
        let _w = watchdog("threads", LIMIT);
        let before = testkit::thread_count();
        let m = Monitor::new().unwrap();
        let procs: Vec<Process> = (0..500)
            .map(|_| m.start(&mut testkit::sleep_cmd()).unwrap())
            .collect();
        let during = testkit::thread_count();
        match m.backend() {
            Backend::Epoll => assert!(
                during <= before + 2,
                "{before} threads before, {during} while holding 500 children"
            ),
            // The documented cost of the fallback: a thread per child.
            _ => assert!(
                during <= before + 500 + 2,
                "{before} threads before, {during} while holding 500 children"
            ),
        }
        assert_eq!(m.watched(), 500);
        for p in &procs {
            p.kill(Signal::KILL).unwrap();
        }
        for p in &procs {
            assert_eq!(p.wait().unwrap().code(), 137);
        }
    },
);

/// Everything the fallback must still get right; run under seccomp filters
/// and with the fallback backend chosen explicitly.
fn fallback_body(m: &Monitor) {
    assert_eq!(m.backend(), Backend::ThreadPerChild);
    // Exit codes and signals.
    assert_eq!(
        m.start(&mut testkit::sh_cmd("exit 7"))
            .unwrap()
            .wait()
            .unwrap()
            .code(),
        7
    );
    let p = m.start(&mut testkit::sleep_cmd()).unwrap();
    // wait_timeout, then kill.
    assert_eq!(p.wait_timeout(Duration::from_millis(20)).unwrap(), None);
    assert!(!testkit::readable(p.exit_fd()));
    p.kill(Signal::ZERO).unwrap();
    p.kill(Signal::KILL).unwrap();
    testkit::block_until_readable(p.exit_fd());
    let exit = p
        .try_wait()
        .unwrap()
        .expect("recorded once the exit fd is readable");
    assert_eq!((exit.code(), exit.signal()), (137, Some(Signal::KILL)));
    assert_eq!(p.wait().unwrap(), exit);
    assert_eq!(
        p.kill(Signal::TERM).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    testkit::assert_no_zombie_of_ours(p.pid());
    // Real-time signals cannot be sent without pidfds (documented).
    let p = m.start(&mut testkit::sleep_cmd()).unwrap();
    let err = p.kill(Signal::from_raw(40).unwrap()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
    p.kill(Signal::TERM).unwrap();
    assert_eq!(p.wait().unwrap().code(), 143);
    // Many children at once, each to the right process.
    let procs: Vec<(i32, Process)> = (0..60)
        .map(|i| {
            (
                i,
                m.start(&mut testkit::sh_cmd(&format!("exit {i}"))).unwrap(),
            )
        })
        .collect();
    for (i, p) in &procs {
        let exit = p.wait().unwrap();
        assert_eq!((exit.code(), exit.pid), (*i, p.pid()));
    }
    // start_locked.
    let p = m.start_locked(&mut testkit::sh_cmd("exit 3")).unwrap();
    assert_eq!(p.wait().unwrap().code(), 3);
    // Spawn failures.
    let err = m.start(&mut Command::new("/nonexistent/x")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    testkit::wait_until(|| m.watched() == 0);
}

fn seccomp_body() {
    let _w = watchdog("seccomp", LIMIT);
    assert!(!probe().usable(), "{:?}", probe());
    fallback_body(&Monitor::new().unwrap());
    fallback_body(Monitor::global());
    // Nothing to watch a non-child with.
    let (sh, gpid) = testkit::grandchild("wait $!");
    let err = Monitor::global()
        .adopt(PidHandle::new(gpid).unwrap())
        .unwrap_err();
    assert_eq!(err.error().kind(), io::ErrorKind::Unsupported, "{err}");
    kill_grandchild(sh, gpid);
}

testkit::isolated_tests!(seccomp_body, LIMIT;
    fallback_under_seccomp_enosys: Isolation::Seccomp(SeccompMode::Enosys),
    fallback_under_seccomp_eperm: Isolation::Seccomp(SeccompMode::Eperm),
);

#[test]
fn fallback_backend_chosen_explicitly() {
    let _w = watchdog("fallback_explicit", LIMIT);
    fallback_body(&Monitor::with_backend(Backend::ThreadPerChild).unwrap());
}

testkit::isolated_test!(
    /// `probe()` reads `PIDKIT_HIDE_FEATURES` once per process: a fresh one.
    fallback_with_pidfds_hidden,
    Isolation::Process,
    LIMIT,
    env: &[("PIDKIT_HIDE_FEATURES", "pidfd")],
    || {
        let _w = watchdog("hidden", LIMIT);
        assert!(!probe().usable());
        fallback_body(&Monitor::new().unwrap());
    },
);

mod state_machine {
    //! The per-process state machine against a model: "running" until a
    //! kill lands, then one exit, recorded once and returned by everything.
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Copy, Debug)]
    enum Op {
        TryWait,
        WaitZero,
        KillZero,
        KillTerm,
        Wait,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::TryWait),
            Just(Op::WaitZero),
            Just(Op::KillZero),
            Just(Op::KillTerm),
            Just(Op::Wait),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn one_exit_recorded_once(ops in proptest::collection::vec(op(), 1..12), fallback in any::<bool>()) {
            let _w = watchdog("state_machine", LIMIT);
            let m = if fallback {
                Monitor::with_backend(Backend::ThreadPerChild).unwrap()
            } else {
                Monitor::new().unwrap()
            };
            let p = m.start(&mut testkit::sleep_cmd()).unwrap();
            let mut killed = false;
            let mut seen: Option<Exit> = None;
            for op in ops {
                // Once an exit was seen, every answer is that exit.
                let check = |e: Option<Exit>, seen: &mut Option<Exit>| -> Result<(), TestCaseError> {
                    if let Some(s) = seen {
                        prop_assert_eq!(e, Some(*s));
                    }
                    if let Some(e) = e {
                        prop_assert!(killed, "an exit before any kill: {e}");
                        prop_assert_eq!(e.signal(), Some(Signal::TERM));
                        prop_assert_eq!(e.pid, p.pid());
                        *seen = Some(e);
                    }
                    Ok(())
                };
                match op {
                    Op::TryWait => check(p.try_wait().unwrap(), &mut seen)?,
                    Op::WaitZero => check(p.wait_timeout(Duration::ZERO).unwrap(), &mut seen)?,
                    Op::Wait if killed => check(Some(p.wait().unwrap()), &mut seen)?,
                    Op::Wait => {}
                    Op::KillZero | Op::KillTerm => {
                        let sig = if matches!(op, Op::KillTerm) { Signal::TERM } else { Signal::ZERO };
                        match p.kill(sig) {
                            Ok(()) => prop_assert!(seen.is_none(), "kill succeeded after the exit was seen"),
                            Err(e) => {
                                prop_assert!(killed, "kill failed before any TERM: {e}");
                                prop_assert_eq!(e.kind(), io::ErrorKind::NotFound);
                            }
                        }
                        if matches!(op, Op::KillTerm) {
                            killed = true;
                        }
                    }
                }
            }
            if !killed {
                p.kill(Signal::TERM).unwrap();
            }
            let last = p.wait().unwrap();
            prop_assert_eq!(last.signal(), Some(Signal::TERM));
            if let Some(s) = seen {
                prop_assert_eq!(last, s);
            }
            prop_assert!(p.kill(Signal::ZERO).is_err());
        }
    }
}
