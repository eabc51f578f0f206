//! Its own binary, so that its tests run in parallel: nothing here spawns a
//! process, and no test of the process-spawning binary (`tests/lockfile/`)
//! can fork while these hold and drop locks.
//!
//! Single-process behaviour of lock files: claims, reads, content, errors.
//! This process's own claims and guards read as
//! [`LockFileRead::HeldByThisProcess`]; "someone else" is a bare `flock` on
//! another descriptor, which the crate cannot tell from another process's.
#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed step must fail the test loudly"
)]

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::io::AsRawFd;

use camino::{Utf8Path, Utf8PathBuf};
use fs4::fs_std::FileExt as Flock;
use pidkit_lockfile::{
    Error, LOCK_FILE_MODE, LockFileRead, Op, create_exclusive, read_and_hold_lock_file,
    read_held_claim,
};
use proptest::prelude::*;
use testkit::{O_CLOEXEC, fd_flags, fd_lock, temp_lock, umask};

fn expect_not_held(path: &Utf8Path) -> (pidkit_lockfile::LockFileGuard, Vec<u8>) {
    match read_and_hold_lock_file(path).unwrap() {
        LockFileRead::NotHeldByAnyProcess(guard, content) => (guard, content),
        other => panic!("expected NotHeldByAnyProcess, got {other:?}"),
    }
}

/// A holder the crate cannot see: a bare `flock` on a descriptor of its own.
fn foreign_lock(path: &Utf8Path) -> File {
    let file = File::open(path).unwrap();
    assert!(Flock::try_lock_exclusive(&file).unwrap(), "{path} is held");
    file
}

/// The content of a file this process holds through the crate.
fn expect_ours(path: &Utf8Path) -> Vec<u8> {
    match read_and_hold_lock_file(path).unwrap() {
        LockFileRead::HeldByThisProcess { content } => content,
        other => panic!("expected HeldByThisProcess, got {other:?}"),
    }
}

fn expect_locked(path: &Utf8Path) -> Vec<u8> {
    match read_and_hold_lock_file(path).unwrap() {
        LockFileRead::LockedByOtherProcess {
            content,
            not_locked_file,
        } => {
            assert_eq!(
                fd_lock(&not_locked_file),
                None,
                "not_locked_file holds a lock"
            );
            content
        }
        other => panic!("expected LockedByOtherProcess, got {other:?}"),
    }
}

#[test]
fn claim_write_read_release() {
    let (_dir, path) = temp_lock("a.lock");
    let guard = create_exclusive(&path)
        .unwrap()
        .write_content("hello\n".into())
        .unwrap();
    assert_eq!(guard.path(), path);
    assert_eq!(fs::read_to_string(&path).unwrap(), "hello\n");
    assert_eq!(expect_ours(&path), b"hello\n");
    drop(guard);
    let (reader, content) = expect_not_held(&path);
    assert_eq!(content, b"hello\n");
    drop(reader);
    let _stranger = foreign_lock(&path);
    assert_eq!(expect_locked(&path), b"hello\n");
}

#[test]
fn second_claim_in_same_process_is_held_by_this_process_and_leaves_bytes() {
    let (_dir, path) = temp_lock("a.lock");
    let _guard = create_exclusive(&path)
        .unwrap()
        .write_content("holder content".into())
        .unwrap();
    let before = fs::metadata(&path).unwrap();
    let err = create_exclusive(&path).unwrap_err();
    assert!(
        matches!(&err, Error::HeldByThisProcess { path: p } if p == &path),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("lock file {path} is already held by this process")
    );
    assert_eq!(err.kind(), std::io::ErrorKind::Deadlock);
    assert_eq!(fs::read_to_string(&path).unwrap(), "holder content");
    let after = fs::metadata(&path).unwrap();
    assert_eq!(
        (before.len(), before.mtime(), before.mtime_nsec()),
        (after.len(), after.mtime(), after.mtime_nsec())
    );
}

