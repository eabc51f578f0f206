//! `PidFd::try_from(OwnedFd)`: pidfds of every sort are taken, anything else
//! is refused with its kind named and the fd handed back open.

#![allow(
    clippy::unwrap_used,
    reason = "a failed step must fail the test loudly"
)]

use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::Duration;

use pidkit_pidfd::{OpenFlags, PidFd, Signal, probe};
use testkit::{sleeper, watchdog};

const LIMIT: Duration = Duration::from_secs(60);

/// Refuses `fd`, checks that the error names it and `what`, and gives it
/// back: the same number, still open.
fn refused(fd: OwnedFd, what: &str) -> OwnedFd {
    let n = fd.as_raw_fd();
    let e = PidFd::try_from(fd).unwrap_err();
    assert_eq!(e.error().kind(), io::ErrorKind::InvalidInput, "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("fd {n} is not a pidfd: it is {what}")),
        "{msg}"
    );
    let (error, back) = e.into_parts();
    assert_eq!(error.to_string(), msg);
    assert_eq!(back.as_raw_fd(), n);
    // Still open: the descriptor flags can be read, and close-on-exec.
    assert!(
        rustix::io::fcntl_getfd(&back)
            .unwrap()
            .contains(rustix::io::FdFlags::CLOEXEC)
    );
    back
}

#[test]
fn files_of_every_kind_are_refused_and_handed_back() {
    let _w = watchdog("refused", LIMIT);
    let (dir, path) = testkit::temp_lock("plain");
    std::fs::write(&path, "content").unwrap();

    let file = refused(
        OwnedFd::from(std::fs::File::open(&path).unwrap()),
        "a regular file (",
    );
    // The fd handed back is the file, open, at its start.
    let mut text = String::new();
    std::fs::File::from(file).read_to_string(&mut text).unwrap();
    assert_eq!(text, "content");

    refused(
        OwnedFd::from(std::fs::File::open(dir.path()).unwrap()),
        "a directory (",
    );
    refused(
        OwnedFd::from(std::fs::File::open("/dev/null").unwrap()),
        "a character device (/dev/null)",
    );
    let (a, _b) = UnixStream::pair().unwrap();
    refused(OwnedFd::from(a), "a socket (socket:[");
    let (d, _e) = UnixDatagram::pair().unwrap();
    refused(OwnedFd::from(d), "a socket (socket:[");
    let (r, _writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    refused(r, "a pipe or fifo (pipe:[");
    let ev = rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).unwrap();
    refused(ev, "an anonymous inode [eventfd]");
}

#[test]
fn pidfds_of_every_sort_are_taken() {
    let _w = watchdog("taken", LIMIT);
    if !probe().pidfd_open {
        // Under the seccomp modes no pidfd can be made to hand over.
        assert!(testkit::sandbox().is_some(), "{:?}", probe());
        return;
    }
    let child = sleeper();
    let pid = child.id();
    let mut made = vec![
        PidFd::from_child(child.child()).unwrap(),
        PidFd::open_with(pid, OpenFlags::NONBLOCK).unwrap(),
    ];
    if probe().thread {
        made.push(PidFd::open_with(pid, OpenFlags::THREAD).unwrap());
    }
    for fd in made {
        let raw: OwnedFd = fd.into();
        let n = raw.as_raw_fd();
        let back = PidFd::try_from(raw).unwrap();
        assert_eq!(back.as_raw_fd(), n);
        assert_eq!(back.pid().unwrap(), Some(pid));
        back.kill(Signal::ZERO).unwrap();
    }

    // A pidfd of a reaped process is still a pidfd: taken, and it refuses
    // to signal.
    let raw: OwnedFd = PidFd::from_child(child.child()).unwrap().into();
    let fd = PidFd::try_from(raw).unwrap();
    fd.kill(Signal::KILL).unwrap();
    assert!(!child.wait().success());
    let again = PidFd::try_from(OwnedFd::from(fd)).unwrap();
    assert_eq!(
        again.kill(Signal::ZERO).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
}

#[test]
fn a_pidfd_passed_over_a_socket_is_taken() {
    let _w = watchdog("passed", LIMIT);
    if !probe().pidfd_open {
        assert!(testkit::sandbox().is_some(), "{:?}", probe());
        return;
    }
    use rustix::net::{
        RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
        SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
    };
    use std::mem::MaybeUninit;
    let child = sleeper();
    let (tx, rx) = UnixStream::pair().unwrap();
    let fd = PidFd::from_child(child.child()).unwrap();
    let fds = [std::os::fd::AsFd::as_fd(&fd)];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut out = SendAncillaryBuffer::new(&mut space);
    assert!(out.push(SendAncillaryMessage::ScmRights(&fds)));
    sendmsg(&tx, &[io::IoSlice::new(b"p")], &mut out, SendFlags::empty()).unwrap();
    drop(fd);

    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut inc = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8; 1];
    recvmsg(
        &rx,
        &mut [io::IoSliceMut::new(&mut byte)],
        &mut inc,
        RecvFlags::CMSG_CLOEXEC,
    )
    .unwrap();
    let mut received = Vec::new();
    for msg in inc.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = msg {
            received.extend(fds);
        }
    }
    assert_eq!(received.len(), 1);
    let fd = PidFd::try_from(received.pop().unwrap()).unwrap();
    assert_eq!(fd.pid().unwrap(), Some(child.id()));
    fd.kill(Signal::KILL).unwrap();
    assert!(!child.wait().success());
}

#[test]
fn the_peer_of_a_unix_socket_is_its_pidfd() {
    let _w = watchdog("peer", LIMIT);
    let (a, _b) = UnixStream::pair().unwrap();
    let (d, _e) = UnixDatagram::pair().unwrap();
    for socket in [OwnedFd::from(a), OwnedFd::from(d)] {
        match PidFd::from_peer(&socket) {
            Ok(peer) => {
                // socketpair: this process is the peer.
                assert_eq!(peer.pid().unwrap(), Some(std::process::id()));
                // The fd is a pidfd by the same check as any other.
                let raw: OwnedFd = peer.into();
                PidFd::try_from(raw).unwrap();
            }
            // Before Linux 6.5 the option does not exist.
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{e}");
                assert_eq!(e.to_string(), "SO_PEERPIDFD needs Linux 6.5 or later");
            }
        }
    }
    // Not a socket: the kernel's ENOTSOCK.
    let file = std::fs::File::open("/dev/null").unwrap();
    let e = PidFd::from_peer(&file).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOTSOCK), "{e}");
}
