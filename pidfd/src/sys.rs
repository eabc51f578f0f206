//! The only place in pidkit's published crates with `unsafe`: the pidfd
//! calls that rustix does not offer as safe functions (signals with scope
//! flags and signal 0, the `PIDFD_GET_INFO` ioctl, pidfs file handles
//! through `name_to_handle_at` and `open_by_handle_at`), made through the
//! `syscalls` crate, `libc` or rustix's raw ioctl interface, the inline
//! `close`, `getsockopt(SO_PEERPIDFD)`, and the signal mask of a helper
//! thread. Each wrapper is safe to call: it takes a borrowed or owned fd and
//! plain values (or nothing) and returns an `io::Result`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::ioctl::{Direction, Opcode, Updater, opcode};

/// `pidfd_send_signal(pidfd, sig, NULL, flags)`.
///
/// rustix offers this call for named signals without flags only; pidkit
/// needs signal 0, real-time signals and the scope flags. The call is made
/// inline through the `syscalls` crate rather than through `libc::syscall`:
/// a held handle's signal is pidkit's hottest path, and libc's function
/// returning right after the system call makes it far dearer than the call
/// made inline (ARCHITECTURE.md, "Where a call's cost goes"; the figures
/// are in bench/NOTES.md). On the architectures where the `syscalls` crate
/// needs unstable Rust (powerpc64le, for one) the call goes through libc.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64"
))]
#[inline]
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32, flags: u32) -> io::Result<()> {
    // SAFETY: the fd is borrowed and open for the whole call, the siginfo
    // pointer is NULL (the kernel then fills in a default one), and the rest
    // are plain integers the kernel validates; no user memory is involved.
    let ret = unsafe {
        syscalls::syscall4(
            syscalls::Sysno::pidfd_send_signal,
            pidfd.as_raw_fd() as usize,
            sig as usize,
            0,
            flags as usize,
        )
    };
    match ret {
        Ok(_) => Ok(()),
        Err(errno) => Err(io::Error::from_raw_os_error(errno.into_raw())),
    }
}

/// Makes every child `cmd` spawns write `bytes` to `fd` between fork and
/// exec (std's `CommandExt::pre_exec`), failing the spawn with the write's
/// errno; the closure owns `fd`, which stays open as long as `cmd` lives.
pub(crate) fn write_before_exec(
    cmd: &mut std::process::Command,
    fd: OwnedFd,
    bytes: &'static [u8],
) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child, where only
    // async-signal-safe work is allowed: it makes one write(2) system call
    // on a descriptor it owns and builds its error from the errno alone,
    // allocating nothing and taking no lock.
    unsafe {
        cmd.pre_exec(move || match rustix::io::write(&fd, bytes) {
            Ok(_) => Ok(()),
            Err(e) => Err(io::Error::from_raw_os_error(e.raw_os_error())),
        });
    }
}

/// `pidfd_send_signal(pidfd, sig, NULL, flags)` through libc's `syscall`,
/// where the inline call of the `syscalls` crate does not build on stable.
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64"
)))]
#[inline]
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32, flags: u32) -> io::Result<()> {
    // SAFETY: the fd is borrowed and open for the whole call, the siginfo
    // pointer is NULL (the kernel then fills in a default one), and the rest
    // are plain integers the kernel validates; no user memory is involved.
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

/// Closes `fd` with the `close` system call made in place (rustix's inline
/// call), where dropping an `OwnedFd` calls libc's `close`.
#[inline]
pub(crate) fn close(fd: OwnedFd) {
    // SAFETY: `into_raw_fd` gives up the only ownership of the descriptor, so
    // it is closed exactly once and nothing uses it afterwards.
    unsafe { rustix::io::close(fd.into_raw_fd()) }
}

/// Blocks, in the calling thread, every signal that libc lets a program
/// block (`sigfillset`, then `pthread_sigmask(SIG_BLOCK)`); libc leaves out
/// the signals it uses itself (glibc's `SIGCANCEL` and `SIGSETXID`, which
/// every thread must keep taking for `setuid` to finish).
pub(crate) fn block_signals() -> io::Result<()> {
    // SAFETY: `set` is a local the libc calls fill in and only read; the
    // old mask is not asked for (NULL).
    let ret = unsafe {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigfillset(set.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), std::ptr::null_mut())
    };
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(ret))
    }
}

/// `MAX_HANDLE_SZ` (`include/linux/exportfs.h`): the largest file handle
/// the kernel encodes or accepts, in bytes.
pub(crate) const MAX_HANDLE_SZ: usize = 128;

