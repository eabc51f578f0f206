//! Integration tests for pidkit-pidfd on real processes.
//!
//! Every child is guarded (killed and reaped on drop) and every test arms a
//! watchdog. Under `cargo xtask test`'s seccomp modes (`PIDKIT_SANDBOX`), the
//! pidfd calls are blocked on purpose: tests that need a working pidfd then
//! check that the failure is the sandbox's errno instead, which is the
//! behaviour that legitimately differs there.

#![allow(
    clippy::unwrap_used,
    reason = "a failed step must fail the test loudly"
)]
#![allow(
    clippy::zombie_processes,
    reason = "children are reaped through their pidfd or by ChildGuard"
)]

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::Duration;

use pidkit_pidfd::{OpenFlags, PidFd, Signal, SignalScope, probe};
use testkit::{ChildGuard, Isolation, SeccompMode, sh, sleeper, watchdog};

const LIMIT: Duration = Duration::from_secs(60);

/// When the run is sandboxed, asserts the pidfd calls are refused with the
/// sandbox's errno and returns true (the test then has nothing else to check).
fn sandboxed_refusal() -> bool {
    let Some(mode) = testkit::sandbox() else {
        return false;
    };
    assert!(
        !probe().usable(),
        "probe should report pidfds unusable under {mode:?}"
    );
    let err = PidFd::open(std::process::id()).unwrap_err();
    let want = match mode {
        SeccompMode::Enosys => libc_errno::ENOSYS,
        SeccompMode::Eperm => libc_errno::EPERM,
    };
    assert_eq!(err.raw_os_error(), Some(want), "{err}");
    true
}

mod libc_errno {
    pub(crate) const EPERM: i32 = 1;
    pub(crate) const ESRCH: i32 = 3;
    pub(crate) const ECHILD: i32 = 10;
    pub(crate) const ENOSYS: i32 = 38;
    pub(crate) const EINVAL: i32 = 22;
}

fn cloexec(fd: impl AsFd) -> bool {
    rustix::io::fcntl_getfd(fd)
        .unwrap()
        .contains(rustix::io::FdFlags::CLOEXEC)
}

/// A PID that no process has right now (a reaped child's).
fn free_pid() -> u32 {
    let child = sh("exit 0");
    let pid = child.id();
    child.wait();
    pid
}

#[test]
fn probe_finds_every_feature_on_this_kernel() {
    let _w = watchdog("probe", LIMIT);
    let s = probe();
    if sandboxed_refusal() {
        assert!(s.reason.is_some());
        return;
    }
    assert!(s.usable(), "{s:?}");
    assert!(
        s.pidfd_open && s.send_signal && s.waitid && s.getfd,
        "{s:?}"
    );
    // `cargo xtask test` also runs the suite with one feature hidden at a time.
    let hidden = |f: &str| s.hidden.iter().any(|h| h.name() == f);
    let release = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let ver: (u32, u32) = (
        it.next().unwrap().parse().unwrap(),
        it.next().unwrap().parse().unwrap(),
    );
    assert_eq!(
        s.pidfs,
        ver >= (6, 9) && !hidden("pidfs"),
        "{s:?} on {release}"
    );
    assert_eq!(
        s.thread,
        ver >= (6, 9) && !hidden("thread"),
        "{s:?} on {release}"
    );
    assert_eq!(
        s.signal_scope,
        ver >= (6, 9) && !hidden("thread"),
        "{s:?} on {release}"
    );
    let info = ver >= (6, 13) && !hidden("get_info");
    assert_eq!(s.get_info, info, "{s:?} on {release}");
    assert_eq!(
        s.info_exit,
        info && ver >= (6, 15) && !hidden("info_exit"),
        "{s:?} on {release}"
    );
    assert_eq!(
        s.info_coredump,
        info && ver >= (6, 16) && !hidden("info_coredump"),
        "{s:?} on {release}"
    );
    assert_eq!(
        s.pidfs_file_handles,
        ver >= (6, 17) && !hidden("pidfs") && !hidden("file_handles"),
        "{s:?} on {release}"
    );
    // The kernel's own word (6.19+) where it has one, and it agrees with
    // what the release says.
    assert_eq!(
        s.info_supported_mask.is_some(),
        info && ver >= (6, 19) && !hidden("supported_mask"),
        "{s:?} on {release}"
    );
    if let Some(m) = s.info_supported_mask {
        assert_eq!(
            m & (1 << 3) != 0,
            s.info_exit || hidden("info_exit"),
            "{m:#x}"
        );
        assert_eq!(
            m & (1 << 4) != 0,
            s.info_coredump || hidden("info_coredump"),
            "{m:#x}"
        );
    }
    // The printed answer lists every feature with what was found.
    let text = s.to_string();
    for (line, found) in [
        ("pidfd_open (5.3): ", s.pidfd_open),
        ("PIDFD_GET_INFO (6.13): ", s.get_info),
        ("PIDFD_INFO_EXIT (6.15): ", s.info_exit),
        ("PIDFD_INFO_COREDUMP (6.16): ", s.info_coredump),
        (
            "pidfs file handles (open_by_handle_at on FD_PIDFS_ROOT) (6.17): ",
            s.pidfs_file_handles,
        ),
        (
            "PIDFD_INFO_SUPPORTED_MASK (6.19): ",
            s.info_supported_mask.is_some(),
        ),
        (
            "signal scopes incl. PIDFD_SIGNAL_PROCESS_GROUP (6.9): ",
            s.signal_scope,
        ),
    ] {
        let want = format!("{line}{}", if found { "yes" } else { "no" });
        assert!(text.lines().any(|l| l == want), "{want:?} not in\n{text}");
    }
    // Cached: the same allocation every time.
    assert!(std::ptr::eq(s, probe()));
}

