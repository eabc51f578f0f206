//! The integration tests of pidkit-lockfile that spawn processes or share
//! the process with one, one binary: claims across processes and `exec`
//! (`processes`), a full descriptor table (`exhaustion`), and the content
//! fuzz target (`fuzz`). The single-process tests are `tests/basic.rs`.
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
mod processes;
