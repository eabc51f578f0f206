//! A tree on a cgroup v2 of its own: finding the cgroup2 mount, making,
//! listing, killing, watching and removing the tree's cgroup.

use std::fs::{self, OpenOptions};
use std::io::{self, ErrorKind, Write as _};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use pidkit_pidfd::PidFd;
use pidkit_pidfd::low_level::Backoff;
use pidkit_pidhandle::Signal;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fs::inotify;

use super::{POLL_MAX, POLL_MIN, pinned_member, signal_member};
use crate::error::Error;

/// `CGROUP2_SUPER_MAGIC` (`include/uapi/linux/magic.h`).
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// Numbers the cgroups this process makes: `pidkit-<pid>-<n>`.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Why no cgroup was made.
#[derive(Debug)]
pub(crate) enum CreateError {
    /// Not possible here (no cgroup2 mount, no write access, read-only):
    /// the fallback applies. The reason names the path.
    Refused(String),
    /// Any other failure, reported as it is.
    Failed(Error),
}

/// The tree's cgroup directory, with its path as `/proc/<pid>/cgroup`
/// names it.
#[derive(Debug)]
pub(crate) struct CgroupTree {
    dir: PathBuf,
    /// The path below the cgroup2 mount, starting with `/`.
    rel: String,
}

fn cg_err(action: &'static str, path: &Path, source: io::Error) -> Error {
    Error::Cgroup {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Whether `e` says that cgroups cannot be used here at all, rather than
/// that something went wrong.
fn is_refusal(e: &io::Error) -> bool {
    use rustix::io::Errno;
    matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound)
        || [
            Errno::ROFS,
            Errno::PERM,
            Errno::ACCESS,
            Errno::NOTSUP,
            Errno::OPNOTSUPP,
        ]
        .iter()
        .any(|n| e.raw_os_error() == Some(n.raw_os_error()))
}

/// The mount point and mount root of the first cgroup2 mount in a
/// `/proc/self/mountinfo` text.
pub(crate) fn cgroup2_mount(mountinfo: &str) -> Option<(PathBuf, String)> {
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        if after.split(' ').next()? != "cgroup2" {
            return None;
        }
        let mut fields = before.split(' ');
        let root = fields.nth(3)?;
        let point = fields.next()?;
        Some((PathBuf::from(unescape(point)), unescape(root)))
    })
}

