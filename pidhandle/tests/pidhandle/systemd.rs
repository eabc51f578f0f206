//! systemd's names for a process: the varlink `ProcessId` JSON
//! (`systemd::PidRef`) and `PID`/`PIDFDID` environment variable pairs,
//! restored against real processes, refused after a forced PID reuse.

#![allow(
    clippy::unwrap_used,
    reason = "a failed step must fail the test loudly"
)]

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use pidkit_pidhandle::systemd::PidRef;
use pidkit_pidhandle::{BootId, Error, PidFd, PidHandle, Signal, State, probe};
use testkit::{Isolation, sleeper, watchdog};

use crate::pidfs_ids;

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn process_id_json_round_trips_and_is_verified() {
    let _w = watchdog("systemd_json", LIMIT);
    let child = sleeper();
    let pid = child.id();
    let handle = PidHandle::from_child(child.child()).unwrap();
    if !pidfs_ids() {
        assert!(
            testkit::sandbox().is_some() || !probe().pidfs,
            "{:?}",
            probe()
        );
        assert!(matches!(handle.pid_ref(), Err(Error::Unsupported { pid: p, .. }) if p == pid));
        handle.kill(Signal::KILL).unwrap();
        child.wait();
        return;
    }
    let r = handle.pid_ref().unwrap();
    let json = serde_json::to_string(&r).unwrap();
    let boot = format!("{:032x}", BootId::current().unwrap().as_u128());
    assert_eq!(
        json,
        format!(
            "{{\"pid\":{pid},\"pidfdId\":{},\"bootId\":\"{boot}\"}}",
            handle.pidfs_id().unwrap()
        )
    );
    // The same boot id as the kernel's, without its dashes.
    let kernel = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert_eq!(boot, kernel.trim().replace('-', ""));

    let back: PidRef = serde_json::from_str(&json).unwrap();
    let restored = PidHandle::from_pid_ref(&back).unwrap();
    assert_eq!(restored.state().unwrap(), State::Running);
    assert_eq!(restored.pidfs_id(), handle.pidfs_id());

    // Another boot's ProcessId, or another process's pidfs id: gone.
    let flipped = if boot.starts_with('0') { "1" } else { "0" };
    let other_boot = format!(
        "{{\"pid\":{pid},\"pidfdId\":{},\"bootId\":\"{flipped}{}\"}}",
        handle.pidfs_id().unwrap(),
        &boot[1..]
    );
    let r: PidRef = serde_json::from_str(&other_boot).unwrap();
    assert_eq!(
        PidHandle::from_pid_ref(&r).unwrap().state().unwrap(),
        State::Gone
    );
    let r = PidRef::new(pid, Some(handle.pidfs_id().unwrap() ^ 1), back.boot_id()).unwrap();
    assert_eq!(
        PidHandle::from_pid_ref(&r).unwrap().state().unwrap(),
        State::Gone
    );

    restored.kill(Signal::KILL).unwrap();
    assert_eq!(child.wait().signal(), Some(9));
    let after = PidHandle::from_pid_ref(&back).unwrap();
    assert_eq!(after.state().unwrap(), State::Gone);
    assert!(matches!(after.kill(Signal::ZERO), Err(Error::Gone { .. })));
}