#[test]
fn a_lock_the_crate_did_not_take_is_someone_elses() {
    let (_dir, path) = temp_lock("a.lock");
    fs::write(&path, "theirs").unwrap();
    let stranger = foreign_lock(&path);
    let err = create_exclusive(&path).unwrap_err();
    assert!(
        matches!(&err, Error::Locked { path: p } if p == &path),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("lock file {path} is locked by another holder")
    );
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    assert_eq!(expect_locked(&path), b"theirs");
    // A claim of another file meanwhile does not make this one ours.
    let (_dir2, other) = temp_lock("b.lock");
    let _ours = create_exclusive(&other).unwrap();
    assert_eq!(expect_locked(&path), b"theirs");
    drop(stranger);
    let (_guard, content) = expect_not_held(&path);
    assert_eq!(content, b"theirs");
}

#[test]
fn unwritten_claim_keeps_old_content_and_blocks_others() {
    let (_dir, path) = temp_lock("a.lock");
    fs::write(&path, "previous").unwrap();
    let unwritten = create_exclusive(&path).unwrap();
    assert_eq!(unwritten.path(), path);
    assert_eq!(fs::read_to_string(&path).unwrap(), "previous");
    // neon's semantics: held, with the content as it is (the old one); a
    // lock file cannot tell a claim in progress from a written one.
    assert_eq!(expect_ours(&path), b"previous");
    assert!(matches!(
        create_exclusive(&path),
        Err(Error::HeldByThisProcess { .. })
    ));
    assert_eq!(
        testkit::flock_modes(std::process::id(), &path),
        ["WRITE"],
        "the unwritten claim holds the exclusive lock"
    );
    drop(unwritten);
    assert_eq!(fs::read_to_string(&path).unwrap(), "previous");
    let _claim = create_exclusive(&path).unwrap();
}

#[test]
fn rewrite_replaces_longer_content_entirely() {
    let (_dir, path) = temp_lock("a.lock");
    fs::write(&path, "a much longer previous content\n").unwrap();
    let _guard = create_exclusive(&path)
        .unwrap()
        .write_content("short".into())
        .unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "short");
}

#[test]
fn read_of_missing_file_creates_nothing() {
    let (dir, path) = temp_lock("missing.lock");
    assert!(matches!(
        read_and_hold_lock_file(&path).unwrap(),
        LockFileRead::NotExist
    ));
    assert!(!path.exists());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    // A missing parent directory is also "nothing there".
    let deeper = path.join("below.lock");
    assert!(matches!(
        read_and_hold_lock_file(&deeper).unwrap(),
        LockFileRead::NotExist
    ));
}

#[test]
fn reader_guard_blocks_claims_until_dropped() {
    let (_dir, path) = temp_lock("a.lock");
    drop(
        create_exclusive(&path)
            .unwrap()
            .write_content("old".into())
            .unwrap(),
    );
    let (reader, content) = expect_not_held(&path);
    assert_eq!(content, b"old");
    assert_eq!(reader.path(), path);
    assert!(matches!(
        create_exclusive(&path),
        Err(Error::HeldByThisProcess { .. })
    ));
    // The reader holds the exclusive lock: other readers see the file as
    // held, with its (stale) content.
    assert_eq!(fd_lock(&reader), Some("WRITE"));
    assert_eq!(expect_ours(&path), b"old");
    drop(reader);
    drop(create_exclusive(&path).unwrap());
}

