//! Mounting file systems for a test (read-only, tiny, bind mounts) inside a
//! private mount namespace, so the machine's mounts are never touched.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::ChildGuard;

/// Environment variable (set to the test's name) that tells a test binary
/// re-executed by [`run_in_mount_namespace`] that it runs inside the namespace.
pub const MOUNT_NS_ENV: &str = "PIDKIT_TESTKIT_MOUNT_NS";

/// Runs `body` in a fresh process of this test binary inside a private mount
/// namespace (`unshare --mount --propagation private`), where the body may
/// mount file systems without affecting the machine. `test_name` is the
/// test's name as the harness lists it; [`MOUNT_NS_ENV`] tells the re-run it
/// is inside. Needs root; returns `false` (after saying why) when that is
/// missing outside CI.
pub fn run_in_mount_namespace(test_name: &str, body: impl FnOnce()) -> bool {
    if std::env::var(MOUNT_NS_ENV).is_ok_and(|v| v == test_name) {
        body();
        return true;
    }
    if !crate::require(
        crate::is_root(),
        "root, to mount file systems in a private mount namespace",
    ) {
        return false;
    }
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private"])
        .args(crate::this_test_binary())
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(MOUNT_NS_ENV, test_name)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (status, out) = crate::run_with_limit(cmd, Duration::from_secs(60));
    let text = format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        status.success(),
        "mount-namespace run of {test_name} failed: {status}\n{text}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "mount-namespace run of {test_name} did not run exactly one test\n{text}"
    );
    true
}

/// Runs `mount` with `args`, panicking unless it succeeds.
pub fn mount(args: &[&str]) {
    let status = ChildGuard::spawn(Command::new("mount").args(args)).wait();
    assert!(status.success(), "mount {args:?}: {status}");
}

/// Unmounts `path`, panicking unless it succeeds.
pub fn umount(path: impl AsRef<Path>) {
    let path = path.as_ref();
    let status = ChildGuard::spawn(Command::new("umount").arg(path)).wait();
    assert!(status.success(), "umount {}: {status}", path.display());
}
