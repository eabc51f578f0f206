//! Readers of `/proc` written without any pidkit parser, so tests can check
//! pidkit against them: `/proc/<pid>/stat`, `status` and `fdinfo`.

/// The fields of `/proc/<pid>/stat` that tests and benchmarks look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Field 2, the command name (between the first `(` and the last `)`).
    pub comm: String,
    /// Field 3, the state letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Field 4, the parent's PID.
    pub ppid: u32,
    /// Field 5, the process group.
    pub pgrp: u32,
    /// Field 22, the start time in clock ticks after boot.
    pub start_ticks: u64,
}

impl Stat {
    /// Parses the text of a `/proc/<pid>/stat` file: the command name may
    /// hold spaces and parentheses, so the other fields are counted from the
    /// last `)`. `None` when the text does not have that shape.
    pub fn parse(text: &str) -> Option<Stat> {
        let (comm, mut fields) = split_stat(text)?;
        let mut state = fields.next()?.chars();
        let (Some(state), None) = (state.next(), state.next()) else {
            return None;
        };
        let ppid = fields.next()?.parse().ok()?;
        let pgrp = fields.next()?.parse().ok()?;
        let start_ticks = fields.nth(16)?.parse().ok()?;
        Some(Stat {
            comm: comm.to_owned(),
            state,
            ppid,
            pgrp,
            start_ticks,
        })
    }
}

/// The command name of a `/proc/<pid>/stat` text, and the fields after it
/// (field 3 first).
fn split_stat(text: &str) -> Option<(&str, std::str::SplitAsciiWhitespace<'_>)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    Some((
        text.get(open + 1..close)?,
        text[close + 1..].split_ascii_whitespace(),
    ))
}

/// `/proc/<pid>/stat` of process `pid`; `None` if there is no such process
/// (any more). A command name that is not UTF-8 is read lossily. Panics on
/// a file that does not parse.
pub fn stat(pid: u32) -> Option<Stat> {
    let bytes = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    Some(Stat::parse(&text).unwrap_or_else(|| panic!("/proc/{pid}/stat: {text:?}")))
}

/// The start time of process `pid` in clock ticks (field 22 of
/// `/proc/<pid>/stat`); `None` if there is no such process. One read and a
/// split, nothing else allocated: the podman-style baselines of the
/// benchmarks measure this.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let bytes = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let ticks = split_stat(&text).and_then(|(_, mut fields)| fields.nth(19)?.parse().ok());
    Some(ticks.unwrap_or_else(|| panic!("/proc/{pid}/stat: {text:?}")))
}

/// The start time of process `pid` once it runs `comm`: a freshly spawned
/// child may still carry its parent's name (and would later exec). Waits,
/// bounded by the caller's watchdog; panics if the process is gone.
pub fn start_ticks_once_named(pid: u32, comm: &str) -> u64 {
    let mut found = None;
    crate::wait_until(|| {
        let s = stat(pid).unwrap_or_else(|| panic!("process {pid} is gone"));
        found = Some(s.start_ticks);
        s.comm == comm
    });
    found.unwrap()
}

/// Whether `pid` is a zombie child of this process right now.
pub fn is_our_zombie(pid: u32) -> bool {
    stat(pid).is_some_and(|s| s.state == 'Z' && s.ppid == std::process::id())
}

/// Asserts that `pid` is not a zombie child of ours: `/proc/<pid>` is gone,
/// or holds a process that is not our zombie (the number may be reused).
#[track_caller]
pub fn assert_no_zombie_of_ours(pid: u32) {
    assert!(!is_our_zombie(pid), "process {pid} is our zombie");
}

/// The command name of process `pid`, if it exists.
pub fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// The number of threads of this process (the `Threads:` line of
/// `/proc/self/status`).
pub fn thread_count() -> usize {
    status_field("Threads:").parse().unwrap()
}

/// The current umask (the `Umask:` line of `/proc/self/status`).
pub fn umask() -> u32 {
    u32::from_str_radix(&status_field("Umask:"), 8).unwrap()
}

/// The value of the line of `/proc/self/status` that starts with `key`.
fn status_field(key: &str) -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in /proc/self/status"))
        .trim()
        .to_owned()
}

/// `O_CLOEXEC` as the `flags:` line of `/proc/<pid>/fdinfo/<fd>` shows it.
pub const O_CLOEXEC: u32 = 0o2000000;

/// The `flags:` field of `/proc/<pid>/fdinfo/<fd>` (octal open flags).
pub fn fd_flags(pid: u32, fd: i32) -> u32 {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .unwrap_or_else(|| panic!("no flags: in /proc/{pid}/fdinfo/{fd}"));
    u32::from_str_radix(flags.trim(), 8).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_name_with_spaces_and_parentheses() {
        let text = "77 (a) b) c) S 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 98765 0 0";
        let s = Stat::parse(text).unwrap();
        assert_eq!(s.comm, "a) b) c");
        assert_eq!(
            (s.state, s.ppid, s.pgrp, s.start_ticks),
            ('S', 1, 77, 98765)
        );
        let zombie = Stat::parse("1234 (a (b) c) Z 77 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0");
        assert_eq!(
            zombie.map(|s| (s.comm, s.state, s.start_ticks)),
            Some(("a (b) c".to_owned(), 'Z', 555))
        );
        assert_eq!(start_ticks(std::process::id()).map(|t| t > 0), Some(true));
        assert_eq!(Stat::parse("garbage"), None);
        assert_eq!(Stat::parse("1 (x) S"), None);
        assert_eq!(
            Stat::parse("1 (x) SS 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5"),
            None
        );
    }

    #[test]
    fn our_own_stat_names_our_parent() {
        let s = stat(std::process::id()).unwrap();
        assert_eq!(s.ppid, std::os::unix::process::parent_id());
        assert_eq!(start_ticks(std::process::id()), Some(s.start_ticks));
    }
}