#[test]
fn a_written_claim_keeps_the_exclusive_lock_for_its_whole_life() {
    let (_dir, path) = temp_lock("a.lock");
    let guard = create_exclusive(&path)
        .unwrap()
        .write_content("written".into())
        .unwrap();
    assert_eq!(fd_lock(&guard), Some("WRITE"));
    // What every other flock user checks: LOCK_SH fails too.
    let other = fs::File::open(&path).unwrap();
    assert!(!Flock::try_lock_shared(&other).unwrap());
    drop(other);
    assert!(matches!(
        create_exclusive(&path),
        Err(Error::HeldByThisProcess { .. })
    ));
    // Any number of readers, one after another or holding files open.
    let first = expect_ours(&path);
    let second = expect_ours(&path);
    assert_eq!(
        (&first[..], &second[..]),
        (&b"written"[..], &b"written"[..])
    );
    assert!(matches!(
        create_exclusive(&path),
        Err(Error::HeldByThisProcess { .. })
    ));
    drop(guard);
    let (_reader, content) = expect_not_held(&path);
    assert_eq!(content, b"written");
}

#[test]
fn read_held_claim_rechecks_through_the_kept_file() {
    let (_dir, path) = temp_lock("a.lock");
    let guard = create_exclusive(&path)
        .unwrap()
        .write_content("first".into())
        .unwrap();
    let kept = File::open(&path).unwrap();
    assert_eq!(
        read_held_claim(&kept, &path).unwrap().as_deref(),
        Some(&b"first"[..])
    );
    assert_eq!(fd_lock(&kept), None);
    drop(guard);
    assert_eq!(read_held_claim(&kept, &path).unwrap(), None);
    assert_eq!(fd_lock(&kept), None);
    let unwritten = create_exclusive(&path).unwrap();
    assert_eq!(
        read_held_claim(&kept, &path).unwrap().as_deref(),
        Some(&b"first"[..]),
        "a claim in progress is held, with the previous content"
    );
    let _guard = unwritten.write_content("second".into()).unwrap();
    assert_eq!(
        read_held_claim(&kept, &path).unwrap().as_deref(),
        Some(&b"second"[..])
    );
    assert_eq!(fd_lock(&kept), None);

    // The kept file is the inode that was read, even if the path is replaced.
    let (_dir2, other) = temp_lock("b.lock");
    fs::rename(&path, &other).unwrap();
    fs::write(&path, "impostor").unwrap();
    assert_eq!(
        read_held_claim(&kept, &path).unwrap().as_deref(),
        Some(&b"second"[..])
    );
}

#[test]
fn dropping_never_unlinks() {
    let (_dir, path) = temp_lock("a.lock");
    drop(create_exclusive(&path).unwrap());
    assert!(
        path.exists(),
        "dropping an unwritten claim removed the file"
    );
    drop(
        create_exclusive(&path)
            .unwrap()
            .write_content("x".into())
            .unwrap(),
    );
    assert!(path.exists(), "dropping a guard removed the file");
    let (reader, _) = expect_not_held(&path);
    drop(reader);
    assert!(path.exists(), "dropping a reader guard removed the file");
    assert_eq!(fs::read_to_string(&path).unwrap(), "x");
}

#[test]
fn new_file_mode_is_0644_minus_umask_and_fds_are_cloexec() {
    let (_dir, path) = temp_lock("a.lock");
    let guard = create_exclusive(&path)
        .unwrap()
        .write_content("x".into())
        .unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(LOCK_FILE_MODE, 0o644);
    assert_eq!(mode, LOCK_FILE_MODE & !umask());
    let me = std::process::id();
    assert_ne!(
        fd_flags(me, guard.as_raw_fd()) & O_CLOEXEC,
        0,
        "claim fd is not O_CLOEXEC"
    );
    let (reader_guard, _) = {
        drop(guard);
        expect_not_held(&path)
    };
    assert_ne!(
        fd_flags(me, reader_guard.as_raw_fd()) & O_CLOEXEC,
        0,
        "reader fd is not O_CLOEXEC"
    );
    reader_guard.keep_across_exec().unwrap();
    assert_eq!(
        fd_flags(me, reader_guard.as_raw_fd()) & O_CLOEXEC,
        0,
        "keep_across_exec left O_CLOEXEC"
    );
    // The existing file's mode is left alone.
    drop(reader_guard);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    drop(
        create_exclusive(&path)
            .unwrap()
            .write_content("y".into())
            .unwrap(),
    );
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
        0o600
    );
}

