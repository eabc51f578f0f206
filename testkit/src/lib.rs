//! Test support for the pidkit workspace. Not published.
//!
//! Everything here exists so that the tests of the real crates can use real
//! processes without leaking them, fail instead of hanging, and exercise the
//! sandboxes (seccomp filters, PID namespaces) that CI has as root.
//!
//! This crate holds no `unsafe`: seccomp filters are compiled and installed
//! through `seccompiler`, namespaces are entered through util-linux `unshare`.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step must fail the test loudly"
)]

mod assert;
#[cfg(feature = "criterion")]
pub mod bench;
mod child;
mod env;
mod fds;
pub mod fuzz;
pub mod helper;
mod isolate;
mod locks;
mod mount;
mod pidns;
mod procfs;
pub mod raw;
mod seccomp;
mod temp;
mod wait;
mod watchdog;

pub use child::*;
pub use env::*;
pub use fds::*;
pub use isolate::*;
pub use locks::*;
pub use mount::*;
pub use pidns::*;
pub use procfs::*;
pub use seccomp::*;
pub use temp::*;
pub use wait::*;
pub use watchdog::*;
