//! Pidfile paths an attacker or a careless setup can prepare: a symlink at
//! the path (to a file, to a held pidfile, to nothing, to itself, to a
//! directory), a sticky world-writable directory with a planted file, FIFO or
//! symlink, and read-only mounts. Each is refused or reported clearly, and
//! nothing is followed or truncated: the bytes of every file behind a refused
//! path are checked afterwards.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::SystemTime;

use camino::{Utf8Path, Utf8PathBuf};
use pidkit_pidfile::LockOp as Op;
use pidkit_pidfile::{Error, LockError, PidFileRead, claim_for_current_process, read};
use testkit::helper::serial;
use testkit::{temp_lock, watchdog};

const LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

fn me() -> u32 {
    std::process::id()
}

/// The bytes and modification time of a file, to show it was not touched.
fn snapshot(path: impl AsRef<Path>) -> (Vec<u8>, SystemTime) {
    let path = path.as_ref();
    (
        fs::read(path).unwrap(),
        fs::metadata(path).unwrap().modified().unwrap(),
    )
}

#[track_caller]
fn assert_symlink_refused<T: std::fmt::Debug>(r: Result<T, Error>, path: &Utf8Path) {
    match r {
        Err(e @ Error::Lock(LockError::Symlink { .. })) => {
            assert_eq!(e.path(), path);
            assert_eq!(
                e.to_string(),
                format!("lock file {path} is a symlink; refusing to follow it")
            );
        }
        other => panic!("expected a refused symlink at {path}, got {other:?}"),
    }
}