#[test]
fn guard_derefs_to_the_locked_file() {
    let (_dir, path) = temp_lock("a.lock");
    let guard = create_exclusive(&path)
        .unwrap()
        .write_content("12345".into())
        .unwrap();
    assert_eq!(guard.metadata().unwrap().len(), 5);
    assert_eq!(
        guard.metadata().unwrap().ino(),
        fs::metadata(&path).unwrap().ino()
    );
}

#[test]
fn content_that_is_not_text_is_read_as_bytes_free_or_held() {
    let (_dir, path) = temp_lock("a.lock");
    let bytes = [b'1', 0xff, 0xfe, b'\n'];
    fs::write(&path, bytes).unwrap();
    let (reader, content) = expect_not_held(&path);
    assert_eq!(content, bytes);
    assert_eq!(expect_ours(&path), bytes);
    drop(reader);
    let stranger = foreign_lock(&path);
    assert_eq!(expect_locked(&path), bytes);
    drop(stranger);
    // Reads left no lock behind, and the content as it was.
    drop(create_exclusive(&path).unwrap());
    assert_eq!(fs::read(&path).unwrap(), bytes);
}

#[test]
fn long_content_is_read_completely() {
    let (_dir, path) = temp_lock("a.lock");
    for len in [0, 1, 127, 128, 129, 255, 256, 257, 1000, 70_000] {
        let content: String = (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let guard = create_exclusive(&path)
            .unwrap()
            .write_content(content.clone())
            .unwrap();
        assert_eq!(expect_ours(&path), content.as_bytes(), "length {len}");
        drop(guard);
        let (_g, read_back) = expect_not_held(&path);
        assert_eq!(read_back, content.as_bytes(), "length {len}");
    }
}

#[test]
fn naive_truncating_open_empties_the_holders_file_but_create_exclusive_does_not() {
    let (_dir, path) = temp_lock("a.lock");
    let _holder = create_exclusive(&path)
        .unwrap()
        .write_content("holder\n".into())
        .unwrap();

    // The fixed claim: fails, and the content is intact.
    assert!(matches!(
        create_exclusive(&path),
        Err(Error::HeldByThisProcess { .. })
    ));
    assert_eq!(fs::read_to_string(&path).unwrap(), "holder\n");

    // The bug: open with O_TRUNC first, lock afterwards. The lock attempt fails,
    // but the holder's content is already gone.
    let naive = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    let got_lock = fs4::fs_std::FileExt::try_lock_exclusive(&naive).unwrap();
    assert!(!got_lock);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "",
        "the naive open did not truncate?"
    );
}

#[test]
fn directory_is_a_clear_error() {
    let (dir, _) = temp_lock("unused");
    let path = Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
    let err = create_exclusive(&path).unwrap_err();
    assert!(
        matches!(&err, Error::IsDirectory { path: p } if p == &path),
        "{err:?}"
    );
    assert_eq!(err.to_string(), format!("lock file {path} is a directory"));
    let err = read_and_hold_lock_file(&path).unwrap_err();
    assert!(
        matches!(&err, Error::IsDirectory { path: p } if p == &path),
        "{err:?}"
    );
}

