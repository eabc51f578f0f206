//! [`Identity`] and [`BootId`]: what a handle records about its process, and
//! the versioned text form.

use std::fmt;
use std::num::NonZeroU8;
use std::str::FromStr;

use crate::Error;
use pidkit_pidfd::FileHandle;

/// The fixed start of every serialized handle.
pub(crate) const PREFIX: &str = "pidkit-pid";
/// The only text version this library writes and reads.
pub(crate) const VERSION: &str = "v1";
/// Longer than any valid v1 text (the longest is 201 bytes).
const MAX_LEN: usize = 224;
/// The longest file handle a text may carry, in bytes. pidfs handles have 8
/// today; a kernel that gives a longer one gets no `fh=` field, and restore
/// takes the pidfs-id path.
pub(crate) const FH_MAX: usize = FileHandle::MAX_LEN;

/// The boot id of a running kernel (`/proc/sys/kernel/random/boot_id`), a
/// random UUID chosen at every boot.
///
/// A handle records it so that text saved before a reboot never matches a
/// process after it (PIDs, start ticks and pidfs ids all start over).
/// Displayed as a canonical lowercase UUID.
///
/// ```
/// use pidkit_pidhandle::{BootId, PidHandle};
///
/// let boot = BootId::current()?;
/// let text = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")?;
/// assert_eq!(boot.to_string(), text.trim());
/// let me = PidHandle::new(std::process::id())?;
/// assert_eq!(me.identity().boot_id(), Some(boot));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BootId(
    // The high and the low 64 bits: ordered as the number is, and 8-byte
    // aligned, so that an `Identity` (and a `PidHandle`) carries no padding
    // for a 16-byte alignment.
    [u64; 2],
);

impl BootId {
    /// The boot id of the running kernel, read once per process and cached.
    ///
    /// ```
    /// use pidkit_pidhandle::BootId;
    ///
    /// assert_eq!(BootId::current()?, BootId::current()?);
    /// assert_ne!(BootId::current()?.as_u128(), 0);
    /// # Ok::<(), pidkit_pidhandle::Error>(())
    /// ```
    pub fn current() -> Result<BootId, Error> {
        crate::proc::boot_id()
    }

    /// The id as a 128-bit number.
    ///
    /// ```
    /// use pidkit_pidhandle::BootId;
    ///
    /// let boot = BootId::current()?;
    /// let hex = boot.to_string().replace('-', "");
    /// assert_eq!(u128::from_str_radix(&hex, 16).unwrap(), boot.as_u128());
    /// # Ok::<(), pidkit_pidhandle::Error>(())
    /// ```
    pub const fn as_u128(self) -> u128 {
        ((self.0[0] as u128) << 64) | self.0[1] as u128
    }

    /// The id of the 128-bit number `v`.
    pub(crate) const fn from_u128(v: u128) -> BootId {
        BootId([(v >> 64) as u64, v as u64])
    }

    /// Parses a canonical lowercase UUID (`8-4-4-4-12` hex digits).
    pub(crate) fn parse_canonical(s: &str) -> Option<BootId> {
        Self::parse_canonical_bytes(s.as_bytes())
    }

    /// [`BootId::parse_canonical`] on bytes, for the text parser's fast path.
    #[inline(always)]
    fn parse_canonical_bytes(b: &[u8]) -> Option<BootId> {
        if b.len() != 36 {
            return None;
        }
        if [b[8], b[13], b[18], b[23]] != [b'-'; 4] {
            return None;
        }
        // Eight digits at a time (see `hex8`), loaded straight from the
        // text: the groups are 8-4-4-4-12 digits long.
        let le64 = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        let le32 = |i: usize| {
            u64::from(u32::from_le_bytes(
                b[i..i + 4].try_into().unwrap_or_default(),
            ))
        };
        let words = [
            hex8(le64(0))?,
            hex8(le32(9) | (le32(14) << 32))?,
            hex8(le32(19) | (le32(24) << 32))?,
            hex8(le64(28))?,
        ];
        let v = words.iter().fold(0u128, |v, &w| (v << 32) | u128::from(w));
        Some(BootId::from_u128(v))
    }
}

impl fmt::Display for BootId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.as_u128();
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (v >> 96) as u32,
            (v >> 80) as u16,
            (v >> 64) as u16,
            (v >> 48) as u16,
            v & 0xffff_ffff_ffff
        )
    }
}

