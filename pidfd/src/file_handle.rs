//! [`FileHandle`]: a pidfs file handle, and the [`PidFd`] calls that make and
//! open one (Linux 6.17).

use std::fmt;
use std::io;
use std::os::fd::AsFd;

use rustix::io::Errno;

use crate::pidfd::gone;
use crate::{PidFd, probe, sys};

/// A pidfs file handle: what `name_to_handle_at(2)` gives for a pidfd, and
/// what [`PidFd::open_file_handle`] opens a pidfd from again, with no PID
/// involved (Linux 6.17, [`Support::pidfs_file_handles`](crate::Support::pidfs_file_handles)).
///
/// The handle names one process of one boot: the kernel resolves it to that
/// process while it has not been reaped, and refuses it afterwards
/// ([`io::ErrorKind::NotFound`]), whatever process has its PID by then. The
/// bytes are the kernel's; pidkit keeps them opaque (on 64-bit kernels today
/// they are the 8 bytes of the pidfs inode id, type `FILEID_KERNFS`, 0xfe).
///
/// ```
/// use pidkit_pidfd::FileHandle;
///
/// let h = FileHandle::new(0xfe, &[0x5b, 0x11, 4, 0, 0, 0, 0, 0])?;
/// assert_eq!(h.handle_type(), 0xfe);
/// assert_eq!(h.as_bytes().len(), 8);
/// assert!(FileHandle::new(0xfe, &[]).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FileHandle {
    handle_type: i32,
    len: u8,
    bytes: [u8; FileHandle::MAX_LEN],
}

impl FileHandle {
    /// The most bytes a handle may have: 32. A pidfs handle has 8 (Linux
    /// 6.17) or 12 bytes; the kernel's own bound, `MAX_HANDLE_SZ` (128), is
    /// only the size of the buffer `name_to_handle_at` is given, and a longer
    /// answer is an error. `pidkit-pidhandle`'s text form takes the same
    /// bound, so every handle this type holds can be written and read back.
    ///
    /// ```
    /// use pidkit_pidfd::FileHandle;
    ///
    /// assert!(FileHandle::new(0xfe, &[1; FileHandle::MAX_LEN]).is_ok());
    /// assert!(FileHandle::new(0xfe, &[1; FileHandle::MAX_LEN + 1]).is_err());
    /// ```
    pub const MAX_LEN: usize = 32;

    /// A handle of `handle_type` with `bytes` (for one read back from text).
    /// `InvalidInput` unless it has 1 to [`FileHandle::MAX_LEN`] bytes.
    ///
    /// ```
    /// use pidkit_pidfd::FileHandle;
    ///
    /// let h = FileHandle::new(0xfe, &[1, 2, 3, 4, 5, 6, 7, 8])?;
    /// assert_eq!(h.as_bytes(), &[1, 2, 3, 4, 5, 6, 7, 8]);
    /// let e = FileHandle::new(0xfe, &[]).unwrap_err();
    /// assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(handle_type: i32, bytes: &[u8]) -> io::Result<FileHandle> {
        if bytes.is_empty() || bytes.len() > Self::MAX_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a file handle has 1..={} bytes, not {}",
                    Self::MAX_LEN,
                    bytes.len()
                ),
            ));
        }
        let mut buf = [0; Self::MAX_LEN];
        buf[..bytes.len()].copy_from_slice(bytes);
        Ok(FileHandle {
            handle_type,
            len: bytes.len() as u8,
            bytes: buf,
        })
    }

    /// The handle type the kernel gave (`FILEID_KERNFS`, 0xfe, for pidfs).
    ///
    /// ```
    /// use pidkit_pidfd::FileHandle;
    ///
    /// assert_eq!(FileHandle::new(0xfe, &[7; 8])?.handle_type(), 0xfe);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle_type(&self) -> i32 {
        self.handle_type
    }

    /// The handle's bytes.
    ///
    /// ```
    /// use pidkit_pidfd::FileHandle;
    ///
    /// assert_eq!(FileHandle::new(0xfe, &[9, 8, 7])?.as_bytes(), &[9, 8, 7]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for FileHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileHandle({:#x}, ", self.handle_type)?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl PidFd {
    /// The pidfs file handle of the process (`name_to_handle_at` with
    /// `AT_EMPTY_PATH`), to open a pidfd for it later with
    /// [`PidFd::open_file_handle`], in this or another process of the same
    /// boot, without its PID.
    ///
    /// [`io::ErrorKind::Unsupported`] where [`probe`] did not find
    /// [`Support::pidfs_file_handles`](crate::Support::pidfs_file_handles) (kernels before 6.17, seccomp, or
    /// hidden through `PIDKIT_HIDE_FEATURES`).
    ///
    /// ```
    /// # if !pidkit_pidfd::probe().pidfs_file_handles { return Ok(()); }
    /// use pidkit_pidfd::PidFd;
    ///
    /// let me = PidFd::open(std::process::id())?;
    /// let handle = me.file_handle()?;
    /// assert_eq!(handle, me.try_clone()?.file_handle()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn file_handle(&self) -> io::Result<FileHandle> {
        if !probe().pidfs_file_handles {
            return Err(file_handles_unsupported());
        }
        let (handle_type, bytes, len) = sys::name_to_handle(self.as_fd())?;
        FileHandle::new(handle_type, &bytes[..len])
    }

    /// Opens a pidfd from a pidfs file handle (`open_by_handle_at` on the
    /// pidfs root, `FD_PIDFS_ROOT`, Linux 6.17): no PID lookup, so nothing
    /// can race with the PID's reuse.
    ///
    /// A handle of a process that has been reaped gives
    /// [`io::ErrorKind::NotFound`] (the kernel's `ESTALE`), as does a handle
    /// that names no process (pidfs has no such inode); a zombie still opens.
    /// [`io::ErrorKind::Unsupported`] where [`probe`] did not find
    /// [`Support::pidfs_file_handles`](crate::Support::pidfs_file_handles). A handle of another boot must not be
    /// given here: pidfs ids start over at boot, so it could name another
    /// process (`pidkit-pidhandle` compares boot ids first).
    ///
    /// ```
    /// # if !pidkit_pidfd::probe().pidfs_file_handles { return Ok(()); }
    /// use pidkit_pidfd::PidFd;
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let fd = PidFd::from_child(&child)?;
    /// let again = PidFd::open_file_handle(&fd.file_handle()?)?;
    /// assert_eq!(again.pid()?, Some(child.id()));
    /// # child.kill()?;
    /// # child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open_file_handle(handle: &FileHandle) -> io::Result<PidFd> {
        if !probe().pidfs_file_handles {
            return Err(file_handles_unsupported());
        }
        match sys::open_by_handle(handle.handle_type, handle.as_bytes()) {
            // The kernel opened it on pidfs's root: a pidfd.
            Ok(fd) => Ok(PidFd::from_checked(fd)),
            Err(e) if e.raw_os_error() == Some(libc::ESTALE) => Err(gone(None, Errno::STALE)),
            Err(e) => Err(e),
        }
    }
}

fn file_handles_unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "pidfs file handles are not available here (Linux 6.17+, see probe())",
    )
}