#[test]
fn symlink_is_refused_and_its_target_untouched() {
    let (dir, path) = temp_lock("link.lock");
    let target = dir.path().join("target");
    fs::write(&target, "target content").unwrap();
    std::os::unix::fs::symlink(&target, &path).unwrap();
    let err = create_exclusive(&path).unwrap_err();
    assert!(
        matches!(&err, Error::Symlink { path: p } if p == &path),
        "{err:?}"
    );
    assert!(err.to_string().contains("is a symlink"), "{err}");
    assert!(err.to_string().contains(path.as_str()), "{err}");
    let err = read_and_hold_lock_file(&path).unwrap_err();
    assert!(matches!(&err, Error::Symlink { .. }), "{err:?}");
    assert_eq!(fs::read_to_string(&target).unwrap(), "target content");

    // A dangling symlink must not create its target either.
    let dangling = Utf8PathBuf::try_from(dir.path().join("dangling.lock")).unwrap();
    let nowhere = dir.path().join("nowhere");
    std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
    assert!(matches!(
        create_exclusive(&dangling),
        Err(Error::Symlink { .. })
    ));
    assert!(!nowhere.exists());
}

#[test]
fn missing_parent_is_a_clear_error() {
    let (_dir, base) = temp_lock("no-such-dir");
    let path = base.join("a.lock");
    let err = create_exclusive(&path).unwrap_err();
    assert!(
        matches!(&err, Error::MissingParent { path: p } if p == &path),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("cannot create lock file {path}: its parent directory does not exist")
    );
    assert!(!base.exists());
}

#[test]
fn fifo_is_rejected_without_hanging_or_writing() {
    let _watchdog = testkit::watchdog(
        "fifo_is_rejected_without_hanging",
        std::time::Duration::from_secs(20),
    );
    let (_dir, path) = temp_lock("fifo.lock");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path.as_std_path(),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let err = read_and_hold_lock_file(&path).unwrap_err();
    assert!(
        matches!(&err, Error::NotRegularFile { path: p } if p == &path),
        "{err:?}"
    );
    let err = create_exclusive(&path)
        .unwrap()
        .write_content("x".into())
        .unwrap_err();
    assert!(
        matches!(err.error(), Error::NotRegularFile { path: p } if p == &path),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("lock file {path} is not a regular file")
    );
    // The failed write handed the claim back, still locked.
    let claim = err.into_inner();
    assert!(matches!(
        create_exclusive(&path),
        Err(Error::HeldByThisProcess { .. })
    ));
    drop(claim);
    drop(create_exclusive(&path).unwrap());
}

#[test]
fn sticky_world_writable_directory_with_foreign_file() {
    if !testkit::require(testkit::is_root(), "root, to give a file to another user") {
        return;
    }
    let (dir, _) = temp_lock("unused");
    let sticky = dir.path().join("sticky");
    fs::create_dir(&sticky).unwrap();
    fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1777)).unwrap();
    let path = Utf8PathBuf::try_from(sticky.join("a.lock")).unwrap();
    fs::write(&path, "planted").unwrap();
    std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();

    // Refused whatever fs.protected_regular says (by the kernel when it is
    // set, else by the claim itself), before any lock or write.
    let err = create_exclusive(&path).unwrap_err();
    assert!(
        matches!(&err, Error::ProtectedBySticky { path: p, owner_uid: 65534 } if p == &path),
        "{err:?}"
    );
    assert_eq!(err.op(), Some(Op::Open));
    assert!(
        err.to_string().starts_with(&format!(
            "cannot open lock file {path}: it belongs to uid 65534 in a sticky world-writable directory"
        )),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "planted");
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), mtime);
    assert!(Flock::try_lock_exclusive(&fs::File::open(&path).unwrap()).unwrap());
    // Reading does not use O_CREAT and changes nothing, so it is never
    // refused for this reason.
    let (guard, content) = match read_and_hold_lock_file(&path).unwrap() {
        LockFileRead::NotHeldByAnyProcess(guard, content) => (guard, content),
        other => panic!("{other:?}"),
    };
    assert_eq!(content, b"planted");
    drop(guard);

    // A symlink planted there by another user: the kernel refuses O_CREAT on
    // it with EACCES (not ELOOP); still reported as the symlink it is.
    let target = dir.path().join("victim");
    fs::write(&target, "precious").unwrap();
    let link = Utf8PathBuf::try_from(sticky.join("link.lock")).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
    let err = create_exclusive(&link).unwrap_err();
    assert!(
        matches!(&err, Error::Symlink { path: p } if p == &link),
        "{err:?}"
    );
    assert!(matches!(
        read_and_hold_lock_file(&link),
        Err(Error::Symlink { .. })
    ));
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious");

    // What the rule allows: a new file (ours), a file of our own, and a file
    // of the directory's owner.
    let new = Utf8PathBuf::try_from(sticky.join("new.lock")).unwrap();
    drop(
        create_exclusive(&new)
            .unwrap()
            .write_content("mine".into())
            .unwrap(),
    );
    assert_eq!(fs::read_to_string(&new).unwrap(), "mine");
    drop(create_exclusive(&new).unwrap());
    std::os::unix::fs::chown(&sticky, Some(65534), None).unwrap();
    drop(create_exclusive(&path).unwrap());
    assert_eq!(fs::read_to_string(&path).unwrap(), "planted");
    // Not world-writable, or not sticky: not the case the rule is about.
    std::os::unix::fs::chown(&sticky, Some(0), None).unwrap();
    fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1775)).unwrap();
    drop(create_exclusive(&path).unwrap());
    fs::set_permissions(&sticky, fs::Permissions::from_mode(0o0777)).unwrap();
    drop(create_exclusive(&path).unwrap());
    assert_eq!(fs::read_to_string(&path).unwrap(), "planted");
}