impl fmt::Debug for BootId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BootId({self})")
    }
}

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
/// versions, is [`Error::Parse`] naming the input and what is wrong.
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
        let b = h.as_bytes();
        if b.is_empty() || b.len() > FH_MAX || h.handle_type() < 1 {
            return None;
        }
        let mut bytes = [0; FH_MAX];
        bytes[..b.len()].copy_from_slice(b);
        Some(Fh {
            ty: h.handle_type(),
            len: NonZeroU8::new(b.len() as u8)?,
            bytes,
        })
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len.get())]
    }

    /// Parses `<type hex>.<bytes hex>`, canonical only.
    fn parse(value: &str) -> Result<Fh, String> {
        let bad = |why: &str| format!("`fh={value}`: {why}");
        let (ty, hex) = value
            .split_once('.')
            .ok_or_else(|| bad("expected `<type>.<bytes>` in lowercase hex"))?;
        if ty.is_empty() || ty.len() > 8 || !ty.bytes().all(is_lower_hex) {
            return Err(bad("the type is not lowercase hex"));
        }
        if ty.starts_with('0') {
            return Err(bad("the type is zero or has a leading zero"));
        }
        let ty = i32::try_from(u32::from_str_radix(ty, 16).map_err(|_| bad("bad type"))?)
            .map_err(|_| bad("the type is out of range"))?;
        if hex.is_empty() || hex.len() % 2 != 0 || hex.len() > 2 * FH_MAX {
            return Err(bad(&format!(
                "the handle is 1 to {FH_MAX} bytes as an even number of hex digits"
            )));
        }
        let mut bytes = [0; FH_MAX];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let (Some(high), Some(low)) = (lower_hex_value(pair[0]), lower_hex_value(pair[1]))
            else {
                return Err(bad("the handle is not lowercase hex"));
            };
            bytes[i] = (high << 4) | low;
        }
        Ok(Fh {
            ty,
            len: NonZeroU8::new((hex.len() / 2) as u8).ok_or_else(|| bad("the handle is empty"))?,
            bytes,
        })
    }

    /// The pidfs id this handle names, when it has the pidfs form (see
    /// [`Identity::file_handle_agrees`]).
    fn pidfs_ino(&self) -> Option<u64> {
        const FILEID_KERNFS: i32 = 0xfe;
        match (self.ty, self.as_bytes()) {
            (FILEID_KERNFS, &[a, b, c, d, e, f, g, h]) => {
                Some(u64::from_le_bytes([a, b, c, d, e, f, g, h]))
            }
            _ => None,
        }
    }

    /// [`Fh::parse_fast`] for the pidfs form (`fe.` and sixteen digits):
    /// `digits` are the sixteen, read as two words with no search.
    #[inline(always)]
    fn parse_pidfs_form(digits: &[u8]) -> Option<Fh> {
        const FILEID_KERNFS: i32 = 0xfe;
        let word = |i: usize| hex8(u64::from_le_bytes(digits.get(i..i + 8)?.try_into().ok()?));
        let mut bytes = [0; FH_MAX];
        bytes[..4].copy_from_slice(&word(0)?.to_be_bytes());
        bytes[4..8].copy_from_slice(&word(8)?.to_be_bytes());
        Some(Fh {
            ty: FILEID_KERNFS,
            len: NonZeroU8::new(8)?,
            bytes,
        })
    }

    /// [`Fh::parse`] for the text parser's fast path: bytes in, no
    /// diagnosis out (`None` for anything `parse` would refuse). Out of
    /// line: the pidfs form is read by [`Fh::parse_pidfs_form`].
    #[inline(never)]
    fn parse_fast(b: &[u8]) -> Option<Fh> {
        let dot = b.iter().position(|&c| c == b'.')?;
        let (ty, hex) = (&b[..dot], &b[dot + 1..]);
        if ty.is_empty() || ty.len() > 8 || ty[0] == b'0' {
            return None;
        }
        // Left-padded with '0' to eight digits: the same value. Each digit
        // is shifted in at the top of the word, the last one ending there.
        let ty = ty.iter().fold(u64::from_le_bytes(*b"00000000"), |w, &c| {
            (w >> 8) | (u64::from(c) << 56)
        });
        let ty = i32::try_from(hex8(ty)?).ok()?;
        if hex.is_empty() || hex.len() % 2 != 0 || hex.len() > 2 * FH_MAX {
            return None;
        }
        // Four bytes per eight digits, gathered in two 16-byte halves that
        // are stored whole (a load of the result then reads one store).
        let mut halves = [0u128; 2];
        for (i, digits) in hex.chunks(8).enumerate() {
            // A short last chunk is right-padded with '0': its digits keep
            // their places, and the bytes past it stay zero.
            let word = match <[u8; 8]>::try_from(digits) {
                Ok(eight) => u64::from_le_bytes(eight),
                Err(_) => digits
                    .iter()
                    .rev()
                    .fold(u64::from_le_bytes(*b"00000000"), |w, &c| {
                        (w << 8) | u64::from(c)
                    }),
            };
            halves[i / 4] |= u128::from(hex8(word)?) << (32 * (3 - i % 4));
        }
        let mut bytes = [0; FH_MAX];
        bytes[..16].copy_from_slice(&halves[0].to_be_bytes());
        bytes[16..].copy_from_slice(&halves[1].to_be_bytes());
        Some(Fh {
            ty,
            len: NonZeroU8::new((hex.len() / 2) as u8)?,
            bytes,
        })
    }
}

