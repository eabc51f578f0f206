//! A full file descriptor table (`RLIMIT_NOFILE` reached): claims and reads
//! are clear I/O errors naming the path and the step, never a panic, never
//! "does not exist" for a file that does; nothing is created or changed that
//! the error does not report; no descriptor or lock is leaked; and all works
//! again once descriptors are free. The body runs in a process of its own
//! (`testkit::run_isolated`), so the lowered limit touches no other test.

use std::fs::{self, File};
use std::time::Duration;

use camino::Utf8Path;
use fs4::fs_std::FileExt as Flock;
use pidkit_lockfile::{Error, LockFileRead, Op, create_exclusive, read_and_hold_lock_file};
use testkit::helper::serial;
use testkit::{Isolation, fill_fd_table, temp_lock, watchdog};

const LIMIT: Duration = Duration::from_secs(60);
const EMFILE: i32 = 24;

/// Asserts that `r` failed at step `op` on `path` with `EMFILE`.
#[track_caller]
fn assert_emfile<T: std::fmt::Debug>(r: Result<T, Error>, path: &Utf8Path, op: Op) {
    match r {
        Err(Error::Io {
            path: p,
            op: o,
            source,
        }) => {
            assert_eq!(p, path);
            assert_eq!(o, op);
            assert_eq!(source.raw_os_error(), Some(EMFILE), "{source}");
            let shown = Error::Io {
                path: p,
                op: o,
                source,
            }
            .to_string();
            assert!(shown.contains(path.as_str()), "{shown}");
        }
        other => panic!("expected EMFILE at {op:?} on {path}, got {other:?}"),
    }
}

fn is_free(path: &Utf8Path) -> bool {
    Flock::try_lock_exclusive(&File::open(path).unwrap()).unwrap()
}

fn body() {
    let _w = watchdog("emfile", LIMIT);
    let (dir, held) = temp_lock("held.lock");
    let stale = held.with_file_name("stale.lock");
    let fresh = held.with_file_name("fresh.lock");
    let guard = create_exclusive(&held)
        .unwrap()
        .write_content("holder\n".into())
        .unwrap();
    fs::write(&stale, "stale\n").unwrap();
    let baseline = testkit::open_fd_count();

    // No descriptor free: every open fails, and says so.
    let full = fill_fd_table();
    let claim_fresh = create_exclusive(&fresh);
    let claim_stale = create_exclusive(&stale);
    let claim_held = create_exclusive(&held);
    let read_stale = read_and_hold_lock_file(&stale);
    let read_held = read_and_hold_lock_file(&held);
    // The kernel allocates the descriptor before it looks for the file: a
    // missing file is an error here too, never `NotExist` by mistake.
    let read_missing = read_and_hold_lock_file(&fresh);
    // Needs no new descriptor.
    let kept = guard.keep_across_exec();
    drop(full);
    assert_emfile(claim_fresh, &fresh, Op::Open);
    assert_emfile(claim_stale, &stale, Op::Open);
    assert_emfile(claim_held, &held, Op::Open);
    assert_emfile(read_stale, &stale, Op::Open);
    assert_emfile(read_held, &held, Op::Open);
    assert_emfile(read_missing, &fresh, Op::Open);
    kept.unwrap();
    assert!(!fresh.exists(), "a failed claim created the file");
    assert_eq!(fs::read_to_string(&stale).unwrap(), "stale\n");
    assert_eq!(fs::read_to_string(&held).unwrap(), "holder\n");
    assert!(is_free(&stale));

    // One descriptor free: reads work (one open each); a claim gets its
    // file but cannot open the directory to fsync it, fails at that step,
    // and hands the claim back, still locked.
    let mut full = fill_fd_table();
    full.leave_free(1);
    let read_stale = match read_and_hold_lock_file(&stale) {
        Ok(LockFileRead::NotHeldByAnyProcess(reader, content)) => {
            drop(reader);
            Ok(content)
        }
        other => Err(format!("{other:?}")),
    };
    let read_held = match read_and_hold_lock_file(&held) {
        Ok(LockFileRead::HeldByThisProcess { content }) => Ok(content),
        other => Err(format!("{other:?}")),
    };
    let claim = create_exclusive(&stale).map(|u| u.write_content("new\n".into()));
    drop(full);
    assert_eq!(read_stale.unwrap(), b"stale\n");
    assert_eq!(read_held.unwrap(), b"holder\n");
    let (error, claim) = claim.unwrap().unwrap_err().into_parts();
    assert_emfile::<()>(Err(error), &stale, Op::SyncParentDir);
    assert!(!is_free(&stale), "the failed claim let go of its lock");
    // Once descriptors are free, the same claim completes.
    let guard_stale = claim.write_content("new\n".into()).unwrap();
    assert_eq!(fs::read_to_string(&stale).unwrap(), "new\n");
    assert!(!is_free(&stale));
    drop(guard_stale);
    assert!(is_free(&stale));

    // Two free: a whole claim.
    let mut full = fill_fd_table();
    full.leave_free(2);
    let claim = create_exclusive(&fresh).map(|u| u.write_content("fresh\n".into()));
    drop(full);
    let claim = claim.unwrap().unwrap();
    assert_eq!(fs::read_to_string(&fresh).unwrap(), "fresh\n");
    drop(claim);
    drop(guard);
    assert_eq!(
        testkit::open_fd_count(),
        baseline - 1,
        "{:?}",
        testkit::open_fds()
    );
    drop(dir);
}

#[test]
fn emfile_is_a_clear_error_and_leaves_files_alone() {
    let _serial = serial();
    testkit::run_isolated(
        "emfile_is_a_clear_error_and_leaves_files_alone",
        Isolation::Process,
        LIMIT,
        body,
    );
}
