//! The integration tests of pidkit-pidfile that spawn processes or share
//! the process with one, one binary: pidfiles across real processes
//! (`processes`), a full descriptor table (`exhaustion`), hostile paths and
//! read-only mounts (`hostile_paths`), and the content fuzz targets
//! (`fuzz`). The single-process tests are `tests/basic.rs`.
//!
//! Every test that spawns a process, or checks a lock right after dropping
//! one, takes `testkit::helper::serial`: a process forked by another test
//! thread holds a copy of our lock descriptors until it `exec`s. Bodies that
//! change process-wide state run in processes of their own through
//! `testkit::run_isolated`.
#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed step must fail the test loudly"
)]

mod exhaustion;
mod fuzz;
mod hostile_paths;
mod processes;