/// Marks a byte that is not a lowercase hex digit in [`HEX_VALUE`].
const NOT_HEX: u8 = 0x80;

/// Each byte's value as a lowercase hex digit, or [`NOT_HEX`].
const HEX_VALUE: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Eight lowercase hex digits, loaded little-endian into `x` (so the first
/// digit, the most significant, is the lowest byte), as their value; `None`
/// if any byte is not one.
///
/// All eight at once in one `u64` (SWAR), with no table and no branch
/// per digit: the fast path of every restore parses 48 hex digits, and
/// the bytes-at-a-time loop it replaces was most of the parse (ARCHITECTURE.md,
/// "Where a call's cost goes").
#[inline(always)]
fn hex8(x: u64) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Per byte, for bytes below 0x80 (checked last): bit 7 of
    // `x + (0x80 - k)` is set exactly when the byte is >= k, and no byte
    // carries into the next.
    let low7 = x & !HIGH;
    let at_least = |k: u64| low7.wrapping_add((0x80 - k) * ONES) & HIGH;
    let digit = at_least(0x30) & !at_least(0x3a);
    let letter = at_least(0x61) & !at_least(0x67);
    if (digit | letter) != HIGH || x & HIGH != 0 {
        return None;
    }
    // '0'..'9' carry their value in the low nibble; 'a'..'f' carry 1..6
    // there, and 9 more makes 10..15.
    let nibbles = (x & (0x0f * ONES)) + (letter >> 7) * 9;
    // Byte i holds digit i; pair them into bytes (digit 2j high), then
    // gather the four bytes, first digits first.
    let pairs = ((nibbles << 4) | (nibbles >> 8)) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
    let le = (quads | (quads >> 16)) as u32;
    Some(le.swap_bytes())
}

/// How many of the sixteen bytes in `x` (first byte lowest) are ASCII
/// digits before the first that is not: 0 to 16.
#[inline(always)]
fn digit_run(x: u128) -> usize {
    const ONES: u128 = u128::MAX / 0xff;
    const HIGH: u128 = ONES * 0x80;
    // As in `hex8`: bit 7 of `low7 + (0x80 - k)` is set exactly when the
    // byte's low seven bits are >= k; a byte with bit 7 set is no digit.
    let low7 = x & !HIGH;
    let at_least = |k: u128| low7.wrapping_add((0x80 - k) * ONES) & HIGH;
    let digit = at_least(0x30) & !at_least(0x3a) & !x;
    ((!digit & HIGH).trailing_zeros() / 8) as usize
}

/// The value of the first `len` (1 to 16) bytes of `x`, all ASCII digits,
/// the first byte the most significant digit.
#[inline(always)]
fn decimal16(x: u128, len: usize) -> u64 {
    const ONES: u128 = u128::MAX / 0xff;
    // The digits' values, moved up so that they end at the top byte: the
    // bytes after them fall off, and zeros (leading zero digits) come in.
    let digits = (x & (ONES * 0x0f)) << (8 * (16 - len));
    let high = decimal8(digits as u64);
    let low = decimal8((digits >> 64) as u64);
    high * 100_000_000 + low
}

/// The value of eight digit values (0 to 9), one per byte, first byte most
/// significant: pairs, then fours, then the eight combined in place.
#[inline(always)]
fn decimal8(w: u64) -> u64 {
    let w = (w.wrapping_mul(10) + (w >> 8)) & 0x00ff_00ff_00ff_00ff;
    let w = (w.wrapping_mul(100) + (w >> 16)) & 0x0000_ffff_0000_ffff;
    (w.wrapping_mul(10_000) + (w >> 32)) & 0xffff_ffff
}

/// The value of a lowercase hex digit; `None` for any other byte.
#[inline]
fn lower_hex_value(c: u8) -> Option<u8> {
    let d = HEX_VALUE[usize::from(c)];
    (d & NOT_HEX == 0).then_some(d)
}

fn is_lower_hex(c: u8) -> bool {
    lower_hex_value(c).is_some()
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
    pub(crate) fn gone(pid: u32) -> Identity {
        Identity {
            pid,
            kind: Kind::Gone,
        }
    }

    /// A live identity; at least one of `pidfs` and `start` must be `Some`.
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

    /// Whether the recorded file handle names the recorded pidfs id, where
    /// its form says which process it names: the pidfs form the kernels up
    /// to 7.2 write (type `FILEID_KERNFS`, 0xfe, eight bytes: the pidfs id,
    /// little-endian). `None` for a handle of another form, which only the
    /// kernel can decode; `Some(true)` without a handle.
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

impl FromStr for Identity {
    type Err = Error;

    #[inline]
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Well-formed text is returned as it is parsed; everything else
        // (and building the error) is out of line.
        match parse_fast(s.as_bytes()) {
            Some(id) => Ok(id),
            None => refused(s),
        }
    }
}

