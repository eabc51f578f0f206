//! Unit tests of [`Error`](super::Error): every message, the OS errors
//! classified, and the conversion to `io::Error`.

use std::error::Error as _;

use super::*;

/// Every variant's message, and the rule that a message never repeats
/// its source: a variant with a source says only what was being done.
#[test]
fn messages_name_the_path_and_never_repeat_the_source() {
    let path = || Utf8PathBuf::from("/run/x.lock");
    let cases: Vec<(Error, &str)> = vec![
        (
            Error::Locked { path: path() },
            "lock file /run/x.lock is locked by another holder",
        ),
        (
            Error::HeldByThisProcess { path: path() },
            "lock file /run/x.lock is already held by this process",
        ),
        (
            Error::Symlink { path: path() },
            "lock file /run/x.lock is a symlink; refusing to follow it",
        ),
        (
            Error::IsDirectory { path: path() },
            "lock file /run/x.lock is a directory",
        ),
        (
            Error::NotRegularFile { path: path() },
            "lock file /run/x.lock is not a regular file",
        ),
        (
            Error::MissingParent { path: path() },
            "cannot create lock file /run/x.lock: its parent directory does not exist",
        ),
        (
            Error::ReadOnlyFilesystem {
                path: path(),
                op: Op::Write,
            },
            "cannot write lock file /run/x.lock: read-only file system",
        ),
        (
            Error::PermissionDenied {
                path: path(),
                op: Op::Open,
            },
            "cannot open lock file /run/x.lock: permission denied",
        ),
        (
            Error::Io {
                path: path(),
                op: Op::SyncParentDir,
                source: io::Error::from_raw_os_error(5),
            },
            "cannot fsync the parent directory of lock file /run/x.lock",
        ),
    ];
    for (e, want) in cases {
        let text = e.to_string();
        assert_eq!(text, want);
        assert_eq!(e.path(), "/run/x.lock");
        assert_eq!(
            text,
            text.to_lowercase().replace("utf-8", "UTF-8"),
            "{text}"
        );
        if let Some(source) = e.source() {
            assert!(!text.contains(&source.to_string()), "{text}");
            assert!(!text.contains("input/output"), "{text}");
        }
    }
}

/// The OS errors whose cause is a variant's name become that variant,
/// without a source.
#[test]
fn refusals_and_read_only_file_systems_have_no_source() {
    let path = Utf8Path::new("/run/x.lock");
    for errno in [13, 1] {
        let e = classify(path, Op::Open, io::Error::from_raw_os_error(errno));
        assert!(
            matches!(e, Error::PermissionDenied { op: Op::Open, .. }),
            "{e:?}"
        );
        assert!(e.source().is_none());
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
    }
    let e = classify(path, Op::Write, io::Error::from_raw_os_error(30));
    assert!(matches!(e, Error::ReadOnlyFilesystem { op: Op::Write, .. }));
    assert!(e.source().is_none());
    let e = classify(path, Op::Write, io::Error::from_raw_os_error(28));
    assert!(matches!(e, Error::Io { op: Op::Write, .. }), "{e:?}");
    assert_eq!(e.kind(), io::ErrorKind::StorageFull);
    assert_eq!(e.op(), Some(Op::Write));
}

#[test]
fn converts_to_io_error_with_its_kind_and_keeps_the_error() {
    let cases = [
        (
            Error::Locked { path: "/a".into() },
            io::ErrorKind::WouldBlock,
        ),
        (
            Error::HeldByThisProcess { path: "/a".into() },
            io::ErrorKind::Deadlock,
        ),
        (
            Error::MissingParent { path: "/a".into() },
            io::ErrorKind::NotFound,
        ),
    ];
    for (e, kind) in cases {
        testkit::assert_into_io!(Error, e, kind);
    }
}
