//! Helpers shared by the integration tests of this crate. The helper
//! process machinery, `/proc` readers and mount helpers live in
//! `testkit::helper`; this module names this crate's environment variables
//! and keeps what is specific to it.
#![allow(
    dead_code,
    unused_imports,
    reason = "each test binary uses a different subset"
)]
#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step must fail the test loudly"
)]

use camino::Utf8PathBuf;
use testkit::helper::Roles;

pub(crate) use testkit::helper::{
    Helper, comm, commands, fd_lock, flock_modes, mount, process_holds_flock, reply, serial,
    umount, wait_until,
};

/// Set (to the role name) in a helper process started through [`ROLES`].
pub(crate) const ROLE_ENV: &str = "PIDKIT_PIDFILE_TEST_ROLE";
/// This crate's helper processes.
pub(crate) const ROLES: Roles = Roles::new(ROLE_ENV);
/// Set (to the test name) in a test body re-executed in a private mount namespace.
pub(crate) const MOUNT_NS_ENV: &str = "PIDKIT_PIDFILE_TEST_MOUNT_NS";

/// A temporary directory and a lock file path inside it.
pub(crate) fn temp_lock(name: &str) -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::try_from(dir.path().join(name)).unwrap();
    (dir, path)
}

/// Runs `body` in a fresh process of this test binary inside a private mount
/// namespace ([`testkit::helper::run_in_mount_namespace`] with
/// [`MOUNT_NS_ENV`]). Needs root; returns `false` (after saying why) when
/// that is missing outside CI.
pub(crate) fn run_in_mount_namespace(test_name: &str, body: impl FnOnce()) -> bool {
    testkit::helper::run_in_mount_namespace(MOUNT_NS_ENV, test_name, body)
}
