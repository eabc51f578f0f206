//! Unit tests of the error module: every variant's message, source and
//! kind, and the mappings from the handle crate's errors and from errno.

use super::*;
use std::error::Error as _;

fn emfile() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::MFILE.raw_os_error())
}

/// Every variant, with the message it must show.
fn cases() -> Vec<(Error, &'static str, io::ErrorKind)> {
    use io::ErrorKind as K;
    vec![
        (
            Error::Spawn {
                program: "/no/such".into(),
                source: io::Error::from(K::NotFound),
            },
            "cannot start \"/no/such\"",
            K::NotFound,
        ),
        (
            Error::FdLimit {
                program: "sleep".into(),
                soft: 64,
                hard: 4096,
                source: emfile(),
            },
            "cannot start \"sleep\" with RLIMIT_NOFILE at 64 (hard limit 4096); \
             raise the soft limit (pidkit_monitor::raise_fd_limit, ulimit -n)",
            emfile().kind(),
        ),
        (Error::Gone { pid: 7 }, "process 7 is gone", K::NotFound),
        (
            Error::PermissionDenied { pid: 7 },
            "permission denied signalling pid 7",
            K::PermissionDenied,
        ),
        (
            Error::InvalidPid { pid: 0 },
            "invalid pid 0: must be in 1..=2147483647",
            K::InvalidInput,
        ),
        (
            Error::StatusUnavailable { pid: 7 },
            "process 7 exited; its exit status is not available to a non-parent on this kernel",
            K::Unsupported,
        ),
        (
            Error::ReapedElsewhere { pid: 7 },
            "process 7 was reaped outside the monitor (waitpid(-1) or SIGCHLD ignored); \
             its exit status is lost",
            K::Other,
        ),
        (
            Error::NoPidfd { pid: 7 },
            "cannot watch process 7: it is not our child and no pidfd is available for it",
            K::Unsupported,
        ),
        (
            Error::SignalUnsupported {
                pid: 7,
                signal: Signal::from_raw(40).unwrap(),
            },
            "cannot send signal 40 to process 7 without pidfds: only named signals are supported",
            K::Unsupported,
        ),
        (
            Error::Unsupported {
                pid: 7,
                reason: "no pidfs ids".into(),
            },
            "unsupported for pid 7: no pidfs ids",
            K::Unsupported,
        ),
        (
            Error::BackendUnavailable {
                reason: "pidfd_open: ENOSYS".into(),
            },
            "the epoll backend needs pidfds, which are unavailable here: pidfd_open: ENOSYS",
            K::Unsupported,
        ),
        (
            Error::out_of_resources(emfile()),
            "cannot tell whether pidfds work here: probing them needs file descriptors \
             (this process's RLIMIT_NOFILE)",
            emfile().kind(),
        ),
        (
            Error::Closed,
            "the process handle is closed",
            K::InvalidInput,
        ),
        (
            Error::NotGroupLeader { pid: 7 },
            "process 7 does not lead a process group",
            K::InvalidInput,
        ),
        (
            Error::GroupGone { pid: 7 },
            "process group 7 has no member left",
            K::NotFound,
        ),
        (
            Error::GroupUnreachable { pid: 7 },
            "process group 7: its leader is not our unreaped child and this kernel cannot \
             signal the group through the leader's pidfd",
            K::Unsupported,
        ),
        (
            Error::Handle {
                source: pidkit_pidhandle::Error::PidMismatch { pid: 7, actual: 8 },
            },
            "the process handle failed",
            K::InvalidInput,
        ),
        (
            Error::Cgroup {
                action: "create",
                path: "/sys/fs/cgroup/pidkit-7-0".into(),
                source: io::Error::from(K::PermissionDenied),
            },
            "cannot create cgroup /sys/fs/cgroup/pidkit-7-0",
            K::PermissionDenied,
        ),
        (
            Error::BadContent {
                path: "/sys/fs/cgroup/pidkit-7-0/cgroup.procs".into(),
                content: "x".into(),
            },
            "unexpected content in /sys/fs/cgroup/pidkit-7-0/cgroup.procs: \"x\"",
            K::InvalidData,
        ),
        (
            Error::TreeUnavailable {
                reason: "/proc is not under a cgroup2 mount".into(),
            },
            "no cgroup v2 process tree here: /proc is not under a cgroup2 mount",
            K::Unsupported,
        ),
        (
            io_context(
                "duplicating the pidfd of process 7",
                io::Error::from(K::OutOfMemory),
            ),
            "i/o error duplicating the pidfd of process 7",
            K::OutOfMemory,
        ),
    ]
}

