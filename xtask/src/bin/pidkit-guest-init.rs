//! PID 1 of the kernel-matrix guests (`cargo xtask matrix`): loads the 9p
//! modules the initramfs carries, mounts the host's root file system read-only
//! over virtio-9p with fresh `/proc`, `/sys`, `/dev`, `/tmp` and `/run`, enters
//! it, runs the command line's script with bash, reaps every orphan while it
//! runs, and powers the machine off.
//!
//! It is linked statically (`-C target-feature=+crt-static`) so the initramfs
//! needs nothing else. Settings come from the kernel command line:
//!
//! - `pidkit.script=PATH`: the script to run (a path on the host's file system);
//! - `pidkit.out=PATH`: a host directory shared read-write as the `out` tag,
//!   mounted at the same path, where the script leaves its results.
//!
//! Whatever happens, it ends in a power-off, so QEMU exits; a failure before
//! the script runs is printed to the console with what failed.

#![forbid(unsafe_code)]

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use rustix::fs::{CWD, Mode, OFlags};
use rustix::mount::{MountFlags, mount};
use rustix::process::{WaitOptions, chdir, chroot, wait};
use rustix::system::{RebootCommand, finit_module, reboot};

/// Where the host's root is mounted before the init enters it.
const NEWROOT: &str = "/newroot";

fn main() {
    let result = run();
    match &result {
        Ok(code) => say(&format!("script exited with status {code}")),
        Err(e) => say(&format!("FAILED: {e}")),
    }
    rustix::fs::sync();
    // Power off; should that fail, there is nothing left but to stop.
    let _ = reboot(RebootCommand::PowerOff);
    loop {
        std::thread::park();
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "pidkit-guest-init: {line}");
    let _ = out.flush();
}

fn mount_fs(
    source: &str,
    target: &str,
    fstype: &str,
    flags: MountFlags,
    data: &str,
) -> Result<(), String> {
    let _ = fs::create_dir_all(target);
    let data = CString::new(data).map_err(|e| e.to_string())?;
    mount(source, target, fstype, flags, Some(data.as_c_str()))
        .map_err(|e| format!("mount -t {fstype} {source} {target} ({data:?}): {e}"))
}

/// Loads the modules listed, in order, in `/modules.order`; a module already
/// present (`EEXIST`) is fine.
fn load_modules() -> Result<(), String> {
    let order = fs::read_to_string("/modules.order").unwrap_or_default();
    for name in order.lines().filter(|l| !l.trim().is_empty()) {
        let path = format!("/modules/{name}");
        let fd = rustix::fs::open(
            path.as_str(),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("open {path}: {e}"))?;
        match finit_module(&fd, c"", 0) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(format!("finit_module {path}: {e}")),
        }
    }
    Ok(())
}

fn cmdline_value(cmdline: &str, key: &str) -> Option<String> {
    cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .map(str::to_owned)
}

fn run() -> Result<i32, String> {
    let none = MountFlags::empty();
    mount_fs("proc", "/proc", "proc", none, "")?;
    mount_fs("devtmpfs", "/dev", "devtmpfs", none, "")?;
    let cmdline = fs::read_to_string("/proc/cmdline").map_err(|e| format!("/proc/cmdline: {e}"))?;
    let script = cmdline_value(&cmdline, "pidkit.script")
        .ok_or("no pidkit.script= on the kernel command line")?;
    let out =
        cmdline_value(&cmdline, "pidkit.out").ok_or("no pidkit.out= on the kernel command line")?;
    load_modules()?;

    let p9 = "trans=virtio,version=9p2000.L,msize=262144";
    mount_fs(
        "hostroot",
        NEWROOT,
        "9p",
        MountFlags::RDONLY,
        &format!("{p9},cache=loose"),
    )
    .or_else(|_| mount_fs("hostroot", NEWROOT, "9p", MountFlags::RDONLY, p9))?;
    let inside = |p: &str| format!("{NEWROOT}{p}");
    mount_fs("proc", &inside("/proc"), "proc", none, "")?;
    mount_fs("sysfs", &inside("/sys"), "sysfs", none, "")?;
    // The process-tree tests need a cgroup v2; a kernel without it lets
    // them fail with the reason, so the boot goes on.
    let _ = mount_fs("cgroup2", &inside("/sys/fs/cgroup"), "cgroup2", none, "");
    mount_fs("devtmpfs", &inside("/dev"), "devtmpfs", none, "")?;
    mount_fs(
        "devpts",
        &inside("/dev/pts"),
        "devpts",
        none,
        "ptmxmode=0666",
    )?;
    mount_fs("tmpfs", &inside("/dev/shm"), "tmpfs", none, "mode=1777")?;
    mount_fs("tmpfs", &inside("/tmp"), "tmpfs", none, "mode=1777")?;
    mount_fs("tmpfs", &inside("/run"), "tmpfs", none, "mode=0755")?;
    mount_fs("tmpfs", &inside("/var/tmp"), "tmpfs", none, "mode=1777")?;
    mount_fs("out", &inside(&out), "9p", none, p9)?;
    chroot(NEWROOT).map_err(|e| format!("chroot {NEWROOT}: {e}"))?;
    chdir("/").map_err(|e| format!("chdir /: {e}"))?;
    let _ = rustix::fs::mkdirat(CWD, "/tmp/home", Mode::from_raw_mode(0o755));

    if !Path::new(&script).exists() {
        return Err(format!("script {script} not found in the guest"));
    }
    let child = Command::new("/bin/bash")
        .arg(&script)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("TERM", "dumb")
        .env("PIDKIT_MATRIX_OUT", &out)
        .spawn()
        .map_err(|e| format!("spawn bash {script}: {e}"))?;
    let script_pid = child.id();
    // Reap everything: the script and every orphan handed to PID 1.
    loop {
        match wait(WaitOptions::empty()) {
            Ok(Some((pid, status))) if pid.as_raw_nonzero().get() as u32 == script_pid => {
                return Ok(status
                    .exit_status()
                    .unwrap_or_else(|| 128 + status.terminating_signal().unwrap_or(0)));
            }
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(format!("wait: {e}")),
        }
    }
}