/// `FD_PIDFS_ROOT` (`include/uapi/linux/fcntl.h`, as shipped in Debian sid's
/// `linux-libc-dev` 7.2.13): a pseudo descriptor naming the root of pidfs,
/// accepted as the mount fd of `open_by_handle_at` (Linux 6.17).
const FD_PIDFS_ROOT: i32 = -10002;

/// `struct file_handle` with room for the largest handle: `handle_bytes`,
/// `handle_type`, then the opaque bytes (`include/linux/fcntl.h`'s
/// flexible array, here fixed at `MAX_HANDLE_SZ`).
#[repr(C)]
struct RawFileHandle {
    handle_bytes: u32,
    handle_type: i32,
    f_handle: [u8; MAX_HANDLE_SZ],
}

/// `name_to_handle_at(pidfd, "", &handle, &mount_id, AT_EMPTY_PATH)`: the
/// file handle of the pidfs inode of `pidfd`. Returns the handle type, the
/// bytes buffer and how many of its bytes are the handle.
pub(crate) fn name_to_handle(
    pidfd: BorrowedFd<'_>,
) -> io::Result<(i32, [u8; MAX_HANDLE_SZ], usize)> {
    let mut handle = RawFileHandle {
        handle_bytes: MAX_HANDLE_SZ as u32,
        handle_type: 0,
        f_handle: [0; MAX_HANDLE_SZ],
    };
    let mut mount_id: libc::c_int = 0;
    // SAFETY: the fd is borrowed and open for the call; the path is a valid
    // NUL-terminated empty string (AT_EMPTY_PATH makes the call act on the
    // fd itself); `handle` is a live, writable `struct file_handle` whose
    // `handle_bytes` says how much room follows its header (exactly the
    // array behind it), so the kernel writes only within it; `mount_id` is a
    // live, writable int.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            pidfd.as_raw_fd(),
            c"".as_ptr(),
            &mut handle as *mut RawFileHandle,
            &mut mount_id as *mut libc::c_int,
            libc::AT_EMPTY_PATH,
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    let len = handle.handle_bytes as usize;
    if len > MAX_HANDLE_SZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("name_to_handle_at reported a {len}-byte handle, more than {MAX_HANDLE_SZ}"),
        ));
    }
    Ok((handle.handle_type, handle.f_handle, len))
}