#[test]
fn messages_name_the_subject_and_never_repeat_their_source() {
    for (e, want, _) in cases() {
        let msg = e.to_string();
        assert_eq!(msg, want);
        assert!(
            msg.starts_with(|c: char| !c.is_uppercase()) && !msg.ends_with('.'),
            "{msg}"
        );
        if let Some(source) = e.source() {
            let cause = source.to_string();
            assert!(!msg.contains(&cause), "{msg:?} repeats {cause:?}");
        }
    }
}

#[test]
fn a_variant_has_a_source_exactly_when_it_wraps_another_error() {
    for (e, _, _) in cases() {
        let wraps = matches!(
            e,
            Error::Spawn { .. }
                | Error::FdLimit { .. }
                | Error::OutOfResources { .. }
                | Error::Handle { .. }
                | Error::Io { .. }
                | Error::Cgroup { .. }
        );
        assert_eq!(e.source().is_some(), wraps, "{e}");
    }
}

#[test]
fn converts_to_io_error_with_its_kind_and_keeps_the_error() {
    for (e, _, kind) in cases() {
        assert_eq!(e.kind(), kind, "{e}");
        testkit::assert_into_io!(Error, e, kind);
    }
}

#[test]
fn handle_errors_keep_their_name_and_words() {
    use pidkit_pidhandle::Error as H;
    let cases: Vec<H> = vec![
        H::Gone { pid: 7 },
        H::PermissionDenied { pid: 7 },
        H::InvalidPid { pid: 0 },
        H::Unsupported {
            pid: 7,
            reason: "r".into(),
        },
        H::Closed,
        H::PidMismatch { pid: 7, actual: 8 },
    ];
    for h in cases {
        let (text, kind) = (h.to_string(), h.kind());
        let e = Error::from(h);
        assert_eq!(e.kind(), kind, "{e}");
        match e {
            Error::Handle { ref source } => assert_eq!(source.to_string(), text),
            _ => assert_eq!(e.to_string(), text),
        }
    }
    let e = Error::from(H::Io {
        context: "reading /proc/7/stat".into(),
        source: io::Error::from(io::ErrorKind::InvalidData),
    });
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert_eq!(e.to_string(), "i/o error reading /proc/7/stat");
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
}

#[test]
fn a_refused_signal_reads_as_in_every_pidkit_crate() {
    use rustix::io::Errno;
    let errno = |e: Errno| io::Error::from_raw_os_error(e.raw_os_error());
    let e = signal_error(7, "through its pidfd", errno(Errno::PERM));
    assert!(matches!(e, Error::PermissionDenied { pid: 7 }), "{e:?}");
    assert_eq!(
        e.to_string(),
        pidkit_pidhandle::Error::PermissionDenied { pid: 7 }.to_string()
    );
    let e = signal_error(7, "through its pidfd", errno(Errno::SRCH));
    assert!(matches!(e, Error::Gone { pid: 7 }), "{e:?}");
    assert_eq!(
        e.to_string(),
        pidkit_pidhandle::Error::Gone { pid: 7 }.to_string()
    );
    let e = signal_error(0, "with kill(2)", errno(Errno::INVAL));
    assert!(matches!(e, Error::InvalidPid { pid: 0 }), "{e:?}");
    let e = signal_error(7, "with kill(2)", errno(Errno::INVAL));
    assert_eq!(e.to_string(), "i/o error signalling process 7 with kill(2)");
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
}
