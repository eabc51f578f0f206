//! Process groups, kill-on-drop and adopted core dumps, on real processes.
//!
//! Each test asserts the behaviour the docs give for the kernel it runs on,
//! as `pidkit_pidfd::probe()` finds it: `PIDFD_SIGNAL_PROCESS_GROUP` (6.9+)
//! or the `killpg`-while-unreaped fallback; `PIDFD_INFO_EXIT` (6.15+) or
//! `StatusUnavailable` for adopted exits. Under `cargo xtask test`'s seccomp
//! modes pidfds are refused and the fallbacks are what is checked.

use std::io::{self, BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use pidkit_monitor::PidHandle;
use pidkit_monitor::{Error, Monitor, Process, Signal};
use pidkit_pidfd::probe;
use testkit::{ChildGuard, watchdog};

const LIMIT: Duration = Duration::from_secs(120);

/// Whether the group is signalled through the leader's pidfd here.
fn group_scope() -> bool {
    probe().usable() && probe().signal_scope
}

/// Starts `script` as a group leader with its stdout piped, and reads `n`
/// lines (PIDs the script echoes) from it.
fn start_group_reading(m: &Monitor, script: &str, n: usize) -> (Process, Vec<u32>) {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut p = m.start_group(&mut cmd).unwrap();
    let mut out = BufReader::new(p.stdout().unwrap());
    let pids = (0..n)
        .map(|_| {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            line.trim().parse::<u32>().unwrap()
        })
        .collect();
    (p, pids)
}

/// The process group of `pid`, from `/proc/<pid>/stat`.
fn pgrp(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(2)?.parse().ok()
}

/// Handles to `pids`, each pinned while it is known to run.
fn handles(pids: &[u32]) -> Vec<PidHandle> {
    pids.iter().map(|&p| PidHandle::new(p).unwrap()).collect()
}

fn until_all_sleep(pids: &[u32]) {
    testkit::wait_until(|| {
        pids.iter()
            .all(|&p| testkit::comm(p).as_deref() == Some("sleep"))
    });
}

#[test]
fn group_kill_reaches_grandchildren_and_wait_group_sees_them_gone() {
    let _w = watchdog("group_kill", LIMIT);
    let m = Monitor::new().unwrap();
    // Two grandchildren, and a great-grandchild under a nested shell: all in
    // the leader's group, none our child.
    let (p, pids) = start_group_reading(
        &m,
        "sleep 1000 >/dev/null & echo $!; \
         sleep 1000 >/dev/null & echo $!; \
         sh -c 'sleep 1000 >/dev/null & echo $!; wait' & \
         wait",
        3,
    );
    assert!(p.is_group_leader());
    until_all_sleep(&pids);
    let members = handles(&pids);
    for &pid in &pids {
        assert_eq!(pgrp(pid), Some(p.pid()), "member {pid}");
    }
    assert!(p.group_alive().unwrap());
    p.kill_group(Signal::TERM).unwrap();
    let exit = p.wait_group().unwrap();
    assert_eq!(exit.signal(), Some(Signal::TERM), "{exit}");
    assert!(!p.group_alive().unwrap());
    for h in &members {
        // Gone: exited (and reaped by whoever became their parent).
        assert!(
            h.wait_exited_timeout(Duration::ZERO).unwrap(),
            "pid {}",
            h.pid()
        );
    }
    let err = p.kill_group(Signal::TERM).unwrap_err();
    if group_scope() {
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        assert!(matches!(&err, Error::GroupGone { pid } if *pid == p.pid()));
    } else {
        // The leader is reaped: the fallback refuses before trying.
        assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
        assert!(
            matches!(&err, Error::GroupUnreachable { pid } if *pid == p.pid()),
            "{err}"
        );
    }
}

#[test]
fn group_of_a_reaped_leader_by_pidfd_or_refused() {
    let _w = watchdog("group_reaped_leader", LIMIT);
    let m = Monitor::new().unwrap();
    // The leader exits at once; its background sleep stays in the group.
    let (p, pids) = start_group_reading(&m, "sleep 1000 >/dev/null & echo $!", 1);
    until_all_sleep(&pids);
    let member = PidHandle::new(pids[0]).unwrap();
    assert!(p.wait().unwrap().success());
    // The leader is reaped, the member remains.
    assert!(p.group_alive().unwrap());
    let result = p.kill_group(Signal::KILL);
    if group_scope() {
        // 6.9+: the leader's pidfd still names exactly this group.
        result.unwrap();
        member.wait_exited().unwrap();
        let exit = p.wait_group().unwrap();
        assert!(exit.success());
        assert!(!p.group_alive().unwrap());
    } else {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
        assert!(matches!(&err, Error::GroupUnreachable { pid } if *pid == p.pid()));
        assert!(err.to_string().contains(&p.pid().to_string()), "{err}");
        // Still running: the refusal sent nothing.
        assert!(member.is_alive().unwrap());
        member.kill(Signal::KILL).unwrap();
        member.wait_exited().unwrap();
        p.wait_group().unwrap();
    }
}

#[test]
fn group_calls_on_a_non_leader_are_refused() {
    let _w = watchdog("not_leader", LIMIT);
    let m = Monitor::new().unwrap();
    let p = m
        .start(
            Command::new("sh")
                .args(["-c", "exit 3"])
                .stdin(Stdio::null()),
        )
        .unwrap();
    assert!(!p.is_group_leader());
    for err in [
        p.kill_group(Signal::TERM).unwrap_err(),
        p.group_alive().unwrap_err(),
        p.wait_group().unwrap_err(),
    ] {
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        assert!(matches!(&err, Error::NotGroupLeader { pid } if *pid == p.pid()));
    }
    assert_eq!(p.wait().unwrap().code(), 3);
}

#[test]
fn kill_on_drop_after_a_panic_unwinds() {
    let _w = watchdog("kill_on_drop", LIMIT);
    let m = Monitor::new().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let m2 = &m;
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let p = m2
            .start(Command::new("sleep").arg("1000").stdin(Stdio::null()))
            .unwrap();
        p.set_kill_on_drop(true);
        assert!(p.kill_on_drop());
        let handle = PidHandle::new(p.pid()).unwrap();
        tx.send(handle).unwrap();
        panic!("the owner fails");
    }));
    assert!(unwound.is_err());
    let handle = rx.recv().unwrap();
    // Killed during the unwind, then reaped by the monitor.
    handle.wait_exited().unwrap();
}

