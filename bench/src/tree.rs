//! Killing a whole process tree of a thousand processes: from
//! `Tree::kill_tree(KILL)` to `Tree::wait_tree` returning, against the same
//! done by hand (a `cgroup.kill` write, then an inotify loop on
//! `cgroup.events` until "populated 0").

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use pidkit_monitor::{Mechanism, Monitor, Signal, TreeOptions};
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fs::inotify;

use crate::measure::interleave;
use crate::{Config, Row};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Processes per tree: the root shell and its sleeps.
const N: usize = 1000;

/// A shell that starts `N - 1` sleeps and waits.
fn tree_cmd() -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "i=1; while [ $i -lt {N} ]; do sleep 1000 & i=$((i + 1)); done; wait"
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Waits until `dir` holds all `N` processes (setup, not measured).
fn until_full(dir: &Path) {
    let procs = dir.join("cgroup.procs");
    while fs::read_to_string(&procs).map_or(0, |t| t.lines().count()) < N {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

fn populated(dir: &Path) -> bool {
    fs::read_to_string(dir.join("cgroup.events"))
        .map(|t| t.lines().any(|l| l == "populated 1"))
        .unwrap_or(false)
}

pub(crate) fn rows(cfg: &Config) -> Result<Vec<Row>> {
    let monitor = Monitor::global();
    let options = TreeOptions::new().mechanism(Mechanism::Cgroup);
    let probe = match monitor.start_tree(&mut Command::new("true"), &options) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("!!! tree rows not measured: {e}");
            return Ok(Vec::new());
        }
    };
    probe.wait_tree()?;
    let parent = probe
        .cgroup()
        .and_then(Path::parent)
        .ok_or("a cgroup tree has a parent directory")?
        .to_owned();

    let mut via_tree = || -> f64 {
        let tree = monitor
            .start_tree(&mut tree_cmd(), &options)
            .expect("start_tree");
        until_full(tree.cgroup().expect("a cgroup tree"));
        let t0 = Instant::now();
        tree.kill_tree(Signal::KILL).expect("kill_tree");
        tree.wait_tree().expect("wait_tree");
        let t = t0.elapsed();
        tree.root().expect("root").wait().expect("root's exit");
        t.as_nanos() as f64
    };

    let mut round = 0u32;
    let mut raw = || -> f64 {
        round += 1;
        let dir = parent.join(format!("pidkit-bench-raw-{}-{round}", std::process::id()));
        fs::create_dir(&dir).expect("mkdir cgroup");
        let procs = fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))
            .expect("open cgroup.procs");
        let mut cmd = tree_cmd();
        pidkit_pidfd::low_level::join_cgroup_before_exec(&mut cmd, procs.into());
        let mut child = cmd.spawn().expect("spawn");
        until_full(&dir);
        let ino = inotify::init(inotify::CreateFlags::CLOEXEC).expect("inotify");
        inotify::add_watch(&ino, dir.join("cgroup.events"), inotify::WatchFlags::MODIFY)
            .expect("watch");
        let mut buf = [0u8; 256];
        let t0 = Instant::now();
        fs::write(dir.join("cgroup.kill"), b"1").expect("cgroup.kill");
        while populated(&dir) {
            let mut fds = [PollFd::new(&ino, PollFlags::IN)];
            poll(&mut fds, None).expect("poll");
            rustix::io::read(&ino, &mut buf).expect("read inotify");
        }
        let t = t0.elapsed();
        child.wait().expect("wait");
        fs::remove_dir(&dir).expect("rmdir cgroup");
        t.as_nanos() as f64
    };

    let n = cfg.samples(10);
    let (a, b) = interleave(cfg.budget(5.0), n, n, &mut via_tree, &mut raw);
    Ok(vec![
        Row::new(
            "process tree",
            "kill_tree(KILL) → wait_tree, 1,000 processes vs raw cgroup.kill + inotify",
            a,
            b,
        )
        .latency(),
    ])
}
