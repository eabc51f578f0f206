//! The one parser of the text form: strict (every identity has exactly one
//! text), and an error names what is wrong.

use crate::boot_id::lower_hex_value;
use crate::identity::{FH_MAX, Fh, PREFIX, VERSION};
use std::str::FromStr;

use crate::{BootId, Error, Identity};

/// The text form, parsed strictly: see [`Identity`]. An error names the
/// text and what is wrong with it.
impl FromStr for Identity {
    type Err = Error;

    #[inline]
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map_err(|reason| Error::Parse {
            input: s.to_owned(),
            reason,
        })
    }
}

/// Longer than any valid v1 text (the longest is 201 bytes).
pub(crate) const MAX_LEN: usize = 224;

/// Parses the text form, strictly: exactly the texts
/// [`Identity`]'s `Display` writes. An error says what is wrong.
pub(crate) fn parse(s: &str) -> Result<Identity, String> {
    // Every byte of a text the fields accept is checked there (exact names,
    // digits, lowercase hex), so the checks of the whole text below are
    // needed only to explain a refusal.
    fields(s).map_err(|reason| refusal(s).unwrap_or(reason))
}

/// What is wrong with the text as a whole, if anything: these explanations
/// come before any about its fields.
fn refusal(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("empty input".into());
    }
    if s.len() > MAX_LEN {
        return Some(format!(
            "{} bytes is longer than any valid handle ({MAX_LEN})",
            s.len()
        ));
    }
    if let Some(i) = s.bytes().position(|b| !b.is_ascii_graphic()) {
        // Every byte before `i` is ASCII, so a character starts at `i`.
        let c = s[i..].chars().next().unwrap_or_default();
        return Some(format!(
            "{c:?} at byte {i}: a handle is printable ascii without spaces"
        ));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!(
            "a bare pid carries no identity; expected `{PREFIX}:{VERSION}:pid=..`"
        ));
    }
    if s == "no-proc" || s.starts_with("start-time:") || s.starts_with("name-to-handle:") {
        return Some("podman's pidhandle form is not accepted: it cannot be verified here".into());
    }
    None
}

/// The fixed start of every text, up to the pid's value.
const HEAD: &str = "pidkit-pid:v1:pid=";

/// The text field by field, each read from where the one before ended.
fn fields(s: &str) -> Result<Identity, String> {
    let Some(rest) = s.strip_prefix(HEAD) else {
        return Err(head_refusal(s));
    };
    let (pid, rest) = take_number("pid", rest)?;
    let pid = match u32::try_from(pid) {
        Ok(p) if p >= 1 && p <= i32::MAX as u32 => p,
        _ => return Err(format!("pid {pid} is not in 1..={}", i32::MAX)),
    };
    let rest = match rest {
        "" => return Err("truncated: expected `boot=` or `gone` after the pid".into()),
        ":gone" => return Ok(Identity::gone(pid)),
        _ => &rest[1..],
    };
    let (boot, mut rest) = match rest.strip_prefix("boot=") {
        Some(v) => take_boot_id(v)?,
        None => {
            let (f, after) = cut_at_colon(rest);
            return Err(match (f, after) {
                ("gone", Some(after)) => {
                    format!("unexpected field `{}` after `gone`", cut_at_colon(after).0)
                }
                _ => format!("expected a `boot=` field or `gone` after the pid, found `{f}`"),
            });
        }
    };
    // The optional fields, each at most once and in this order.
    const ORDER: [&str; 3] = ["pidfs", "fh", "start"];
    let (mut pidfs, mut fh, mut start) = (None, None, None);
    let mut next_slot = 0;
    while let Some(field) = rest.strip_prefix(':') {
        // Literal prefixes, compared in place.
        let (slot, value) = if let Some(v) = field.strip_prefix("pidfs=") {
            (0, v)
        } else if let Some(v) = field.strip_prefix("fh=") {
            (1, v)
        } else if let Some(v) = field.strip_prefix("start=") {
            (2, v)
        } else {
            return Err(field_refusal(cut_at_colon(field).0));
        };
        let name = ORDER[slot];
        if slot < next_slot {
            return Err(format!("field `{name}` is repeated or out of order"));
        }
        rest = match slot {
            0 => {
                let (v, after) = take_number(name, value)?;
                pidfs = Some(v);
                after
            }
            1 => {
                if pidfs.is_none() {
                    return Err("`fh=` is only valid after `pidfs=`".into());
                }
                let (v, _) = cut_at_colon(value);
                fh = Some(file_handle(v)?);
                &value[v.len()..]
            }
            _ => {
                let (v, after) = take_number(name, value)?;
                start = Some(v);
                after
            }
        };
        next_slot = slot + 1;
    }
    if pidfs.is_none() && start.is_none() {
        return Err("no identity: expected `pidfs=` or `start=` after `boot=`".into());
    }
    Ok(Identity::parsed(pid, boot, pidfs, fh, start))
}