testkit::isolated_test!(
    stale_process_id_is_refused_after_forced_reuse,
    Isolation::PidNamespace,
    LIMIT,
    || {
        let _w = watchdog("systemd_reuse", LIMIT);
        assert_eq!(std::process::id(), 1, "not PID 1 of a new namespace");
        if !pidfs_ids() {
            assert!(
                testkit::sandbox().is_some() || !probe().pidfs,
                "{:?}",
                probe()
            );
            return;
        }
        for round in 0..50 {
            let a = sleeper();
            let pid = a.id();
            let json = serde_json::to_string(
                &PidHandle::from_child(a.child()).unwrap().pid_ref().unwrap(),
            )
            .unwrap();
            let r: PidRef = serde_json::from_str(&json).unwrap();
            PidHandle::from_pid_ref(&r)
                .unwrap()
                .kill(Signal::KILL)
                .unwrap();
            assert_eq!(a.wait().signal(), Some(9), "round {round}");
            let b = testkit::spawn_with_pid(Command::new("sleep").arg("1000"), pid);
            assert_eq!(b.id(), pid, "B did not get A's PID");
            let stale = PidHandle::from_pid_ref(&r).unwrap();
            assert_eq!(stale.state().unwrap(), State::Gone, "round {round}");
            assert!(matches!(stale.kill(Signal::KILL), Err(Error::Gone { .. })));
            // B was not signalled: it is still running.
            let b_handle = PidHandle::from_child(b.child()).unwrap();
            assert_eq!(b_handle.state().unwrap(), State::Running);
            b_handle.kill(Signal::KILL).unwrap();
            assert_eq!(b.wait().signal(), Some(9));
        }
        eprintln!("50 forced reuses: every stale ProcessId restored as gone");
    },
);

/// The environment the isolated run of `from_env_names_the_parent` gets:
/// pairs naming this process (the parent of that run), and bad ones.
fn env_pairs() -> Vec<(&'static str, String)> {
    let me = std::process::id();
    let ino = PidFd::open(me)
        .ok()
        .and_then(|fd| fd.pidfs_id().ok().flatten())
        .unwrap_or(1);
    vec![
        ("T_PID", me.to_string()),
        ("T_PIDFDID", ino.to_string()),
        ("T_WRONG_PIDFDID", (ino ^ 1).to_string()),
        ("T_BAD_PID", format!("0{me}")),
        ("T_ZERO_PID", "0".into()),
        ("T_SIGNED_PIDFDID", format!("+{ino}")),
    ]
}

#[test]
fn from_env_names_the_parent() {
    let pairs = env_pairs();
    let env: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    testkit::run_isolated_env(
        "from_env_names_the_parent",
        Isolation::Process,
        LIMIT,
        &env,
        || {
            let _w = watchdog("from_env", LIMIT);
            let parent = rustix::process::getppid().unwrap().as_raw_pid() as u32;
            let var = |k: &str| std::env::var(k).unwrap();
            assert_eq!(var("T_PID"), parent.to_string());
            if !pidfs_ids() {
                assert!(
                    testkit::sandbox().is_some() || !probe().pidfs,
                    "{:?}",
                    probe()
                );
                let e = PidHandle::from_env("T_PID", "T_PIDFDID").unwrap_err();
                assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
                return;
            }
            let h = PidHandle::from_env("T_PID", "T_PIDFDID").unwrap();
            assert_eq!(h.pid(), parent);
            assert_eq!(h.pidfs_id().unwrap().to_string(), var("T_PIDFDID"));
            h.kill(Signal::ZERO).unwrap();

            let e = PidHandle::from_env("T_PID", "T_WRONG_PIDFDID").unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "no process with pid {parent} has pidfs inode {}",
                    var("T_WRONG_PIDFDID")
                )
            );
            let e = PidHandle::from_env("T_BAD_PID", "T_PIDFDID").unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "environment variable T_BAD_PID is \"0{parent}\", not a pid \
                     (decimal digits, no sign or leading zeros)"
                )
            );
            let e = PidHandle::from_env("T_ZERO_PID", "T_PIDFDID").unwrap_err();
            assert_eq!(
                e.to_string(),
                "environment variable T_ZERO_PID is 0, not a pid in 1..=2147483647"
            );
            let e = PidHandle::from_env("T_PID", "T_SIGNED_PIDFDID").unwrap_err();
            assert!(
                matches!(&e, Error::Env { var, .. } if var == "T_SIGNED_PIDFDID"),
                "{e}"
            );
            let e = PidHandle::from_env("T_UNSET_PID", "T_PIDFDID").unwrap_err();
            assert_eq!(e.to_string(), "environment variable T_UNSET_PID is not set");
            let e = PidHandle::from_env("T_PID", "T_UNSET_PIDFDID").unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "unsupported for pid {parent}: T_UNSET_PIDFDID is not set, \
                     so T_PID names the process by its PID alone"
                )
            );
        },
    );
}
