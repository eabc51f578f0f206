//! [`PidfdInfo`] and the `/proc/self/fdinfo` fallback parser.

use std::process::ExitStatus;

/// What the kernel tells about the process behind a pidfd.
///
/// Filled by the `PIDFD_GET_INFO` ioctl (Linux 6.13+); on older kernels only
/// `pid` is known, read from `/proc/self/fdinfo/<fd>`. Every field is an
/// `Option` because each kernel reports a different subset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PidfdInfo {
    /// The PID in the caller's PID namespace. `None` once the process has been
    /// reaped, or when it is not visible in the caller's namespace.
    pub pid: Option<u32>,
    /// The thread-group id (the process id a `ps` would show).
    pub tgid: Option<u32>,
    /// The parent's PID.
    pub ppid: Option<u32>,
    /// Real user id.
    pub ruid: Option<u32>,
    /// Effective user id.
    pub euid: Option<u32>,
    /// The cgroup v2 id of the process's cgroup.
    pub cgroup_id: Option<u64>,
    /// The exit status, once the process has exited and been reaped by its
    /// parent (`PIDFD_INFO_EXIT`, Linux 6.15+). Available to any holder of the
    /// pidfd, not only the parent.
    pub exit_status: Option<ExitStatus>,
    /// Where the information came from.
    pub source: InfoSource,
}

/// Where a [`PidfdInfo`] came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum InfoSource {
    /// The `PIDFD_GET_INFO` ioctl.
    #[default]
    Ioctl,
    /// `/proc/self/fdinfo/<fd>` (kernels before 6.13, or the ioctl refused).
    FdInfo,
}

/// What `/proc/self/fdinfo/<fd>` says about a pidfd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FdInfoPid {
    /// `Pid:` as printed: positive, `0` (not in our namespace) or `-1` (exited).
    pub(crate) pid: i64,
    /// `NSpid:`, the PID in each namespace from ours down, when present.
    pub(crate) ns_pids: Vec<i64>,
}

