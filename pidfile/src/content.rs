//! What a pidfile holds: this process's PID in decimal and a newline,
//! written by a claim ([`pid_line`]), and read back by [`parse_pid`].

/// The content a claim writes: `pid` in decimal and a newline.
pub(crate) fn pid_line(pid: u32) -> String {
    format!("{pid}\n")
}

/// Parses pidfile content, text or bytes: surrounding ASCII whitespace is
/// ignored, and what is left must be a decimal number (digits only, no sign)
/// in `1..=i32::MAX` (the one valid-PID rule, `pidkit_pidfd::check_pid`).
///
/// ```
/// use pidkit_pidfile::parse_pid;
/// assert_eq!(parse_pid("4711\n"), Some(4711));
/// assert_eq!(parse_pid(b"  42 \t"), Some(42));
/// assert_eq!(parse_pid("0"), None);
/// assert_eq!(parse_pid("-1"), None);
/// assert_eq!(parse_pid("+1"), None);
/// assert_eq!(parse_pid("2147483648"), None);
/// assert_eq!(parse_pid(""), None);
/// assert_eq!(parse_pid([b'1', 0xff]), None);
/// ```
pub fn parse_pid(content: impl AsRef<[u8]>) -> Option<u32> {
    let digits = content.as_ref().trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Only ASCII digits: text, and parsing can fail only by overflow.
    let pid: u32 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    pidkit_pidfd::check_pid(pid).ok().map(|_| pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_pid_takes_text_and_bytes_alike() {
        for (content, want) in [
            (&b"1\n"[..], Some(1)),
            (b" 2147483647 ", Some(i32::MAX as u32)),
            (b"2147483648", None),
            (b"0", None),
            (b"\xff1", None),
            (b"1 2", None),
            (b"", None),
        ] {
            assert_eq!(parse_pid(content), want, "{content:?}");
            if let Ok(text) = std::str::from_utf8(content) {
                assert_eq!(parse_pid(text), want, "{text:?}");
            }
        }
    }
}
