//! The probe's steps: Go's `checkPidfd` on ourselves, then each optional
//! feature in turn.

use std::io;

use std::os::fd::{AsFd, BorrowedFd};

use rustix::io::Errno;
use rustix::process::{PidfdFlags, PidfdGetfdFlags, WaitId, WaitIdOptions};

use crate::from_fd::PIDFS_MAGIC;
use crate::info::decode_info;
use crate::support::{ProbeStep, Support, Unusable};
use crate::sys::{
    self, PIDFD_INFO_COREDUMP, PIDFD_INFO_EXIT, PIDFD_INFO_PID, PIDFD_INFO_SUPPORTED_MASK,
};
use crate::{OpenFlags, SignalScope};

/// The errno of an error that means "out of descriptors or memory".
fn exhaustion(e: &io::Error) -> Option<i32> {
    e.raw_os_error()
        .filter(|n| matches!(*n, libc::EMFILE | libc::ENFILE | libc::ENOMEM))
}

/// The answer of a probe cut short at `step` (see [`Support::resource_error`]).
fn exhausted(step: ProbeStep, errno: i32) -> Support {
    Support {
        reason: Some(Unusable::OutOfResources { step, errno }),
        ..Support::default()
    }
}

/// The probe's steps. They make the system calls themselves (rustix's and
/// `sys`'s), not through [`PidFd`](crate::PidFd), whose methods consult the
/// probe's answer.
pub(crate) fn run_probe() -> Support {
    let mut s = Support::default();
    let me = rustix::process::getpid();
    let fd = match rustix::process::pidfd_open(me, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            let e = io::Error::from(e);
            if let Some(errno) = exhaustion(&e) {
                return exhausted(ProbeStep::PidfdOpen, errno);
            }
            s.reason = Some(Unusable::failed(ProbeStep::PidfdOpen, &e));
            return s;
        }
    };
    s.pidfd_open = true;

    match rustix::process::waitid(
        WaitId::PidFd(fd.as_fd()),
        WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
    ) {
        Err(Errno::CHILD) => s.waitid = true,
        Err(e) => {
            let e = io::Error::from(e);
            if let Some(errno) = exhaustion(&e) {
                return exhausted(ProbeStep::Waitid, errno);
            }
            s.reason = Some(Unusable::failed(ProbeStep::Waitid, &e));
        }
        Ok(_) => s.reason = Some(Unusable::WaitidSucceeded),
    }
    match sys::pidfd_send_signal(fd.as_fd(), 0, 0) {
        Ok(()) => s.send_signal = true,
        Err(e) => {
            if let Some(errno) = exhaustion(&e) {
                return exhausted(ProbeStep::SendSignal, errno);
            }
            if s.reason.is_none() {
                s.reason = Some(Unusable::failed(ProbeStep::SendSignal, &e));
            }
        }
    }

    s.getfd = match rustix::process::pidfd_getfd(&fd, 0, PidfdGetfdFlags::empty()) {
        Ok(_) => true,
        Err(e) => {
            let e = io::Error::from(e);
            if let Some(errno) = exhaustion(&e) {
                return exhausted(ProbeStep::Getfd, errno);
            }
            // No fd 0 is still an answer from a working syscall.
            e.raw_os_error() == Some(libc::EBADF)
        }
    };
    let own_id = pidfs_id(fd.as_fd());
    s.pidfs = own_id.is_some();
    if let Some(own_id) = own_id {
        match file_handle_round_trip(fd.as_fd(), own_id) {
            Ok(works) => s.pidfs_file_handles = works,
            Err(e) => {
                if let Some(errno) = exhaustion(&e) {
                    return exhausted(ProbeStep::FileHandles, errno);
                }
            }
        }
    }
    if let Ok((buf, len)) =
        sys::pidfd_get_info(fd.as_fd(), PIDFD_INFO_PID | PIDFD_INFO_SUPPORTED_MASK)
    {
        s.get_info = true;
        // An answer that fits no published layout leaves the mask
        // unknown; the release decides then, as on older kernels.
        if let Ok((raw, _)) = decode_info(&buf.0[..len]) {
            s.info_supported_mask = raw.supported_mask;
        }
    }
    match s.info_supported_mask {
        Some(m) => {
            s.info_exit = m & PIDFD_INFO_EXIT != 0;
            s.info_coredump = m & PIDFD_INFO_COREDUMP != 0;
        }
        None => {
            s.info_exit = s.get_info && kernel_at_least(6, 15);
            s.info_coredump = s.get_info && kernel_at_least(6, 16);
        }
    }
    s.thread = match rustix::process::pidfd_open(
        rustix::thread::gettid(),
        PidfdFlags::from_bits_retain(OpenFlags::THREAD.bits()),
    ) {
        Ok(_) => true,
        Err(e) => {
            let e = io::Error::from(e);
            if let Some(errno) = exhaustion(&e) {
                return exhausted(ProbeStep::ThreadOpen, errno);
            }
            false
        }
    };
    s.signal_scope =
        sys::pidfd_send_signal(fd.as_fd(), 0, SignalScope::ThreadGroup.flags()).is_ok();
    s
}

/// The pidfs inode id of `fd`, when it lives on pidfs.
fn pidfs_id(fd: BorrowedFd<'_>) -> Option<u64> {
    let sfs = rustix::fs::fstatfs(fd).ok()?;
    if sfs.f_type as i64 != PIDFS_MAGIC {
        return None;
    }
    Some(rustix::fs::fstat(fd).ok()?.st_ino)
}

/// Whether a pidfs file handle of our own pidfd opens again from the pidfs
/// root and gives back our own pidfs id. Kernels before 6.13 refuse the
/// handle (`EOPNOTSUPP`), 6.13 to 6.16 the root (`EBADF`), seccomp says
/// `ENOSYS` or `EPERM`: all "absent". Errors that say nothing about the
/// kernel (out of descriptors) are returned.
fn file_handle_round_trip(fd: BorrowedFd<'_>, own_id: u64) -> io::Result<bool> {
    let (handle_type, bytes, len) = match sys::name_to_handle(fd) {
        Ok(h) => h,
        Err(e) if exhaustion(&e).is_some() => return Err(e),
        Err(_) => return Ok(false),
    };
    match sys::open_by_handle(handle_type, &bytes[..len]) {
        Ok(again) => Ok(pidfs_id(again.as_fd()) == Some(own_id)),
        Err(e) if exhaustion(&e).is_some() => Err(e),
        Err(_) => Ok(false),
    }
}

/// Whether the running kernel's release is at least `major.minor`.
pub(crate) fn kernel_at_least(major: u32, minor: u32) -> bool {
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    parse_release(&release).is_some_and(|v| v >= (major, minor))
}

/// `"6.18.44-fc"` → `(6, 18)`.
pub(crate) fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}
