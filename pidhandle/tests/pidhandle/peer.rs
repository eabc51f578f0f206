//! Peers on a Unix socket: a python3 client connects, the server's handle
//! names it exactly (`SO_PEERPIDFD`, else the pinned `SO_PEERCRED` PID);
//! after it exits and its PID is forced onto a new process, the handle
//! refuses to signal. Received pidfds (`SCM_RIGHTS`) are checked.

#![allow(
    clippy::unwrap_used,
    reason = "a failed step must fail the test loudly"
)]

use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use pidkit_pidhandle::{Error, PeerCheck, PidFd, PidHandle, Signal, State, probe};
use testkit::{ChildGuard, Isolation, SeccompMode, watchdog};

const LIMIT: Duration = Duration::from_secs(120);

/// The peer: connects to the socket at argv[1], writes its PID, waits for
/// one byte, and exits.
const PEER: &str = r#"
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(str(os.getpid()).encode() + b"\n")
s.recv(1)
"#;

/// The python3 to run: the system's, which needs no per-user setup (the
/// matrix guest has a fresh HOME), else `PATH`'s.
fn python3_cmd() -> Command {
    let system = std::path::Path::new("/usr/bin/python3");
    Command::new(if system.exists() {
        system.as_os_str()
    } else {
        "python3".as_ref()
    })
}

/// Whether this run has python3 (under CI it must).
fn python3() -> bool {
    let found = python3_cmd()
        .arg("-c")
        .arg("pass")
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    testkit::require(found, "python3 for the socket peer")
}

/// Whether the kernel hands over peer pidfds to this process.
fn peer_pidfds() -> bool {
    let release = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().unwrap().parse().unwrap();
    let minor: u32 = parts.next().unwrap().parse().unwrap();
    pidkit_pidhandle::probe().usable() && (major, minor) >= (6, 5)
}

fn peer_body() {
    let _w = watchdog("peer", LIMIT);
    assert_eq!(std::process::id(), 1, "not PID 1 of a new namespace");
    if !python3() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.sock");
    let listener = UnixListener::bind(&path).unwrap();
    for round in 0..10 {
        let peer = ChildGuard::spawn(
            python3_cmd()
                .arg("-c")
                .arg(PEER)
                .arg(&path)
                .stdin(Stdio::null()),
        );
        let (mut conn, _) = listener.accept().unwrap();
        let found = PidHandle::from_peer(&conn).unwrap();
        let expected = if peer_pidfds() {
            PeerCheck::Pidfd
        } else {
            PeerCheck::Credentials
        };
        assert_eq!(found.check(), expected, "{:?}", probe());
        assert_eq!(found.is_verified(), expected == PeerCheck::Pidfd);
        let handle = found.into_handle();
        // The handle names exactly the peer: its PID as it says, and as
        // the kernel spawned it.
        let mut line = String::new();
        let mut byte = [0u8; 1];
        while !line.ends_with('\n') {
            conn.read_exact(&mut byte).unwrap();
            line.push(byte[0] as char);
        }
        assert_eq!(line.trim(), peer.id().to_string());
        assert_eq!(handle.pid(), peer.id());
        assert_eq!(handle.state().unwrap(), State::Running);
        handle.kill(Signal::ZERO).unwrap();

        // The peer exits on its own; reaped; B takes its PID.
        conn.write_all(b"x").unwrap();
        let pid = peer.id();
        assert!(peer.wait().success(), "round {round}");
        let b = testkit::spawn_with_pid(Command::new("sleep").arg("1000"), pid);
        assert_eq!(b.id(), pid, "B did not get the peer's PID");
        assert!(
            matches!(handle.kill(Signal::KILL), Err(Error::Gone { pid: p }) if p == pid),
            "round {round}"
        );
        assert_eq!(handle.state().unwrap(), State::Gone);
        // B is untouched.
        let b_handle = PidHandle::from_child(b.child()).unwrap();
        assert_eq!(b_handle.state().unwrap(), State::Running);
        b_handle.kill(Signal::KILL).unwrap();
        assert_eq!(b.wait().signal(), Some(9));
    }
    eprintln!("10 python3 peers: each named exactly, each refused after its PID was reused");
}

testkit::isolated_tests!(peer_body, LIMIT;
    /// The kernel's peer pidfd where it has one (6.5+).
    python_peer_is_named_and_refused_after_forced_reuse: Isolation::PidNamespace,
    /// pidfds blocked: the SO_PEERCRED PID, pinned by start ticks.
    python_peer_without_pidfds: Isolation::PidNamespaceSeccomp(SeccompMode::Enosys),
);

#[test]
fn datagram_pairs_and_received_pidfds() {
    let _w = watchdog("received", LIMIT);
    let (a, _b) = UnixDatagram::pair().unwrap();
    let peer = PidHandle::from_peer(&a).unwrap();
    assert_eq!(peer.handle().pid(), std::process::id());

    // A socket is not a pidfd: refused, naming what it is.
    let (s, _t) = UnixStream::pair().unwrap();
    let e = PidHandle::from_received_pidfd(OwnedFd::from(s)).unwrap_err();
    assert_eq!(io::Error::from(e).kind(), io::ErrorKind::InvalidInput);
    let (s, _t) = UnixStream::pair().unwrap();
    let e = PidHandle::from_received_pidfd(OwnedFd::from(s)).unwrap_err();
    assert_eq!(e.to_string(), "i/o error taking a received fd as a pidfd");
    let source = std::error::Error::source(&e).unwrap().to_string();
    assert!(
        source.contains("is not a pidfd: it is a socket"),
        "{source}"
    );

    if !pidkit_pidhandle::probe().usable() {
        assert!(testkit::sandbox().is_some(), "{:?}", probe());
        return;
    }
    let child = testkit::sleeper();
    let fd: OwnedFd = PidFd::from_child(child.child()).unwrap().into();
    let handle = PidHandle::from_received_pidfd(fd).unwrap();
    assert_eq!(handle.pid(), child.id());
    handle.kill(Signal::KILL).unwrap();
    assert_eq!(child.wait().signal(), Some(9));
    assert!(matches!(handle.kill(Signal::ZERO), Err(Error::Gone { .. })));
}