/// Why `field` (an optional field whose name is none this version knows, or
/// that lacks its `=`) is refused.
#[cold]
fn field_refusal(field: &str) -> String {
    let (name, value) = cut(field, b'=');
    match value {
        _ if field.is_empty() => "empty field".into(),
        None if ["pidfs", "fh", "start"].contains(&name) => format!("field `{name}` has no `=`"),
        _ => format!("unknown field `{field}`"),
    }
}

/// Reads the canonical decimal value of `field` at the start of `s`, up to
/// the next `:` or the end; gives it and the rest (empty, or from the `:`).
#[inline]
fn take_number<'a>(field: &str, s: &'a str) -> Result<(u64, &'a str), String> {
    // Twenty digits at most fit a u64; the value is checked once read.
    let mut v: u64 = 0;
    let mut len = 0;
    for &c in s.as_bytes() {
        if !c.is_ascii_digit() {
            break;
        }
        v = v.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
        len += 1;
    }
    let (digits, rest) = s.split_at(len);
    if !(rest.is_empty() || rest.starts_with(':')) {
        return Err(number_refusal(field, cut_at_colon(s).0));
    }
    if len == 0 || len > 19 || (len > 1 && digits.starts_with('0')) {
        // Empty, a leading zero, or long enough to overflow: explained (and
        // for twenty digits, read) with every check.
        return number(field, digits).map(|v| (v, rest));
    }
    Ok((v, rest))
}

/// Why the value of `field` is no decimal number.
#[cold]
fn number_refusal(field: &str, value: &str) -> String {
    format!("`{field}={value}` is not an unsigned decimal number")
}

/// Reads the boot id at the start of `s` (its fixed 36 characters), then the
/// next `:` or the end; gives it and the rest (empty, or from the `:`).
#[inline]
fn take_boot_id(s: &str) -> Result<(BootId, &str), String> {
    let boot = s.get(..36).and_then(BootId::parse_canonical);
    match (boot, s.get(36..)) {
        (Some(boot), Some(rest)) if rest.is_empty() || rest.starts_with(':') => Ok((boot, rest)),
        _ => Err(format!(
            "`boot={}` is not a canonical lowercase uuid",
            cut_at_colon(s).0
        )),
    }
}

/// `s` cut at its first `:`.
#[inline]
fn cut_at_colon(s: &str) -> (&str, Option<&str>) {
    cut(s, b':')
}

/// What is wrong with a text that does not start with [`HEAD`].
#[cold]
fn head_refusal(s: &str) -> String {
    let mut fields = Fields(Some(s));
    if fields.next() != Some(PREFIX) {
        return format!("expected the prefix `{PREFIX}:`");
    }
    match fields.next() {
        None => "truncated: no version".into(),
        Some(VERSION) => match fields.next() {
            None => "truncated: no `pid=` field".into(),
            Some(f) => format!("expected a `pid=` field, found `{f}`"),
        },
        Some(v) if v.starts_with('v') => {
            format!("unsupported version `{v}` (this library reads {VERSION})")
        }
        Some(v) => format!("expected the version `{VERSION}`, found `{v}`"),
    }
}

/// `s` cut at its first `sep` (an ASCII byte): what comes before it, and
/// what comes after it if it is there.
#[inline]
fn cut(s: &str, sep: u8) -> (&str, Option<&str>) {
    match s.bytes().position(|b| b == sep) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// The `:`-separated fields of a text (a plain loop: fields are a few bytes
/// long, too short for `str::split`'s search to pay off).
struct Fields<'a>(Option<&'a str>);

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let (field, rest) = cut(self.0?, b':');
        self.0 = rest;
        Some(field)
    }
}

/// A canonical unsigned decimal: digits only, no sign, no leading zero.
fn number(field: &str, value: &str) -> Result<u64, String> {
    let mut v: Option<u64> = Some(0);
    for &c in value.as_bytes() {
        if !c.is_ascii_digit() {
            return Err(format!(
                "`{field}={value}` is not an unsigned decimal number"
            ));
        }
        v = v
            .and_then(|v| v.checked_mul(10))
            .and_then(|v| v.checked_add(u64::from(c - b'0')));
    }
    match (value.as_bytes(), v) {
        ([], _) => Err(format!("`{field}=` has no value")),
        ([b'0', _, ..], _) => Err(format!("`{field}={value}` has a leading zero")),
        (_, None) => Err(format!("`{field}={value}` is out of range")),
        (_, Some(v)) => Ok(v),
    }
}

/// Parses the value of `fh=`: `<type hex>.<bytes hex>`, canonical only.
fn file_handle(value: &str) -> Result<Fh, String> {
    let bad = |why: &str| format!("`fh={value}`: {why}");
    let (ty, Some(hex)) = cut(value, b'.') else {
        return Err(bad("expected `<type>.<bytes>` in lowercase hex"));
    };
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
    for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let (Some(high), Some(low)) = (lower_hex_value(pair[0]), lower_hex_value(pair[1])) else {
            return Err(bad("the handle is not lowercase hex"));
        };
        *byte = (high << 4) | low;
    }
    Fh::from_array(ty, bytes, hex.len() / 2).ok_or_else(|| bad("the handle does not fit"))
}

#[inline]
fn is_lower_hex(c: u8) -> bool {
    lower_hex_value(c).is_some()
}
