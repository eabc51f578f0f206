//! The one parser of the text form: strict (every identity has exactly one
//! text), and an error names what is wrong.

use crate::boot_id::lower_hex_value;
use crate::identity::{FH_MAX, Fh, PREFIX, VERSION};
use crate::{BootId, Identity};

/// Longer than any valid v1 text (the longest is 201 bytes).
pub(crate) const MAX_LEN: usize = 224;

/// Parses the text form, strictly: exactly the texts
/// [`Identity`]'s `Display` writes. An error says what is wrong.
pub(crate) fn parse(s: &str) -> Result<Identity, String> {
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
            fh = Some(file_handle(value)?);
        } else {
            values[slot] = Some(number(name, value)?);
        }
        next_slot = slot + 1;
    }
    let [pidfs, _, start] = values;
    if pidfs.is_none() && start.is_none() {
        return Err("no identity: expected `pidfs=` or `start=` after `boot=`".into());
    }
    Ok(Identity::parsed(pid, boot, pidfs, fh, start))
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

/// Parses the value of `fh=`: `<type hex>.<bytes hex>`, canonical only.
fn file_handle(value: &str) -> Result<Fh, String> {
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
    let mut bytes = Vec::with_capacity(hex.len() / 2);
    for pair in hex.as_bytes().chunks(2) {
        let (Some(high), Some(low)) = (lower_hex_value(pair[0]), lower_hex_value(pair[1])) else {
            return Err(bad("the handle is not lowercase hex"));
        };
        bytes.push((high << 4) | low);
    }
    Fh::from_parts(ty, &bytes).ok_or_else(|| bad("the handle does not fit"))
}

fn is_lower_hex(c: u8) -> bool {
    lower_hex_value(c).is_some()
}