#[test]
fn errors_name_the_path_and_the_step() {
    let err = Error::Io {
        path: "/run/x.lock".into(),
        op: Op::Write,
        source: std::io::Error::from_raw_os_error(28),
    };
    assert_eq!(err.to_string(), "cannot write lock file /run/x.lock");
    assert_eq!(
        std::error::Error::source(&err).unwrap().to_string(),
        std::io::Error::from_raw_os_error(28).to_string()
    );
    let err = Error::ReadOnlyFilesystem {
        path: "/ro/x.lock".into(),
        op: Op::Open,
    };
    assert_eq!(
        err.to_string(),
        "cannot open lock file /ro/x.lock: read-only file system"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever was written is read back exactly, by holders and by readers,
    /// and a failed claim in between changes nothing.
    #[test]
    fn content_round_trips(first in ".{0,300}", second in "[a-z0-9\n ]{0,40}") {
        let (_dir, path) = temp_lock("p.lock");
        let guard = create_exclusive(&path).unwrap().write_content(first.clone()).unwrap();
        let held = matches!(create_exclusive(&path), Err(Error::HeldByThisProcess { .. }));
        prop_assert!(held);
        prop_assert_eq!(expect_ours(&path), first.as_bytes());
        drop(guard);
        let guard = create_exclusive(&path).unwrap().write_content(second.clone()).unwrap();
        prop_assert_eq!(fs::read_to_string(&path).unwrap(), second.clone());
        drop(guard);
        let (_g, content) = expect_not_held(&path);
        prop_assert_eq!(content, second.as_bytes());
    }
}

/// What the model knows about the one holder of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hold {
    Unwritten,
    Written,
    ReaderGuard,
    /// A bare `flock`, which the crate cannot tell from another process's.
    Foreign,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Claim(usize),
    Lock(usize),
    Write(usize),
    Read(usize),
    Foreign(usize),
    Drop(usize),
}

const ACTORS: usize = 3;

fn step_strategy() -> impl Strategy<Value = Step> {
    let actor = 0..ACTORS;
    prop_oneof![
        3 => actor.clone().prop_map(Step::Claim),
        2 => actor.clone().prop_map(Step::Lock),
        2 => actor.clone().prop_map(Step::Write),
        4 => actor.clone().prop_map(Step::Read),
        1 => actor.clone().prop_map(Step::Foreign),
        3 => actor.prop_map(Step::Drop),
    ]
}

