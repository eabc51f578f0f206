//! The only place in pidkit with `unsafe`: the pidfd calls that rustix does not
//! offer (signals with scope flags and signal 0, the `PIDFD_GET_INFO` ioctl),
//! made through `libc`. Each wrapper is safe to call: it takes a borrowed fd
//! and plain values and returns an `io::Result`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `pidfd_send_signal(pidfd, sig, NULL, flags)`.
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32, flags: u32) -> io::Result<()> {
    // SAFETY: the fd is borrowed and open for the whole call, the siginfo pointer
    // is NULL (the kernel then fills in a default one), and the remaining
    // arguments are plain integers; the kernel validates all of them.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            flags,
        )
    };
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
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

/// Registers `held` for readability with the current tokio runtime's
/// reactor; gives `held` back with the error if that fails.
#[cfg(feature = "tokio")]
pub(crate) fn register_readable(
    held: crate::tokio::Held,
) -> Result<tokio::io::unix::AsyncFd<crate::tokio::Held>, (crate::tokio::Held, io::Error)> {
    // SAFETY: `Held` owns its descriptor (an `OwnedFd`, or an `Arc<PidFd>`
    // whose `PidFd` is never changed and lives as long as the `Arc`), and the
    // `AsyncFd` owns the `Held` until it is dropped or unwrapped; so the
    // descriptor stays open and refers to the same file description for the
    // registration's whole life, and `as_raw_fd` returns the same number on
    // every call, which is what `register_with_interest` requires.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(held, tokio::io::Interest::READABLE) }
        .map_err(|e| e.into_parts())
}
