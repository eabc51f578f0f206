//! Pidfiles across real processes: holders that die, claims caught half-way,
//! racing claimers, forced PID reuse, and a model-based test of many actors.

use std::cell::{Cell, RefCell};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use pidkit_lockfile::{UnwrittenLockFile, create_exclusive};
use pidkit_pidfile::{
    Error, PidFileGuard, PidFileRead, PidHandle, Signal, State, claim_for_current_process, read,
    read_with_wait,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use testkit::helper::{Helper, Roles, serial};
use testkit::{Isolation, comm, temp_lock, wait_until, watchdog};

/// This crate's helper processes: the role is in `PIDKIT_PIDFILE_TEST_ROLE`.
const ROLES: Roles = Roles::new("PIDKIT_PIDFILE_TEST_ROLE");

/// The helper test, by its full name in this binary (`Roles::spawn` runs it
/// with `--exact`).
const HELPER: &str = "processes::role_helper";

fn mono_ns() -> u128 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u128 * 1_000_000_000 + t.tv_nsec as u128
}

/// Describes a read the way the helper protocol does.
fn describe_read(result: Result<PidFileRead, Error>, guards: &mut Vec<PidFileGuard>) -> String {
    match result {
        Ok(PidFileRead::NotExist) => "notexist".to_owned(),
        Ok(PidFileRead::NotHeldByAnyProcess(guard, _)) => {
            guards.push(guard);
            "notheld".to_owned()
        }
        Ok(PidFileRead::LockedByOtherProcess(owner)) => match owner.handle() {
            Ok(handle) => format!("owner {} handle {}", owner.pid(), handle.pid()),
            Err(Error::NotHolder { .. }) => format!("owner {} notholder", owner.pid()),
            Err(Error::Gone { .. }) => format!("owner {} gone", owner.pid()),
            Err(e) => format!("owner {} handle-err {e:?}", owner.pid()),
        },
        Ok(PidFileRead::HeldByThisProcess) => "ours".to_owned(),
        Err(Error::BadContent { .. }) => "badcontent".to_owned(),
        Err(e) => format!("err {e:?}"),
    }
}

/// The body of helper processes. Run directly (not as a helper), it checks
/// the helper protocol itself: a helper it starts claims a pidfile, which
/// this process then reads as held by the helper's PID.
///
/// Commands: `claim <path>`, `lockraw <path>` (lock without writing),
/// `writepid` (finish that claim), `read <path> <wait-ms>`, `keep`, `drop`,
/// `exec <program> <args..>`, `race <path> <wins> <max-attempts> <log> <go-file>`.
#[test]
fn role_helper() {
    if ROLES.current().is_none() {
        let _w = watchdog("role_helper", Duration::from_secs(60));
        let (_dir, path) = temp_lock("protocol.pid");
        let mut helper = ROLES.spawn(HELPER, "holder");
        assert_eq!(helper.call(&format!("claim {path}")), "ok");
        match read(&path).unwrap() {
            PidFileRead::LockedByOtherProcess(owner) => assert_eq!(owner.pid(), helper.pid()),
            _ => panic!("the helper's claim is not seen as held"),
        }
        helper.kill();
        return;
    }
    let me = std::process::id();
    let mut unwritten: Option<UnwrittenLockFile> = None;
    let mut raw_guards = Vec::new();
    let mut guards: Vec<PidFileGuard> = Vec::new();
    testkit::helper::reply("ready");
    for line in testkit::helper::commands() {
        let words: Vec<&str> = line.split(' ').collect();
        let answer = match words[..] {
            ["claim", path] => match claim_for_current_process(Utf8Path::new(path)) {
                Ok(guard) => {
                    guards.push(guard);
                    "ok".to_owned()
                }
                Err(Error::AlreadyClaimed { pid: Some(pid), .. }) => format!("already {pid}"),
                Err(Error::AlreadyClaimed { pid: None, .. }) => "already none".to_owned(),
                Err(Error::HeldByThisProcess { .. }) => "ours".to_owned(),
                Err(e) => format!("err {e:?}"),
            },
            ["lockraw", path] => match create_exclusive(Utf8Path::new(path)) {
                Ok(u) => {
                    unwritten = Some(u);
                    "ok".to_owned()
                }
                Err(e) => format!("err {e:?}"),
            },
            ["writepid"] => {
                let Some(u) = unwritten.take() else {
                    testkit::helper::reply("none");
                    continue;
                };
                match u.write_content(format!("{me}\n")) {
                    Ok(g) => {
                        raw_guards.push(g);
                        "ok".to_owned()
                    }
                    Err(e) => format!("err {e:?}"),
                }
            }
            ["read", path, wait_ms] => {
                let wait = Duration::from_millis(wait_ms.parse().unwrap());
                describe_read(read_with_wait(Utf8Path::new(path), wait), &mut guards)
            }
            ["keep"] => {
                for g in &guards {
                    g.keep_across_exec().unwrap();
                }
                "ok".to_owned()
            }
            ["drop"] => {
                guards.clear();
                raw_guards.clear();
                unwritten = None;
                "ok".to_owned()
            }
            ["exec", program, ref args @ ..] => {
                let err = Command::new(program).args(args).exec();
                format!("err exec: {err}")
            }
            ["race", path, wins, max_attempts, log, go] => race(
                Utf8Path::new(path),
                wins.parse().unwrap(),
                max_attempts.parse().unwrap(),
                log,
                go,
            ),
            _ => format!("err unknown command {line}"),
        };
        testkit::helper::reply(&answer);
    }
}