/// mountinfo's octal escapes (`\040` for a space, ...) undone.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal.map(|d| d.iter().fold(0u32, |n, c| n * 8 + u32::from(c - b'0'))) {
            Some(n) if n <= 0xff => {
                out.push(n as u8);
                i += 4;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup v2 path in a `/proc/<pid>/cgroup` text (its `0::` line).
pub(crate) fn v2_path(cgroup: &str) -> Option<&str> {
    cgroup.lines().find_map(|l| l.strip_prefix("0::"))
}

/// The "populated" value of a `cgroup.events` text.
pub(crate) fn populated_in(events: &str) -> Option<bool> {
    events
        .lines()
        .find_map(|l| match l.strip_prefix("populated ")? {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        })
}

/// The PIDs of a `cgroup.procs` text; `Err` with the bad line.
///
/// The kernel lists a member it cannot name in the reader's PID namespace
/// as `0`: one outside that namespace, or one exiting whose PID is already
/// detached (5.10 lists those right after `SIGKILL`). Such a line names no
/// process this monitor can reach, so it is left out.
pub(crate) fn parse_procs(procs: &str) -> Result<Vec<u32>, &str> {
    procs
        .lines()
        .filter_map(|l| match l.trim().parse::<u32>() {
            Ok(0) => None,
            Ok(pid) => Some(Ok(pid)),
            Err(_) => Some(Err(l)),
        })
        .collect()
}

/// The cgroup2 mount point, its mount root, and this process's cgroup
/// directory under it.
fn own_cgroup() -> Result<((PathBuf, String), PathBuf), String> {
    let info = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo ({e})"))?;
    let (mount, root) =
        cgroup2_mount(&info).ok_or("no cgroup2 file system is mounted (/proc/self/mountinfo)")?;
    let text = fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cannot read /proc/self/cgroup ({e})"))?;
    let own = v2_path(&text).ok_or("/proc/self/cgroup names no cgroup v2 (no 0:: line)")?;
    let below = if root == "/" {
        own
    } else {
        own.strip_prefix(root.as_str()).ok_or_else(|| {
            format!(
                "this process's cgroup {own} is outside the cgroup2 mount at {} (root {root})",
                mount.display()
            )
        })?
    };
    let dir = mount.join(below.trim_start_matches('/'));
    Ok(((mount, root), dir))
}

/// The cgroup2 mount that holds `dir` and its mount root, from mountinfo.
fn mount_of(dir: &Path) -> Result<(PathBuf, String), String> {
    let info = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo ({e})"))?;
    info.lines()
        .filter_map(cgroup2_mount)
        .find(|(m, _)| dir.starts_with(m))
        .ok_or_else(|| format!("{} is not under a cgroup2 mount", dir.display()))
}

impl CgroupTree {
    /// Makes a new cgroup under `parent` (default: our own), and opens its
    /// `cgroup.procs` for the child to join.
    pub(crate) fn create(parent: Option<&Path>) -> Result<(CgroupTree, OwnedFd), CreateError> {
        let (mount, parent) = match parent {
            Some(p) => (mount_of(p).map_err(CreateError::Refused)?, p.to_owned()),
            None => own_cgroup().map_err(CreateError::Refused)?,
        };
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("pidkit-{}-{n}", std::process::id()));
        if let Err(e) = fs::create_dir(&dir) {
            return Err(if is_refusal(&e) {
                CreateError::Refused(format!("cannot create cgroup {} ({e})", dir.display()))
            } else {
                CreateError::Failed(cg_err("create", &dir, e))
            });
        }
        let tree = CgroupTree::at(&mount, dir);
        let procs = tree.dir.join("cgroup.procs");
        match OpenOptions::new().write(true).open(&procs) {
            Ok(f) => Ok((tree, f.into())),
            Err(e) => {
                let _ = fs::remove_dir(&tree.dir);
                Err(if is_refusal(&e) {
                    CreateError::Refused(format!("cannot open {} ({e})", procs.display()))
                } else {
                    CreateError::Failed(cg_err("open", &procs, e))
                })
            }
        }
    }

    /// The tree at `dir` on the cgroup2 mount `(point, root)`: as
    /// `/proc/<pid>/cgroup` names it, the mount's root followed by the path
    /// below the mount point.
    fn at(mount: &(PathBuf, String), dir: PathBuf) -> CgroupTree {
        let below = dir.strip_prefix(&mount.0).unwrap_or(&dir);
        let root = mount.1.trim_end_matches('/');
        let rel = format!("{root}/{}", below.display());
        let rel = rel.trim_end_matches('/').to_owned();
        CgroupTree {
            dir,
            rel: if rel.is_empty() { "/".into() } else { rel },
        }
    }

    /// The existing cgroup v2 directory `dir`.
    pub(crate) fn adopt(dir: &Path) -> Result<CgroupTree, Error> {
        let fs = rustix::fs::statfs(dir).map_err(|e| cg_err("adopt", dir, e.into()))?;
        if fs.f_type as i64 != CGROUP2_SUPER_MAGIC {
            return Err(cg_err(
                "adopt",
                dir,
                io::Error::new(ErrorKind::InvalidInput, "not a cgroup v2 directory"),
            ));
        }
        let mount = mount_of(dir)
            .map_err(|r| cg_err("adopt", dir, io::Error::new(ErrorKind::InvalidInput, r)))?;
        let tree = CgroupTree::at(&mount, dir.to_owned());
        tree.populated()?;
        Ok(tree)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether any process is in the tree (`cgroup.events`).
    /// Gone (removed once empty) counts as empty.
    pub(crate) fn populated(&self) -> Result<bool, Error> {
        let path = self.dir.join("cgroup.events");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(cg_err("read", &path, e)),
        };
        populated_in(&text).ok_or_else(|| Error::BadContent {
            path: self.dir.join("cgroup.events"),
            content: text,
        })
    }

    /// The PIDs listed in the tree's `cgroup.procs` and those of its
    /// descendant cgroups.
    fn pids(&self) -> Result<Vec<u32>, Error> {
        let mut out = Vec::new();
        let mut dirs = vec![self.dir.clone()];
        while let Some(dir) = dirs.pop() {
            let path = dir.join("cgroup.procs");
            let text = match fs::read_to_string(&path) {
                Ok(t) => t,
                // Removed meanwhile (a sub-cgroup, or the tree's own once
                // it is empty).
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(cg_err("read", &path, e)),
            };
            out.extend(parse_procs(&text).map_err(|line| Error::BadContent {
                path: path.clone(),
                content: line.to_owned(),
            })?);
            if let Ok(entries) = fs::read_dir(&dir) {
                dirs.extend(
                    entries
                        .filter_map(Result::ok)
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|e| e.path()),
                );
            }
        }
        Ok(out)
    }

    /// Whether `/proc/<pid>/cgroup` puts `pid` in the tree.
    fn holds(&self, pid: u32) -> Result<bool, Error> {
        let path = format!("/proc/{pid}/cgroup");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound) || e.raw_os_error() == Some(3) => {
                return Ok(false);
            }
            Err(e) => return Err(crate::error::io_context(format!("reading {path}"), e)),
        };
        Ok(v2_path(&text).is_some_and(|p| {
            p.strip_prefix(self.rel.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        }))
    }

    /// The live members, each pinned by a pidfd checked after opening.
    pub(crate) fn members(&self) -> Result<Vec<(u32, PidFd)>, Error> {
        let mut out = Vec::new();
        for pid in self.pids()? {
            if let Some(fd) = pinned_member(pid, |p| self.holds(p))? {
                out.push((pid, fd));
            }
        }
        Ok(out)
    }

    pub(crate) fn kill(&self, signal: Signal, deadline: Instant) -> Result<(), Error> {
        if signal == Signal::KILL {
            let path = self.dir.join("cgroup.kill");
            // Opened without O_CREAT: cgroupfs refuses a create with EACCES,
            // which would hide the ENOENT that means "before 5.14".
            let written = OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|mut f| f.write_all(b"1"));
            match written {
                Ok(()) => return Ok(()),
                // Before 5.14: no such file; kill one by one.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(cg_err("write to", &path, e)),
            }
            let mut pauses = Backoff::new(POLL_MIN, POLL_MAX);
            loop {
                let members = self.members()?;
                if members.is_empty() {
                    return Ok(());
                }
                for (pid, fd) in &members {
                    signal_member(*pid, fd, signal)?;
                }
                if Instant::now() >= deadline {
                    return Err(crate::error::io_context(
                        format!("killing cgroup {}", self.dir.display()),
                        io::Error::new(
                            ErrorKind::TimedOut,
                            format!("{} members left after SIGKILL", members.len()),
                        ),
                    ));
                }
                std::thread::sleep(pauses.next_pause());
            }
        }
        for (pid, fd) in self.members()? {
            signal_member(pid, &fd, signal)?;
        }
        Ok(())
    }

    /// An inotify descriptor watching `cgroup.events` for changes; `None`
    /// when the cgroup is gone (removed once empty).
    fn watch(&self) -> Result<Option<OwnedFd>, Error> {
        let path = self.dir.join("cgroup.events");
        let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
            .map_err(|e| {
                crate::error::io_context(
                    format!("creating an inotify watch for {}", path.display()),
                    e.into(),
                )
            })?;
        match inotify::add_watch(&fd, &path, inotify::WatchFlags::MODIFY) {
            Ok(_) => Ok(Some(fd)),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(cg_err("watch", &path, e.into())),
        }
    }

    /// Sleeps until the tree is empty (true) or `deadline` passes (false).
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Result<bool, Error> {
        let Some(fd) = self.watch()? else {
            return Ok(true);
        };
        let mut buf = [0u8; 1024];
        loop {
            // The watch exists before this check: a change after it wakes us.
            if !self.populated()? {
                return Ok(true);
            }
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Ok(false),
                },
                None => None,
            };
            let ts = left.map(|l| rustix::time::Timespec {
                tv_sec: l.as_secs() as i64,
                tv_nsec: i64::from(l.subsec_nanos()),
            });
            let mut fds = [PollFd::new(&fd, PollFlags::IN)];
            match poll(&mut fds, ts.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    return Err(crate::error::io_context(
                        format!("waiting on the inotify watch of {}", self.dir.display()),
                        e.into(),
                    ));
                }
            }
            // Drain the events; only the file's content matters.
            while let Ok(n) = rustix::io::read(&fd, &mut buf) {
                if n == 0 {
                    break;
                }
            }
        }
    }

    #[cfg(feature = "tokio")]
    pub(crate) async fn wait_async(&self) -> Result<(), Error> {
        loop {
            // A fresh watch per round: made before the check, so nothing is
            // missed, and readable only for changes after it.
            let Some(fd) = self.watch()? else {
                return Ok(());
            };
            if !self.populated()? {
                return Ok(());
            }
            let watch = pidkit_pidfd::AsyncReadable::from_fd(fd).map_err(|e| {
                crate::error::io_context(
                    format!(
                        "registering the inotify watch of {} with tokio",
                        self.dir.display()
                    ),
                    e,
                )
            })?;
            watch.readable().await.map_err(|e| {
                crate::error::io_context(
                    format!("waiting on the inotify watch of {}", self.dir.display()),
                    e,
                )
            })?;
        }
    }

    /// Removes the cgroup and any cgroups below it; gone already is fine.
    pub(crate) fn remove(&self) -> Result<(), Error> {
        remove_tree(&self.dir)
    }
}

