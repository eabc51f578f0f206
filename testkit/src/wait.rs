//! Waiting for an observable fact (a condition, a readable descriptor),
//! never for a time: every wait here is bounded only by the caller's
//! [`watchdog`](crate::watchdog).

use std::os::fd::BorrowedFd;

use rustix::event::{PollFd, PollFlags, Timespec, poll};

/// Polls `cond` every millisecond until it holds. Bounded by the caller's
/// watchdog.
pub fn wait_until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Whether `poll` says `fd` is readable right now (a zero timeout).
pub fn readable(fd: BorrowedFd<'_>) -> bool {
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    poll(&mut fds, Some(&zero)).unwrap() == 1
}

/// Blocks until `fd` polls readable (retrying on `EINTR`).
pub fn block_until_readable(fd: BorrowedFd<'_>) {
    loop {
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, None) {
            Ok(1) => return,
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(e) => panic!("poll: {e}"),
        }
    }
}