/// One racer: says `armed`, waits for the `go` file, then claims until it has
/// won `wins` times (at most `max_attempts` attempts). Each time it wins, it
/// checks that a read sees the claim as its own and that the file holds its PID, and
/// appends its tenure (monotonic start and end, both inside the claim) to the
/// shared log with one `O_APPEND` write.
fn race(path: &Utf8Path, wins: u32, max_attempts: u32, log: &str, go: &str) -> String {
    let me = std::process::id();
    let mut log = OpenOptions::new().append(true).open(log).unwrap();
    testkit::helper::reply("armed");
    wait_until(|| Utf8Path::new(go).exists());
    let (mut claims, mut losses, mut named_ourselves, mut wrong) = (0u32, 0u32, 0u32, Vec::new());
    while claims < wins && claims + losses < max_attempts {
        match claim_for_current_process(path) {
            Ok(guard) => {
                let start = mono_ns();
                match read_with_wait(path, Duration::ZERO) {
                    Ok(PidFileRead::HeldByThisProcess) => {}
                    other => wrong.push(format!("holder read {other:?}")),
                }
                if fs::read_to_string(path).unwrap() != format!("{me}\n") {
                    wrong.push("content is not our pid while we hold the lock".to_owned());
                }
                std::thread::yield_now();
                let end = mono_ns();
                log.write_all(format!("{me} {start} {end}\n").as_bytes())
                    .unwrap();
                drop(guard);
                claims += 1;
                // Give the others a chance before trying again.
                std::thread::yield_now();
            }
            Err(Error::AlreadyClaimed { pid, .. }) => {
                // `pid` is what the file names, unverified: while the winner
                // has locked the file and not written yet, it is the previous
                // holder's, which can be our own. Counted, not an error.
                if pid == Some(me) {
                    named_ourselves += 1;
                }
                losses += 1;
                std::thread::yield_now();
            }
            Err(e) => wrong.push(format!("claim failed: {e:?}")),
        }
    }
    format!(
        "done {claims} {losses} {named_ourselves} {}",
        wrong.join("; ")
    )
}

fn expect_owner(path: &Utf8Path) -> pidkit_pidfile::Owner {
    match read(path).unwrap() {
        PidFileRead::LockedByOtherProcess(owner) => owner,
        other => panic!("expected LockedByOtherProcess, got {other:?}"),
    }
}

#[test]
fn claim_against_a_live_holder_reports_its_pid_and_a_verified_handle() {
    let _serial = serial();
    let _wd = watchdog("claim_against_a_live_holder", Duration::from_secs(30));
    let (_dir, path) = temp_lock("svc.pid");
    let mut helper = ROLES.spawn(HELPER, "holder");
    assert_eq!(helper.call(&format!("claim {path}")), "ok");
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("{}\n", helper.pid())
    );

    let err = claim_for_current_process(&path).unwrap_err();
    match &err {
        Error::AlreadyClaimed {
            path: p,
            pid: Some(pid),
            holder: Ok(handle),
        } if p == &path && *pid == helper.pid() => {
            // The proven holder, pinned: the same process the file names.
            assert_eq!(handle.pid(), helper.pid());
            assert_eq!(handle.state().unwrap(), State::Running);
        }
        other => panic!("expected AlreadyClaimed with a proven holder, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!("pidfile {path} is already claimed by pid {}", helper.pid())
    );

    let owner = expect_owner(&path);
    assert_eq!(owner.pid(), helper.pid());
    let handle = owner.handle().unwrap();
    assert_eq!(handle.pid(), helper.pid());
    assert_eq!(handle.state().unwrap(), State::Running);
    // The helper's own read sees its own claim, and so does its claim.
    assert_eq!(helper.call(&format!("read {path} 0")), "ours");
    assert_eq!(helper.call(&format!("claim {path}")), "ours");
}

#[test]
fn holder_killed_by_sigkill_frees_the_pidfile() {
    let _serial = serial();
    let _wd = watchdog("holder_killed_by_sigkill", Duration::from_secs(30));
    let (_dir, path) = temp_lock("svc.pid");
    let mut helper = ROLES.spawn(HELPER, "holder");
    let dead_pid = helper.pid();
    assert_eq!(helper.call(&format!("claim {path}")), "ok");
    let owner = expect_owner(&path);
    assert_eq!(owner.pid(), dead_pid);

    helper.kill(); // SIGKILL, then reaped

    // The owner read before the kill no longer yields a handle.
    assert!(
        matches!(owner.handle(), Err(Error::Gone { pid, .. }) if pid == dead_pid),
        "{:?}",
        owner.handle()
    );
    assert!(owner.kill(Signal::TERM).is_err());
    // The file still names the dead process, but nobody holds it.
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{dead_pid}\n"));
    match read(&path).unwrap() {
        PidFileRead::NotHeldByAnyProcess(guard, _) => drop(guard),
        other => panic!("expected NotHeldByAnyProcess, got {other:?}"),
    }
    let _guard = claim_for_current_process(&path).unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("{}\n", std::process::id())
    );
}

