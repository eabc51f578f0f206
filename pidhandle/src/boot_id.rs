//! [`BootId`]: the boot a process belongs to.

use std::fmt;

use crate::Error;

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
    #[cfg(test)]
    pub(crate) const fn from_u128(v: u128) -> BootId {
        Self::from_value(v)
    }

    /// The id of the 128-bit number `v` (systemd's id128 encoding is its
    /// 32 hex digits).
    #[cfg(any(feature = "serde", test))]
    pub(crate) const fn from_value(v: u128) -> BootId {
        BootId([(v >> 64) as u64, v as u64])
    }

    /// Parses a canonical lowercase UUID (`8-4-4-4-12` hex digits), as
    /// the kernel writes it.
    pub(crate) fn parse_canonical(s: &str) -> Option<BootId> {
        let b = s.as_bytes();
        if b.len() != 36 {
            return None;
        }
        if [b[8], b[13], b[18], b[23]] != [b'-'; 4] {
            return None;
        }
        // The high 16 digits (8-4-4) and the low 16 (4-12), each into a u64.
        let high = hex_digits(&b[14..18], hex_digits(&b[9..13], hex_digits(&b[0..8], 0)?)?)?;
        let low = hex_digits(&b[24..36], hex_digits(&b[19..23], 0)?)?;
        Some(BootId([high, low]))
    }
}

/// `v` followed by the lowercase hex `digits` (at most 16 in all).
#[inline]
fn hex_digits(digits: &[u8], mut v: u64) -> Option<u64> {
    for &c in digits {
        v = (v << 4) | u64::from(lower_hex_value(c)?);
    }
    Some(v)
}

/// The value of one lowercase hex digit.
#[inline]
pub(crate) fn lower_hex_value(c: u8) -> Option<u8> {
    // A table, not a `match`: hex digits of random ids are digits and
    // letters in no order, and a branch on which one mispredicts.
    match HEX_VALUE[usize::from(c)] {
        NOT_HEX => None,
        v => Some(v),
    }
}

/// [`HEX_VALUE`]'s entry for a byte that is no lowercase hex digit.
const NOT_HEX: u8 = 0xff;

/// The value of every lowercase hex digit, by byte.
static HEX_VALUE: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 16 {
        t[b"0123456789abcdef"[i] as usize] = i as u8;
        i += 1;
    }
    t
};

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