/// Parses the text of `/proc/self/fdinfo/<fd>` for a pidfd. Returns `None`
/// when there is no well-formed `Pid:` line (the fd is not a pidfd).
pub(crate) fn parse_fdinfo(text: &str) -> Option<FdInfoPid> {
    let mut pid = None;
    let mut ns_pids = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Pid:") {
            pid = Some(rest.trim().parse::<i64>().ok()?);
        } else if let Some(rest) = line.strip_prefix("NSpid:") {
            ns_pids = rest
                .split_whitespace()
                .map(|v| v.parse::<i64>())
                .collect::<Result<_, _>>()
                .ok()?;
        }
    }
    let pid = pid?;
    if pid < -1 || pid > i64::from(i32::MAX) {
        return None;
    }
    Some(FdInfoPid { pid, ns_pids })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_kernel_output() {
        let text =
            "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nPid:\t4242\nNSpid:\t4242\t7\n";
        assert_eq!(
            parse_fdinfo(text),
            Some(FdInfoPid {
                pid: 4242,
                ns_pids: vec![4242, 7]
            })
        );
        assert_eq!(parse_fdinfo("Pid:\t-1\n").unwrap().pid, -1);
        assert_eq!(parse_fdinfo("Pid:\t0\n").unwrap().pid, 0);
        assert_eq!(parse_fdinfo("pos:\t0\nflags:\t02\n"), None);
        assert_eq!(parse_fdinfo("Pid:\tabc\n"), None);
        assert_eq!(parse_fdinfo("Pid:\t-7\n"), None);
        assert_eq!(parse_fdinfo("Pid:\t99999999999\n"), None);
        assert_eq!(parse_fdinfo(""), None);
    }

    const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz-corpus/fdinfo");

    fn sample(name: &str) -> String {
        std::fs::read_to_string(format!("{CORPUS}/{name}")).unwrap()
    }

    /// The corpus holds real `/proc/self/fdinfo` texts, captured on Linux
    /// 6.18; each parses as what it was captured from.
    #[test]
    fn real_samples_parse_as_captured() {
        let live = parse_fdinfo(&sample("pidfd_self.txt")).unwrap();
        assert!(live.pid > 0 && live.ns_pids == vec![live.pid], "{live:?}");
        let nonblock = parse_fdinfo(&sample("pidfd_nonblock.txt")).unwrap();
        assert!(nonblock.pid > 0);
        let reaped = parse_fdinfo(&sample("pidfd_reaped.txt")).unwrap();
        assert_eq!((reaped.pid, reaped.ns_pids), (-1, vec![-1]));
        let outside = parse_fdinfo(&sample("pidfd_outside_our_pidns.txt")).unwrap();
        assert_eq!((outside.pid, outside.ns_pids), (0, vec![0]));
        let nested = parse_fdinfo(&sample("pidfd_child_pidns.txt")).unwrap();
        assert_eq!(nested.ns_pids.len(), 2);
        assert_eq!(nested.ns_pids[0], nested.pid);
        assert_eq!(nested.ns_pids[1], 1);
        for not_a_pidfd in [
            "regular_file.txt",
            "pipe.txt",
            "eventfd.txt",
            "flocked_file.txt",
        ] {
            assert_eq!(parse_fdinfo(&sample(not_a_pidfd)), None, "{not_a_pidfd}");
        }
    }

    /// A reference reading of fdinfo text, written apart from
    /// [`parse_fdinfo`]: the lines are split by hand, and every `Pid:` and
    /// `NSpid:` line must hold numbers; the last of each counts.
    fn reference(text: &str) -> Option<(i64, Vec<i64>)> {
        let mut pid = None;
        let mut ns_pids = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let (line, next) = match rest.find('\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, ""),
            };
            rest = next;
            let line = line.strip_suffix('\r').unwrap_or(line);
            let (key, value) = match line.find(':') {
                Some(i) => (&line[..i], &line[i + 1..]),
                None => continue,
            };
            match key {
                "Pid" => pid = Some(value.trim().parse::<i64>().ok()?),
                "NSpid" => {
                    let mut all = Vec::new();
                    for v in value.split_whitespace() {
                        all.push(v.parse::<i64>().ok()?);
                    }
                    ns_pids = all;
                }
                _ => {}
            }
        }
        let pid = pid?;
        (-1..=i64::from(i32::MAX))
            .contains(&pid)
            .then_some((pid, ns_pids))
    }

    /// Fuzz target: real fdinfo texts, mutated, and arbitrary bytes. Never a
    /// panic; an accepted text has a `Pid:` in `-1..=i32::MAX` and reads the
    /// same as the reference.
    #[test]
    fn fuzz_fdinfo() {
        use testkit::fuzz::{self, Bytes};
        let _w = testkit::watchdog(
            "fuzz_fdinfo",
            fuzz::budget() + std::time::Duration::from_secs(120),
        );
        let seeds = fuzz::corpus(CORPUS);
        let verbatim: Vec<Bytes> = seeds.iter().cloned().map(Bytes).collect();
        let tokens: &[&[u8]] = &[
            b"Pid:",
            b"NSpid:",
            b"Pid:\t",
            b"\t",
            b"\n",
            b" ",
            b"-",
            b"+",
            b"\r",
            b":",
            b"pos:\t0\n",
            b"flags:\t02000002\n",
            "\u{3000}".as_bytes(),
            "\u{a0}".as_bytes(),
            b"\0",
        ];
        fuzz::run(
            "pidfd/fdinfo",
            fuzz::cases(),
            &verbatim,
            fuzz::inputs(seeds, tokens),
            |input| {
                let text = input.lossy();
                let parsed = parse_fdinfo(&text);
                if let Some(p) = &parsed {
                    prop_assert!(p.pid >= -1 && p.pid <= i64::from(i32::MAX), "{p:?}");
                }
                prop_assert_eq!(
                    parsed.map(|p| (p.pid, p.ns_pids)),
                    reference(&text),
                    "{:?}",
                    text
                );
                Ok(())
            },
        );
    }

    proptest! {
        #[test]
        fn round_trips_any_valid_pid(pid in -1i64..=i64::from(i32::MAX), pos in 0u64..1000, extra in "[a-z_]{1,8}:\t[0-9]{1,5}") {
            let text = format!("pos:\t{pos}\n{extra}\nPid:\t{pid}\nNSpid:\t{pid}\n");
            let parsed = parse_fdinfo(&text).unwrap();
            prop_assert_eq!(parsed.pid, pid);
            prop_assert_eq!(parsed.ns_pids, vec![pid]);
        }

        #[test]
        fn never_panics_and_bounds_pid(text in "(?s).{0,200}") {
            if let Some(p) = parse_fdinfo(&text) {
                prop_assert!(p.pid >= -1 && p.pid <= i64::from(i32::MAX));
            }
        }

        #[test]
        fn mutated_pid_lines_are_rejected_or_exact(prefix in "[ \t]{0,2}", junk in "[^0-9\n-]{1,4}") {
            let text = format!("Pid:{prefix}12{junk}3\n");
            prop_assert_eq!(parse_fdinfo(&text), None);
        }
    }
}