#[test]
fn a_claim_caught_between_lock_and_write_never_yields_the_previous_pid() {
    let _serial = serial();
    let _wd = watchdog(
        "a_claim_caught_between_lock_and_write",
        Duration::from_secs(60),
    );
    let (_dir, path) = temp_lock("svc.pid");
    // The previous holder's PID, left in the file: a live process that does
    // not hold the lock (the worst case: signalling it would hit it).
    let previous = testkit::sleeper();
    fs::write(&path, format!("{}\n", previous.id())).unwrap();

    let mut claimer = ROLES.spawn(HELPER, "claimer");
    assert_eq!(claimer.call(&format!("lockraw {path}")), "ok");
    assert_eq!(testkit::flock_modes(claimer.pid(), &path), ["WRITE"]);
    // neon's read names the previous PID, and says the file is held...
    let owner = expect_owner(&path);
    assert_eq!(owner.pid(), previous.id());
    // ...but the kernel shows that process holds no lock on it: no handle.
    let err = owner.handle().unwrap_err();
    assert!(
        matches!(&err, Error::NotHolder { pid, path: p } if *pid == previous.id() && *p == path),
        "{err:?}"
    );
    assert!(owner.kill(Signal::KILL).is_err());
    assert!(matches!(
        claim_for_current_process(&path),
        Err(Error::AlreadyClaimed { pid: Some(p), .. }) if p == previous.id()
    ));
    // The same from another process.
    let mut reader = ROLES.spawn(HELPER, "reader");
    assert_eq!(
        reader.call(&format!("read {path} 0")),
        format!("owner {} notholder", previous.id())
    );

    // Once written, the claim keeps its exclusive lock and is proven.
    assert_eq!(claimer.call("writepid"), "ok");
    assert_eq!(testkit::flock_modes(claimer.pid(), &path), ["WRITE"]);
    let owner = expect_owner(&path);
    assert_eq!(owner.pid(), claimer.pid());
    assert_eq!(owner.handle().unwrap().pid(), claimer.pid());
    assert_eq!(
        reader.call(&format!("read {path} 0")),
        format!("owner {0} handle {0}", claimer.pid())
    );
    // The previous process was never touched.
    let mut previous = previous;
    assert!(previous.child_mut().try_wait().unwrap().is_none());
}

#[test]
fn a_readers_guard_in_another_process_never_proves_the_stale_pid() {
    let _serial = serial();
    let _wd = watchdog(
        "a_readers_guard_in_another_process",
        Duration::from_secs(30),
    );
    let (_dir, path) = temp_lock("svc.pid");
    // The stale file names a live process that does not hold it.
    let previous = testkit::sleeper();
    fs::write(&path, format!("{}\n", previous.id())).unwrap();
    let mut guard_holder = ROLES.spawn(HELPER, "reader");
    let mut other = ROLES.spawn(HELPER, "reader");
    assert_eq!(guard_holder.call(&format!("read {path} 0")), "notheld");
    assert_eq!(testkit::flock_modes(guard_holder.pid(), &path), ["WRITE"]);
    // Neither we nor another process may get a handle to the stale PID.
    assert!(matches!(
        expect_owner(&path).handle(),
        Err(Error::NotHolder { .. })
    ));
    assert_eq!(
        other.call(&format!("read {path} 0")),
        format!("owner {} notholder", previous.id())
    );
    assert_eq!(
        other.call(&format!("claim {path}")),
        format!("already {}", previous.id())
    );
    assert_eq!(guard_holder.call("drop"), "ok");
    assert_eq!(other.call(&format!("read {path} 0")), "notheld");
    assert_eq!(other.call("drop"), "ok");
}

/// The claimer writes its PID as its own PID namespace sees it. Readers find
/// that number, so a holder in another PID namespace (a container sharing the
/// directory) reads like any other; but in the reader's namespace the number
/// names another process, which the kernel shows holds no lock on the file:
/// the handle is refused, never given to that other process.
#[test]
fn holder_in_another_pid_namespace_is_reported_with_the_pid_it_wrote() {
    let _serial = serial();
    let _wd = watchdog("holder_in_another_pid_namespace", Duration::from_secs(60));
    if !testkit::require(
        testkit::is_root(),
        "root, to start a holder in a new PID namespace",
    ) {
        return;
    }
    let (_dir, path) = temp_lock("svc.pid");
    let mut holder = ROLES.spawn_in_pid_namespace(HELPER, "holder");
    let outer_pid = holder.pid_in_our_namespace();
    assert_ne!(outer_pid, 1);
    assert_eq!(holder.call(&format!("claim {path}")), "ok");
    // It is PID 1 of its namespace, and wrote that.
    assert_eq!(fs::read_to_string(&path).unwrap(), "1\n");
    assert_eq!(testkit::flock_modes(outer_pid, &path), ["WRITE"]);

    let owner = expect_owner(&path);
    assert_eq!(owner.pid(), 1);
    // PID 1 here is another process (our init), which holds no lock on it;
    // where even root may not look at its descriptors (a container without
    // CAP_SYS_PTRACE), that is said, never guessed.
    let err = owner.handle().unwrap_err();
    assert!(
        matches!(
            &err,
            Error::NotHolder { pid: 1, .. } | Error::CannotVerify { pid: 1, .. }
        ),
        "{err:?}"
    );
    assert!(matches!(
        claim_for_current_process(&path),
        Err(Error::AlreadyClaimed { pid: Some(1), .. })
    ));
    // In its own namespace the holder knows the claim as its own.
    assert_eq!(holder.call(&format!("read {path} 0")), "ours");

    // A claim in progress there, with our PID still in the file: it names
    // us, and we hold no lock on it, so no handle.
    assert_eq!(holder.call("drop"), "ok");
    fs::write(&path, format!("{}\n", std::process::id())).unwrap();
    assert_eq!(holder.call(&format!("lockraw {path}")), "ok");
    let owner = expect_owner(&path);
    assert_eq!(owner.pid(), std::process::id());
    assert!(matches!(owner.handle(), Err(Error::NotHolder { .. })));
    assert_eq!(holder.call("writepid"), "ok");
    assert_eq!(expect_owner(&path).pid(), 1);

    // Killing `unshare` kills the helper (--kill-child), asynchronously: its
    // lock goes when it has exited (the watchdog bounds the wait).
    holder.kill();
    wait_until(|| {
        matches!(
            read_with_wait(&path, Duration::ZERO),
            Ok(PidFileRead::NotHeldByAnyProcess(..))
        )
    });
}

