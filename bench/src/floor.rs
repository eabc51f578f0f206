//! The floors: the minimal system-call sequences the pidkit rows are
//! measured against, every call made the same way.
//!
//! Each call is the bare `syscall` (x86-64) or `svc 0` (aarch64) instruction
//! inlined into the caller: no libc wrapper, no function call, no `errno`.
//! That is the cheapest way a user-space program can make a system call, so
//! nothing that makes the same calls can be faster; and `kill` and
//! `pidfd_send_signal` (which rustix cannot send signal 0 through) go the
//! same way, so their ratio is the kernel's alone. Other architectures use
//! `libc::syscall` for every call, which is again one path for all.
//!
//! This is the benchmark's only `unsafe`; the bench is not published.

#![allow(unsafe_code)]

use std::io;

/// Raw return value to `io::Result`: -4095..-1 is `-errno`.
#[inline(always)]
fn check(ret: isize) -> io::Result<usize> {
    if (-4095..0).contains(&ret) {
        Err(io::Error::from_raw_os_error(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn sys4(nr: libc::c_long, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: every caller below passes a system call number and arguments
    // that the kernel validates (fds, pids, and a pointer to a live, writable
    // `libc::stat` for fstat); the `syscall` instruction clobbers only rcx and
    // r11 (declared) and rax (the result). Memory may be written (fstat), so
    // `nomem` is not claimed.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, preserves_flags),
        );
    }
    ret
}

#[cfg(target_arch = "aarch64")]
#[inline(always)]
fn sys4(nr: libc::c_long, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: as on x86-64: valid numbers and arguments the kernel checks; `svc 0`
    // returns in x0 and preserves every other register.
    unsafe {
        std::arch::asm!(
            "svc 0",
            in("x8") nr as usize,
            inlateout("x0") a => ret,
            in("x1") b,
            in("x2") c,
            in("x3") d,
            options(nostack, preserves_flags),
        );
    }
    ret
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
#[inline(always)]
fn sys4(nr: libc::c_long, a: usize, b: usize, c: usize, d: usize) -> isize {
    // SAFETY: as above; libc::syscall sets errno, which we read back.
    let r = unsafe { libc::syscall(nr, a, b, c, d) };
    if r == -1 {
        -(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO) as isize)
    } else {
        r as isize
    }
}

/// How the floors make their calls, for the report.
pub(crate) const PATH: &str = if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
    "inline syscall instruction"
} else {
    "libc::syscall"
};

/// `kill(pid, 0)`.
#[inline(always)]
pub(crate) fn kill0(pid: i32) -> io::Result<()> {
    check(sys4(libc::SYS_kill, pid as usize, 0, 0, 0)).map(drop)
}

/// `pidfd_send_signal(fd, 0, NULL, 0)`.
#[inline(always)]
pub(crate) fn pidfd_send0(fd: i32) -> io::Result<()> {
    check(sys4(libc::SYS_pidfd_send_signal, fd as usize, 0, 0, 0)).map(drop)
}

/// `pidfd_open(pid, 0)`; the caller closes the fd with [`close`].
#[inline(always)]
pub(crate) fn pidfd_open(pid: i32) -> io::Result<i32> {
    check(sys4(libc::SYS_pidfd_open, pid as usize, 0, 0, 0)).map(|fd| fd as i32)
}

/// `fstat(fd)`, returning the inode number (the pidfs id on 6.9+).
#[inline(always)]
pub(crate) fn fstat_ino(fd: i32) -> io::Result<u64> {
    // SAFETY: an all-zero `struct stat` is a valid value of that plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(sys4(
        libc::SYS_fstat,
        fd as usize,
        &raw mut st as usize,
        0,
        0,
    ))?;
    Ok(st.st_ino)
}

/// A `struct file_handle` with room for the pidfs handles the text carries.
#[repr(C)]
pub(crate) struct RawFileHandle {
    handle_bytes: u32,
    handle_type: i32,
    f_handle: [u8; 32],
}

