//! The integration tests of pidkit-pidfd, one binary: the API on real
//! processes (`api`), and a full descriptor table (`exhaustion`, whose bodies
//! run in processes of their own through `testkit::run_isolated`).

mod api;
mod exhaustion;
mod from_fd;