#[test]
fn daemon_pattern_keep_across_exec() {
    let _serial = serial();
    let _wd = watchdog("daemon_pattern_keep_across_exec", Duration::from_secs(30));
    let (_dir, path) = temp_lock("daemon.pid");
    let mut helper = ROLES.spawn(HELPER, "launcher");
    let pid = helper.pid();
    assert_eq!(helper.call(&format!("claim {path}")), "ok");
    assert_eq!(helper.call("keep"), "ok");
    helper.send("exec sleep 1000");
    wait_until(|| comm(pid).as_deref() == Some("sleep"));

    // The exec'd program keeps the PID and the lock.
    assert!(testkit::process_holds_flock(pid, &path));
    let owner = expect_owner(&path);
    assert_eq!(owner.pid(), pid);
    owner.kill(Signal::KILL).unwrap();
    let status = helper.into_child().wait();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert!(matches!(
        read(&path).unwrap(),
        PidFileRead::NotHeldByAnyProcess(..)
    ));
}

#[test]
fn racing_claimers_never_overlap() {
    const RACERS: usize = 6;
    const WINS: u32 = 40;
    const MAX_ATTEMPTS: u32 = 200_000;
    let _serial = serial();
    let _wd = watchdog("racing_claimers_never_overlap", Duration::from_secs(120));
    let (dir, path) = temp_lock("race.pid");
    let log = dir.path().join("tenures.log");
    let go = dir.path().join("go");
    fs::write(&log, "").unwrap();
    let mut racers: Vec<Helper> = (0..RACERS).map(|_| ROLES.spawn(HELPER, "racer")).collect();
    for racer in &mut racers {
        racer.send(&format!(
            "race {path} {WINS} {MAX_ATTEMPTS} {} {}",
            log.display(),
            go.display()
        ));
    }
    for racer in &mut racers {
        assert_eq!(racer.recv(), "armed");
    }
    fs::write(&go, "").unwrap();
    let (mut total_claims, mut total_losses, mut total_named_ourselves) = (0, 0, 0);
    for racer in &mut racers {
        let reply = racer.recv();
        let mut words = reply.splitn(5, ' ');
        assert_eq!(words.next(), Some("done"), "{reply}");
        let claims: u32 = words.next().unwrap().parse().unwrap();
        let losses: u32 = words.next().unwrap().parse().unwrap();
        let named_ourselves: u32 = words.next().unwrap().parse().unwrap();
        let wrong = words.next().unwrap_or("");
        assert!(wrong.is_empty(), "racer {} saw: {wrong}", racer.pid());
        assert_eq!(claims, WINS, "racer {} ran out of attempts", racer.pid());
        total_claims += claims;
        total_losses += losses;
        total_named_ourselves += named_ourselves;
    }
    drop(racers);
    assert!(total_losses > 0, "the racers never contended");

    let mut tenures: Vec<(u128, u128, u32)> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[0].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(tenures.len(), total_claims as usize);
    tenures.sort();
    let mut overlaps = Vec::new();
    let mut latest_end: Option<(u128, u32)> = None;
    for &(start, end, pid) in &tenures {
        assert!(start <= end);
        if let Some((prev_end, prev_pid)) = latest_end {
            if start < prev_end {
                overlaps.push((prev_pid, pid, prev_end - start));
            }
        }
        if latest_end.is_none_or(|(e, _)| end > e) {
            latest_end = Some((end, pid));
        }
    }
    assert_eq!(
        overlaps.len(),
        0,
        "overlapping tenures (pid, pid, ns): {overlaps:?}"
    );
    let distinct: std::collections::BTreeSet<u32> = tenures.iter().map(|t| t.2).collect();
    assert_eq!(distinct.len(), RACERS);
    eprintln!(
        "{total_claims} tenures, {total_losses} lost claims ({total_named_ourselves} named the loser's own ended claim), {RACERS} racers, 0 overlaps"
    );
}

/// Forced reuses of a pidfile holder's PID: 200 immediate reuses with no
/// pause, on every kernel of the matrix.
const REUSE_ROUNDS: usize = 200;
/// Every this many rounds, a pidkit claim in progress (locked, not written
/// yet, the file still naming the recycled PID) is added to the round: it
/// costs a helper process, so not every round.
const CLAIM_EVERY: usize = 20;

