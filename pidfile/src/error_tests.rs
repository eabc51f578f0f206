//! Unit tests of [`Error`](super::Error): every message, kind and source.

use std::error::Error as _;
use std::io;

use camino::Utf8PathBuf;
use pidkit_lockfile::{Error as LockError, Op as LockOp};
use pidkit_pidhandle::{Error as HandleError, Signal};

use super::*;

fn path() -> Utf8PathBuf {
    "/run/a.pid".into()
}

/// Every variant's message, and the rule that a message never repeats
/// its source.
#[test]
fn messages_name_the_pid_and_path_and_never_repeat_the_source() {
    let cases: Vec<(Error, &str)> = vec![
        (
            Error::AlreadyClaimed {
                path: path(),
                pid: Some(7),
                holder: Err(Box::new(Error::Gone {
                    path: path(),
                    pid: 7,
                })),
            },
            "pidfile /run/a.pid is already claimed by pid 7",
        ),
        (
            Error::AlreadyClaimed {
                path: path(),
                pid: None,
                holder: Err(Box::new(Error::BadContent {
                    path: path(),
                    content: String::new(),
                })),
            },
            "pidfile /run/a.pid is already claimed by another process",
        ),
        (
            Error::HeldByThisProcess { path: path() },
            "pidfile /run/a.pid is already claimed by this process",
        ),
        (
            Error::BadContent {
                path: path(),
                content: "x\n".into(),
            },
            "pidfile /run/a.pid holds \"x\\n\", which is not a pid",
        ),
        (
            Error::Gone {
                path: path(),
                pid: 9,
            },
            "process 9 is gone or no longer holds pidfile /run/a.pid",
        ),
        (
            Error::NotHolder {
                path: path(),
                pid: 12,
            },
            "pid 12, named by pidfile /run/a.pid, does not hold its lock",
        ),
        (
            Error::CannotVerify {
                path: path(),
                pid: 13,
                source: io::Error::from_raw_os_error(13),
            },
            "cannot verify from /proc/13/fd that pid 13 holds pidfile /run/a.pid",
        ),
        (
            Error::PermissionDenied {
                path: path(),
                pid: 14,
            },
            "permission denied signalling pid 14, the holder of pidfile /run/a.pid",
        ),
        (
            Error::Handle {
                path: path(),
                pid: 15,
                source: HandleError::Io {
                    context: "reading /proc/15/stat".into(),
                    source: io::Error::from_raw_os_error(5),
                },
            },
            "cannot pin pid 15, the holder of pidfile /run/a.pid",
        ),
        (
            Error::Kill {
                path: path(),
                pid: 16,
                signal: Signal::TERM,
                source: HandleError::Unsupported {
                    pid: 16,
                    reason: "real-time signal".into(),
                },
            },
            "cannot send SIGTERM to pid 16, the holder of pidfile /run/a.pid",
        ),
        (
            Error::Lock(LockError::PermissionDenied {
                path: path(),
                op: LockOp::Open,
            }),
            "cannot open lock file /run/a.pid: permission denied",
        ),
    ];
    for (e, want) in cases {
        let text = e.to_string();
        assert_eq!(text, want);
        assert_eq!(e.path(), "/run/a.pid");
        assert_eq!(text, text.to_lowercase().replace("sigterm", "SIGTERM"));
        // Each cause in the chain is said once.
        let mut source = e.source();
        while let Some(s) = source {
            assert!(!text.contains(&s.to_string()), "{text} repeats {s}");
            source = s.source();
        }
        let kind = e.kind();
        let io: io::Error = e.into();
        assert_eq!((io.kind(), io.to_string()), (kind, text));
    }
    let long = "y".repeat(100);
    let e = Error::BadContent {
        path: path(),
        content: long,
    };
    assert!(
        e.to_string()
            .ends_with("(and 36 more bytes), which is not a pid"),
        "{e}"
    );
}

#[test]
fn kinds() {
    let cases = [
        (
            Error::AlreadyClaimed {
                path: path(),
                pid: None,
                holder: Err(Box::new(Error::HeldByThisProcess { path: path() })),
            },
            io::ErrorKind::WouldBlock,
        ),
        (
            Error::HeldByThisProcess { path: path() },
            io::ErrorKind::Deadlock,
        ),
        (
            Error::Gone {
                path: path(),
                pid: 1,
            },
            io::ErrorKind::NotFound,
        ),
        (
            Error::PermissionDenied {
                path: path(),
                pid: 1,
            },
            io::ErrorKind::PermissionDenied,
        ),
        (
            Error::NotHolder {
                path: path(),
                pid: 1,
            },
            io::ErrorKind::InvalidData,
        ),
        (
            Error::Lock(LockError::MissingParent { path: path() }),
            io::ErrorKind::NotFound,
        ),
    ];
    for (e, kind) in cases {
        assert_eq!(e.kind(), kind, "{e}");
    }
}