#[test]
fn kill_on_drop_of_a_group_leader_kills_the_group() {
    let _w = watchdog("kill_on_drop_group", LIMIT);
    let m = Monitor::new().unwrap();
    let (p, pids) = start_group_reading(
        &m,
        "sleep 1000 >/dev/null & echo $!; sleep 1000 >/dev/null & echo $!; wait",
        2,
    );
    until_all_sleep(&pids);
    let members = handles(&pids);
    let leader = PidHandle::new(p.pid()).unwrap();
    p.set_kill_on_drop(true);
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _owned = p;
        panic!("the owner fails");
    }));
    assert!(unwound.is_err());
    leader.wait_exited().unwrap();
    for h in &members {
        h.wait_exited()
            .unwrap_or_else(|e| panic!("pid {}: {e}", h.pid()));
    }
}

#[test]
fn unmarked_process_survives_its_drop() {
    let _w = watchdog("no_kill_on_drop", LIMIT);
    let m = Monitor::new().unwrap();
    let p = m
        .start(Command::new("sleep").arg("1000").stdin(Stdio::null()))
        .unwrap();
    p.set_kill_on_drop(true);
    p.set_kill_on_drop(false);
    let handle = PidHandle::new(p.pid()).unwrap();
    drop(p);
    assert!(handle.is_alive().unwrap());
    handle.kill(Signal::KILL).unwrap();
    handle.wait_exited().unwrap();
}