/// The start time of process `pid` in clock ticks (field 22 of
/// `/proc/<pid>/stat`), if it exists.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Asserts that `result` is the refusal a stale owner gets for `pid`.
fn assert_holder_gone<T: std::fmt::Debug>(result: Result<T, Error>, pid: u32, what: &str) {
    match result {
        Err(Error::Gone { pid: p, .. }) => assert_eq!(p, pid, "{what}"),
        other => panic!("{what}: expected Gone for {pid}, got {other:?}"),
    }
}

/// Asserts that a handle signal failed because its process is gone.
fn assert_no_such_process(result: Result<(), pidkit_pidfile::HandleError>, pid: u32, what: &str) {
    match result {
        Err(pidkit_pidfile::HandleError::Gone { pid: p }) => assert_eq!(p, pid, "{what}"),
        other => panic!("{what}: expected Gone for {pid}, got {other:?}"),
    }
}

/// One holder after another takes a pidfile (the `flock(1)` idiom: the
/// shell locks the file, writes its PID and execs `sleep`), is proven by
/// [`pidkit_pidfile::Owner::handle`], ends and is reaped, and at once a
/// newcomer gets its PID. The owner read before, its proven handle and that
/// handle's text (taken before or after the reuse) must all refuse the
/// newcomer; the newcomer must end of the one signal we send it at the end.
fn forced_pid_reuse_body() {
    let _wd = watchdog("forced_pid_reuse (isolated)", Duration::from_secs(150));
    assert_eq!(std::process::id(), 1, "not PID 1 of a new namespace");
    let dir = tempfile::tempdir().unwrap();
    let mut same_tick = 0;
    for round in 0..REUSE_ROUNDS {
        // A fresh file per round, so that no round reads the last one's PID.
        let path = Utf8PathBuf::try_from(dir.path().join(format!("svc-{round}.pid"))).unwrap();
        let holder = testkit::sh(&format!(
            "exec 9>>'{path}'; flock -x -n 9 || exit 3; echo $$ > '{path}'; exec sleep 1000"
        ));
        let pid = holder.id();
        wait_until(|| fs::read_to_string(&path).is_ok_and(|c| c == format!("{pid}\n")));
        let a_ticks = start_ticks(pid).unwrap();
        let owner = expect_owner(&path);
        assert_eq!(owner.pid(), pid, "round {round}");
        let proven = owner.handle().unwrap();
        assert_eq!(proven.pid(), pid, "round {round}");
        // Even rounds keep the proven handle's text from before the reuse,
        // odd ones ask for it only after the newcomer has the PID.
        let early = round % 2 == 0;
        let early_text = early.then(|| proven.to_string());

        // The holder ends through the owner (the legitimate use) and is
        // reaped; at once, a newcomer gets its PID.
        let end = if early { Signal::KILL } else { Signal::TERM };
        owner.kill(end).unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&holder.wait()),
            Some(end.as_raw()),
            "round {round}"
        );
        let newcomer = testkit::spawn_with_pid(Command::new("sleep").arg("1000"), pid);
        assert_eq!(newcomer.id(), pid, "round {round}: no reuse");
        if start_ticks(pid) == Some(a_ticks) {
            same_tick += 1;
        }
        let text = early_text.unwrap_or_else(|| proven.to_string());
        let restored: PidHandle = text.parse().unwrap();

        // Nobody holds the file; the owner read before names the newcomer's
        // PID and must refuse it, and so must everything it proved.
        let ctx = format!("round {round} (pid {pid}, {text})");
        assert_holder_gone(owner.handle(), pid, &ctx);
        for s in [Signal::ZERO, Signal::KILL, Signal::TERM] {
            assert_holder_gone(owner.kill(s), pid, &ctx);
        }
        for (what, h) in [("proven", &proven), ("restored", &restored)] {
            assert_eq!(h.state().unwrap(), State::Gone, "{ctx}: {what}");
            for s in [Signal::ZERO, Signal::KILL, Signal::TERM] {
                assert_no_such_process(h.kill(s), pid, &format!("{ctx}: {what}"));
            }
        }
        match read(&path).unwrap() {
            PidFileRead::NotHeldByAnyProcess(guard, _) => drop(guard),
            other => panic!("{ctx}: expected NotHeldByAnyProcess, got {other:?}"),
        }

        if round % CLAIM_EVERY == 0 {
            // A new claim in progress: locked, the file still naming the
            // dead holder's PID, which is now the newcomer's. Neither the
            // owner read before nor a fresh read may yield the newcomer.
            let mut claimer = ROLES.spawn(HELPER, "claimer");
            assert_eq!(claimer.call(&format!("lockraw {path}")), "ok");
            let fresh = expect_owner(&path);
            assert_eq!(fresh.pid(), pid, "{ctx}: the file names the recycled pid");
            for o in [&owner, &fresh] {
                match o.handle() {
                    Err(Error::NotHolder { pid: p, .. }) => assert_eq!(p, pid),
                    other => panic!("{ctx}: expected NotHolder, got {other:?}"),
                }
                for s in [Signal::KILL, Signal::TERM] {
                    assert!(
                        matches!(o.kill(s), Err(Error::NotHolder { pid: p, .. }) if p == pid),
                        "{ctx}"
                    );
                }
            }
            // Written, the claim is proven, and it is the claimer.
            assert_eq!(claimer.call("writepid"), "ok");
            assert_eq!(
                expect_owner(&path).handle().unwrap().pid(),
                claimer.pid(),
                "{ctx}"
            );
            claimer.kill();
        }

        // The newcomer was never touched: ended with SIGUSR2, that is what
        // it dies of (a stray SIGKILL or SIGTERM above would have won).
        let fresh = PidHandle::from_child(newcomer.child()).unwrap();
        assert_eq!(fresh.state().unwrap(), State::Running, "{ctx}");
        fresh.kill(Signal::USR2).unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&newcomer.wait()),
            Some(Signal::USR2.as_raw()),
            "{ctx}: the newcomer was hit by a stale owner or handle"
        );
    }
    eprintln!(
        "{REUSE_ROUNDS} immediate reuses of a pidfile holder's PID, {same_tick} with the newcomer \
         in the holder's start tick, 0 wrong signals"
    );
}

