//! Reading `/proc`: a process's state and start ticks, and the boot id.

use std::io::{self, Read};
use std::sync::OnceLock;

use crate::error::io_context;
use crate::{BootId, Error};

const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";

/// What a handle needs from `/proc/<pid>/stat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    /// Field 3, the state letter (`R`, `S`, `Z`, `X`, ...).
    pub(crate) state: u8,
    /// Field 22, the start time in clock ticks after boot.
    pub(crate) start_ticks: u64,
}

impl Stat {
    /// Exited but not yet reaped (`Z`), or being released (`X`, reaped).
    pub(crate) fn is_zombie(&self) -> bool {
        self.state == b'Z'
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.state == b'X'
    }
}

/// Parses the text of `/proc/<pid>/stat`.
///
/// Field 2 is the command name in parentheses, and the name itself may hold
/// spaces, parentheses and even newlines, so the fields after it are found
/// after the *last* `)` (nothing after the name can contain one).
pub(crate) fn parse_stat(text: &[u8]) -> Option<Stat> {
    let close = text.iter().rposition(|&b| b == b')')?;
    let mut fields = text[close + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let state = match fields.next()? {
        [s] if s.is_ascii_alphabetic() => *s,
        _ => return None,
    };
    // Field 3 was the state; field 22 is 19 further on.
    let start = fields.nth(18)?;
    if start.is_empty() || !start.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let start_ticks = std::str::from_utf8(start).ok()?.parse().ok()?;
    Some(Stat { state, start_ticks })
}

/// Reads `/proc/<pid>/stat`. `Ok(None)` when there is no such process (it
/// never existed, or it has been reaped, even between our open and read).
pub(crate) fn read_stat(pid: u32) -> Result<Option<Stat>, Error> {
    let path = format!("/proc/{pid}/stat");
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if gone(&e) => return Ok(None),
        // `/proc` mounted with `hidepid=1`: the process exists, we may not look.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Err(Error::PermissionDenied { pid });
        }
        Err(e) => return Err(io_context(format!("opening {path}"), e)),
    };
    // The line is under 1 kB even with every field at its widest.
    let mut buf = [0u8; 2048];
    let mut len = 0;
    loop {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if len == buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if gone(&e) => return Ok(None),
            Err(e) => return Err(io_context(format!("reading {path}"), e)),
        }
    }
    if len == 0 {
        // An empty read happens for a task released between open and read.
        return Ok(None);
    }
    parse_stat(&buf[..len]).map(Some).ok_or_else(|| {
        io_context(
            format!("parsing {path}"),
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "unexpected content {:?}",
                    String::from_utf8_lossy(&buf[..len])
                ),
            ),
        )
    })
}

fn gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(3 /* ESRCH */)
}

/// The running kernel's boot id, read once per process.
pub(crate) fn boot_id() -> Result<BootId, Error> {
    static BOOT: OnceLock<Result<BootId, String>> = OnceLock::new();
    match BOOT.get_or_init(read_boot_id) {
        Ok(b) => Ok(*b),
        Err(msg) => Err(Error::Io(io::Error::other(msg.clone()))),
    }
}

fn read_boot_id() -> Result<BootId, String> {
    let text = std::fs::read_to_string(BOOT_ID_PATH)
        .map_err(|e| format!("reading {BOOT_ID_PATH}: {e}"))?;
    BootId::parse_canonical(text.trim_end_matches('\n'))
        .ok_or_else(|| format!("{BOOT_ID_PATH}: not a uuid: {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(comm: &str, state: char, start: u64) -> String {
        // Fields 4..=21 as a real kernel prints them, then start time and the rest.
        format!(
            "4242 ({comm}) {state} 1 4242 4242 0 -1 4194560 105 0 0 0 0 0 0 0 20 0 1 0 {start} 2252800 128 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        )
    }

    #[test]
    fn parses_hostile_command_names() {
        for comm in [
            "sleep",
            "a) b (c",
            ")",
            "((",
            ") R 1 2 3",
            "x\ny",
            "",
            " ) ) ",
        ] {
            let s = parse_stat(line(comm, 'S', 123456).as_bytes()).unwrap();
            assert_eq!(
                s,
                Stat {
                    state: b'S',
                    start_ticks: 123456
                },
                "{comm:?}"
            );
        }
        let z = parse_stat(line("zz", 'Z', 7).as_bytes()).unwrap();
        assert!(z.is_zombie());
        assert!(!z.is_dead());
        assert!(parse_stat(line("x", 'X', 7).as_bytes()).unwrap().is_dead());
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"4242 (sleep S 1 2"), None);
        assert_eq!(parse_stat(b"4242 (sleep) S 1 2 3"), None);
        assert_eq!(parse_stat(line("s", '1', 5).as_bytes()), None);
        let bad = line("s", 'S', 5).replace(" 5 2252800", " -5 2252800");
        assert_eq!(parse_stat(bad.as_bytes()), None);
    }

    #[test]
    fn reads_ourselves() {
        let s = read_stat(std::process::id()).unwrap().unwrap();
        // The main thread waits for the test threads, so `S` or `R`.
        assert!(matches!(s.state, b'R' | b'S'), "{}", s.state as char);
        assert!(!s.is_zombie() && !s.is_dead());
        assert!(s.start_ticks > 0);
        assert!(boot_id().is_ok());
        assert_eq!(boot_id().unwrap(), boot_id().unwrap());
    }

    proptest! {
        #[test]
        fn any_command_name(comm in "(?s).{0,16}", start in any::<u64>()) {
            let s = parse_stat(line(&comm, 'R', start).as_bytes()).unwrap();
            prop_assert_eq!(s.start_ticks, start);
            prop_assert_eq!(s.state, b'R');
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_stat(&bytes);
        }
    }
}