#[test]
fn symlinks_at_the_path_are_refused_and_nothing_is_followed() {
    let _serial = serial();
    let _w = watchdog("symlinks", LIMIT);
    let (dir, base) = temp_lock("unused");
    let at = |name: &str| base.with_file_name(name);

    // To a file: neither claimed nor read through, the target untouched.
    let target = at("target");
    fs::write(&target, "1\n").unwrap();
    let before = snapshot(&target);
    let link = at("file-link.pid");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert_symlink_refused(claim_for_current_process(&link), &link);
    assert_symlink_refused(read(&link), &link);
    assert_eq!(snapshot(&target), before);
    assert_eq!(fs::read_link(&link).unwrap(), target.as_std_path());

    // To a pidfile we hold: refused, not reported as claimed or read as ours.
    let held = at("held.pid");
    let guard = claim_for_current_process(&held).unwrap();
    let held_before = snapshot(&held);
    let link = at("held-link.pid");
    std::os::unix::fs::symlink(&held, &link).unwrap();
    assert_symlink_refused(claim_for_current_process(&link), &link);
    assert_symlink_refused(read(&link), &link);
    assert_eq!(snapshot(&held), held_before);
    drop(guard);

    // To nothing: the target is not created, and it is not "no pidfile".
    let nowhere = at("nowhere.pid");
    let link = at("dangling.pid");
    std::os::unix::fs::symlink(&nowhere, &link).unwrap();
    assert_symlink_refused(claim_for_current_process(&link), &link);
    assert_symlink_refused(read(&link), &link);
    assert!(!nowhere.exists());

    // To itself, through another link, and to a directory.
    let (a, b) = (at("loop-a.pid"), at("loop-b.pid"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    assert_symlink_refused(claim_for_current_process(&a), &a);
    assert_symlink_refused(read(&a), &a);
    let link = at("dir-link.pid");
    std::os::unix::fs::symlink(dir.path(), &link).unwrap();
    assert_symlink_refused(claim_for_current_process(&link), &link);
    assert_symlink_refused(read(&link), &link);

    // A symlink in a directory above the pidfile is followed, like every
    // program follows `/var/run -> /run`: only the last component is the
    // pidfile's own, and that one is opened with O_NOFOLLOW.
    let real = at("real");
    fs::create_dir(&real).unwrap();
    let dir_link = at("run");
    std::os::unix::fs::symlink(&real, &dir_link).unwrap();
    let path = dir_link.join("svc.pid");
    let guard = claim_for_current_process(&path).unwrap();
    assert_eq!(guard.path(), path);
    assert_eq!(
        fs::read_to_string(real.join("svc.pid")).unwrap(),
        format!("{}\n", me())
    );
    // The same file through the link: this process's claim.
    match read(&path).unwrap() {
        PidFileRead::HeldByThisProcess => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn sticky_world_writable_directory_refuses_planted_files() {
    let _serial = serial();
    let _w = watchdog("sticky", LIMIT);
    if !testkit::require(testkit::is_root(), "root, to plant files as another user") {
        return;
    }
    let (dir, _) = temp_lock("unused");
    let sticky = Utf8PathBuf::try_from(dir.path().join("tmp")).unwrap();
    fs::create_dir(&sticky).unwrap();
    fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1777)).unwrap();
    let nobody = 65534;

    // A regular file planted by another user: refused before any lock or
    // write, whatever fs.protected_regular says; read, it is a stale pidfile.
    let planted = sticky.join("svc.pid");
    fs::write(&planted, "4242\n").unwrap();
    std::os::unix::fs::chown(&planted, Some(nobody), Some(nobody)).unwrap();
    let before = snapshot(&planted);
    match claim_for_current_process(&planted) {
        Err(e @ Error::Lock(LockError::ProtectedBySticky { .. })) => {
            assert_eq!(e.path(), planted);
            let shown = e.to_string();
            assert!(shown.contains(planted.as_str()), "{shown}");
            assert!(shown.contains("uid 65534"), "{shown}");
            assert!(shown.contains("sticky"), "{shown}");
        }
        other => panic!("expected the planted file to be refused, got {other:?}"),
    }
    assert_eq!(snapshot(&planted), before);
    assert!(matches!(
        read(&planted).unwrap(),
        PidFileRead::NotHeldByAnyProcess(..)
    ));
    assert_eq!(snapshot(&planted), before);

    // A symlink planted by another user: refused as any symlink.
    let target = Utf8PathBuf::try_from(dir.path().join("victim")).unwrap();
    fs::write(&target, "precious").unwrap();
    let target_before = snapshot(&target);
    let link = sticky.join("link.pid");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(nobody), Some(nobody)).unwrap();
    assert_symlink_refused(claim_for_current_process(&link), &link);
    assert_symlink_refused(read(&link), &link);
    assert_eq!(snapshot(&target), target_before);

    // A FIFO planted by another user: refused by the kernel when
    // fs.protected_fifos is set, else opened without blocking and refused as
    // not a regular file; never written.
    let protected_fifos =
        fs::read_to_string("/proc/sys/fs/protected_fifos").is_ok_and(|v| v.trim() != "0");
    let fifo = sticky.join("fifo.pid");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        fifo.as_std_path(),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o666),
        0,
    )
    .unwrap();
    std::os::unix::fs::chown(&fifo, Some(nobody), Some(nobody)).unwrap();
    for (r, creating) in [
        (claim_for_current_process(&fifo).map(drop), true),
        (read(&fifo).map(drop), false),
    ] {
        match r {
            Err(e @ Error::Lock(LockError::NotRegularFile { .. }))
                if !(creating && protected_fifos) =>
            {
                assert_eq!(e.path(), fifo);
            }
            Err(e @ Error::Lock(LockError::ProtectedBySticky { .. }))
                if creating && protected_fifos =>
            {
                assert_eq!(e.path(), fifo);
            }
            other => panic!("expected the FIFO to be refused, got {other:?}"),
        }
    }
    assert!(
        fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo_like()
    );

    // Our own pidfile there works, new or existing.
    let ours = sticky.join("ours.pid");
    let guard = claim_for_current_process(&ours).unwrap();
    assert_eq!(fs::metadata(&ours).unwrap().uid(), 0);
    assert_eq!(fs::read_to_string(&ours).unwrap(), format!("{}\n", me()));
    drop(guard);
    let guard = claim_for_current_process(&ours).unwrap();
    match read(&ours).unwrap() {
        PidFileRead::HeldByThisProcess => {}
        other => panic!("{other:?}"),
    }
    drop(guard);
}