/// One actor's handles on the file (separate open file descriptions, so
/// separate `flock` holders, as separate processes would be).
#[derive(Default)]
struct Actor {
    unwritten: Option<pidkit_lockfile::UnwrittenLockFile>,
    guard: Option<pidkit_lockfile::LockFileGuard>,
    foreign: Option<File>,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Model-based: every answer of claims, reads and drops by several holders
    /// matches a model of "who holds the file, with which content". Every
    /// holder, whatever its phase, makes the file read as held with the
    /// content it has now (neon's semantics): held by this process while
    /// the holder is a claim or guard of the crate, held by another when it
    /// is a bare `flock`.
    #[test]
    fn model_of_claims_reads_and_drops(steps in prop::collection::vec(step_strategy(), 1..40)) {
        let (_dir, path) = temp_lock("model.lock");
        let mut actors: Vec<Actor> = (0..ACTORS).map(|_| Actor::default()).collect();
        let mut exists = false;
        let mut content = String::new();
        let mut holder: Option<(usize, Hold)> = None;
        for (i, step) in steps.iter().enumerate() {
            let ctx = format!("step {i} {step:?} of {steps:?}");
            match *step {
                Step::Claim(a) | Step::Lock(a) => {
                    let result = create_exclusive(&path);
                    if let Some((_, hold)) = holder {
                        let refused = if hold == Hold::Foreign {
                            matches!(result, Err(Error::Locked { .. }))
                        } else {
                            matches!(result, Err(Error::HeldByThisProcess { .. }))
                        };
                        prop_assert!(refused, "{}: {:?}", ctx, result);
                        continue;
                    }
                    let unwritten = result.unwrap();
                    if !exists {
                        exists = true;
                        content.clear();
                    }
                    if let Step::Claim(_) = step {
                        let text = format!("claim {i}");
                        actors[a].guard = Some(unwritten.write_content(text.clone()).unwrap());
                        content = text;
                        holder = Some((a, Hold::Written));
                    } else {
                        actors[a].unwritten = Some(unwritten);
                        holder = Some((a, Hold::Unwritten));
                    }
                }
                Step::Write(a) => {
                    if let Some(unwritten) = actors[a].unwritten.take() {
                        let text = format!("write {i}");
                        actors[a].guard = Some(unwritten.write_content(text.clone()).unwrap());
                        content = text;
                        holder = Some((a, Hold::Written));
                    }
                }
                Step::Read(a) => {
                    let got = read_and_hold_lock_file(&path).unwrap();
                    match (exists, holder, got) {
                        (false, _, LockFileRead::NotExist) => {}
                        (true, None, LockFileRead::NotHeldByAnyProcess(guard, c)) => {
                            prop_assert_eq!(&c, content.as_bytes(), "{}", ctx);
                            actors[a].guard = Some(guard);
                            holder = Some((a, Hold::ReaderGuard));
                        }
                        (true, Some((_, Hold::Foreign)), LockFileRead::LockedByOtherProcess { content: c, .. }) => {
                            prop_assert_eq!(&c, content.as_bytes(), "{}", ctx);
                        }
                        (true, Some((_, hold)), LockFileRead::HeldByThisProcess { content: c }) if hold != Hold::Foreign => {
                            prop_assert_eq!(&c, content.as_bytes(), "{}", ctx);
                        }
                        (_, _, got) => prop_assert!(false, "{}: model {:?} exists={}, got {:?}", ctx, holder, exists, got),
                    }
                }
                Step::Foreign(a) => {
                    if exists && holder.is_none() {
                        let file = File::open(&path).unwrap();
                        prop_assert!(Flock::try_lock_exclusive(&file).unwrap(), "{}", ctx);
                        actors[a].foreign = Some(file);
                        holder = Some((a, Hold::Foreign));
                    }
                }
                Step::Drop(a) => {
                    actors[a] = Actor::default();
                    if holder.is_some_and(|(h, _)| h == a) {
                        holder = None;
                    }
                }
            }
        }
    }
}
