//! Lock files across processes, `exec`, mount namespaces and file systems that fail.

use std::fs;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use pidkit_lockfile::{
    Error, LockFileGuard, LockFileRead, Op, UnwrittenLockFile, create_exclusive,
    read_and_hold_lock_file,
};
use testkit::helper::{Roles, serial};
use testkit::{Isolation, comm, process_holds_flock, temp_lock, wait_until, watchdog};

/// This crate's helper processes: the role is in `PIDKIT_LOCKFILE_TEST_ROLE`.
const ROLES: Roles = Roles::new("PIDKIT_LOCKFILE_TEST_ROLE");

/// The helper test, by its full name in this binary (`Roles::spawn` runs it
/// with `--exact`).
const HELPER: &str = "processes::role_helper";

fn unescape(s: &str) -> String {
    s.replace("\\n", "\n")
}

fn escape(s: &str) -> String {
    s.replace('\n', "\\n")
}

/// The body of helper processes. Run directly (not as a helper), it checks
/// the helper protocol itself: a helper it starts claims a file, which this
/// process then sees held with the helper's content.
///
/// Commands: `claim <path> <content>`, `lock <path>`, `write <content>`,
/// `read <path>`, `keep`, `drop`, `exec <program> <args..>`.
#[test]
fn role_helper() {
    if ROLES.current().is_none() {
        let _w = watchdog("role_helper", Duration::from_secs(60));
        let (_dir, path) = temp_lock("protocol.lock");
        let mut helper = ROLES.spawn(HELPER, "holder");
        assert_eq!(helper.call(&format!("claim {path} from-helper")), "ok");
        match read_and_hold_lock_file(&path).unwrap() {
            LockFileRead::LockedByOtherProcess { content, .. } => {
                assert_eq!(content, b"from-helper")
            }
            _ => panic!("the helper's claim is not seen as held"),
        }
        helper.kill();
        return;
    }
    let mut unwritten: Option<UnwrittenLockFile> = None;
    let mut guards: Vec<LockFileGuard> = Vec::new();
    testkit::helper::reply("ready");
    for line in testkit::helper::commands() {
        let (cmd, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let answer = match cmd {
            "claim" => {
                let (path, content) = rest.split_once(' ').unwrap_or((rest, ""));
                match create_exclusive(Utf8Path::new(path))
                    .and_then(|u| u.write_content(unescape(content)).map_err(Error::from))
                {
                    Ok(g) => {
                        guards.push(g);
                        "ok".to_owned()
                    }
                    Err(e) => format!("err {e:?}"),
                }
            }
            "lock" => match create_exclusive(Utf8Path::new(rest)) {
                Ok(u) => {
                    unwritten = Some(u);
                    "ok".to_owned()
                }
                Err(e) => format!("err {e:?}"),
            },
            "write" => match unwritten.take().unwrap().write_content(unescape(rest)) {
                Ok(g) => {
                    guards.push(g);
                    "ok".to_owned()
                }
                Err(e) => format!("err {e:?}"),
            },
            "read" => match read_and_hold_lock_file(Utf8Path::new(rest)) {
                Ok(LockFileRead::NotExist) => "notexist".to_owned(),
                Ok(LockFileRead::NotHeldByAnyProcess(g, content)) => {
                    guards.push(g);
                    format!("notheld {}", escape(&String::from_utf8_lossy(&content)))
                }
                Ok(LockFileRead::LockedByOtherProcess { content, .. }) => {
                    format!("locked {}", escape(&String::from_utf8_lossy(&content)))
                }
                Ok(LockFileRead::HeldByThisProcess { content }) => {
                    format!("ours {}", escape(&String::from_utf8_lossy(&content)))
                }
                Err(e) => format!("err {e:?}"),
            },
            "keep" => {
                for g in &guards {
                    g.keep_across_exec().unwrap();
                }
                "ok".to_owned()
            }
            "drop" => {
                guards.clear();
                unwritten = None;
                "ok".to_owned()
            }
            "exec" => {
                let mut words = rest.split(' ');
                let program = words.next().unwrap();
                let err = Command::new(program).args(words).exec();
                format!("err exec: {err}")
            }
            other => format!("err unknown command {other}"),
        };
        testkit::helper::reply(&answer);
    }
}

fn read_locked(path: &Utf8Path) -> String {
    match read_and_hold_lock_file(path).unwrap() {
        LockFileRead::LockedByOtherProcess { content, .. } => String::from_utf8(content).unwrap(),
        other => panic!("expected LockedByOtherProcess, got {other:?}"),
    }
}

fn read_not_held(path: &Utf8Path) -> String {
    match read_and_hold_lock_file(path).unwrap() {
        LockFileRead::NotHeldByAnyProcess(_guard, content) => String::from_utf8(content).unwrap(),
        other => panic!("expected NotHeldByAnyProcess, got {other:?}"),
    }
}

#[test]
fn lock_held_by_another_process_is_reported_without_blocking() {
    let _serial = serial();
    let _wd = watchdog("lock_held_by_another_process", Duration::from_secs(30));
    let (_dir, path) = temp_lock("a.lock");
    let mut helper = ROLES.spawn(HELPER, "holder");
    assert_eq!(helper.call(&format!("claim {path} held\\n")), "ok");

    let err = create_exclusive(&path).unwrap_err();
    assert!(
        matches!(&err, Error::Locked { path: p } if p == &path),
        "{err:?}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "held\n");
    assert_eq!(read_locked(&path), "held\n");

    assert_eq!(helper.call("drop"), "ok");
    assert_eq!(read_not_held(&path), "held\n");
    assert!(path.exists());
}

#[test]
fn a_process_that_dies_releases_its_lock() {
    let _serial = serial();
    let _wd = watchdog(
        "a_process_that_dies_releases_its_lock",
        Duration::from_secs(30),
    );
    let (_dir, path) = temp_lock("a.lock");
    let mut helper = ROLES.spawn(HELPER, "holder");
    assert_eq!(helper.call(&format!("claim {path} dead-man")), "ok");
    assert_eq!(read_locked(&path), "dead-man");
    helper.kill(); // SIGKILL and reap
    assert_eq!(read_not_held(&path), "dead-man");
    let guard = create_exclusive(&path)
        .unwrap()
        .write_content("next".into())
        .unwrap();
    drop(guard);
    assert_eq!(fs::read_to_string(&path).unwrap(), "next");
}

#[test]
fn unwritten_claim_in_another_process_reads_as_held_with_the_content_as_it_is() {
    let _serial = serial();
    let _wd = watchdog(
        "unwritten_claim_in_another_process",
        Duration::from_secs(30),
    );
    let (_dir, path) = temp_lock("a.lock");
    fs::write(&path, "previous").unwrap();
    let mut helper = ROLES.spawn(HELPER, "holder");
    assert_eq!(helper.call(&format!("lock {path}")), "ok");
    assert_eq!(testkit::flock_modes(helper.pid(), &path), ["WRITE"]);
    // neon's semantics: held, and the content is what the file holds.
    assert_eq!(read_locked(&path), "previous");
    assert!(matches!(create_exclusive(&path), Err(Error::Locked { .. })));
    assert_eq!(fs::read_to_string(&path).unwrap(), "previous");
    assert_eq!(helper.call("write current"), "ok");
    // The written claim keeps the exclusive lock.
    assert_eq!(testkit::flock_modes(helper.pid(), &path), ["WRITE"]);
    assert_eq!(read_locked(&path), "current");
    assert!(matches!(create_exclusive(&path), Err(Error::Locked { .. })));
    // And the helper, reading through a second open, sees its own claim as
    // its own, and a second claim of its own as refused for that reason.
    assert_eq!(helper.call(&format!("read {path}")), "ours current");
    assert!(
        helper
            .call(&format!("lock {path}"))
            .starts_with("err HeldByThisProcess"),
    );
}

#[test]
fn reader_in_another_process_holds_the_lock_it_found_free() {
    let _serial = serial();
    let _wd = watchdog("reader_in_another_process", Duration::from_secs(30));
    let (_dir, path) = temp_lock("a.lock");
    drop(
        create_exclusive(&path)
            .unwrap()
            .write_content("stale".into())
            .unwrap(),
    );
    let mut helper = ROLES.spawn(HELPER, "holder");
    assert_eq!(helper.call(&format!("read {path}")), "notheld stale");
    assert!(matches!(create_exclusive(&path), Err(Error::Locked { .. })));
    // Other readers see the file held, with its stale content.
    assert_eq!(read_locked(&path), "stale");
    let mut other = ROLES.spawn(HELPER, "reader");
    assert_eq!(other.call(&format!("read {path}")), "locked stale");
    assert_eq!(helper.call("drop"), "ok");
    assert_eq!(other.call(&format!("read {path}")), "notheld stale");
    assert_eq!(other.call("drop"), "ok");
    drop(create_exclusive(&path).unwrap());
}

#[test]
fn keep_across_exec_keeps_the_lock_in_the_execed_program() {
    let _serial = serial();
    let _wd = watchdog("keep_across_exec_keeps_the_lock", Duration::from_secs(30));
    let (_dir, path) = temp_lock("daemon.lock");
    let mut helper = ROLES.spawn(HELPER, "holder");
    let pid = helper.pid();
    assert_eq!(helper.call(&format!("claim {path} daemon")), "ok");
    assert_eq!(helper.call("keep"), "ok");
    helper.send("exec sleep 1000");
    wait_until(|| comm(pid).as_deref() == Some("sleep"));

    // `sleep` knows nothing about locks, yet it holds this one (the
    // exclusive lock of a written claim).
    assert!(
        process_holds_flock(pid, &path),
        "the exec'd program does not hold the flock"
    );
    assert_eq!(testkit::flock_modes(pid, &path), ["WRITE"]);
    assert_eq!(read_locked(&path), "daemon");
    assert!(matches!(create_exclusive(&path), Err(Error::Locked { .. })));

    helper.kill();
    assert_eq!(read_not_held(&path), "daemon");
}

#[test]
fn without_keep_across_exec_the_lock_ends_at_exec() {
    let _serial = serial();
    let _wd = watchdog("without_keep_across_exec", Duration::from_secs(30));
    let (_dir, path) = temp_lock("daemon.lock");
    let mut helper = ROLES.spawn(HELPER, "holder");
    let pid = helper.pid();
    assert_eq!(helper.call(&format!("claim {path} daemon")), "ok");
    helper.send("exec sleep 1000");
    wait_until(|| comm(pid).as_deref() == Some("sleep"));
    // The close-on-exec descriptor is closed by the exec; the kernel releases the
    // lock on the way back to user space, so wait for that (the watchdog bounds it).
    wait_until(|| {
        matches!(
            read_and_hold_lock_file(&path).unwrap(),
            LockFileRead::NotHeldByAnyProcess(..)
        )
    });
    assert_eq!(
        comm(pid).as_deref(),
        Some("sleep"),
        "the exec'd program should still run"
    );
    assert!(!process_holds_flock(pid, &path));
    drop(create_exclusive(&path).unwrap());
    helper.kill();
}

#[test]
fn no_descriptor_leaks_on_any_path() {
    let _serial = serial();
    testkit::run_isolated(
        "no_descriptor_leaks_on_any_path",
        Isolation::Process,
        Duration::from_secs(60),
        || {
            let (dir, path) = temp_lock("a.lock");
            let dir_path = Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
            let link = Utf8PathBuf::try_from(dir.path().join("link")).unwrap();
            std::os::unix::fs::symlink(&path, &link).unwrap();
            let before = testkit::open_fd_count();
            for _ in 0..50 {
                let guard = create_exclusive(&path)
                    .unwrap()
                    .write_content("x".into())
                    .unwrap();
                let _ = create_exclusive(&path).unwrap_err();
                let _ = read_and_hold_lock_file(&path).unwrap();
                drop(guard);
                drop(create_exclusive(&path).unwrap());
                let _ = read_and_hold_lock_file(&path).unwrap();
                let _ = create_exclusive(&dir_path).unwrap_err();
                let _ = read_and_hold_lock_file(&dir_path).unwrap_err();
                let _ = create_exclusive(&link).unwrap_err();
                let _ = create_exclusive(&path.join("x")).unwrap_err();
                let _ = read_and_hold_lock_file(&dir_path.join("missing")).unwrap();
                let unwritten = create_exclusive(&path).unwrap();
                let _ = read_and_hold_lock_file(&path).unwrap();
                let guard = unwritten.write_content("y".into()).unwrap();
                if let LockFileRead::LockedByOtherProcess {
                    not_locked_file, ..
                } = read_and_hold_lock_file(&path).unwrap()
                {
                    let _ = pidkit_lockfile::read_held_claim(&not_locked_file, &path).unwrap();
                }
                drop(guard);
            }
            let after = testkit::open_fd_count();
            assert_eq!(
                before,
                after,
                "descriptors leaked: {:?}",
                testkit::open_fds()
            );
        },
    );
}

#[test]
fn bare_file_name_syncs_the_current_directory() {
    let _serial = serial();
    testkit::run_isolated(
        "bare_file_name_syncs_the_current_directory",
        Isolation::Process,
        Duration::from_secs(60),
        || {
            let dir = tempfile::tempdir().unwrap();
            std::env::set_current_dir(dir.path()).unwrap();
            let guard = create_exclusive(Utf8Path::new("bare.lock"))
                .unwrap()
                .write_content("x".into())
                .unwrap();
            assert_eq!(guard.path(), "bare.lock");
            assert_eq!(
                fs::read_to_string(dir.path().join("bare.lock")).unwrap(),
                "x"
            );
        },
    );
}

#[test]
fn read_only_file_system_is_a_clear_error() {
    let _serial = serial();
    testkit::run_in_mount_namespace("processes::read_only_file_system_is_a_clear_error", || {
        let dir = tempfile::tempdir().unwrap();
        let mnt = Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();

        // An empty read-only file system: nothing can be created.
        testkit::mount(&["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", mnt.as_str()]);
        let path = mnt.join("new.lock");
        let err = create_exclusive(&path).unwrap_err();
        assert!(
            matches!(&err, Error::ReadOnlyFilesystem { path: p, op: Op::Open } if p == &path),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("cannot open lock file {path}: read-only file system")
        );
        assert!(matches!(
            read_and_hold_lock_file(&path).unwrap(),
            LockFileRead::NotExist
        ));
        testkit::mount(&["-o", "remount,rw", mnt.as_str()]);

        // An existing lock file on a file system remounted read-only.
        let path = mnt.join("existing.lock");
        drop(
            create_exclusive(&path)
                .unwrap()
                .write_content("old".into())
                .unwrap(),
        );
        testkit::mount(&["-o", "remount,ro", mnt.as_str()]);
        let err = create_exclusive(&path).unwrap_err();
        assert!(
            matches!(&err, Error::ReadOnlyFilesystem { op: Op::Open, .. }),
            "{err:?}"
        );
        // Reading needs no write access, and flock works on a read-only file system.
        assert_eq!(read_not_held(&path), "old");
        testkit::umount(&mnt);
    });
}

/// A write that fails for lack of space (a real ENOSPC, on an 8 KiB tmpfs
/// mounted in a private mount namespace) names the step and hands the claim
/// back still locked: another claim fails until it is dropped, and the same
/// claim can write once there is room.
#[test]
fn failed_write_keeps_the_claim_and_names_the_step() {
    let _serial = serial();
    testkit::run_in_mount_namespace(
        "processes::failed_write_keeps_the_claim_and_names_the_step",
        || {
            let dir = tempfile::tempdir().unwrap();
            let mnt = Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
            testkit::mount(&["-t", "tmpfs", "-o", "size=8k", "tmpfs", mnt.as_str()]);
            let path = mnt.join("full.lock");
            drop(create_exclusive(&path).unwrap());
            // Fill the file system.
            let filler = vec![b'f'; 1 << 20];
            let _ = fs::write(mnt.join("filler"), &filler);

            let big = "x".repeat(1 << 20);
            let failed = create_exclusive(&path)
                .unwrap()
                .write_content(big)
                .unwrap_err();
            let err = failed.error();
            assert!(
                matches!(err, Error::Io { path: p, op: Op::Write, .. } if p == &path),
                "{err:?}"
            );
            assert_eq!(failed.to_string(), format!("cannot write lock file {path}"));
            let source = std::error::Error::source(&failed).unwrap();
            assert!(source.to_string().contains("No space left"), "{source}");
            // The claim came back, still locked.
            let claim = failed.into_inner();
            assert_eq!(claim.path(), path);
            assert!(
                matches!(
                    create_exclusive(&path),
                    Err(Error::HeldByThisProcess { .. })
                ),
                "a second claim succeeded while the failed one was held"
            );
            assert!(!flock_tool_gets(&["-x", "-n"], &path));
            // Once there is room, the same claim writes.
            fs::remove_file(mnt.join("filler")).unwrap();
            let guard = claim.write_content("mine\n".into()).unwrap();
            assert_eq!(fs::read_to_string(&path).unwrap(), "mine\n");
            assert!(matches!(
                create_exclusive(&path),
                Err(Error::HeldByThisProcess { .. })
            ));
            drop(guard);
            // Converted to an io::Error, the failure lets go of the claim.
            let _ = fs::write(mnt.join("filler"), &filler);
            let io_err: std::io::Error = create_exclusive(&path)
                .unwrap()
                .write_content("x".repeat(1 << 20))
                .unwrap_err()
                .into();
            assert_eq!(io_err.kind(), std::io::ErrorKind::StorageFull);
            drop(create_exclusive(&path).unwrap());
            testkit::umount(&mnt);
        },
    );
}

/// Runs `flock(1)` with `args` and the path, and says whether it got the lock.
fn flock_tool_gets(args: &[&str], path: &Utf8Path) -> bool {
    let status = testkit::ChildGuard::spawn(
        Command::new("flock")
            .args(args)
            .arg(path.as_str())
            .arg("true"),
    )
    .wait();
    match status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => panic!("flock {args:?} {path}: {status}"),
    }
}

/// `flock(1)` as the contender: it cannot take the file while a claim holds
/// it, in either mode, and can once the claim ends.
#[test]
fn flock_tool_cannot_take_a_held_claim() {
    let _serial = serial();
    let _wd = watchdog(
        "flock_tool_cannot_take_a_held_claim",
        Duration::from_secs(30),
    );
    let (_dir, path) = temp_lock("a.lock");
    let guard = create_exclusive(&path)
        .unwrap()
        .write_content("mine\n".into())
        .unwrap();
    assert!(!flock_tool_gets(&["-x", "-n"], &path));
    assert!(!flock_tool_gets(&["-s", "-n"], &path));
    drop(guard);
    assert!(flock_tool_gets(&["-x", "-n"], &path));
}

/// `flock(1)` as the holder (the shell idiom: the shell opens the file, `flock`
/// locks that descriptor, the shell writes and `exec`s the daemon, which keeps
/// the descriptor): the file reads as held with its content, and claims fail.
#[test]
fn a_file_held_by_the_flock_tool_reads_as_held() {
    let _serial = serial();
    let _wd = watchdog("a_file_held_by_the_flock_tool", Duration::from_secs(30));
    let (_dir, path) = temp_lock("a.lock");
    fs::write(&path, "stale\n").unwrap();
    let holder = testkit::sh(&format!(
        "exec 9>>'{path}'; flock -x -n 9 || exit 3; echo held > '{path}'; exec sleep 1000"
    ));
    wait_until(|| fs::read_to_string(&path).unwrap() == "held\n");
    assert_eq!(testkit::flock_modes(holder.id(), &path), ["WRITE"]);
    assert_eq!(read_locked(&path), "held\n");
    assert!(matches!(create_exclusive(&path), Err(Error::Locked { .. })));
    drop(holder);
    assert_eq!(read_not_held(&path), "held\n");
}