fn remove_tree(dir: &Path) -> Result<(), Error> {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.filter_map(Result::ok) {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path())?;
            }
        }
    }
    match fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(cg_err("remove", dir, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HYBRID: &str = "\
25 30 0:23 / /sys rw,nosuid shared:7 - sysfs sysfs rw
31 25 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec shared:10 - cgroup2 cgroup2 rw,nsdelegate
32 25 0:28 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,xattr,name=systemd
";

    #[test]
    fn finds_the_cgroup2_mount_beside_v1() {
        let (m, root) = cgroup2_mount(HYBRID).unwrap();
        assert_eq!(m, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(root, "/");
        assert_eq!(
            cgroup2_mount("25 30 0:23 / /sys rw - sysfs sysfs rw\n"),
            None
        );
    }

    #[test]
    fn names_the_tree_as_proc_does() {
        let mount = (PathBuf::from("/sys/fs/cgroup/unified"), "/".to_owned());
        let t = CgroupTree::at(&mount, "/sys/fs/cgroup/unified/a/pidkit-1-0".into());
        assert_eq!(t.rel, "/a/pidkit-1-0");
        let bound = (PathBuf::from("/cg"), "/outer".to_owned());
        let t = CgroupTree::at(&bound, "/cg/pidkit-1-0".into());
        assert_eq!(t.rel, "/outer/pidkit-1-0");
    }

    #[test]
    fn unescapes_mount_points() {
        let line = "31 25 0:27 / /mnt/my\\040cg rw - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup2_mount(line).unwrap().0, Path::new("/mnt/my cg"));
        assert_eq!(unescape("a\\134b\\9"), "a\\b\\9");
    }

    #[test]
    fn reads_cgroup_files() {
        assert_eq!(
            v2_path("12:pids:/x\n0::/user.slice/a\n"),
            Some("/user.slice/a")
        );
        assert_eq!(v2_path("12:pids:/x\n"), None);
        assert_eq!(populated_in("populated 1\nfrozen 0\n"), Some(true));
        assert_eq!(populated_in("populated 0\nfrozen 0\n"), Some(false));
        assert_eq!(populated_in("frozen 0\n"), None);
        assert_eq!(parse_procs("12\n34\n"), Ok(vec![12, 34]));
        assert_eq!(parse_procs("12\nx\n"), Err("x"));
        assert_eq!(parse_procs("0\n12\n0\n"), Ok(vec![12]));
        assert_eq!(parse_procs("-1\n"), Err("-1"));
    }

    #[test]
    fn error_messages_name_the_path() {
        let e = CgroupTree::adopt(Path::new("/proc/self")).unwrap_err();
        assert_eq!(e.to_string(), "cannot adopt cgroup /proc/self");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = CgroupTree::adopt(Path::new("/nonexistent/cg")).unwrap_err();
        assert_eq!(e.to_string(), "cannot adopt cgroup /nonexistent/cg");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = Error::BadContent {
            path: "/sys/fs/cgroup/x/cgroup.events".into(),
            content: "populated 2".into(),
        };
        assert_eq!(
            e.to_string(),
            "unexpected content in /sys/fs/cgroup/x/cgroup.events: \"populated 2\""
        );
        assert_eq!(e.kind(), ErrorKind::InvalidData);
        let e = cg_err(
            "remove",
            Path::new("/sys/fs/cgroup/x"),
            io::Error::from_raw_os_error(16),
        );
        assert_eq!(e.to_string(), "cannot remove cgroup /sys/fs/cgroup/x");
        assert!(std::error::Error::source(&e).is_some());
        let e = Error::TreeUnavailable {
            reason: "cannot create cgroup /sys/fs/cgroup/x (read-only)".into(),
        };
        assert_eq!(
            e.to_string(),
            "no cgroup v2 process tree here: cannot create cgroup /sys/fs/cgroup/x (read-only)"
        );
        assert_eq!(e.kind(), ErrorKind::Unsupported);
    }

    #[test]
    fn a_missing_parent_is_a_refusal_naming_it() {
        match CgroupTree::create(Some(Path::new("/nonexistent/parent"))) {
            Err(CreateError::Refused(r)) => assert!(r.contains("/nonexistent/parent"), "{r}"),
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in ".{0,200}") {
            let _ = cgroup2_mount(&text);
            let _ = v2_path(&text);
            let _ = populated_in(&text);
            let _ = parse_procs(&text);
            let _ = unescape(&text);
        }

        #[test]
        fn procs_round_trip_without_the_unnamed(pids in proptest::collection::vec(0u32..5, 0..20)) {
            let text: String = pids.iter().map(|p| format!("{p}\n")).collect();
            let named: Vec<u32> = pids.iter().copied().filter(|&p| p > 0).collect();
            prop_assert_eq!(parse_procs(&text), Ok(named));
        }
    }
}