#[test]
fn forced_pid_reuse_never_yields_a_handle_to_the_newcomer() {
    let _serial = serial();
    testkit::run_isolated(
        "forced_pid_reuse_never_yields_a_handle_to_the_newcomer",
        Isolation::PidNamespace,
        Duration::from_secs(180),
        forced_pid_reuse_body,
    );
}

/// What the model knows about one actor's hold on the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hold {
    /// Locked by `lockraw`, PID not written yet (exclusive lock).
    Unwritten,
    /// A written claim (exclusive lock).
    Claimed,
    /// A reader's guard on a file it found free (exclusive lock).
    ReadGuard,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Claim(usize),
    LockRaw(usize),
    WritePid(usize),
    Read(usize),
    Drop(usize),
    Crash(usize),
}

const ACTORS: usize = 3;

fn op_strategy() -> impl Strategy<Value = Op> {
    let actor = 0..ACTORS;
    prop_oneof![
        4 => actor.clone().prop_map(Op::Claim),
        2 => actor.clone().prop_map(Op::LockRaw),
        2 => actor.clone().prop_map(Op::WritePid),
        4 => actor.clone().prop_map(Op::Read),
        3 => actor.clone().prop_map(Op::Drop),
        1 => actor.prop_map(Op::Crash),
    ]
}