impl RawFileHandle {
    /// The kernel's handle of `handle_type` with `bytes` (at most 32).
    pub(crate) fn new(handle_type: i32, bytes: &[u8]) -> RawFileHandle {
        let mut f_handle = [0; 32];
        f_handle[..bytes.len()].copy_from_slice(bytes);
        RawFileHandle {
            handle_bytes: bytes.len() as u32,
            handle_type,
            f_handle,
        }
    }
}

/// `open_by_handle_at(FD_PIDFS_ROOT, handle, O_CLOEXEC)` (Linux 6.17): a
/// pidfd straight from a pidfs file handle; the caller closes it.
#[inline(always)]
pub(crate) fn open_by_pidfs_handle(handle: &RawFileHandle) -> io::Result<i32> {
    /// `FD_PIDFS_ROOT` in the uapi `fcntl.h`.
    const FD_PIDFS_ROOT: isize = -10002;
    check(sys4(
        libc::SYS_open_by_handle_at,
        FD_PIDFS_ROOT as usize,
        std::ptr::from_ref(handle) as usize,
        libc::O_CLOEXEC as usize,
        0,
    ))
    .map(|fd| fd as i32)
}

/// The restore rows' floor: `pidfd_open` + `fstat` + `pidfd_send_signal(fd,
/// 0)` + `close`.
#[inline(always)]
pub(crate) fn restore_sequence(pid: i32) {
    let fd = pidfd_open(pid).expect("pidfd_open");
    std::hint::black_box(fstat_ino(fd).expect("fstat"));
    pidfd_send0(fd).expect("pidfd_send_signal");
    close(fd);
}

/// `close(fd)` of an fd from [`pidfd_open`].
#[inline(always)]
pub(crate) fn close(fd: i32) {
    let _ = sys4(libc::SYS_close, fd as usize, 0, 0, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_make_the_calls() {
        let me = std::process::id() as i32;
        kill0(me).unwrap();
        // Under `cargo xtask test`'s seccomp modes the pidfd calls are
        // refused as the filter says; the floors report that, not a result.
        match std::env::var("PIDKIT_SANDBOX").as_deref() {
            Ok("enosys") | Ok("eperm") => {
                let e = pidfd_open(me).unwrap_err().raw_os_error();
                assert!(matches!(e, Some(libc::ENOSYS | libc::EPERM)), "{e:?}");
                return;
            }
            _ => {}
        }
        let fd = pidfd_open(me).unwrap();
        assert!(fd >= 0);
        pidfd_send0(fd).unwrap();
        let st = rustix::fs::fstat(unsafe_free_borrow(fd)).unwrap();
        assert_eq!(fstat_ino(fd).unwrap(), st.st_ino);
        if pidkit_pidhandle::probe().pidfs_file_handles {
            // Our own pidfs file handle opens a pidfd to us again.
            let own = pidkit_pidhandle::PidFd::open(me as u32)
                .unwrap()
                .file_handle()
                .unwrap();
            let h = RawFileHandle::new(own.handle_type(), own.as_bytes());
            let again = open_by_pidfs_handle(&h).unwrap();
            assert_eq!(fstat_ino(again).unwrap(), st.st_ino);
            close(again);
        }
        close(fd);
        // Closed: the fd no longer works, and the error is reported as such.
        assert_eq!(
            pidfd_send0(fd).unwrap_err().raw_os_error(),
            Some(libc::EBADF)
        );
        assert_eq!(
            kill0(0x3fff_fff0).unwrap_err().raw_os_error(),
            Some(libc::ESRCH)
        );
    }

    /// Borrows a raw fd known to be open for the test's duration.
    fn unsafe_free_borrow(fd: i32) -> std::os::fd::BorrowedFd<'static> {
        // SAFETY: the fd stays open until `close` below, after the last use.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
    }
}
