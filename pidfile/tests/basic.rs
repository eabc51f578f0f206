//! Its own binary, so that its tests run in parallel: nothing here spawns a
//! process, and no test of the process-spawning binary (`tests/pidfile/`)
//! can fork while these hold and drop locks.
//!
//! Single-process behaviour of pidfiles: content, reads, errors, the parser.
//! This process's own claims and guards read as its own
//! ([`PidFileRead::HeldByThisProcess`]); "someone else" is a bare `flock` on
//! a descriptor of its own, which the crate cannot tell from another
//! process's (a holder with our PID, or naming whatever the test writes).
#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed step must fail the test loudly"
)]

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::time::Duration;

use camino::Utf8Path;
use pidkit_pidfile::{
    Error, LockError, PidFileRead, Signal, State, claim_for_current_process, parse_pid, read,
    read_with_wait,
};
use proptest::prelude::*;
use testkit::temp_lock;

fn me() -> u32 {
    std::process::id()
}

/// A holder the crate cannot see as this process's: a bare exclusive
/// `flock` on a descriptor of its own, and `content` written under it
/// (`None`: left as it is, as in a claim in progress).
fn foreign_hold(path: &Utf8Path, content: Option<&str>) -> fs::File {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap();
    assert!(fs4::fs_std::FileExt::try_lock_exclusive(&file).unwrap());
    if let Some(content) = content {
        file.set_len(0).unwrap();
        file.write_all_at(content.as_bytes(), 0).unwrap();
    }
    file
}

fn owner_pid(path: &Utf8Path) -> u32 {
    match read(path).unwrap() {
        PidFileRead::LockedByOtherProcess(owner) => owner.pid(),
        other => panic!("expected LockedByOtherProcess, got {other:?}"),
    }
}

#[test]
fn claim_writes_pid_and_newline_and_reads_as_this_processs() {
    let (_dir, path) = temp_lock("a.pid");
    let guard = claim_for_current_process(&path).unwrap();
    assert_eq!(guard.path(), path);
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", me()));
    // The guard is the locked file itself.
    assert_eq!(testkit::fd_lock(&guard), Some("WRITE"));
    assert!(matches!(
        read(&path).unwrap(),
        PidFileRead::HeldByThisProcess
    ));
    drop(guard);
    // Held the way another program would: the owner is proven.
    let _holder = foreign_hold(&path, Some(&format!("{}\n", me())));
    match read(&path).unwrap() {
        PidFileRead::LockedByOtherProcess(owner) => {
            assert_eq!(owner.pid(), me());
            assert_eq!(owner.path(), path);
            let handle = owner.handle().unwrap();
            assert_eq!(handle.pid(), me());
            assert_eq!(handle.state().unwrap(), State::Running);
            owner.kill(Signal::ZERO).unwrap();
        }
        other => panic!("expected LockedByOtherProcess, got {other:?}"),
    }
}

