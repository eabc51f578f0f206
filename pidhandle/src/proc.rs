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

/// The clock start times are kept in (`CLOCK_BOOTTIME`), in nanoseconds.
fn boottime_ns() -> u128 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    t.tv_sec as u128 * 1_000_000_000 + t.tv_nsec as u128
}

/// Nanoseconds per clock tick (`USER_HZ`, the unit of field 22 of
/// `/proc/<pid>/stat`).
fn ns_per_tick() -> u128 {
    1_000_000_000 / u128::from(rustix::param::clock_ticks_per_second().max(1))
}

/// The current clock tick of `CLOCK_BOOTTIME`, rounded down as the kernel
/// rounds a process's start time.
pub(crate) fn boottime_ticks() -> u64 {
    (boottime_ns() / ns_per_tick()) as u64
}

/// Returns once clock tick `tick` is over, so that any process that starts
/// from then on has later start ticks. Returns at once when it already is.
pub(crate) fn wait_past_tick(tick: u64) {
    let end = (u128::from(tick) + 1) * ns_per_tick();
    loop {
        let now = boottime_ns();
        if now >= end {
            return;
        }
        std::thread::sleep(std::time::Duration::from_nanos((end - now) as u64));
    }
}

fn gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(3 /* ESRCH */)
}

/// The running kernel's boot id, read once per process.
///
/// Only a successful read is kept: a read that failed (out of file
/// descriptors, say) is tried again by the next call.
#[inline]
pub(crate) fn boot_id() -> Result<BootId, Error> {
    match BOOT.get() {
        Some(b) => Ok(*b),
        None => read_and_keep_boot_id(),
    }
}

/// The boot id once read.
static BOOT: OnceLock<BootId> = OnceLock::new();

/// [`boot_id`]'s first call.
#[cold]
#[inline(never)]
fn read_and_keep_boot_id() -> Result<BootId, Error> {
    let b = read_boot_id()?;
    Ok(*BOOT.get_or_init(|| b))
}

