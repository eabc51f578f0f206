//! [`Identity`]: what a handle records about its process, printed as the
//! versioned text form (parsed in `parse.rs`).

use std::fmt;
use std::num::NonZeroU8;

use crate::BootId;
use pidkit_pidfd::FileHandle;

/// The fixed start of every serialized handle.
pub(crate) const PREFIX: &str = "pidkit-pid";
/// The only text version this library writes and reads.
pub(crate) const VERSION: &str = "v1";
/// The longest file handle a text may carry, in bytes: pidkit-pidfd's one
/// bound. pidfs handles have 8 or 12 bytes.
pub(crate) const FH_MAX: usize = FileHandle::MAX_LEN;

/// What a [`PidHandle`](crate::PidHandle) knows about its process: the PID
/// and the facts that tell this process apart from any other that has, had or
/// will have the same PID.
///
/// Pure data: parsing and printing an `Identity` make no system calls.
/// Its [`Display`](fmt::Display) is the handle's text form, one line:
///
/// ```text
/// pidkit-pid:v1:pid=1234:boot=0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e90:pidfs=4711
/// pidkit-pid:v1:pid=1234:boot=0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e90:pidfs=4711:fh=fe.6712000000000000
/// pidkit-pid:v1:pid=1234:boot=0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e90:start=98765
/// pidkit-pid:v1:pid=1234:gone
/// ```
///
/// - `pid`: decimal, `1..=2147483647`.
/// - `boot`: the [`BootId`] when the handle was made.
/// - `pidfs`: the pidfs inode id of the process (Linux 6.9+), unique among
///   all processes of one boot. When present it is the whole identity check.
/// - `fh`: the pidfs file handle of the process (Linux 6.17+), as
///   `<type>.<bytes>`: the handle type in lowercase hex without leading
///   zeros (`1..=7fffffff`), a dot, and the handle's 1 to 32 bytes in
///   lowercase hex. Only with `pidfs`. Any reader can open the process
///   from it with no PID lookup ([`PidFd::open_file_handle`](crate::PidFd::open_file_handle));
///   a restore checks `pidfs` after `pidfd_open`, and a text whose handle
///   names another process is gone. Texts without it (all texts written
///   before it existed) mean what they always meant.
/// - `start`: the process start time in clock ticks since boot
///   (`/proc/<pid>/stat` field 22), recorded where there is no pidfs id.
///   Ticks since boot do not move when the wall clock is set.
/// - `gone`: the handle was made for a PID that had no process; it restores
///   to a handle that is gone forever.
///
/// The parser is strict, so that every identity has exactly one text: fixed
/// prefix and version, fields in this order, none repeated or unknown,
/// decimal numbers without sign, spaces or leading zeros, and at least one of
/// `pidfs` and `start` after `boot` (`fh` only after `pidfs`). Anything else, including bare PIDs and
/// podman's `no-proc` / `start-time:` / `name-to-handle:` forms and other
/// versions, is [`Error::Parse`](crate::Error::Parse) naming the input and what is wrong.
///
/// ```
/// use pidkit_pidhandle::Identity;
///
/// let text = "pidkit-pid:v1:pid=1234:boot=0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e90:start=98765";
/// let id: Identity = text.parse()?;
/// assert_eq!(id.pid(), 1234);
/// assert_eq!(id.start_ticks(), Some(98765));
/// assert_eq!(id.pidfs_id(), None);
/// assert_eq!(id.to_string(), text);
///
/// assert!("1234".parse::<Identity>().is_err());
/// assert!("pidkit-pid:v2:pid=1234:gone".parse::<Identity>().is_err());
/// # Ok::<(), pidkit_pidhandle::Error>(())
/// ```
///
/// # In state files (`serde` feature)
///
/// With the `serde` feature (off by default), `Identity` serializes as this
/// text, a string (no live descriptor, no fields), and deserializes with the
/// same parser; an error names the text. Deserializing makes no system call
/// and trusts nothing: act on the result only through
/// [`PidHandle::restore`](crate::PidHandle::restore), which opens the
/// process and checks it. [`BootId`] serializes as its UUID.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use pidkit_pidhandle::{Identity, PidHandle, State};
///
/// let mut child = std::process::Command::new("sleep").arg("10").spawn()?;
/// let id = *PidHandle::from_child(&child)?.identity();
/// // Saved, as systemd and containerd keep `{pid, id}` records...
/// let json = serde_json::to_string(&id).expect("serializes");
/// assert_eq!(json, format!("\"{id}\""));
/// // ...and read back after a restart: only data until restored.
/// let back: Identity = serde_json::from_str(&json).expect("parses");
/// let handle = PidHandle::restore(&back)?;
/// assert_eq!(handle.state()?, State::Running);
/// # child.kill()?; child.wait()?;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    pid: u32,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    /// No process had the PID when the handle was made.
    Gone,
    /// A process, with the facts that identify it.
    Live {
        boot: BootId,
        pidfs: Option<u64>,
        fh: Option<Fh>,
        start: Option<u64>,
    },
}