#[test]
fn second_claim_in_this_process_is_held_by_this_process_and_leaves_the_file() {
    let (_dir, path) = temp_lock("a.pid");
    let _guard = claim_for_current_process(&path).unwrap();
    let before = fs::read(&path).unwrap();
    let err = claim_for_current_process(&path).unwrap_err();
    assert!(
        matches!(&err, Error::HeldByThisProcess { path: p } if *p == path),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("pidfile {path} is already claimed by this process")
    );
    assert_eq!(err.kind(), std::io::ErrorKind::Deadlock);
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn claim_against_another_holder_names_it_proven() {
    let (_dir, path) = temp_lock("a.pid");
    let content = format!("{}\n", me());
    let _holder = foreign_hold(&path, Some(&content));
    let err = claim_for_current_process(&path).unwrap_err();
    match &err {
        Error::AlreadyClaimed {
            path: p,
            pid,
            holder,
        } => {
            assert_eq!(p, &path);
            assert_eq!(*pid, Some(me()));
            let handle = holder.as_ref().unwrap();
            assert_eq!(handle.pid(), me());
            handle.kill(Signal::ZERO).unwrap();
        }
        other => panic!("expected AlreadyClaimed, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!("pidfile {path} is already claimed by pid {}", me())
    );
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    assert_eq!(fs::read_to_string(&path).unwrap(), content);
}

#[test]
fn missing_file_reads_as_not_exist_and_is_not_created() {
    let (dir, path) = temp_lock("a.pid");
    assert!(matches!(read(&path).unwrap(), PidFileRead::NotExist));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn released_pidfile_is_stale_with_its_content_and_stays_on_disk() {
    let (_dir, path) = temp_lock("a.pid");
    drop(claim_for_current_process(&path).unwrap());
    assert!(path.exists(), "dropping the guard removed the pidfile");
    let guard = match read(&path).unwrap() {
        PidFileRead::NotHeldByAnyProcess(guard, stale) => {
            assert_eq!(stale, format!("{}\n", me()).as_bytes());
            assert_eq!(parse_pid(&stale), Some(me()));
            guard
        }
        other => panic!("expected NotHeldByAnyProcess, got {other:?}"),
    };
    // The reader now holds the lock: claims fail until it lets go, and
    // other reads see it as this process's.
    assert!(matches!(
        claim_for_current_process(&path),
        Err(Error::HeldByThisProcess { .. })
    ));
    assert!(matches!(
        read(&path).unwrap(),
        PidFileRead::HeldByThisProcess
    ));
    drop(guard);
    assert!(
        path.exists(),
        "dropping the reader's guard removed the pidfile"
    );
    drop(claim_for_current_process(&path).unwrap());
}

#[test]
fn stale_content_is_never_parsed_and_always_kept() {
    let (_dir, path) = temp_lock("a.pid");
    let junk: [&[u8]; 7] = [
        b"",
        b"0",
        b"-5",
        b"garbage",
        b"99999999999",
        b"\xff\xfe",
        b"12\xc3\n",
    ];
    for junk in junk {
        fs::write(&path, junk).unwrap();
        match read(&path).unwrap() {
            PidFileRead::NotHeldByAnyProcess(_guard, stale) => assert_eq!(stale, junk),
            other => panic!("{junk:?}: expected NotHeldByAnyProcess, got {other:?}"),
        }
        // The read changed nothing.
        assert_eq!(fs::read(&path).unwrap(), junk);
    }
}

#[test]
fn surrounding_whitespace_is_tolerated() {
    let (_dir, path) = temp_lock("a.pid");
    let _holder = foreign_hold(&path, Some(&format!(" \t{}  \n\n", me())));
    assert_eq!(owner_pid(&path), me());
}

#[test]
fn bad_content_of_a_held_file_names_path_and_content() {
    let (_dir, path) = temp_lock("a.pid");
    for junk in [
        "",
        "\n",
        "0\n",
        "-1\n",
        "+5",
        "2147483648\n",
        "99999999999999999999999",
        "12abc",
        "1 2",
        "pid=5",
    ] {
        let holder = foreign_hold(&path, Some(junk));
        let err = read_with_wait(&path, Duration::ZERO).unwrap_err();
        match &err {
            Error::BadContent { path: p, content } => {
                assert_eq!(p, &path);
                assert_eq!(content, junk);
            }
            other => panic!("{junk:?}: expected BadContent, got {other:?}"),
        }
        assert!(err.to_string().contains(path.as_str()), "{err}");
        assert!(err.to_string().contains(&format!("{:?}", junk)), "{err}");
        // A refused claim says why its holder is not named.
        match claim_for_current_process(&path) {
            Err(Error::AlreadyClaimed {
                pid: None, holder, ..
            }) => match holder {
                Err(why) => assert!(
                    matches!(&*why, Error::BadContent { content, .. } if content == junk),
                    "{why:?}"
                ),
                Ok(handle) => panic!("{junk:?}: a handle to {}", handle.pid()),
            },
            other => panic!("{junk:?}: expected AlreadyClaimed, got {other:?}"),
        }
        drop(holder);
    }
    // Held content that is not text is bad content too, shown with U+FFFD.
    let holder = foreign_hold(&path, None);
    holder.set_len(0).unwrap();
    holder.write_all_at(&[b'7', 0xff, b'\n'], 0).unwrap();
    match read_with_wait(&path, Duration::ZERO) {
        Err(Error::BadContent { content, .. }) => assert_eq!(content, "7\u{fffd}\n"),
        other => panic!("expected BadContent, got {other:?}"),
    }
    drop(holder);
    // With the default wait too: the read re-reads for a while (a claim
    // between its truncation and its write), then gives up with the error.
    let _holder = foreign_hold(&path, Some("junk"));
    assert!(matches!(read(&path), Err(Error::BadContent { .. })));
}

#[test]
fn content_only_chooses_whom_to_ask_and_a_dead_pid_is_holder_gone() {
    let (_dir, path) = temp_lock("a.pid");
    // A file held by other means than claim_for_current_process, naming a
    // PID above any pid_max: no such process can exist.
    let impossible = i32::MAX as u32;
    let holder = foreign_hold(&path, Some(&format!("{impossible}\n")));
    // The read reports what the file names...
    let owner = match read_with_wait(&path, Duration::ZERO).unwrap() {
        PidFileRead::LockedByOtherProcess(owner) => owner,
        other => panic!("expected LockedByOtherProcess, got {other:?}"),
    };
    assert_eq!(owner.pid(), impossible);
    // ...and so does a refused claim, with the reason it has no handle...
    match claim_for_current_process(&path) {
        Err(Error::AlreadyClaimed {
            pid: Some(p),
            holder: Err(why),
            ..
        }) if p == impossible => assert!(
            matches!(*why, Error::Gone { pid, .. } if pid == impossible),
            "{why:?}"
        ),
        other => panic!("expected AlreadyClaimed, got {other:?}"),
    }
    // ...but a handle is only given to a process that holds the lock.
    let err = owner.handle().unwrap_err();
    assert!(
        matches!(&err, Error::Gone { pid, .. } if *pid == impossible),
        "{err:?}"
    );
    assert!(matches!(
        owner.kill(Signal::ZERO),
        Err(Error::Gone { pid, .. }) if pid == impossible
    ));
    drop(holder);
}

/// A claim in progress: the claimer (here, a bare lock of this process) has
/// locked the file and not written yet, and the file names a live process
/// that holds no lock on it (our parent, the test runner). The read names
/// that process (neon's semantics); the handle is refused with an error
/// naming the pid and the path, and so is a claim's; once the claim is
/// written, the handle is the claimer.
#[test]
fn claim_in_progress_names_the_previous_pid_but_never_yields_its_handle() {
    let (_dir, path) = temp_lock("a.pid");
    let previous = std::os::unix::process::parent_id();
    fs::write(&path, format!("{previous}\n")).unwrap();
    let unwritten = foreign_hold(&path, None);
    let owner = match read_with_wait(&path, Duration::ZERO).unwrap() {
        PidFileRead::LockedByOtherProcess(owner) => owner,
        other => panic!("expected LockedByOtherProcess, got {other:?}"),
    };
    assert_eq!(owner.pid(), previous);
    let err = owner.handle().unwrap_err();
    assert!(
        matches!(&err, Error::NotHolder { pid, path: p } if *pid == previous && *p == path),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("pid {previous}, named by pidfile {path}, does not hold its lock")
    );
    assert!(owner.kill(Signal::ZERO).is_err());
    match claim_for_current_process(&path) {
        Err(Error::AlreadyClaimed {
            pid: Some(p),
            holder: Err(why),
            ..
        }) if p == previous => assert!(matches!(*why, Error::NotHolder { .. }), "{why:?}"),
        other => panic!("expected AlreadyClaimed, got {other:?}"),
    }
    unwritten.set_len(0).unwrap();
    unwritten
        .write_all_at(format!("{}\n", me()).as_bytes(), 0)
        .unwrap();
    assert_eq!(owner_pid(&path), me());
    // The owner read before still names the previous pid: still refused.
    assert!(matches!(owner.handle(), Err(Error::NotHolder { .. })));
}

/// A reader that found the file free holds its lock: in this process that
/// is this process's hold, never a stale pid's.
#[test]
fn a_readers_guard_is_this_processs_own() {
    let (_dir, path) = temp_lock("a.pid");
    let previous = std::os::unix::process::parent_id();
    fs::write(&path, format!("{previous}\n")).unwrap();
    let guard = match read(&path).unwrap() {
        PidFileRead::NotHeldByAnyProcess(guard, _) => guard,
        other => panic!("expected NotHeldByAnyProcess, got {other:?}"),
    };
    assert!(matches!(
        read_with_wait(&path, Duration::ZERO).unwrap(),
        PidFileRead::HeldByThisProcess
    ));
    assert!(matches!(
        claim_for_current_process(&path),
        Err(Error::HeldByThisProcess { .. })
    ));
    drop(guard);
    assert!(matches!(
        read(&path).unwrap(),
        PidFileRead::NotHeldByAnyProcess(..)
    ));
}

#[test]
fn handle_rechecks_the_inode_that_was_read() {
    let (dir, path) = temp_lock("a.pid");
    let holder = foreign_hold(&path, Some(&format!("{}\n", me())));
    let owner = match read(&path).unwrap() {
        PidFileRead::LockedByOtherProcess(owner) => owner,
        other => panic!("expected LockedByOtherProcess, got {other:?}"),
    };
    // Someone replaces the file at the path (which must never be done to a
    // pidfile); the holder that was read still holds the old inode.
    fs::rename(&path, dir.path().join("moved.pid")).unwrap();
    fs::write(&path, "1\n").unwrap();
    assert_eq!(owner.handle().unwrap().pid(), me());
    drop(holder);
    assert!(matches!(owner.handle(), Err(Error::Gone { .. })));
}

#[test]
fn file_errors_come_through_from_the_lock_file() {
    let (dir, path) = temp_lock("a.pid");
    let target = dir.path().join("elsewhere");
    fs::write(&target, "1\n").unwrap();
    std::os::unix::fs::symlink(&target, &path).unwrap();
    let err = claim_for_current_process(&path).unwrap_err();
    assert!(
        matches!(&err, Error::Lock(LockError::Symlink { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("is a symlink"), "{err}");
    assert_eq!(err.path(), path);
    assert!(matches!(
        read(&path),
        Err(Error::Lock(LockError::Symlink { .. }))
    ));
    assert_eq!(fs::read_to_string(&target).unwrap(), "1\n");

    let missing = path.parent().unwrap().join("no/such/dir.pid");
    let err = claim_for_current_process(&missing).unwrap_err();
    assert!(
        matches!(&err, Error::Lock(LockError::MissingParent { path: p }) if *p == missing),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("cannot create lock file {missing}: its parent directory does not exist")
    );
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn guard_keeps_across_exec_on_request() {
    use std::os::fd::AsRawFd;
    let (_dir, path) = temp_lock("a.pid");
    let guard = claim_for_current_process(&path).unwrap();
    let flags = |fd| testkit::fd_flags(me(), fd);
    assert_ne!(flags(guard.as_raw_fd()) & testkit::O_CLOEXEC, 0);
    guard.keep_across_exec().unwrap();
    assert_eq!(flags(guard.as_raw_fd()) & testkit::O_CLOEXEC, 0);
}

#[test]
fn naive_truncating_claim_empties_the_pidfile_but_ours_does_not() {
    let (_dir, path) = temp_lock("a.pid");
    let _holder = claim_for_current_process(&path).unwrap();
    let content = format!("{}\n", me());

    assert!(matches!(
        claim_for_current_process(&path),
        Err(Error::HeldByThisProcess { .. })
    ));
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        content,
        "a failed claim changed the file"
    );

    // neon's bug: open with O_TRUNC, then try the lock.
    let naive = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    assert!(!fs4::fs_std::FileExt::try_lock_exclusive(&naive).unwrap());
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "",
        "the naive claim should have emptied it"
    );
    // A reader finds this process's claim with no PID in it any more.
    assert!(matches!(
        read_with_wait(&path, Duration::ZERO).unwrap(),
        PidFileRead::HeldByThisProcess
    ));
}

/// The reference rule, written independently of `parse_pid`.
fn oracle(content: &str) -> Option<u32> {
    let t = content.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let significant = t.trim_start_matches('0');
    if significant.len() > 10 {
        return None;
    }
    let value: u64 = if significant.is_empty() {
        0
    } else {
        significant.parse().unwrap()
    };
    (1..=i32::MAX as u64)
        .contains(&value)
        .then_some(value as u32)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parse_pid_never_panics(s in any::<String>()) {
        let _ = parse_pid(&s);
    }

    #[test]
    fn parse_pid_agrees_with_the_rule(s in any::<String>()) {
        prop_assert_eq!(parse_pid(&s), oracle(&s));
    }

    #[test]
    fn parse_pid_on_pid_like_text(
        pre in "[ \t\n\r]{0,3}",
        sign in prop::sample::select(vec!["", "", "", "-", "+"]),
        digits in "[0-9]{1,12}",
        post in "[ \t\n\r\x0c]{0,3}",
    ) {
        let s = format!("{pre}{sign}{digits}{post}");
        prop_assert_eq!(parse_pid(&s), oracle(&s));
        if sign.is_empty() {
            if let Ok(v) = digits.parse::<u64>() {
                let valid = (1..=i32::MAX as u64).contains(&v);
                prop_assert_eq!(parse_pid(&s), valid.then_some(v as u32));
            }
        } else {
            prop_assert_eq!(parse_pid(&s), None);
        }
    }

    #[test]
    fn parse_pid_boundaries(v in prop_oneof![0u64..=16, (i32::MAX as u64 - 8)..=(i32::MAX as u64 + 8), (u32::MAX as u64 - 4)..=(u32::MAX as u64 + 4)]) {
        let expected = (1..=i32::MAX as u64).contains(&v).then_some(v as u32);
        prop_assert_eq!(parse_pid(format!("{v}\n")), expected);
    }
}