/// `FileType::is_fifo` through the Unix extension trait, named for reading.
trait FifoLike {
    fn is_fifo_like(&self) -> bool;
}

impl FifoLike for fs::FileType {
    fn is_fifo_like(&self) -> bool {
        std::os::unix::fs::FileTypeExt::is_fifo(self)
    }
}

#[test]
fn read_only_mounts_are_reported_and_nothing_changes() {
    let _serial = serial();
    let _w = watchdog("read_only", LIMIT);
    testkit::run_in_mount_namespace(
        "hostile_paths::read_only_mounts_are_reported_and_nothing_changes",
        || {
            let dir = tempfile::tempdir().unwrap();
            let mnt = Utf8PathBuf::try_from(dir.path().join("run")).unwrap();
            let ro_view = Utf8PathBuf::try_from(dir.path().join("ro-view")).unwrap();
            fs::create_dir(&mnt).unwrap();
            fs::create_dir(&ro_view).unwrap();

            // An empty read-only file system: nothing is created.
            testkit::mount(&["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", mnt.as_str()]);
            let fresh = mnt.join("fresh.pid");
            match claim_for_current_process(&fresh) {
                Err(e @ Error::Lock(LockError::ReadOnlyFilesystem { .. })) => {
                    assert_eq!(e.path(), fresh);
                    assert_eq!(
                        e.to_string(),
                        format!("cannot open lock file {fresh}: read-only file system")
                    );
                }
                other => panic!("{other:?}"),
            }
            assert!(matches!(read(&fresh).unwrap(), PidFileRead::NotExist));
            assert!(!fresh.exists());

            // A stale pidfile on a file system remounted read-only: the claim
            // fails at the open, the content stays; a read still works (flock
            // needs no write access) and finds it stale.
            testkit::mount(&["-o", "remount,rw", mnt.as_str()]);
            let stale = mnt.join("stale.pid");
            fs::write(&stale, "4242\n").unwrap();
            testkit::mount(&["-o", "remount,ro", mnt.as_str()]);
            let before = snapshot(&stale);
            match claim_for_current_process(&stale) {
                Err(Error::Lock(LockError::ReadOnlyFilesystem { op, .. })) => {
                    assert_eq!(op, Op::Open);
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(snapshot(&stale), before);
            assert!(matches!(
                read(&stale).unwrap(),
                PidFileRead::NotHeldByAnyProcess(..)
            ));

            // A live claim, seen through a read-only bind mount of its
            // directory (a container given /run read-only): a claim there is a
            // read-only error, not a second claim; a read finds the holder, and
            // its handle is verified.
            testkit::mount(&["-o", "remount,rw", mnt.as_str()]);
            let live = mnt.join("live.pid");
            let guard = claim_for_current_process(&live).unwrap();
            testkit::mount(&["--bind", mnt.as_str(), ro_view.as_str()]);
            testkit::mount(&["-o", "remount,bind,ro", ro_view.as_str()]);
            let seen = ro_view.join("live.pid");
            let before = snapshot(&live);
            match claim_for_current_process(&seen) {
                Err(Error::Lock(LockError::ReadOnlyFilesystem { .. })) => {}
                other => panic!("{other:?}"),
            }
            // The same inode through the read-only view: this process's claim.
            match read(&seen).unwrap() {
                PidFileRead::HeldByThisProcess => {}
                other => panic!("{other:?}"),
            }
            assert_eq!(snapshot(&live), before);
            drop(guard);
            assert!(matches!(
                read(&seen).unwrap(),
                PidFileRead::NotHeldByAnyProcess(..)
            ));
            testkit::umount(&ro_view);
            testkit::umount(&mnt);
        },
    );
}