/// A pidfs file handle small enough to keep inline (so that [`Identity`]
/// stays `Copy`): type, length, bytes (zero beyond the length).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Fh {
    ty: i32,
    /// Never zero (an empty handle is no handle), which lets `Option<Fh>`
    /// take no more room than `Fh`.
    len: NonZeroU8,
    bytes: [u8; FH_MAX],
}

impl Fh {
    /// The inline form of `h`; `None` when it does not fit the text (more
    /// than [`FH_MAX`] bytes, or a type outside `1..=i32::MAX`).
    pub(crate) fn from_handle(h: &FileHandle) -> Option<Fh> {
        Fh::from_parts(h.handle_type(), h.as_bytes())
    }

    /// A handle of type `ty` with bytes `b`; `None` when it does not fit the
    /// text (1 to [`FH_MAX`] bytes, a type in `1..=i32::MAX`).
    pub(crate) fn from_parts(ty: i32, b: &[u8]) -> Option<Fh> {
        let mut bytes = [0; FH_MAX];
        bytes.get_mut(..b.len())?.copy_from_slice(b);
        Fh::from_array(ty, bytes, b.len())
    }

    /// A handle of type `ty` whose first `len` of `bytes` are the handle
    /// (the rest zero); `None` when it does not fit the text.
    #[inline]
    pub(crate) fn from_array(ty: i32, bytes: [u8; FH_MAX], len: usize) -> Option<Fh> {
        if ty < 1 || len > FH_MAX {
            return None;
        }
        Some(Fh {
            ty,
            len: NonZeroU8::new(u8::try_from(len).ok()?)?,
            bytes,
        })
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len.get())]
    }

    /// The pidfs id this handle names, when it has the pidfs form (see
    /// [`Identity::file_handle_agrees`]).
    #[inline]
    fn pidfs_ino(&self) -> Option<u64> {
        const FILEID_KERNFS: i32 = 0xfe;
        match (self.ty, self.as_bytes()) {
            (FILEID_KERNFS, &[a, b, c, d, e, f, g, h]) => {
                Some(u64::from_le_bytes([a, b, c, d, e, f, g, h]))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Fh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}.", self.ty)?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl Identity {
    /// The identity of "no process": what a handle made for a free PID
    /// records.
    #[inline]
    pub(crate) fn gone(pid: u32) -> Identity {
        Identity {
            pid,
            kind: Kind::Gone,
        }
    }

    /// A live identity; at least one of `pidfs` and `start` must be `Some`.
    #[inline]
    pub(crate) fn live(pid: u32, boot: BootId, pidfs: Option<u64>, start: Option<u64>) -> Identity {
        debug_assert!(pidfs.is_some() || start.is_some());
        Identity {
            pid,
            kind: Kind::Live {
                boot,
                pidfs,
                fh: None,
                start,
            },
        }
    }

    /// A live identity as the parser reads it.
    #[inline]
    pub(crate) fn parsed(
        pid: u32,
        boot: BootId,
        pidfs: Option<u64>,
        fh: Option<Fh>,
        start: Option<u64>,
    ) -> Identity {
        Identity {
            pid,
            kind: Kind::Live {
                boot,
                pidfs,
                fh,
                start,
            },
        }
    }

    /// Whether the recorded file handle names the recorded pidfs id, where
    /// its form says which process it names: the pidfs form the kernels up
    /// to 7.2 write (type `FILEID_KERNFS`, 0xfe, eight bytes: the pidfs id,
    /// little-endian). `None` for a handle of another form, which only the
    /// kernel can decode; `Some(true)` without a handle.
    #[inline]
    pub(crate) fn file_handle_agrees(&self) -> Option<bool> {
        match self.kind {
            Kind::Live {
                pidfs: Some(ino),
                fh: Some(fh),
                ..
            } => fh.pidfs_ino().map(|named| named == ino),
            _ => Some(true),
        }
    }

    /// This identity with the pidfs file handle `h` added, when it has a
    /// pidfs id and `h` fits the text; else unchanged.
    pub(crate) fn with_file_handle(self, h: &FileHandle) -> Identity {
        match self.kind {
            Kind::Live {
                boot,
                pidfs: Some(ino),
                start,
                ..
            } => match Fh::from_handle(h) {
                Some(fh) => Identity {
                    pid: self.pid,
                    kind: Kind::Live {
                        boot,
                        pidfs: Some(ino),
                        fh: Some(fh),
                        start,
                    },
                },
                None => self,
            },
            _ => self,
        }
    }

    /// The PID.
    ///
    /// ```
    /// use pidkit_pidhandle::Identity;
    ///
    /// let id: Identity = "pidkit-pid:v1:pid=42:gone".parse()?;
    /// assert_eq!(id.pid(), 42);
    /// # Ok::<(), pidkit_pidhandle::Error>(())
    /// ```
    #[inline]
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether this records that no process had the PID (the `gone` form).
    ///
    /// ```
    /// use pidkit_pidhandle::{Identity, PidHandle};
    ///
    /// let id: Identity = "pidkit-pid:v1:pid=42:gone".parse()?;
    /// assert!(id.is_gone());
    /// assert!(!PidHandle::new(std::process::id())?.identity().is_gone());
    /// # Ok::<(), pidkit_pidhandle::Error>(())
    /// ```
    #[inline]
    pub fn is_gone(&self) -> bool {
        matches!(self.kind, Kind::Gone)
    }

    /// The boot id of the kernel the process ran under (`None` for the
    /// `gone` form).
    ///
    /// ```
    /// use pidkit_pidhandle::{BootId, Identity, PidHandle};
    ///
    /// let me = PidHandle::new(std::process::id())?;
    /// assert_eq!(me.identity().boot_id(), Some(BootId::current()?));
    /// let gone: Identity = "pidkit-pid:v1:pid=42:gone".parse()?;
    /// assert_eq!(gone.boot_id(), None);
    /// # Ok::<(), pidkit_pidhandle::Error>(())
    /// ```
    #[inline]
    pub fn boot_id(&self) -> Option<BootId> {
        match self.kind {
            Kind::Live { boot, .. } => Some(boot),
            Kind::Gone => None,
        }
    }

    /// The pidfs inode id, when one was recorded.
    ///
    /// ```
    /// # if !pidkit_pidhandle::probe().pidfs { return Ok(()); }
    /// use pidkit_pidhandle::PidHandle;
    ///
    /// let me = PidHandle::new(std::process::id())?;
    /// let pidfd = me.pidfd().expect("pidfds are usable");
    /// // Linux 6.9+: the same id the pidfd's inode has.
    /// assert_eq!(me.identity().pidfs_id(), pidfd.pidfs_id()?);
    /// assert!(me.identity().pidfs_id().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn pidfs_id(&self) -> Option<u64> {
        match self.kind {
            Kind::Live { pidfs, .. } => pidfs,
            Kind::Gone => None,
        }
    }

    /// The pidfs file handle, when one was recorded (only with a pidfs id).
    ///
    /// ```
    /// # if !pidkit_pidhandle::probe().pidfs_file_handles { return Ok(()); }
    /// use pidkit_pidhandle::{PidFd, PidHandle};
    ///
    /// let me = PidHandle::new(std::process::id())?;
    /// // Linux 6.17+: the handle opens a pidfd for the process, no PID involved.
    /// let fh = me.identity().file_handle().expect("a pidfs file handle");
    /// let again = PidFd::open_file_handle(&fh)?;
    /// assert_eq!(again.pid()?, Some(std::process::id()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn file_handle(&self) -> Option<FileHandle> {
        match self.kind {
            Kind::Live { fh: Some(fh), .. } => FileHandle::new(fh.ty, fh.as_bytes()).ok(),
            _ => None,
        }
    }

    /// The start time in clock ticks since boot, when one was recorded.
    ///
    /// ```
    /// # if !pidkit_pidhandle::probe().pidfs { return Ok(()); }
    /// use pidkit_pidhandle::PidHandle;
    ///
    /// let me = PidHandle::new(std::process::id())?;
    /// // With pidfs ids (Linux 6.9+) the start time is not read at all.
    /// assert_eq!(me.identity().start_ticks(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn start_ticks(&self) -> Option<u64> {
        match self.kind {
            Kind::Live { start, .. } => start,
            Kind::Gone => None,
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}:{VERSION}:pid={}", self.pid)?;
        match self.kind {
            Kind::Gone => f.write_str(":gone"),
            Kind::Live {
                boot,
                pidfs,
                fh,
                start,
            } => {
                write!(f, ":boot={boot}")?;
                if let Some(ino) = pidfs {
                    write!(f, ":pidfs={ino}")?;
                }
                if let Some(fh) = fh {
                    write!(f, ":fh={fh}")?;
                }
                if let Some(ticks) = start {
                    write!(f, ":start={ticks}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
#[path = "identity_tests.rs"]
mod tests;
