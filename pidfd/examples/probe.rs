//! What pidkit can promise on this machine: `cargo run -p pidkit-pidfd --example probe`.
//!
//! Prints the kernel and sandbox, then one line per row of the README's
//! "Which kernel brings what" table: the feature, whether it holds here, and
//! then what pidkit uses it for, or, where it is absent, the fallback in use.

use std::path::Path;

use pidkit_pidfd::probe;

/// One row of the README's feature table.
struct Row {
    feature: &'static str,
    linux: &'static str,
    used_for: &'static str,
    without_it: &'static str,
}

const fn row(
    feature: &'static str,
    linux: &'static str,
    used_for: &'static str,
    without_it: &'static str,
) -> Row {
    Row {
        feature,
        linux,
        used_for,
        without_it,
    }
}

/// The rows, in the README's order and words (the tidy test checks that
/// every feature of the README's table is here).
const ROWS: &[Row] = &[
    row(
        "pidfd_send_signal",
        "5.1",
        "every signal pidkit sends",
        "kill(2) after a start-time check, or to our own unreaped child",
    ),
    row(
        "pidfd_open, waitid(P_PIDFD)",
        "5.3, 5.4",
        "pinning, the monitor's epoll reaper",
        "thread per child, /proc start-time identity",
    ),
    row("pidfd_getfd", "5.6", "PidFd::get_fd", "error"),
    row(
        "pidfs inode ids",
        "6.9",
        "PidHandle identity, util-linux PID:inode, systemd ProcessId",
        "start time in clock ticks; PID:inode and ProcessId refused",
    ),
    row(
        "PIDFD_SIGNAL_PROCESS_GROUP",
        "6.9",
        "Process::kill_group, group_alive through the leader's pidfd",
        "killpg only while the leader is our unreaped child",
    ),
    row(
        "cgroup v2 with write access",
        "4.5",
        "Monitor::start_tree: the tree's own cgroup",
        "subreaper fallback (PR_SET_CHILD_SUBREAPER, /proc scans)",
    ),
    row(
        "cgroup.kill",
        "5.14",
        "Tree::kill_tree(KILL): one write kills the whole tree",
        "each member through a pidfd, repeated until none is left",
    ),
    row(
        "PIDFD_GET_INFO",
        "6.13",
        "PidFd::info",
        "PID from /proc/self/fdinfo",
    ),
    row(
        "PIDFD_INFO_EXIT",
        "6.15",
        "an adopted process's Exit, core-dump flag included",
        "Error::StatusUnavailable",
    ),
    row(
        "PIDFD_INFO_COREDUMP",
        "6.16",
        "PidfdInfo::coredump",
        "None (never \"no dump\")",
    ),
    row(
        "pidfs file handles",
        "6.17",
        "PidHandle text carries fh=, opened with no PID lookup",
        "text has no fh=",
    ),
    row(
        "PIDFD_INFO_SUPPORTED_MASK",
        "6.19",
        "the probe takes the info fields from the kernel's own mask",
        "fields by kernel release",
    ),
];

/// The cgroup2 mount point, from this process's mount table.
fn cgroup2_mount() -> Option<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    table
        .lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            (right.split(' ').next() == Some("cgroup2")).then(|| left.split(' ').nth(4))?
        })
        .map(str::to_owned)
}

/// Whether a cgroup under the mount can be made here (what `start_tree`
/// needs), and whether it has `cgroup.kill`: a directory created, looked
/// into and removed at once.
fn cgroup_probe(mount: &str) -> (bool, bool) {
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_owned))
        })
        .unwrap_or_else(|| "/".into());
    let dir = Path::new(mount)
        .join(own.trim_start_matches('/'))
        .join(format!("pidkit-probe-{}", std::process::id()));
    if std::fs::create_dir(&dir).is_err() {
        return (false, false);
    }
    let kill = dir.join("cgroup.kill").exists();
    (std::fs::remove_dir(&dir).is_ok(), kill)
}

fn main() {
    let s = probe();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let seccomp = status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .map_or("unknown", |m| match m.trim() {
            "0" => "none",
            "1" => "strict",
            _ => "a filter",
        });
    println!("Linux {}, seccomp: {seccomp}", kernel.trim());
    if let Some(reason) = &s.reason {
        println!("pidfds are not usable here: {reason}");
    }
    let mount = cgroup2_mount();
    let (cgroup, cgroup_kill) = mount.as_deref().map_or((false, false), cgroup_probe);
    let holds = [
        s.send_signal,
        s.pidfd_open && s.waitid,
        s.getfd,
        s.pidfs,
        s.signal_scope,
        cgroup,
        cgroup_kill,
        s.get_info,
        s.info_exit,
        s.info_coredump,
        s.pidfs_file_handles,
        s.info_supported_mask.is_some(),
    ];
    for (r, holds) in ROWS.iter().zip(holds) {
        if holds {
            println!("yes  {} ({}): {}", r.feature, r.linux, r.used_for);
        } else {
            println!("no   {} ({}): {}", r.feature, r.linux, r.without_it);
        }
    }
    if let Some(m) = &mount {
        println!("cgroup2 mounted at {m}");
    } else {
        println!("no cgroup2 mount");
    }
    if !s.hidden.is_empty() {
        let names: Vec<&str> = s.hidden.iter().map(|h| h.name()).collect();
        println!("hidden by PIDKIT_HIDE_FEATURES: {}", names.join(","));
    }
}
