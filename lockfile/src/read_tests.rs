//! Unit tests of the read: the probe and every kind of holder, this
//! process's own holds, and `read_held_claim` leaving no lock behind.

use camino::Utf8PathBuf;
use fs4::fs_std::FileExt as Flock;

use super::*;
use crate::claim::create_exclusive;

fn temp_file(content: &str) -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::try_from(dir.path().join("p.lock")).unwrap();
    std::fs::write(&path, content).unwrap();
    (dir, path)
}

fn open_read(path: &Utf8Path) -> File {
    File::open(path).unwrap()
}

fn is_free(path: &Utf8Path) -> bool {
    Flock::try_lock_exclusive(&open_read(path)).unwrap()
}

fn describe(probe: Probe) -> String {
    match probe {
        Probe::Free(c) => format!("free {}", String::from_utf8_lossy(&c)),
        Probe::Held(c) => format!("held {}", String::from_utf8_lossy(&c)),
    }
}

/// Each kind of holder (a written claim, a claim that has not written,
/// a reader's guard) makes the probe see the file as held, with the
/// content as the file holds it; the probe leaves no lock behind then.
#[test]
fn probe_sees_every_holder_and_the_content_as_it_is() {
    let (_dir, path) = temp_file("old claim");
    let reader = open_read(&path);

    let claim = create_exclusive(&path)
        .unwrap()
        .write_content("claim".into())
        .unwrap();
    assert_eq!(describe(probe(&reader, &path).unwrap()), "held claim");
    drop(claim);
    assert!(is_free(&path), "a held probe must leave no lock");

    let unwritten = create_exclusive(&path).unwrap();
    assert_eq!(describe(probe(&reader, &path).unwrap()), "held claim");
    drop(unwritten);

    let guard = match read_and_hold_lock_file(&path).unwrap() {
        LockFileRead::NotHeldByAnyProcess(guard, content) => {
            assert_eq!(content, b"claim");
            guard
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(describe(probe(&reader, &path).unwrap()), "held claim");
    drop(guard);

    assert_eq!(describe(probe(&reader, &path).unwrap()), "free claim");
    assert!(!is_free(&path), "the free probe keeps the lock");
    drop(reader);
    assert!(is_free(&path));
}

/// This process's own holds read as such, and only while they live; a
/// lock taken outside this crate is someone else's.
#[test]
fn holds_of_this_process_are_told_apart() {
    let (_dir, path) = temp_file("old");
    let unwritten = create_exclusive(&path).unwrap();
    assert!(matches!(
        read_and_hold_lock_file(&path).unwrap(),
        LockFileRead::HeldByThisProcess { content } if content == b"old"
    ));
    assert!(matches!(
        create_exclusive(&path),
        Err(Error::HeldByThisProcess { .. })
    ));
    let guard = unwritten.write_content("new".into()).unwrap();
    assert!(matches!(
        read_and_hold_lock_file(&path).unwrap(),
        LockFileRead::HeldByThisProcess { content } if content == b"new"
    ));
    drop(guard);
    let LockFileRead::NotHeldByAnyProcess(reader, _) = read_and_hold_lock_file(&path).unwrap()
    else {
        panic!("free");
    };
    assert!(matches!(
        read_and_hold_lock_file(&path).unwrap(),
        LockFileRead::HeldByThisProcess { .. }
    ));
    drop(reader);
    let foreign = open_read(&path);
    assert!(Flock::try_lock_exclusive(&foreign).unwrap());
    assert!(matches!(
        read_and_hold_lock_file(&path).unwrap(),
        LockFileRead::LockedByOtherProcess { .. }
    ));
    assert!(matches!(create_exclusive(&path), Err(Error::Locked { .. })));
}

#[test]
fn read_held_claim_leaves_no_lock_behind() {
    let (_dir, path) = temp_file("stale");
    let file = open_read(&path);
    // Free: the lock it had to take is released again.
    assert_eq!(read_held_claim(&file, &path).unwrap(), None);
    assert!(is_free(&path));
    let claim = create_exclusive(&path)
        .unwrap()
        .write_content("mine".into())
        .unwrap();
    assert_eq!(
        read_held_claim(&file, &path).unwrap().as_deref(),
        Some(&b"mine"[..])
    );
    drop(claim);
    assert!(is_free(&path));
    let unwritten = create_exclusive(&path).unwrap();
    assert_eq!(
        read_held_claim(&file, &path).unwrap().as_deref(),
        Some(&b"mine"[..]),
        "a claim in progress is held, with the old content"
    );
    drop(unwritten);
    // Content that is not UTF-8 is bytes like any other, and no lock
    // is left behind.
    std::fs::write(&path, [0xff_u8]).unwrap();
    assert_eq!(read_held_claim(&file, &path).unwrap(), None);
    assert!(is_free(&path));
    let claim = create_exclusive(&path)
        .unwrap()
        .write_content("x".into())
        .unwrap();
    std::fs::write(&path, [0xff_u8]).unwrap();
    assert_eq!(
        read_held_claim(&file, &path).unwrap().as_deref(),
        Some(&[0xff_u8][..])
    );
    drop(claim);
    assert!(is_free(&path));
}