/// Model-based test: claim/lock/write/read/drop/crash sequences over three
/// actor processes, each answer compared with what a simple model predicts.
/// In particular a handle is given only to the actor that holds the file,
/// whatever PID the file still names while a claim is unwritten or a reader
/// holds it.
#[test]
fn model_of_claims_reads_drops_and_crashes_across_processes() {
    let _serial = serial();
    let _wd = watchdog("model_of_claims", Duration::from_secs(300));
    let (dir, _) = temp_lock("unused");
    let actors: RefCell<Vec<Helper>> =
        RefCell::new((0..ACTORS).map(|_| ROLES.spawn(HELPER, "actor")).collect());
    let case = Cell::new(0u32);
    let mut runner = TestRunner::new(Config {
        cases: 40,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(op_strategy(), 1..24), |ops| {
        case.set(case.get() + 1);
        let path =
            Utf8PathBuf::try_from(dir.path().join(format!("model-{}.pid", case.get()))).unwrap();
        let mut actors = actors.borrow_mut();
        for actor in actors.iter_mut() {
            assert_eq!(actor.call("drop"), "ok");
        }
        // The model: does the file exist, who holds it how, and which PID
        // it names (None: empty). Crashed actors' PIDs are dead.
        let mut exists = false;
        let mut holder: Option<(usize, Hold)> = None;
        let mut named: Option<u32> = None;
        let mut dead: Vec<u32> = Vec::new();
        for (step, op) in ops.iter().enumerate() {
            let ctx = format!("step {step} {op:?} of {ops:?}");
            match *op {
                Op::Claim(a) => {
                    let expected = match (holder, named) {
                        // Its own hold, whatever phase: known as its own.
                        (Some((b, _)), _) if b == a => "ours".to_owned(),
                        (Some(_), Some(pid)) => format!("already {pid}"),
                        (Some(_), None) => "already none".to_owned(),
                        (None, _) => {
                            holder = Some((a, Hold::Claimed));
                            named = Some(actors[a].pid());
                            exists = true;
                            "ok".to_owned()
                        }
                    };
                    prop_assert_eq!(
                        actors[a].call(&format!("claim {path}")),
                        expected,
                        "{}",
                        ctx
                    );
                }
                Op::LockRaw(a) => {
                    let answer = actors[a].call(&format!("lockraw {path}"));
                    if holder.is_some_and(|(b, _)| b == a) {
                        prop_assert!(
                            answer.starts_with("err HeldByThisProcess"),
                            "{}: {}",
                            ctx,
                            answer
                        );
                    } else if holder.is_some() {
                        prop_assert!(answer.starts_with("err Locked"), "{}: {}", ctx, answer);
                    } else {
                        prop_assert_eq!(answer, "ok", "{}", ctx);
                        holder = Some((a, Hold::Unwritten));
                        exists = true;
                    }
                }
                Op::WritePid(a) => {
                    let expected = if holder == Some((a, Hold::Unwritten)) {
                        holder = Some((a, Hold::Claimed));
                        named = Some(actors[a].pid());
                        "ok"
                    } else {
                        "none"
                    };
                    prop_assert_eq!(actors[a].call("writepid"), expected, "{}", ctx);
                }
                Op::Read(a) => {
                    let expected = match holder {
                        _ if !exists => "notexist".to_owned(),
                        None => {
                            holder = Some((a, Hold::ReadGuard));
                            "notheld".to_owned()
                        }
                        Some((b, _)) if b == a => "ours".to_owned(),
                        // Held: the file names `named`, which is proven only
                        // if that actor is the holder.
                        Some((b, _)) => match named {
                            None => "badcontent".to_owned(),
                            Some(pid) if pid == actors[b].pid() => {
                                format!("owner {pid} handle {pid}")
                            }
                            Some(pid) if dead.contains(&pid) => format!("owner {pid} gone"),
                            Some(pid) => format!("owner {pid} notholder"),
                        },
                    };
                    let answer = actors[a].call(&format!("read {path} 0"));
                    // A dead actor's PID may have been given to some other
                    // process on the machine since: that one holds no lock.
                    let recycled = named
                        .filter(|pid| dead.contains(pid))
                        .map(|pid| format!("owner {pid} notholder"));
                    if recycled.as_deref() != Some(answer.as_str()) {
                        prop_assert_eq!(answer, expected, "{}", ctx);
                    }
                }
                Op::Drop(a) => {
                    if holder.is_some_and(|(b, _)| b == a) {
                        holder = None;
                    }
                    prop_assert_eq!(actors[a].call("drop"), "ok", "{}", ctx);
                }
                Op::Crash(a) => {
                    if holder.is_some_and(|(b, _)| b == a) {
                        holder = None;
                    }
                    let fresh = ROLES.spawn(HELPER, "actor");
                    let old = std::mem::replace(&mut actors[a], fresh);
                    dead.push(old.pid());
                    old.kill();
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Runs a tool to completion (bounded by the test's watchdog) and returns
/// its exit code and standard output.
fn run_tool(program: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut child = testkit::ChildGuard::spawn(
        Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped()),
    );
    let mut out = String::new();
    std::io::Read::read_to_string(child.child_mut().stdout.as_mut().unwrap(), &mut out).unwrap();
    let status = child.wait();
    (status.code(), out)
}

/// How a helper ended: the signal that killed it.
fn killed_by(helper: Helper) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(&helper.into_child().wait())
}

/// `pgrep -F f -L` takes a pidfile as valid only if its lock is held such
/// that `LOCK_SH` fails; it and `pkill -L` find a pidkit claim's holder, and
/// reject the file once nobody holds it.
#[test]
fn pgrep_and_pkill_find_the_holder_of_a_claim() {
    let _serial = serial();
    let _wd = watchdog("pgrep_and_pkill", Duration::from_secs(60));
    let (_dir, path) = temp_lock("svc.pid");
    let mut helper = ROLES.spawn(HELPER, "holder");
    let pid = helper.pid();
    assert_eq!(helper.call(&format!("claim {path}")), "ok");
    let (code, out) = run_tool("pgrep", &["-F", path.as_str(), "-L"]);
    assert_eq!((code, out.trim()), (Some(0), pid.to_string().as_str()));
    let (code, _) = run_tool("pkill", &["-TERM", "-F", path.as_str(), "-L"]);
    assert_eq!(code, Some(0));
    assert_eq!(killed_by(helper), Some(15));
    // Nobody holds it now: pgrep -L refuses it, and so does a read.
    let (code, _) = run_tool("pgrep", &["-F", path.as_str(), "-L"]);
    assert_ne!(code, Some(0));
    assert!(matches!(
        read(&path).unwrap(),
        PidFileRead::NotHeldByAnyProcess(..)
    ));
}

/// `start-stop-daemon --stop --pidfile` (Debian's init-script tool) signals
/// the process a pidkit claim names, and `--status` sees it run.
#[test]
fn start_stop_daemon_stops_the_holder_of_a_claim() {
    let _serial = serial();
    let _wd = watchdog("start_stop_daemon", Duration::from_secs(60));
    let (_dir, path) = temp_lock("svc.pid");
    let mut helper = ROLES.spawn(HELPER, "daemon");
    assert_eq!(helper.call(&format!("claim {path}")), "ok");
    let uid = rustix::process::getuid().as_raw().to_string();
    let (code, _) = run_tool(
        "start-stop-daemon",
        &["--status", "--pidfile", path.as_str(), "--user", &uid],
    );
    assert_eq!(code, Some(0), "--status: not running");
    let (code, _) = run_tool(
        "start-stop-daemon",
        &[
            "--stop",
            "--quiet",
            "--signal",
            "TERM",
            "--pidfile",
            path.as_str(),
            "--user",
            &uid,
        ],
    );
    assert_eq!(code, Some(0), "--stop found nothing to stop");
    assert_eq!(killed_by(helper), Some(15));
}

/// `lslocks` shows a pidkit claim as an exclusive `flock` (WRITE), and
/// `flock(1)` cannot take it, shared or exclusive, until it ends.
#[test]
fn lslocks_shows_a_write_lock_and_flock_cannot_take_it() {
    let _serial = serial();
    let _wd = watchdog("lslocks_and_flock", Duration::from_secs(60));
    let (_dir, path) = temp_lock("svc.pid");
    let mut helper = ROLES.spawn(HELPER, "holder");
    assert_eq!(helper.call(&format!("claim {path}")), "ok");
    let pid = helper.pid().to_string();
    let (code, out) = run_tool(
        "lslocks",
        &[
            "--pid",
            &pid,
            "--noheadings",
            "--raw",
            "--output",
            "TYPE,MODE",
        ],
    );
    assert_eq!(code, Some(0));
    // One row per descriptor of the holder that refers to the locked file
    // (lslocks reads /proc/<pid>/fdinfo; seen twice on 6.1 in the matrix):
    // every row is the claim's write flock, and there is one.
    let rows: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(!rows.is_empty(), "lslocks shows no lock for {pid}");
    assert!(rows.iter().all(|r| *r == "FLOCK WRITE"), "{out:?}");
    for mode in ["-x", "-s"] {
        let (code, _) = run_tool("flock", &[mode, "-n", path.as_str(), "true"]);
        assert_eq!(code, Some(1), "flock {mode} -n took a held claim");
    }
    helper.kill();
    let (code, _) = run_tool("flock", &["-x", "-n", path.as_str(), "true"]);
    assert_eq!(code, Some(0));
}

/// Reads a foreign pidfile held by `holder`, which wrote its PID: the owner
/// is that PID, proven and pinned; signalling it through the handle ends it.
fn foreign_holder_is_proven_and_signalled(path: &Utf8Path, mut holder: testkit::ChildGuard) {
    let pid = holder.id();
    let owner = expect_owner(path);
    assert_eq!(owner.pid(), pid);
    let handle = owner.handle().unwrap();
    assert_eq!(handle.pid(), pid);
    assert_eq!(handle.state().unwrap(), State::Running);
    assert!(matches!(
        claim_for_current_process(path),
        Err(Error::AlreadyClaimed { pid: Some(p), .. }) if p == pid
    ));
    owner.kill(Signal::TERM).unwrap();
    let status = holder.child_mut().wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(15)
    );
    match read(path).unwrap() {
        PidFileRead::NotHeldByAnyProcess(..) => {}
        other => panic!("expected NotHeldByAnyProcess, got {other:?}"),
    }
}

/// `flock(1)` as the holder, the shell idiom for a singleton: the shell
/// opens the pidfile, `flock -n` locks that descriptor, the shell writes its
/// PID and `exec`s the daemon, which keeps descriptor and PID.
#[test]
fn a_pidfile_held_by_the_flock_tool_is_read_and_proven() {
    let _serial = serial();
    let _wd = watchdog("a_pidfile_held_by_the_flock_tool", Duration::from_secs(60));
    let (_dir, path) = temp_lock("svc.pid");
    let holder = testkit::sh(&format!(
        "exec 9>>'{path}'; flock -x -n 9 || exit 3; echo $$ > '{path}'; exec sleep 1000"
    ));
    let pid = holder.id();
    // The file exists once the shell opened it, and names it once written.
    wait_until(|| fs::read_to_string(&path).is_ok_and(|c| c == format!("{pid}\n")));
    foreign_holder_is_proven_and_signalled(&path, holder);
}

/// A daemon written in another language (Python: `fcntl.flock(LOCK_EX)` for
/// its whole life, its PID written into the file).
#[test]
fn a_pidfile_held_by_a_python_daemon_is_read_and_proven() {
    let _serial = serial();
    let _wd = watchdog("a_pidfile_held_by_a_python_daemon", Duration::from_secs(60));
    let (_dir, path) = temp_lock("py.pid");
    let script = "import fcntl, os, sys\n\
        f = open(sys.argv[1], 'a+')\n\
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n\
        f.truncate(0)\n\
        f.write('%d\\n' % os.getpid())\n\
        f.flush()\n\
        print('ready', flush=True)\n\
        sys.stdin.read()\n";
    let mut holder = testkit::ChildGuard::spawn(
        Command::new("python3")
            .args(["-c", script, path.as_str()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped()),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.child_mut().stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "ready\n");
    assert_eq!(testkit::flock_modes(holder.id(), &path), ["WRITE"]);
    foreign_holder_is_proven_and_signalled(&path, holder);
}

/// A file the Python daemon holds but whose content names another live
/// process: an error naming that pid and the path, never its handle.
#[test]
fn a_foreign_pidfile_naming_another_process_is_refused() {
    let _serial = serial();
    let _wd = watchdog("a_foreign_pidfile_naming_another", Duration::from_secs(60));
    let (_dir, path) = temp_lock("liar.pid");
    let bystander = testkit::sleeper();
    fs::write(&path, format!("{}\n", bystander.id())).unwrap();
    let holder = testkit::sh(&format!(
        "exec 9<'{path}'; flock -x -n 9 || exit 3; echo locked > '{path}.ready'; exec sleep 1000"
    ));
    wait_until(|| Utf8Path::new(&format!("{path}.ready")).exists());
    assert_eq!(testkit::flock_modes(holder.id(), &path), ["WRITE"]);
    let owner = expect_owner(&path);
    assert_eq!(owner.pid(), bystander.id());
    let err = owner.handle().unwrap_err();
    assert!(
        matches!(&err, Error::NotHolder { pid, path: p } if *pid == bystander.id() && *p == path),
        "{err:?}"
    );
    assert!(err.to_string().contains(&bystander.id().to_string()));
    assert!(err.to_string().contains(path.as_str()));
    drop(holder);
}