fn read_boot_id() -> Result<BootId, Error> {
    let text = std::fs::read_to_string(BOOT_ID_PATH)
        .map_err(|e| io_context(format!("reading {BOOT_ID_PATH}"), e))?;
    BootId::parse_canonical(text.trim_end_matches('\n')).ok_or_else(|| {
        io_context(
            format!("parsing {BOOT_ID_PATH}"),
            io::Error::new(io::ErrorKind::InvalidData, format!("not a uuid: {text:?}")),
        )
    })
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

    const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz-corpus/stat");

    /// The corpus holds real `/proc/<pid>/stat` lines captured on Linux
    /// 6.18, many from processes that set hostile names through
    /// `/proc/self/comm`; each parses as the process it was captured from.
    #[test]
    fn real_samples_parse_as_captured() {
        let all = testkit::fuzz::corpus(CORPUS);
        let parsed: Vec<Option<Stat>> = all.iter().map(|t| parse_stat(t)).collect();
        assert_eq!(
            parsed.iter().filter(|p| p.is_none()).count(),
            1,
            "only the empty read fails"
        );
        let sample = |name: &str| {
            let text = std::fs::read(format!("{CORPUS}/{name}")).unwrap();
            let reference = reference_fields(&text).unwrap();
            let stat = parse_stat(&text).unwrap();
            assert_eq!(stat.state, reference.state, "{name}");
            assert_eq!(stat.start_ticks, reference.start_ticks, "{name}");
            stat
        };
        assert!(sample("zombie.txt").is_zombie());
        assert_eq!(sample("stopped.txt").state, b'T');
        assert_eq!(sample("kthreadd.txt").start_ticks, 24);
        for comm in [
            "close_only",
            "digits",
            "fake_fields",
            "fake_state_Z",
            "high_bytes",
            "max_len",
            "newline",
            "open_open",
            "paren_space",
            "spaces",
            "tab",
            "trailing_paren_space",
            "utf8",
        ] {
            let stat = sample(&format!("comm_{comm}.txt"));
            assert_eq!(
                stat.state, b'R',
                "{comm}: the process was reading its own stat"
            );
        }
        assert_eq!(parse_stat(b""), None);
    }

    /// What a reference splitter reads from a well-formed stat line.
    #[derive(Debug, PartialEq, Eq)]
    struct Reference {
        pid: Vec<u8>,
        comm: Vec<u8>,
        state: u8,
        start_ticks: u64,
    }

    /// A reference splitter, written apart from [`parse_stat`] and strict
    /// about the kernel's format (`fs/proc/array.c`): the pid, a space, the
    /// command name between the first `(` and the last `)`, then single
    /// spaces between the fields and one newline at the end.
    fn reference_fields(line: &[u8]) -> Option<Reference> {
        let open = line.iter().position(|&b| b == b'(')?;
        let close = line.iter().rposition(|&b| b == b')')?;
        if close < open || open == 0 || line[open - 1] != b' ' {
            return None;
        }
        let pid = line[..open - 1].to_vec();
        let comm = line[open + 1..close].to_vec();
        let rest = line[close + 1..].strip_prefix(b" ")?;
        let rest = rest.strip_suffix(b"\n").unwrap_or(rest);
        let fields: Vec<&[u8]> = rest.split(|&b| b == b' ').collect();
        if fields
            .iter()
            .any(|f| f.is_empty() || f.iter().any(u8::is_ascii_whitespace))
        {
            return None;
        }
        let state = match fields.first()? {
            [s] => *s,
            _ => return None,
        };
        // fields[0] is field 3 of the line, so field 22 is fields[19].
        let start = std::str::from_utf8(fields.get(19)?).ok()?;
        // `%llu`: digits only (Rust's `parse` would also take a `+`).
        if !start.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Reference {
            pid,
            comm,
            state,
            start_ticks: start.parse().ok()?,
        })
    }

    /// One stat line as a kernel prints it, with any command name and any
    /// values in the numeric fields (signed where the kernel prints `%d`
    /// or `%ld`), and between 0 and 30 fields after field 22 (the count
    /// grew over kernel versions).
    fn well_formed_line() -> impl Strategy<Value = (Vec<u8>, u8, u64, Vec<u8>)> {
        let comm_byte = prop_oneof![
            4 => prop::sample::select(b"() \n\tZRSX)(0123456789-".to_vec()),
            3 => 1u8..=255,
        ];
        let field = prop_oneof![
            any::<i64>().prop_map(|v| v.to_string()),
            any::<u64>().prop_map(|v| v.to_string()),
            (0u64..100).prop_map(|v| v.to_string()),
        ];
        (
            1u32..=i32::MAX as u32,
            prop::collection::vec(comm_byte, 0..48),
            prop::sample::select(b"RSDZTtWXxKPI".to_vec()),
            prop::collection::vec(field.clone(), 18),
            any::<u64>(),
            prop::collection::vec(field, 0..30),
        )
            .prop_map(|(pid, comm, state, before, start, after)| {
                let mut line = format!("{pid} (").into_bytes();
                line.extend_from_slice(&comm);
                line.extend_from_slice(format!(") {}", state as char).as_bytes());
                for f in before
                    .iter()
                    .chain(std::iter::once(&start.to_string()))
                    .chain(&after)
                {
                    line.push(b' ');
                    line.extend_from_slice(f.as_bytes());
                }
                line.push(b'\n');
                (line, state, start, comm)
            })
    }

    /// Fuzz target: well-formed stat lines with arbitrary command names (any
    /// bytes but NUL, weighted to `(`, `)`, spaces, newlines and text that
    /// looks like fields). The state and start ticks are what the line was
    /// made with, and what the reference splitter reads.
    #[test]
    fn fuzz_stat_well_formed() {
        use testkit::fuzz;
        let _w = testkit::watchdog(
            "fuzz_stat_well_formed",
            fuzz::budget() + std::time::Duration::from_secs(120),
        );
        fuzz::run(
            "pidhandle/stat (well-formed, hostile comm)",
            fuzz::cases(),
            &[],
            well_formed_line(),
            |(line, state, start, comm)| {
                let reference = reference_fields(&line).unwrap();
                prop_assert_eq!(&reference.comm, &comm);
                prop_assert_eq!((reference.state, reference.start_ticks), (state, start));
                let parsed = parse_stat(&line);
                prop_assert_eq!(
                    parsed,
                    Some(Stat {
                        state,
                        start_ticks: start
                    }),
                    "{}",
                    line.escape_ascii()
                );
                Ok(())
            },
        );
    }

    /// Fuzz target: real stat lines (the corpus) mutated, and arbitrary
    /// bytes. Never a panic; an accepted line has an alphabetic state, and
    /// its start ticks are the 20th field after the state, counted after
    /// the last `)`; a line the reference splitter reads is accepted with
    /// the same values.
    #[test]
    fn fuzz_stat() {
        let tokens: &[&[u8]] = &[
            b"(",
            b")",
            b") ",
            b" (",
            b") R ",
            b") Z ",
            b" ",
            b"\n",
            b"\t",
            b"\x0b",
            b"\x0c",
            b"\r",
            b"-",
            b"\0",
            "\u{a0}".as_bytes(),
        ];
        testkit::fuzz::target("pidhandle/stat", CORPUS, tokens, |input| {
            let text = &input.0;
            let parsed = parse_stat(text);
            if let Some(stat) = parsed {
                prop_assert!(stat.state.is_ascii_alphabetic());
                let close = text.iter().rposition(|&b| b == b')').unwrap();
                let words: Vec<&[u8]> = text[close + 1..]
                    .split(u8::is_ascii_whitespace)
                    .filter(|w| !w.is_empty())
                    .collect();
                prop_assert_eq!(words[0], &[stat.state][..]);
                let start = std::str::from_utf8(words[19]).unwrap();
                prop_assert!(start.bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(start.parse::<u64>().unwrap(), stat.start_ticks);
            }
            if let Some(r) = reference_fields(text) {
                if r.state.is_ascii_alphabetic() {
                    prop_assert_eq!(
                        parsed,
                        Some(Stat {
                            state: r.state,
                            start_ticks: r.start_ticks
                        }),
                        "{:?}",
                        input
                    );
                }
            }
            Ok(())
        });
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
