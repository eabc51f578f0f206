//! The only place in pidkit with `unsafe`: the pidfd calls that rustix does not
//! offer (signals with scope flags and signal 0, the `PIDFD_GET_INFO` ioctl),
//! made through `libc`, or for `pidfd_send_signal` inline on x86-64 and
//! aarch64. Each wrapper is safe to call: it takes a borrowed fd
//! and plain values and returns an `io::Result`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `pidfd_send_signal(pidfd, sig, NULL, flags)`.
///
/// On x86-64 and aarch64 the system call is made inline (the instruction in
/// the caller, as rustix does for the calls it offers): a held handle's
/// signal is the hottest path pidkit has, and going through
/// `libc::syscall` adds a function call and an `errno` round trip that the
/// benchmark measures (`cargo xtask bench`, "held PidHandle::kill(0)").
/// Elsewhere it goes through `libc::syscall`.
#[inline]
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32, flags: u32) -> io::Result<()> {
    let ret = raw_pidfd_send_signal(pidfd.as_raw_fd(), sig, flags);
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(-ret as i32))
    }
}

/// The raw call: 0, or `-errno`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn raw_pidfd_send_signal(fd: i32, sig: i32, flags: u32) -> isize {
    let ret: isize;
    // SAFETY: the fd is borrowed by the caller and open for the whole call,
    // the siginfo pointer is NULL (the kernel then fills in a default one),
    // and the rest are plain integers the kernel validates; the kernel reads
    // and writes no user memory here. `syscall` clobbers rcx and r11
    // (declared) and returns in rax.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") libc::SYS_pidfd_send_signal as isize => ret,
            in("rdi") fd as isize,
            in("rsi") sig as isize,
            in("rdx") 0usize,
            in("r10") flags as usize,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, preserves_flags, readonly),
        );
    }
    ret
}

/// The raw call: 0, or `-errno`.
#[cfg(target_arch = "aarch64")]
#[inline(always)]
fn raw_pidfd_send_signal(fd: i32, sig: i32, flags: u32) -> isize {
    let ret: isize;
    // SAFETY: as on x86-64: a borrowed open fd, a NULL siginfo pointer and
    // plain integers; `svc 0` returns in x0 and preserves all else.
    unsafe {
        std::arch::asm!(
            "svc 0",
            in("x8") libc::SYS_pidfd_send_signal as usize,
            inlateout("x0") fd as isize => ret,
            in("x1") sig as isize,
            in("x2") 0usize,
            in("x3") flags as usize,
            options(nostack, preserves_flags, readonly),
        );
    }
    ret
}

/// The raw call: 0, or `-errno`.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn raw_pidfd_send_signal(fd: i32, sig: i32, flags: u32) -> isize {
    // SAFETY: the fd is open for the call, the siginfo pointer is NULL (the
    // kernel then fills in a default one), and the remaining arguments are
    // plain integers; the kernel validates all of them.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd,
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            flags,
        )
    };
    if ret == 0 {
        0
    } else {
        -(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO) as isize)
    }
}

/// Bits of `pidfd_info.mask` (include/uapi/linux/pidfd.h).
pub(crate) const PIDFD_INFO_PID: u64 = 1 << 0;
pub(crate) const PIDFD_INFO_CREDS: u64 = 1 << 1;
pub(crate) const PIDFD_INFO_CGROUPID: u64 = 1 << 2;
pub(crate) const PIDFD_INFO_EXIT: u64 = 1 << 3;

/// The first published layout of `struct pidfd_info` (`PIDFD_INFO_SIZE_VER0`,
/// 64 bytes). Later kernels accept this size and fill only what fits.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RawPidfdInfo {
    pub(crate) mask: u64,
    pub(crate) cgroupid: u64,
    pub(crate) pid: u32,
    pub(crate) tgid: u32,
    pub(crate) ppid: u32,
    pub(crate) ruid: u32,
    pub(crate) rgid: u32,
    pub(crate) euid: u32,
    pub(crate) egid: u32,
    pub(crate) suid: u32,
    pub(crate) sgid: u32,
    pub(crate) fsuid: u32,
    pub(crate) fsgid: u32,
    /// The wait status, valid when `PIDFD_INFO_EXIT` is set (6.15+; this
    /// word was padding in 6.13 and 6.14).
    pub(crate) exit_code: i32,
}

const _: () = assert!(std::mem::size_of::<RawPidfdInfo>() == 64);

/// `_IOWR(PIDFS_IOCTL_MAGIC, 11, struct pidfd_info)` with the 64-byte layout.
const PIDFD_GET_INFO: u64 = (3 << 30) | (64 << 16) | (0xFF << 8) | 11;

/// `ioctl(pidfd, PIDFD_GET_INFO, &info)` asking for `mask`.
pub(crate) fn pidfd_get_info(pidfd: BorrowedFd<'_>, mask: u64) -> io::Result<RawPidfdInfo> {
    let mut info = RawPidfdInfo {
        mask,
        ..RawPidfdInfo::default()
    };
    // SAFETY: `info` is a live, writable, correctly sized `repr(C)` struct whose
    // size is the one encoded in the request number, so the kernel writes only
    // within it; the fd is borrowed and open for the call.
    let ret = unsafe {
        libc::ioctl(
            pidfd.as_raw_fd(),
            PIDFD_GET_INFO as _,
            &mut info as *mut RawPidfdInfo,
        )
    };
    if ret == 0 {
        Ok(info)
    } else {
        Err(io::Error::last_os_error())
    }
}