/// What [`Identity::from_str`] gives for text its fast path declined.
#[cold]
#[inline(never)]
pub(crate) fn refused(s: &str) -> Result<Identity, Error> {
    parse_diagnosing(s).map_err(|reason| Error::Parse {
        input: s.to_owned(),
        reason,
    })
}

/// A canonical unsigned decimal: digits only, no sign, no leading zero.
fn number(field: &str, value: &str) -> Result<u64, String> {
    if value.is_empty() {
        return Err(format!("`{field}=` has no value"));
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{field}={value}` is not an unsigned decimal number"
        ));
    }
    if value.len() > 1 && value.starts_with('0') {
        return Err(format!("`{field}={value}` has a leading zero"));
    }
    value
        .parse::<u64>()
        .map_err(|_| format!("`{field}={value}` is out of range"))
}

/// Takes a canonical decimal (no leading zero, at most 20 digits, fits u64)
/// from the front of `b`; returns it and the rest.
#[inline(always)]
fn take_number(b: &[u8]) -> Option<(u64, &[u8])> {
    // Sixteen bytes at once where the text has them, with no branch on the
    // number's length (see `decimal16`).
    if let Some(head) = b.get(..16).and_then(|h| <[u8; 16]>::try_from(h).ok()) {
        let x = u128::from_le_bytes(head);
        let len = digit_run(x);
        if len < 16 {
            if len == 0 || (len > 1 && head[0] == b'0') {
                return None;
            }
            return Some((decimal16(x, len), &b[len..]));
        }
    }
    take_number_bytewise(b)
}

/// [`take_number`] a byte at a time: for a number at the end of the text,
/// and for one of sixteen digits or more.
#[inline(never)]
fn take_number_bytewise(b: &[u8]) -> Option<(u64, &[u8])> {
    let len = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if len == 0 || len > 20 || (len > 1 && b[0] == b'0') {
        return None;
    }
    let digits = &b[..len];
    let v = if len < 20 {
        // 19 digits never overflow a u64.
        digits
            .iter()
            .fold(0u64, |v, &c| v * 10 + u64::from(c - b'0'))
    } else {
        digits.iter().try_fold(0u64, |v, &c| {
            v.checked_mul(10)?.checked_add(u64::from(c - b'0'))
        })?
    };
    Some((v, &b[len..]))
}

/// Accepts exactly the well-formed texts, quickly; `None` for anything
/// else, which [`parse_diagnosing`] then explains. Both accept the same set
/// (a unit test checks this on arbitrary and near-valid inputs).
pub(crate) fn parse_fast(b: &[u8]) -> Option<Identity> {
    let b = b.strip_prefix(b"pidkit-pid:v1:pid=")?;
    let (pid, b) = take_number(b)?;
    let pid = u32::try_from(pid)
        .ok()
        .filter(|p| (1..=i32::MAX as u32).contains(p))?;
    if b == b":gone" {
        return Some(Identity::gone(pid));
    }
    let b = b.strip_prefix(b":boot=")?;
    let boot = BootId::parse_canonical_bytes(b.get(..36)?)?;
    let mut b = &b[36..];
    let mut pidfs = None;
    if let Some(rest) = b.strip_prefix(b":pidfs=") {
        let (v, rest) = take_number(rest)?;
        pidfs = Some(v);
        b = rest;
    }
    let mut fh = None;
    if let Some(rest) = b.strip_prefix(b":fh=") {
        pidfs?;
        // The pidfs form every kernel so far writes is read in place; any
        // other is searched for its end.
        let end = match rest.get(..19) {
            Some(head) if head.starts_with(b"fe.") && rest.get(19).is_none_or(|&c| c == b':') => {
                fh = Some(Fh::parse_pidfs_form(&head[3..])?);
                19
            }
            _ => {
                let end = rest.iter().position(|&c| c == b':').unwrap_or(rest.len());
                fh = Some(Fh::parse_fast(&rest[..end])?);
                end
            }
        };
        b = &rest[end..];
    }
    let mut start = None;
    if let Some(rest) = b.strip_prefix(b":start=") {
        let (v, rest) = take_number(rest)?;
        start = Some(v);
        b = rest;
    }
    if !b.is_empty() || (pidfs.is_none() && start.is_none()) {
        return None;
    }
    Some(parsed(pid, boot, pidfs, fh, start))
}

#[cold]
#[inline(never)]
fn parse_diagnosing(s: &str) -> Result<Identity, String> {
    if s.is_empty() {
        return Err("empty input".into());
    }
    if s.len() > MAX_LEN {
        return Err(format!(
            "{} bytes is longer than any valid handle ({MAX_LEN})",
            s.len()
        ));
    }
    if let Some((i, c)) = s.char_indices().find(|(_, c)| !c.is_ascii_graphic()) {
        return Err(format!(
            "{c:?} at byte {i}: a handle is printable ascii without spaces"
        ));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "a bare pid carries no identity; expected `{PREFIX}:{VERSION}:pid=..`"
        ));
    }
    if s == "no-proc" || s.starts_with("start-time:") || s.starts_with("name-to-handle:") {
        return Err("podman's pidhandle form is not accepted: it cannot be verified here".into());
    }
    let mut fields = s.split(':');
    let prefix = fields.next().unwrap_or_default();
    if prefix != PREFIX {
        return Err(format!("expected the prefix `{PREFIX}:`"));
    }
    match fields.next() {
        None => return Err("truncated: no version".into()),
        Some(VERSION) => {}
        Some(v) if v.starts_with('v') => {
            return Err(format!(
                "unsupported version `{v}` (this library reads {VERSION})"
            ));
        }
        Some(v) => return Err(format!("expected the version `{VERSION}`, found `{v}`")),
    }
    let pid = match fields.next() {
        None => return Err("truncated: no `pid=` field".into()),
        Some(f) => match f.strip_prefix("pid=") {
            Some(v) => number("pid", v)?,
            None => return Err(format!("expected a `pid=` field, found `{f}`")),
        },
    };
    let pid = match u32::try_from(pid) {
        Ok(p) if p >= 1 && p <= i32::MAX as u32 => p,
        _ => return Err(format!("pid {pid} is not in 1..={}", i32::MAX)),
    };
    let boot = match fields.next() {
        None => return Err("truncated: expected `boot=` or `gone` after the pid".into()),
        Some("gone") => {
            if let Some(f) = fields.next() {
                return Err(format!("unexpected field `{f}` after `gone`"));
            }
            return Ok(Identity::gone(pid));
        }
        Some(f) => match f.strip_prefix("boot=") {
            Some(v) => BootId::parse_canonical(v)
                .ok_or_else(|| format!("`boot={v}` is not a canonical lowercase uuid"))?,
            None => {
                return Err(format!(
                    "expected a `boot=` field or `gone` after the pid, found `{f}`"
                ));
            }
        },
    };
    // The optional fields, each at most once and in this order.
    const ORDER: [&str; 3] = ["pidfs", "fh", "start"];
    let mut values: [Option<u64>; 3] = [None, None, None];
    let mut fh = None;
    let mut next_slot = 0;
    for f in fields {
        let (name, value) = f.split_once('=').unwrap_or((f, ""));
        let Some(slot) = ORDER.iter().position(|n| *n == name) else {
            return Err(if f.is_empty() {
                "empty field".into()
            } else {
                format!("unknown field `{f}`")
            });
        };
        if !f.contains('=') {
            return Err(format!("field `{name}` has no `=`"));
        }
        if slot < next_slot {
            return Err(format!("field `{name}` is repeated or out of order"));
        }
        if name == "fh" {
            if values[0].is_none() {
                return Err("`fh=` is only valid after `pidfs=`".into());
            }
            fh = Some(Fh::parse(value)?);
        } else {
            values[slot] = Some(number(name, value)?);
        }
        next_slot = slot + 1;
    }
    let [pidfs, _, start] = values;
    if pidfs.is_none() && start.is_none() {
        return Err("no identity: expected `pidfs=` or `start=` after `boot=`".into());
    }
    Ok(parsed(pid, boot, pidfs, fh, start))
}

/// A live identity as both parsers read it.
fn parsed(
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BOOT: &str = "0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e90";

    #[test]
    fn boot_id_round_trips_and_is_strict() {
        let b = BootId::parse_canonical(BOOT).unwrap();
        assert_eq!(b.to_string(), BOOT);
        assert_eq!(
            BootId::parse_canonical("00000000-0000-0000-0000-000000000000")
                .unwrap()
                .as_u128(),
            0
        );
        for bad in [
            "",
            "0F3C9A5E-6B1D-4E0A-9A43-2F5B7C1D8E90",
            "0f3c9a5e6b1d4e0a9a432f5b7c1d8e90",
            "0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e9",
            "0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e900",
            "0f3c9a5e_6b1d-4e0a-9a43-2f5b7c1d8e90",
            "0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8eg0",
            "{f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e9}",
        ] {
            assert_eq!(BootId::parse_canonical(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_form_round_trips() {
        for text in [
            format!("pidkit-pid:v1:pid=1:boot={BOOT}:pidfs=0"),
            format!("pidkit-pid:v1:pid=2147483647:boot={BOOT}:start=18446744073709551615"),
            format!("pidkit-pid:v1:pid=42:boot={BOOT}:pidfs=7:start=9"),
            format!("pidkit-pid:v1:pid=42:boot={BOOT}:pidfs=7:fh=fe.0700000000000000"),
            format!("pidkit-pid:v1:pid=42:boot={BOOT}:pidfs=7:fh=1.00:start=9"),
            "pidkit-pid:v1:pid=42:gone".to_owned(),
        ] {
            let id: Identity = text.parse().unwrap();
            assert_eq!(id.to_string(), text);
            assert_eq!(parse_fast(text.as_bytes()), Some(id));
        }
        let id: Identity =
            format!("pidkit-pid:v1:pid=42:boot={BOOT}:pidfs=7:fh=fe.0700000000000000")
                .parse()
                .unwrap();
        let h = id.file_handle().unwrap();
        assert_eq!(h.handle_type(), 0xfe);
        assert_eq!(h.as_bytes(), &[7, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(id.pidfs_id(), Some(7));
    }

    /// The longest valid text fits `MAX_LEN`, as its comment says.
    #[test]
    fn longest_text_fits() {
        let h = FileHandle::new(i32::MAX, &[0xab; FH_MAX]).unwrap();
        let id = Identity::live(
            i32::MAX as u32,
            BootId::from_u128(u128::MAX),
            Some(u64::MAX),
            Some(u64::MAX),
        )
        .with_file_handle(&h);
        let text = id.to_string();
        assert_eq!(text.len(), 201, "{text}");
        assert!(text.len() <= MAX_LEN);
        assert_eq!(text.parse::<Identity>().unwrap(), id);
        // A handle longer than the text can carry does not exist, and one
        // of a type the text cannot carry is left out rather than cut.
        assert!(FileHandle::new(0xfe, &[1; FH_MAX + 1]).is_err());
        let base = Identity::live(1, BootId::from_u128(0), Some(5), None);
        assert_eq!(
            base.with_file_handle(&FileHandle::new(-1, &[1]).unwrap()),
            base
        );
        // Only a pidfs identity carries one.
        let ticks = Identity::live(1, BootId::from_u128(0), None, Some(5));
        assert_eq!(ticks.with_file_handle(&h), ticks);
    }

    /// Malformed `fh=` fields are parse errors that say what is wrong.
    #[test]
    fn bad_file_handles_are_parse_errors() {
        let head = format!("pidkit-pid:v1:pid=42:boot={BOOT}");
        for (tail, why) in [
            (":fh=fe.07", "only valid after `pidfs=`"),
            (":start=1:fh=fe.07", "repeated or out of order"),
            (":pidfs=7:fh=", "expected `<type>.<bytes>`"),
            (":pidfs=7:fh=fe", "expected `<type>.<bytes>`"),
            (":pidfs=7:fh=fe.", "even number of hex digits"),
            (":pidfs=7:fh=fe.0", "even number of hex digits"),
            (":pidfs=7:fh=FE.07", "not lowercase hex"),
            (":pidfs=7:fh=fe.0A", "not lowercase hex"),
            (":pidfs=7:fh=0fe.07", "leading zero"),
            (":pidfs=7:fh=0.07", "leading zero"),
            (":pidfs=7:fh=80000000.07", "out of range"),
            (":pidfs=7:fh=100000000.07", "not lowercase hex"),
            (":pidfs=7:fh=fe.07.08", "even number of hex digits"),
            (":pidfs=7:fh=fe.07.0", "not lowercase hex"),
            (":pidfs=7:fh=-2.07", "not lowercase hex"),
            (":pidfs=7:fh=fe.07:fh=fe.07", "repeated or out of order"),
            (":pidfs=7:start=1:fh=fe.07", "repeated or out of order"),
            (":pidfs=7:fh", "has no `=`"),
        ] {
            let text = format!("{head}{tail}");
            match text.parse::<Identity>() {
                Err(Error::Parse { reason, .. }) => {
                    assert!(reason.contains(why), "{text}: {reason}")
                }
                other => panic!("{text}: {other:?}"),
            }
            assert_eq!(parse_fast(text.as_bytes()), None, "{text}");
        }
        let too_long = format!("{head}:pidfs=7:fh=fe.{}", "00".repeat(FH_MAX + 1));
        assert!(too_long.parse::<Identity>().is_err());
    }

    fn arb_identity() -> impl Strategy<Value = Identity> {
        let pid = 1u32..=i32::MAX as u32;
        prop_oneof![
            pid.clone().prop_map(Identity::gone),
            (
                pid,
                any::<u128>(),
                proptest::option::of(any::<u64>()),
                any::<u64>(),
                0..3u8,
                proptest::option::of((
                    1..=i32::MAX,
                    prop::collection::vec(any::<u8>(), 1..=FH_MAX)
                )),
            )
                .prop_map(|(pid, boot, pidfs, start, which, fh)| {
                    let boot = BootId::from_u128(boot);
                    let id = match (which, pidfs) {
                        (0, Some(ino)) => Identity::live(pid, boot, Some(ino), None),
                        (1, p) => Identity::live(pid, boot, p, Some(start)),
                        _ => Identity::live(pid, boot, None, Some(start)),
                    };
                    match fh {
                        Some((ty, bytes)) => {
                            id.with_file_handle(&FileHandle::new(ty, &bytes).unwrap())
                        }
                        None => id,
                    }
                }),
        ]
    }

    /// The fast path and the diagnosing parser accept the same texts.
    fn agree(text: &str) -> Result<(), TestCaseError> {
        let fast = parse_fast(text.as_bytes());
        let slow = parse_diagnosing(text).ok();
        prop_assert_eq!(fast, slow, "{:?}", text);
        Ok(())
    }

    /// Checks one input against everything the parser promises.
    fn check_text(raw: &[u8]) -> Result<(), TestCaseError> {
        // The fast path takes bytes: whatever it accepts is printable ASCII.
        if let Some(id) = parse_fast(raw) {
            let shown = id.to_string();
            prop_assert_eq!(shown.as_bytes(), raw);
        }
        let text = String::from_utf8_lossy(raw);
        agree(&text)?;
        match text.parse::<Identity>() {
            Ok(id) => {
                // Canonical: the text is the one Display writes, so no two
                // texts mean the same identity.
                prop_assert_eq!(&id.to_string(), &*text);
                prop_assert!(text.len() <= MAX_LEN);
                prop_assert!((1..=i32::MAX as u32).contains(&id.pid()));
                prop_assert_eq!(text.parse::<Identity>().unwrap(), id);
                if id.is_gone() {
                    prop_assert!(id.boot_id().is_none());
                    prop_assert!(id.pidfs_id().is_none() && id.start_ticks().is_none());
                } else {
                    prop_assert!(id.boot_id().is_some());
                    prop_assert!(id.pidfs_id().is_some() || id.start_ticks().is_some());
                }
                if let Some(h) = id.file_handle() {
                    prop_assert!(id.pidfs_id().is_some());
                    prop_assert!(!h.as_bytes().is_empty() && h.as_bytes().len() <= FH_MAX);
                    prop_assert!(h.handle_type() >= 1);
                }
            }
            Err(Error::Parse { input, reason }) => {
                prop_assert_eq!(&input, &*text);
                prop_assert!(!reason.is_empty() && !reason.ends_with('.'), "{:?}", reason);
                let message = Error::Parse { input, reason }.to_string();
                // At most 100 characters of the input are shown, each
                // escaped in at most 10 bytes, and reasons quote at most
                // MAX_LEN bytes of it.
                prop_assert!(message.len() < 2000, "{} bytes", message.len());
                prop_assert!(message.starts_with("invalid process handle text "));
            }
            Err(e) => prop_assert!(false, "not a parse error: {e:?}"),
        }
        Ok(())
    }

    /// Fuzz target: the text form, from real handles of every form (the
    /// corpus) mutated, and arbitrary bytes. Pure parsing, no system call.
    #[test]
    fn fuzz_identity() {
        let tokens: &[&[u8]] = &[
            b"pidkit-pid",
            b":v1",
            b":v2",
            b":pid=",
            b":boot=",
            b":pidfs=",
            b":start=",
            b":fh=",
            b":fh=fe.",
            b"0700000000000000",
            b".",
            b":gone",
            b":",
            b"=",
            b"-",
            b"0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e90",
            b"0F3C9A5E",
            b" ",
            b"\n",
            b"\0",
            "\u{e9}".as_bytes(),
            "\u{ff11}".as_bytes(),
        ];
        testkit::fuzz::target(
            "pidhandle/identity",
            concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz-corpus/identity"),
            tokens,
            |input| check_text(&input.0),
        );
    }

    /// What `hex8` must answer: digit by digit, through the table.
    fn hex8_reference(c: [u8; 8]) -> Option<u32> {
        c.iter().try_fold(0u32, |v, &d| {
            Some((v << 4) | u32::from(lower_hex_value(d)?))
        })
    }

    /// Every byte value in every place, in a word of valid digits.
    #[test]
    fn hex8_takes_exactly_the_lowercase_hex_digits() {
        for base in [*b"00000000", *b"ffffffff", *b"0f3c9a5e", *b"9a43e2b7"] {
            assert_eq!(hex8(u64::from_le_bytes(base)), hex8_reference(base));
            for i in 0..8 {
                for byte in 0..=255u8 {
                    let mut c = base;
                    c[i] = byte;
                    assert_eq!(hex8(u64::from_le_bytes(c)), hex8_reference(c), "{c:?}");
                }
            }
        }
        assert_eq!(hex8(u64::from_le_bytes(*b"0f3c9a5e")), Some(0x0f3c_9a5e));
        assert_eq!(hex8(u64::from_le_bytes(*b"0F3C9A5E")), None);
    }

    /// What `take_number` must answer: the canonical-decimal rule, a byte
    /// at a time, through `str::parse`.
    fn take_number_reference(b: &[u8]) -> Option<(u64, &[u8])> {
        let len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        if len == 0 || len > 20 || (len > 1 && b[0] == b'0') {
            return None;
        }
        let v = std::str::from_utf8(&b[..len]).ok()?.parse().ok()?;
        Some((v, &b[len..]))
    }

    /// Every length from 1 to 22 digits, followed by every byte value, with
    /// and without sixteen bytes to read at once.
    #[test]
    fn take_number_reads_every_length_and_stops_at_any_byte() {
        let digits = b"9876543210123456789012";
        for len in 1..=digits.len() {
            for stop in 0..=255u8 {
                for tail in [&b""[..], b"boot=0f3c9a5e-6b1d"] {
                    let mut text = digits[..len].to_vec();
                    text.push(stop);
                    text.extend_from_slice(tail);
                    assert_eq!(take_number(&text), take_number_reference(&text), "{text:?}");
                }
            }
        }
        assert_eq!(
            take_number(b"4711:fh=fe.6712000000000000"),
            Some((4711, &b":fh=fe.6712000000000000"[..]))
        );
        assert_eq!(
            take_number(b"0:boot=0f3c9a5e-6b1d"),
            Some((0, &b":boot=0f3c9a5e-6b1d"[..]))
        );
        assert_eq!(take_number(b"0123456789012345678"), None);
        assert_eq!(
            take_number(b"18446744073709551615"),
            Some((u64::MAX, &b""[..]))
        );
        assert_eq!(take_number(b"18446744073709551616:start=1"), None);
    }

    proptest! {
        #[test]
        fn hex8_agrees_with_the_table(c in any::<[u8; 8]>(), digits in "[0-9a-f]{8}") {
            prop_assert_eq!(hex8(u64::from_le_bytes(c)), hex8_reference(c));
            let d: [u8; 8] = digits.as_bytes().try_into().unwrap();
            prop_assert_eq!(hex8(u64::from_le_bytes(d)), Some(u32::from_str_radix(&digits, 16).unwrap()));
        }

        #[test]
        fn take_number_agrees_with_the_reference(
            b in prop::collection::vec(any::<u8>(), 0..40),
            n in any::<u64>(),
            tail in prop::collection::vec(any::<u8>(), 0..20),
        ) {
            prop_assert_eq!(take_number(&b), take_number_reference(&b));
            let mut text = n.to_string().into_bytes();
            text.extend_from_slice(&tail);
            let expected = take_number_reference(&text);
            prop_assert_eq!(take_number(&text), expected);
        }

        #[test]
        fn the_pidfs_form_reads_as_any_handle_does(
            bytes in any::<[u8; 8]>(),
            pos in 0..16usize,
            c in any::<u8>(),
        ) {
            let mut digits: Vec<u8> = bytes.iter().flat_map(|b| format!("{b:02x}").into_bytes()).collect();
            let general = |d: &[u8]| Fh::parse_fast(&[b"fe.", d].concat());
            prop_assert!(Fh::parse_pidfs_form(&digits).is_some());
            prop_assert_eq!(Fh::parse_pidfs_form(&digits), general(&digits));
            digits[pos] = c;
            prop_assert_eq!(Fh::parse_pidfs_form(&digits), general(&digits));
        }

        #[test]
        fn fast_and_diagnosing_parsers_agree(
            id in arb_identity(),
            text in "(?s).{0,200}",
            pos in any::<prop::sample::Index>(),
            c in prop::char::range(' ', '~'),
        ) {
            agree(&text)?;
            let valid = id.to_string();
            agree(&valid)?;
            let mut chars: Vec<char> = valid.chars().collect();
            let i = pos.index(chars.len());
            let mut replaced = chars.clone();
            replaced[i] = c;
            agree(&replaced.into_iter().collect::<String>())?;
            chars.insert(i, c);
            agree(&chars.iter().collect::<String>())?;
            chars.remove(i);
            chars.remove(i);
            agree(&chars.into_iter().collect::<String>())?;
        }

        #[test]
        fn parse_inverts_display(id in arb_identity()) {
            let text = id.to_string();
            prop_assert!(text.len() <= MAX_LEN);
            prop_assert_eq!(text.parse::<Identity>().unwrap(), id);
        }

        /// The parser is injective: whatever it accepts prints back exactly,
        /// so two different texts never mean the same identity, and a text
        /// that differs from a valid one is either an error or a different
        /// identity.
        #[test]
        fn accepted_text_is_canonical(text in "(?s).{0,200}") {
            match text.parse::<Identity>() {
                Ok(id) => prop_assert_eq!(id.to_string(), text),
                Err(Error::Parse { input, reason }) => {
                    prop_assert_eq!(input, text);
                    prop_assert!(!reason.is_empty());
                }
                Err(e) => prop_assert!(false, "not a parse error: {e}"),
            }
        }

        #[test]
        fn near_valid_text_is_canonical(
            id in arb_identity(),
            pos in any::<prop::sample::Index>(),
            c in prop::char::range(' ', '~'),
            op in 0..3u8,
        ) {
            let text = id.to_string();
            let mut chars: Vec<char> = text.chars().collect();
            let i = pos.index(chars.len() + 1);
            match op {
                0 if i < chars.len() => chars[i] = c,
                1 if i < chars.len() => { chars.remove(i); }
                _ => chars.insert(i, c),
            }
            let mutated: String = chars.into_iter().collect();
            if let Ok(other) = mutated.parse::<Identity>() {
                prop_assert_eq!(other.to_string(), mutated.clone());
                if mutated != text {
                    prop_assert_ne!(other, id);
                }
            }
        }
    }
}