/// An adopted process (not our child) that really dumps core: its `Exit`
/// says so exactly as its parent's wait did, from the wait status the
/// kernel keeps for every pidfd holder (`PIDFD_INFO_EXIT`, 6.15+). Before
/// 6.15 there is no status at all, and the API says so rather than guess.
///
/// The core is cheap and honest: the grandchild (`sleep`) runs in a temp
/// dir with `RLIMIT_CORE` raised (`ulimit -c unlimited` in its shell), and
/// the host's `core_pattern` is left as it is. Where that pattern writes a
/// file into the cwd (`core`, the kernel default), the file is the proof;
/// whatever the pattern, the flag must match what happened.
#[test]
fn adopted_process_core_dump_is_reported_as_its_parent_saw_it() {
    let _w = watchdog("adopted_core", LIMIT);
    if crate::adopting_is_refused_here("adopted_process_core_dump_is_reported_as_its_parent_saw_it")
    {
        return;
    }
    let dir = std::env::temp_dir().join(format!("pidkit-group-core-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg("ulimit -c unlimited 2>/dev/null; sleep 1000 >/dev/null 2>&1 & echo $!; wait $!; echo $?")
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut sh = ChildGuard::spawn(&mut sh);
    let mut out = BufReader::new(sh.child_mut().stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let gpid: u32 = line.trim().parse().unwrap();
    until_all_sleep(&[gpid]);
    let m = Monitor::new().unwrap();
    let p = m.adopt(PidHandle::new(gpid).unwrap()).unwrap();
    assert!(p.is_adopted());
    // Not SIGQUIT: a non-interactive shell starts background jobs with
    // SIGINT and SIGQUIT ignored.
    p.kill(Signal::ABRT).unwrap();
    let mut parent_saw = String::new();
    out.read_line(&mut parent_saw).unwrap();
    assert_eq!(parent_saw.trim(), "134", "SIGABRT as the shell reports it");
    let wrote_core = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with("core"));
    if probe().info_exit {
        let exit = p.wait().unwrap();
        assert_eq!(exit.signal(), Some(Signal::ABRT), "{exit}");
        assert_eq!(exit.core_dumped(), wrote_core, "{exit}");
        let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
        if pattern.trim() == "core" {
            // The kernel default: a file in the cwd, limited only by RLIMIT_CORE.
            assert!(wrote_core && exit.core_dumped(), "{exit}");
            assert!(exit.to_string().ends_with("(core dumped)"), "{exit}");
        }
    } else {
        let err = p.wait().unwrap_err();
        assert!(
            matches!(&err, Error::StatusUnavailable { pid } if *pid == gpid),
            "{err}"
        );
    }
    assert!(sh.wait().success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reads `n` PIDs, one per line, from `out`.
fn read_pids(out: &mut impl BufRead, n: usize) -> Vec<u32> {
    (0..n)
        .map(|_| {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            line.trim().parse::<u32>().unwrap()
        })
        .collect()
}

/// A group leader started outside the monitor and not our child (`setsid`
/// under a shell, the way a daemon detaches), adopted: the monitor finds
/// that it leads its group, so the group can be signalled and waited for as
/// for one from `start_group`.
#[test]
fn an_adopted_group_leader_started_elsewhere_has_its_group_killed() {
    let _w = watchdog("adopted_group", LIMIT);
    if crate::adopting_is_refused_here(
        "an_adopted_group_leader_started_elsewhere_has_its_group_killed",
    ) {
        return;
    }
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(
            "setsid sh -c 'echo $$; sleep 1000 >/dev/null & echo $!; \
             sleep 1000 >/dev/null & echo $!; wait' & wait $!; echo $?",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut sh = ChildGuard::spawn(&mut sh);
    let mut out = BufReader::new(sh.child_mut().stdout.take().unwrap());
    let pids = read_pids(&mut out, 3);
    let (leader, members) = (pids[0], &pids[1..]);
    until_all_sleep(members);
    assert_eq!(pgrp(leader), Some(leader), "setsid made it lead its group");
    for &pid in members {
        assert_eq!(pgrp(pid), Some(leader), "member {pid}");
    }
    let member_handles = handles(members);
    let m = Monitor::new().unwrap();
    let p = m.adopt(PidHandle::new(leader).unwrap()).unwrap();
    assert!(p.is_adopted() && p.is_group_leader(), "{p:?}");
    assert!(p.group_alive().unwrap());
    if group_scope() {
        p.kill_group(Signal::KILL).unwrap();
        for h in &member_handles {
            h.wait_exited()
                .unwrap_or_else(|e| panic!("pid {}: {e}", h.pid()));
        }
        let mut parent_saw = String::new();
        out.read_line(&mut parent_saw).unwrap();
        assert_eq!(parent_saw.trim(), "137", "SIGKILL as the shell reports it");
        match p.wait_group() {
            Ok(exit) => {
                assert!(probe().info_exit, "{exit}");
                assert_eq!(exit.signal(), Some(Signal::KILL), "{exit}");
            }
            Err(err) => assert!(
                !probe().info_exit
                    && matches!(&err, Error::StatusUnavailable { pid } if *pid == leader),
                "{err}"
            ),
        }
    } else {
        // Before 6.9 the group is named by number only while the leader is
        // our unreaped child; this one's parent may reap it at any moment.
        let err = p.kill_group(Signal::KILL).unwrap_err();
        assert!(
            matches!(&err, Error::GroupUnreachable { pid } if *pid == leader),
            "{err}"
        );
        p.kill(Signal::KILL).unwrap();
        for h in &member_handles {
            h.kill(Signal::KILL).unwrap();
            h.wait_exited().unwrap();
        }
    }
    assert!(sh.wait().success());
}

/// Adopting tells leaders from members: our own child started with
/// `process_group(0)` (so `killpg` is safe on every kernel: it is our
/// unreaped child) is a leader whose group `kill_group` reaches; a process
/// in someone else's group is not.
#[test]
fn adopt_records_whether_the_process_leads_its_group() {
    use std::os::unix::process::CommandExt;
    let _w = watchdog("adopt_group_leadership", LIMIT);
    if crate::adopting_is_refused_here("adopt_records_whether_the_process_leads_its_group") {
        return;
    }
    let m = Monitor::new().unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "sleep 1000 >/dev/null & echo $!; wait"])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let member = read_pids(&mut out, 1)[0];
    until_all_sleep(&[member]);
    let member_handle = PidHandle::new(member).unwrap();
    // The member is not a leader; adopting it says so.
    let not_leader = m.adopt(PidHandle::new(member).unwrap()).unwrap();
    assert!(!not_leader.is_group_leader());
    assert!(matches!(
        not_leader.kill_group(Signal::KILL).unwrap_err(),
        Error::NotGroupLeader { pid } if pid == member
    ));
    let p = m.adopt(PidHandle::from_child(&child).unwrap()).unwrap();
    // The monitor reaps it from now on, not std.
    drop(child);
    assert!(!p.is_adopted() && p.is_group_leader(), "{p:?}");
    p.kill_group(Signal::TERM).unwrap();
    member_handle.wait_exited().unwrap();
    let exit = p.wait_group().unwrap();
    assert_eq!(exit.signal(), Some(Signal::TERM), "{exit}");
    assert!(!p.group_alive().unwrap());
}