/// `open_by_handle_at(FD_PIDFS_ROOT, handle, O_RDWR | O_CLOEXEC)`: a pidfd
/// opened from a pidfs file handle, with no PID involved.
pub(crate) fn open_by_handle(handle_type: i32, bytes: &[u8]) -> io::Result<OwnedFd> {
    if bytes.is_empty() || bytes.len() > MAX_HANDLE_SZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a file handle has 1..={MAX_HANDLE_SZ} bytes, not {}",
                bytes.len()
            ),
        ));
    }
    let mut handle = RawFileHandle {
        handle_bytes: bytes.len() as u32,
        handle_type,
        f_handle: [0; MAX_HANDLE_SZ],
    };
    handle.f_handle[..bytes.len()].copy_from_slice(bytes);
    loop {
        // SAFETY: `FD_PIDFS_ROOT` is a pseudo descriptor the kernel resolves
        // itself (EBADF on kernels that do not know it); `handle` is a live
        // `struct file_handle` whose `handle_bytes` (checked above) is no
        // more than the array behind its header, so the kernel reads only
        // within it; the flags are plain integers.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_open_by_handle_at,
                FD_PIDFS_ROOT,
                &mut handle as *mut RawFileHandle,
                libc::O_RDWR | libc::O_CLOEXEC,
            )
        };
        if ret >= 0 {
            let fd = ret as libc::c_int;
            // SAFETY: the kernel just returned this descriptor to us; nothing
            // else owns it, so the `OwnedFd` is its only owner.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Bits of `pidfd_info.mask` (`include/uapi/linux/pidfd.h`, as shipped in
/// Debian sid's `linux-libc-dev` 7.2.13).
pub(crate) const PIDFD_INFO_PID: u64 = 1 << 0;
pub(crate) const PIDFD_INFO_CREDS: u64 = 1 << 1;
pub(crate) const PIDFD_INFO_CGROUPID: u64 = 1 << 2;
pub(crate) const PIDFD_INFO_EXIT: u64 = 1 << 3;
pub(crate) const PIDFD_INFO_COREDUMP: u64 = 1 << 4;
pub(crate) const PIDFD_INFO_SUPPORTED_MASK: u64 = 1 << 5;
pub(crate) const PIDFD_INFO_COREDUMP_SIGNAL: u64 = 1 << 6;
pub(crate) const PIDFD_INFO_COREDUMP_CODE: u64 = 1 << 7;

/// `PIDFD_INFO_SIZE_VER0`..`VER3`: the sizes of the published layouts.
pub(crate) const PIDFD_INFO_SIZE_VER0: usize = 64;
#[cfg_attr(not(test), allow(dead_code, reason = "named for the layout tests"))]
pub(crate) const PIDFD_INFO_SIZE_VER1: usize = 72;
#[cfg_attr(not(test), allow(dead_code, reason = "named for the layout tests"))]
pub(crate) const PIDFD_INFO_SIZE_VER2: usize = 80;
pub(crate) const PIDFD_INFO_SIZE_VER3: usize = 88;

/// A buffer for `struct pidfd_info`, as large as the largest published
/// layout and aligned like the struct (its `__u64` fields). It is handed to
/// the kernel as bytes and decoded by [`crate::info::decode_info`], which
/// knows where each field lives in each layout.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug)]
pub(crate) struct InfoBuf(pub(crate) [u8; PIDFD_INFO_SIZE_VER3]);

/// The first published layout's size, for kernels that take only that
/// size (the request number encodes the size).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug)]
struct InfoBuf0([u8; PIDFD_INFO_SIZE_VER0]);

const _: () = assert!(std::mem::size_of::<InfoBuf>() == PIDFD_INFO_SIZE_VER3);
const _: () = assert!(std::mem::size_of::<InfoBuf0>() == PIDFD_INFO_SIZE_VER0);

/// `PIDFD_GET_INFO` = `_IOWR(PIDFS_IOCTL_MAGIC, 11, struct pidfd_info)`, with
/// the size of the largest layout we decode. rustix computes the number for
/// the target architecture (the direction bits differ on powerpc, mips and
/// sparc).
const PIDFD_GET_INFO: Opcode = opcode::read_write::<InfoBuf>(0xFF, 11);
/// The same request with the first layout's size.
const PIDFD_GET_INFO_VER0: Opcode =
    opcode::from_components(Direction::ReadWrite, 0xFF, 11, PIDFD_INFO_SIZE_VER0);

/// Set once the kernel has refused the large request and accepted the
/// small one: then only the small one is tried.
static ONLY_VER0: AtomicBool = AtomicBool::new(false);

/// `ioctl(pidfd, PIDFD_GET_INFO, &info)` asking for `mask`. Returns the bytes
/// the kernel filled in, as many as the request number said (88, or 64 on a
/// kernel that accepts only the first layout's size): decode
/// `&buf.0[..len]`.
pub(crate) fn pidfd_get_info(pidfd: BorrowedFd<'_>, mask: u64) -> io::Result<(InfoBuf, usize)> {
    if !ONLY_VER0.load(Ordering::Relaxed) {
        let mut buf = InfoBuf([0; PIDFD_INFO_SIZE_VER3]);
        buf.0[..8].copy_from_slice(&mask.to_ne_bytes());
        // SAFETY: the request number encodes `size_of::<InfoBuf>()` and the
        // `_IOWR` direction of `PIDFD_GET_INFO`; `buf` is a live, writable,
        // 8-aligned buffer of exactly that size, so the kernel reads and
        // writes only within it. The fd is borrowed and open for the call.
        let result = unsafe {
            rustix::ioctl::ioctl(pidfd, Updater::<PIDFD_GET_INFO, InfoBuf>::new(&mut buf))
        };
        match result {
            Ok(()) => return Ok((buf, PIDFD_INFO_SIZE_VER3)),
            // A kernel that knows only the exact first request number.
            Err(rustix::io::Errno::NOTTY | rustix::io::Errno::INVAL) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut buf = InfoBuf0([0; PIDFD_INFO_SIZE_VER0]);
    buf.0[..8].copy_from_slice(&mask.to_ne_bytes());
    // SAFETY: as above, with the 64-byte request number and a 64-byte,
    // 8-aligned buffer.
    let result = unsafe {
        rustix::ioctl::ioctl(
            pidfd,
            Updater::<PIDFD_GET_INFO_VER0, InfoBuf0>::new(&mut buf),
        )
    };
    match result {
        Ok(()) => {
            ONLY_VER0.store(true, Ordering::Relaxed);
            let mut out = InfoBuf([0; PIDFD_INFO_SIZE_VER3]);
            out.0[..PIDFD_INFO_SIZE_VER0].copy_from_slice(&buf.0);
            Ok((out, PIDFD_INFO_SIZE_VER0))
        }
        Err(e) => Err(e.into()),
    }
}

/// What an `AsyncReadable` keeps open while it is registered. Both variants
/// own their descriptor (the `Arc` shares ownership of an immutable `PidFd`),
/// so the descriptor stays open, and names the same open file description,
/// for as long as the registration lives; `as_raw_fd` always returns the
/// same number.
#[cfg(feature = "tokio")]
pub(crate) enum Held {
    Pidfd(std::sync::Arc<crate::PidFd>),
    Fd(OwnedFd),
}

#[cfg(feature = "tokio")]
impl AsRawFd for Held {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        match self {
            Held::Pidfd(fd) => fd.as_raw_fd(),
            Held::Fd(fd) => fd.as_raw_fd(),
        }
    }
}

/// Registers `held` for readability with the current tokio runtime's
/// reactor; gives `held` back with the error if that fails.
#[cfg(feature = "tokio")]
pub(crate) fn register_readable(
    held: Held,
) -> Result<tokio::io::unix::AsyncFd<Held>, (Held, io::Error)> {
    // SAFETY: `Held` owns its descriptor (an `OwnedFd`, or an `Arc<PidFd>`
    // whose `PidFd` is never changed and lives as long as the `Arc`), and the
    // `AsyncFd` owns the `Held` until it is dropped or unwrapped; so the
    // descriptor stays open and refers to the same file description for the
    // registration's whole life, and `as_raw_fd` returns the same number on
    // every call, which is what `register_with_interest` requires.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(held, tokio::io::Interest::READABLE) }
        .map_err(|e| e.into_parts())
}

/// `SO_PEERPIDFD` (`include/uapi/asm-generic/socket.h`, Linux 6.5): a
/// pidfd of the process that connected (or created the pair of) a Unix
/// socket, taken when the connection was made.
const SO_PEERPIDFD: libc::c_int = 77;

/// `getsockopt(socket, SOL_SOCKET, SO_PEERPIDFD)`: a new close-on-exec
/// pidfd of the socket's peer. rustix has no wrapper for this option.
pub(crate) fn peer_pidfd(socket: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let mut fd: libc::c_int = -1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the socket is borrowed and open for the call; `fd` and `len`
    // are live, writable locals and `len` says exactly how much room `fd` has,
    // so the kernel writes only within them.
    let ret = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_PEERPIDFD,
            (&mut fd as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    if fd < 0 || len as usize != std::mem::size_of::<libc::c_int>() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("SO_PEERPIDFD returned fd {fd} with length {len}"),
        ));
    }
    // SAFETY: the kernel installed `fd` for this call alone (close-on-exec),
    // so nothing else owns it and it is closed once, by the OwnedFd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `close` closes: the pipe's reader sees end of file, not a wait.
    #[test]
    fn close_closes() {
        use rustix::pipe::{PipeFlags, pipe_with};
        let (reader, writer) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        assert_eq!(rustix::io::write(&writer, b"x").unwrap(), 1);
        close(writer);
        let mut buf = [0u8; 4];
        assert_eq!(rustix::io::read(&reader, &mut buf).unwrap(), 1);
        assert_eq!(rustix::io::read(&reader, &mut buf).unwrap(), 0);
    }

    /// The request numbers as the x86 and arm `_IOWR` macro gives them
    /// (direction 3 in bits 30-31, size in bits 16-29, magic, number).
    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
    fn request_numbers_match_iowr() {
        assert_eq!(
            PIDFD_GET_INFO as u64,
            (3 << 30) | (88 << 16) | (0xFF << 8) | 11
        );
        assert_eq!(
            PIDFD_GET_INFO_VER0 as u64,
            (3 << 30) | (64 << 16) | (0xFF << 8) | 11
        );
    }

    /// The request numbers as powerpc's `_IOWR` gives them (read 2 | write
    /// 4 in bits 29-31, size in bits 16-28, magic, number).
    #[test]
    #[cfg(any(target_arch = "powerpc64", target_arch = "powerpc"))]
    // rustix's opcode is a u64 here, as the kernel's `unsigned long`.
    #[allow(clippy::unnecessary_cast)]
    fn request_numbers_match_powerpc_iowr() {
        assert_eq!(
            PIDFD_GET_INFO as u64,
            (6 << 29) | (88 << 16) | (0xFF << 8) | 11
        );
        assert_eq!(
            PIDFD_GET_INFO_VER0 as u64,
            (6 << 29) | (64 << 16) | (0xFF << 8) | 11
        );
    }
}