#[test]
fn open_rejects_missing_and_invalid_pids() {
    let _w = watchdog("open_missing", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    let err = PidFd::open(free_pid()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("no such process"), "{err}");
    for bad in [0, i32::MAX as u32 + 1, u32::MAX] {
        let err = PidFd::open(bad).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}: {err}");
        assert!(err.to_string().contains(&bad.to_string()), "{err}");
    }
}

#[test]
fn readable_only_after_exit() {
    let _w = watchdog("readable", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    let child = sleeper();
    let fd = PidFd::from_child(child.child()).unwrap();
    assert!(!fd.has_exited().unwrap());
    assert!(!fd.wait_exited_timeout(Duration::from_millis(50)).unwrap());
    fd.kill(Signal::KILL).unwrap();
    assert!(fd.wait_exited_timeout(Duration::from_secs(30)).unwrap());
    assert!(fd.has_exited().unwrap());
    // Readable does not mean reaped: the status is still there to collect.
    assert_eq!(fd.wait().unwrap().signal(), Some(9));
    let _ = child.into_inner().try_wait();
}

#[test]
fn signal_zero_reaches_a_zombie_but_not_a_reaped_child() {
    let _w = watchdog("zombie", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    let child = sh("exit 3");
    let fd = PidFd::from_child(child.child()).unwrap();
    assert!(fd.wait_exited_timeout(Duration::from_secs(30)).unwrap());
    // A zombie: exited, not reaped, still signal-able with 0.
    fd.kill(Signal::ZERO).unwrap();
    assert_eq!(fd.peek_exit().unwrap().and_then(|s| s.code()), Some(3));
    fd.kill(Signal::ZERO).unwrap();
    assert_eq!(fd.wait().unwrap().code(), Some(3));
    let err = fd.kill(Signal::ZERO).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    let err = fd.kill(Signal::KILL).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    // Waiting again: the child is gone, ECHILD, not a hang and not a fake status.
    assert_eq!(
        fd.wait().unwrap_err().raw_os_error(),
        Some(libc_errno::ECHILD)
    );
    let _ = child.into_inner();
}

/// Runs `script`, reads its status through the pidfd without reaping, then
/// lets std reap it: both must agree on code, signal and core dump.
fn status_agrees_with_std(script: &str, dir: &std::path::Path) -> std::process::ExitStatus {
    let child = ChildGuard::spawn(Command::new("sh").arg("-c").arg(script).current_dir(dir));
    let fd = PidFd::from_child(child.child()).unwrap();
    assert!(fd.wait_exited_timeout(Duration::from_secs(30)).unwrap());
    let ours = fd.peek_exit().unwrap().expect("exited");
    let std_status = child.wait();
    assert_eq!(ours, std_status, "{script}");
    assert_eq!(ours.code(), std_status.code());
    assert_eq!(ours.signal(), std_status.signal());
    assert_eq!(ours.core_dumped(), std_status.core_dumped());
    ours
}

#[test]
fn wait_reports_code_signal_and_core_dump_like_std() {
    let _w = watchdog("statuses", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    let dir = tempdir();
    assert_eq!(status_agrees_with_std("exit 0", &dir).code(), Some(0));
    assert_eq!(status_agrees_with_std("exit 7", &dir).code(), Some(7));
    assert_eq!(status_agrees_with_std("exit 255", &dir).code(), Some(255));
    let st = status_agrees_with_std("kill -TERM $$", &dir);
    assert_eq!(
        (st.code(), st.signal(), st.core_dumped()),
        (None, Some(15), false)
    );
    let st = status_agrees_with_std("kill -KILL $$", &dir);
    assert_eq!(st.signal(), Some(9));
    // A core dump needs RLIMIT_CORE > 0 and a core_pattern the kernel can honour.
    let st = status_agrees_with_std("ulimit -c unlimited 2>/dev/null; kill -QUIT $$", &dir);
    assert_eq!(st.signal(), Some(3));
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    if testkit::is_root() && !pattern.starts_with('|') && !pattern.trim().is_empty() {
        assert!(
            st.core_dumped(),
            "core_pattern {pattern:?} but no core dump reported"
        );
    }
    // The direct wait gives the same as peek + std.
    let child = sh("exit 42");
    let fd = PidFd::from_child(child.child()).unwrap();
    assert_eq!(fd.wait().unwrap().code(), Some(42));
    let _ = child.into_inner();
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pidkit-pidfd-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn waiting_on_a_non_child_is_echild_not_a_hang() {
    let _w = watchdog("echild", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    let parent = std::os::unix::process::parent_id();
    let fd = PidFd::open(parent).unwrap();
    assert_eq!(
        fd.wait().unwrap_err().raw_os_error(),
        Some(libc_errno::ECHILD)
    );
    assert_eq!(
        fd.try_wait().unwrap_err().raw_os_error(),
        Some(libc_errno::ECHILD)
    );
    let me = PidFd::open(std::process::id()).unwrap();
    assert_eq!(
        me.wait().unwrap_err().raw_os_error(),
        Some(libc_errno::ECHILD)
    );
}

#[test]
fn nonblock_pidfd_does_not_block_on_a_running_child() {
    let _w = watchdog("nonblock", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    let child = sleeper();
    let fd = PidFd::open_with(child.id(), OpenFlags::NONBLOCK).unwrap();
    assert_eq!(fd.try_wait().unwrap(), None);
    assert_eq!(fd.wait().unwrap_err().kind(), io::ErrorKind::WouldBlock);
    let flags = rustix::fs::fcntl_getfl(&fd).unwrap();
    assert!(flags.contains(rustix::fs::OFlags::NONBLOCK));
    fd.kill(Signal::KILL).unwrap();
    assert!(fd.wait_exited_timeout(Duration::from_secs(30)).unwrap());
    assert_eq!(fd.try_wait().unwrap().unwrap().signal(), Some(9));
    let _ = child.into_inner();
}

#[test]
fn every_fd_is_close_on_exec() {
    let _w = watchdog("cloexec", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    let mut child = ChildGuard::spawn(Command::new("sleep").arg("1000").stdout(Stdio::piped()));
    let fd = PidFd::from_child(child.child()).unwrap();
    assert!(cloexec(&fd));
    assert!(cloexec(fd.try_clone().unwrap()));
    assert!(cloexec(
        PidFd::open_with(child.id(), OpenFlags::NONBLOCK).unwrap()
    ));
    assert!(cloexec(fd.get_fd(1).unwrap()));
    drop(child.child_mut().stdout.take());
}

#[test]
fn inode_id_is_per_process() {
    let _w = watchdog("inode", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    let a = sleeper();
    let b = sleeper();
    let a1 = PidFd::from_child(a.child()).unwrap();
    let a2 = PidFd::open(a.id()).unwrap();
    let b1 = PidFd::from_child(b.child()).unwrap();
    if !probe().pidfs {
        assert_eq!(a1.pidfs_id().unwrap(), None);
        return;
    }
    let ia = a1.pidfs_id().unwrap().unwrap();
    assert_eq!(a2.pidfs_id().unwrap(), Some(ia));
    assert_eq!(a1.try_clone().unwrap().pidfs_id().unwrap(), Some(ia));
    assert_ne!(b1.pidfs_id().unwrap(), Some(ia));
}

fn proc_status_field(pid: u32, field: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(field).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[test]
fn info_agrees_with_proc() {
    let _w = watchdog("info", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    let child = sleeper();
    let fd = PidFd::from_child(child.child()).unwrap();
    let info = fd.info().unwrap();
    assert_eq!(info.pid, Some(child.id()));
    if probe().get_info {
        assert_eq!(info.tgid, Some(child.id()));
        assert_eq!(info.ppid, Some(std::process::id()));
        let ppid: u32 = proc_status_field(child.id(), "PPid:").parse().unwrap();
        assert_eq!(info.ppid, Some(ppid));
        let uid: u32 = proc_status_field(child.id(), "Uid:")
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(info.ruid, Some(uid));
        assert!(info.cgroup_id.is_some());
        assert_eq!(info.exit_status, None);
    }
    fd.kill(Signal::KILL).unwrap();
    assert_eq!(fd.wait().unwrap().signal(), Some(9));
    if probe().info_exit {
        // Reaped: the pid is gone but the exit status is kept for any holder.
        let after = fd.info().unwrap();
        assert_eq!(after.exit_status.and_then(|s| s.signal()), Some(9));
    } else {
        assert_eq!(fd.info().unwrap_err().kind(), io::ErrorKind::NotFound);
    }
    let _ = child.into_inner();
}

#[test]
fn info_exit_is_visible_to_a_non_parent() {
    let _w = watchdog("info_exit_nonparent", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    // Our grandchild's exit, seen by us though only its parent (sh) reaps it
    // (Linux 6.15+); before, a reaped non-child is NotFound.
    let mut child = ChildGuard::spawn(
        Command::new("sh")
            .arg("-c")
            .arg("sleep 1000 & echo $!; read x; kill -USR1 $!; wait")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
    );
    let mut line = String::new();
    let mut out = child.child_mut().stdout.take().unwrap();
    let mut byte = [0u8; 1];
    while out.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0] as char);
    }
    let grandchild: u32 = line.trim().parse().unwrap();
    let fd = PidFd::open(grandchild).unwrap();
    child
        .child_mut()
        .stdin
        .take()
        .unwrap()
        .write_all(b"go\n")
        .unwrap();
    assert!(fd.wait_exited_timeout(Duration::from_secs(30)).unwrap());
    assert_eq!(
        fd.wait().unwrap_err().raw_os_error(),
        Some(libc_errno::ECHILD)
    );
    if !probe().info_exit {
        // Reaped by sh (signal 0 through the pidfd then fails), and no exit
        // record to fall back on.
        testkit::wait_until(|| fd.kill(Signal::ZERO).is_err());
        assert_eq!(fd.info().unwrap_err().kind(), io::ErrorKind::NotFound);
        return;
    }
    // The exit record is stored as the kernel reaps; wait for it (bounded
    // by the watchdog).
    let mut status = None;
    testkit::wait_until(|| {
        status = fd.info().ok().and_then(|i| i.exit_status);
        status.is_some()
    });
    assert_eq!(status.unwrap().signal(), Some(10));
}

#[test]
fn get_fd_copies_a_working_pipe_end() {
    let _w = watchdog("getfd", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    let mut child = ChildGuard::spawn(Command::new("sleep").arg("1000").stdout(Stdio::piped()));
    // Its fd 1 is the pipe once it runs `sleep` (under qemu-user the spawn
    // can return before the child's dup2 and exec).
    testkit::start_ticks_once_named(child.id(), "sleep");
    let fd = PidFd::from_child(child.child()).unwrap();
    let write_end: OwnedFd = fd.get_fd(1).unwrap();
    let mut file = std::fs::File::from(write_end);
    file.write_all(b"through the child's own stdout\n").unwrap();
    drop(file);
    let mut out = child.child_mut().stdout.take().unwrap();
    let mut buf = vec![0u8; 64];
    let n = out.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"through the child's own stdout\n");
    let err = fd.get_fd(987).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(9), "{err}"); // EBADF
}

#[test]
fn process_group_signal_reaches_every_member() {
    let _w = watchdog("pgrp", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    if !probe().signal_scope {
        // Before Linux 6.9 the kernel knows no scope flag: refused, never
        // sent to the leader alone.
        let me = PidFd::open(std::process::id()).unwrap();
        let e = me
            .kill_scoped(Signal::ZERO, SignalScope::ProcessGroup)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc_errno::EINVAL), "{e}");
        return;
    }
    let mut leader = ChildGuard::spawn(
        Command::new("sh")
            .arg("-c")
            .arg("sleep 1000 & echo $!; sleep 1000 & echo $!; wait")
            .stdout(Stdio::piped())
            .process_group(0),
    );
    let mut text = String::new();
    let mut out = leader.child_mut().stdout.take().unwrap();
    let mut byte = [0u8; 1];
    while text.lines().count() < 2 || !text.ends_with('\n') {
        assert_eq!(out.read(&mut byte).unwrap(), 1, "sh ended early: {text:?}");
        text.push(byte[0] as char);
    }
    let members: Vec<PidFd> = text
        .lines()
        .map(|l| PidFd::open(l.trim().parse().unwrap()).unwrap())
        .collect();
    let lead = PidFd::from_child(leader.child()).unwrap();
    lead.kill_scoped(Signal::TERM, SignalScope::ProcessGroup)
        .unwrap();
    for m in &members {
        assert!(
            m.wait_exited_timeout(Duration::from_secs(30)).unwrap(),
            "member still alive"
        );
    }
    assert!(lead.wait_exited_timeout(Duration::from_secs(30)).unwrap());
    assert_eq!(lead.wait().unwrap().signal(), Some(15));
    let _ = leader.into_inner();
}

#[test]
fn thread_scope_and_thread_pidfds() {
    let _w = watchdog("thread", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    let tid = rustix::thread::gettid().as_raw_nonzero().get() as u32;
    if !probe().thread {
        // Before Linux 6.9 the flag is refused, and never taken for "gone".
        let e = PidFd::open_with(tid, OpenFlags::THREAD).unwrap_err();
        assert_ne!(e.kind(), io::ErrorKind::NotFound, "{e}");
        return;
    }
    let fd = PidFd::open_with(tid, OpenFlags::THREAD).unwrap();
    fd.kill_scoped(Signal::ZERO, SignalScope::Thread).unwrap();
    fd.kill(Signal::ZERO).unwrap();
    // Without THREAD, a non-leader thread id is no process: NotFound.
    if tid != std::process::id() {
        assert_eq!(
            PidFd::open(tid).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}

#[test]
fn signalling_a_reaped_child_is_not_found_even_after_many_spawns() {
    let _w = watchdog("reaped", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    let child = sh("exit 0");
    let fd = PidFd::from_child(child.child()).unwrap();
    fd.wait().unwrap();
    let _ = child.into_inner();
    for _ in 0..50 {
        let c = sh("exit 0");
        c.wait();
    }
    let err = fd.kill(Signal::ZERO).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert_eq!(
        fd.try_wait().unwrap_err().raw_os_error(),
        Some(libc_errno::ECHILD)
    );
    let _ = libc_errno::ESRCH;
}

#[test]
fn owned_fd_conversions_keep_the_process() {
    let _w = watchdog("conv", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    let child = sleeper();
    let fd = PidFd::from_child(child.child()).unwrap();
    let raw = fd.as_raw_fd();
    let owned: OwnedFd = fd.into();
    assert_eq!(owned.as_raw_fd(), raw);
    let back = PidFd::try_from(owned).unwrap();
    back.kill(Signal::ZERO).unwrap();
    assert!(format!("{back:?}").contains("PidFd"));
}

fn seccomp_body(mode: SeccompMode) {
    let s = probe();
    assert!(!s.usable(), "{s:?}");
    assert!(
        !s.pidfd_open && !s.pidfs && !s.get_info && !s.thread && !s.pidfs_file_handles,
        "{s:?}"
    );
    assert!(
        matches!(
            s.reason,
            Some(pidkit_pidfd::Unusable::Failed {
                step: pidkit_pidfd::ProbeStep::PidfdOpen,
                ..
            })
        ),
        "{s:?}"
    );
    let want = match mode {
        SeccompMode::Enosys => libc_errno::ENOSYS,
        SeccompMode::Eperm => libc_errno::EPERM,
    };
    assert_eq!(
        PidFd::open(std::process::id()).unwrap_err().raw_os_error(),
        Some(want)
    );
    // Ordinary process work is untouched by the filter.
    let child = sh("exit 5");
    assert_eq!(child.wait().code(), Some(5));
}

testkit::isolated_test!(
    probe_reports_absent_under_seccomp_enosys,
    Isolation::Seccomp(SeccompMode::Enosys),
    LIMIT,
    || seccomp_body(SeccompMode::Enosys),
);

testkit::isolated_test!(
    probe_reports_absent_under_seccomp_eperm,
    Isolation::Seccomp(SeccompMode::Eperm),
    LIMIT,
    || seccomp_body(SeccompMode::Eperm),
);

#[test]
fn hidden_features_are_reported_absent() {
    let _w = watchdog("hidden", LIMIT);
    // The probe reads the variable once per process: a fresh one.
    testkit::run_isolated_env(
        "hidden_features_are_reported_absent",
        Isolation::Process,
        LIMIT,
        &[("PIDKIT_HIDE_FEATURES", "pidfs,get_info")],
        hidden_body,
    );
}

fn hidden_body() {
    let s = probe();
    assert!(!s.pidfs && !s.get_info && !s.info_exit, "{s:?}");
    assert_eq!(
        s.hidden,
        [pidkit_pidfd::Feature::Pidfs, pidkit_pidfd::Feature::GetInfo]
    );
    assert!(s.unknown_hidden.is_empty(), "{s}");
    if testkit::sandbox().is_none() {
        let child = sleeper();
        let fd = PidFd::from_child(child.child()).unwrap();
        // Without GET_INFO the pid still comes from /proc/self/fdinfo.
        let info = fd.info().unwrap();
        assert_eq!(info.pid, Some(child.id()));
        assert_eq!(info.source, pidkit_pidfd::InfoSource::FdInfo);
        assert_eq!(info.ppid, None);
        fd.kill(Signal::KILL).unwrap();
        fd.wait().unwrap();
        // Reaped, and no exit info to fall back on: NotFound.
        assert_eq!(fd.info().unwrap_err().kind(), io::ErrorKind::NotFound);
        let _ = child.into_inner();
    }
}

testkit::isolated_test!(
    reaped_pidfd_refuses_after_forced_pid_reuse,
    Isolation::PidNamespace,
    LIMIT,
    || {
        let _w = watchdog("reuse", LIMIT);
        if sandboxed_refusal() {
            return;
        }
        for round in 0..50 {
            let a = sleeper();
            let pid = a.id();
            let fd = PidFd::from_child(a.child()).unwrap();
            fd.kill(Signal::KILL).unwrap();
            assert_eq!(fd.wait().unwrap().signal(), Some(9));
            let _ = a.into_inner();
            // B gets A's number on purpose.
            let b = testkit::spawn_with_pid(Command::new("sleep").arg("1000"), pid);
            assert_eq!(b.id(), pid, "round {round}");
            let err = fd.kill(Signal::KILL).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotFound, "round {round}: {err}");
            assert_eq!(
                fd.try_wait().unwrap_err().raw_os_error(),
                Some(libc_errno::ECHILD)
            );
            // B is untouched.
            let fresh = PidFd::from_child(b.child()).unwrap();
            assert!(!fresh.has_exited().unwrap(), "round {round}: B was hit");
            fresh.kill(Signal::ZERO).unwrap();
            if probe().pidfs {
                assert_ne!(fd.pidfs_id().unwrap(), fresh.pidfs_id().unwrap());
            }
        }
    },
);

testkit::isolated_test!(
    /// pidfs file handles (6.17+): a handle opens a pidfd for the same process
    /// with no PID, a zombie's still opens, a reaped process's never does (not
    /// even after its PID went to a newcomer), and a handle that names nothing
    /// is refused. Where the probe did not find them, both calls say
    /// `Unsupported`.
    file_handles_open_the_same_process_without_its_pid,
    Isolation::PidNamespace,
    LIMIT,
    || {
            let _w = watchdog("file_handles", LIMIT);
            if sandboxed_refusal() {
                return;
            }
            if !probe().pidfs_file_handles {
                let me = PidFd::open(std::process::id()).unwrap();
                let err = me.file_handle().unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
                let h = pidkit_pidfd::FileHandle::new(0xfe, &[1; 8]).unwrap();
                let err = PidFd::open_file_handle(&h).unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
                return;
            }
            for round in 0..50 {
                let a = sleeper();
                let pid = a.id();
                let fd = PidFd::from_child(a.child()).unwrap();
                let handle = fd.file_handle().unwrap();
                assert!(!handle.as_bytes().is_empty());
                assert_eq!(handle, fd.file_handle().unwrap(), "stable per process");
                let again = PidFd::open_file_handle(&handle).unwrap();
                assert!(cloexec(&again));
                assert_eq!(again.pidfs_id().unwrap(), fd.pidfs_id().unwrap());
                assert_eq!(again.info().unwrap().pid, Some(pid));
                // A zombie still opens; once reaped it never does.
                fd.kill(Signal::KILL).unwrap();
                fd.wait_exited().unwrap();
                let zombie = PidFd::open_file_handle(&handle).unwrap();
                zombie.kill(Signal::ZERO).unwrap();
                assert_eq!(fd.wait().unwrap().signal(), Some(9));
                let _ = a.into_inner();
                let err = PidFd::open_file_handle(&handle).unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::NotFound, "round {round}: {err}");
                // B gets A's number on purpose: the handle still names A.
                let b = testkit::spawn_with_pid(Command::new("sleep").arg("1000"), pid);
                assert_eq!(b.id(), pid, "round {round}");
                let err = PidFd::open_file_handle(&handle).unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::NotFound, "round {round}: {err}");
                let fresh = PidFd::from_child(b.child()).unwrap();
                assert_ne!(fresh.file_handle().unwrap(), handle, "round {round}");
                assert!(!fresh.has_exited().unwrap(), "round {round}: B was hit");
            }
            // Handles that name no process: refused, never a panic.
            for (ty, bytes) in [
                (0xfe, vec![0xff; 8]),
                (0xfe, vec![0; 8]),
                (0xfe, vec![1; 3]),
                (0x1, vec![1; 8]),
                (-1, vec![1; 8]),
                (0xfe, vec![7; pidkit_pidfd::FileHandle::MAX_LEN]),
            ] {
                let h = pidkit_pidfd::FileHandle::new(ty, &bytes).unwrap();
                assert!(PidFd::open_file_handle(&h).is_err(), "{h:?}");
            }
            assert!(pidkit_pidfd::FileHandle::new(0xfe, &[]).is_err());
            assert!(pidkit_pidfd::FileHandle::new(0xfe, &[0; 129]).is_err());
        },
);

/// `PIDFD_INFO_COREDUMP` (6.16+): a running, dumpable process's record says
/// a dump would be made as the user; before 6.16 there is no record and the
/// API says `None` rather than "no dump".
#[test]
fn coredump_record_of_a_running_process() {
    let _w = watchdog("coredump_record", LIMIT);
    if sandboxed_refusal() {
        return;
    }
    let child = sleeper();
    let fd = PidFd::from_child(child.child()).unwrap();
    let info = fd.info().unwrap();
    if probe().info_coredump {
        let core = info
            .coredump
            .expect("a record on a kernel with PIDFD_INFO_COREDUMP");
        assert_ne!(core.mask & pidkit_pidfd::CoreDump::USER, 0, "{core:?}");
        assert!(!core.dumped() && !core.skipped(), "{core:?}");
        assert_eq!(core.signal, None, "{core:?}");
    } else {
        assert_eq!(info.coredump, None);
    }
    fd.kill(Signal::KILL).unwrap();
    fd.wait().unwrap();
    let _ = child.into_inner();
}
