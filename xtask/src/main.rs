//! `cargo xtask`: the pidkit repository's tasks (tests, lints, packaging,
//! benchmarks, the kernel matrix), written in Rust. `cargo xtask help` lists
//! them with their flags (from [`flags`]).
//!
//! The steps of `cargo xtask test`, by the names its summary shows (`*`: a
//! variant):
//!
//! 1. `fmt`: `cargo fmt --all --check`.
//! 2. `clippy`: `cargo clippy --workspace --all-targets -- -D warnings`.
//! 3. `tests (*)`: `cargo nextest run --workspace --all-targets` (profile `ci`
//!    when CI=true; `.config/nextest.toml`), or `cargo test` without
//!    cargo-nextest; `PIDKIT_SANDBOX=none`.
//! 4. `doc tests`: `cargo test --workspace --doc` (nextest runs none).
//! 5. `build seccomp runner`, then `tests (*, sandbox=*)`: the suite (all
//!    targets but benches) under a seccomp filter on the pidfd system calls,
//!    with cargo's target runner `pidkit-seccomp-exec enosys|eperm`
//!    (testkit/src/bin); and `tests (hidden feature: *)`: the suite once with
//!    each optional kernel feature hidden through `PIDKIT_HIDE_FEATURES`.
//! 6. `doc`: `cargo doc --workspace --no-deps` with `RUSTDOCFLAGS=-D warnings`.
//! 7. `package`: `cargo package` of every publishable member, verified.
//! 8. `fuzz` (with `--fuzz`): `cargo test --release -- fuzz` with many
//!    proptest cases, each fuzz target bounded by `PIDKIT_FUZZ_SECONDS`.
//! 9. `setup in a clean Debian root`: `cargo xtask setup` run in a fresh
//!    debootstrap root, where it must report the missing tools and install
//!    one with the root's apt ([`cross`]).
//! 10. `cross: *`: check and clippy of the library crates for aarch64, i686
//!     and powerpc64le; the pidfd and pidhandle suites under qemu-user for
//!     aarch64 and i686 ([`cross`]).
//! 11. `matrix: *`: the kernel matrix ([`matrix`]).
//!
//! Before the steps, [`setup`] finds the tools they need and, as root,
//! installs the missing ones (`cargo xtask setup` alone).
//!
//! `--quick` skips 5, 6, 9, 10 and 11, `--no-sandbox` skips 5, `--no-cross`
//! skips 9 and 10, `--no-matrix` skips 11.
//! Every command runs in a process group of its own under a time limit ([`exec`]).

#![forbid(unsafe_code)]

mod bench;
mod cross;
mod exec;
mod flags;
mod matrix;
mod peers;
mod report;
mod setup;
mod tasks;
mod workspace;

use std::process::ExitCode;

use flags::XtaskCmd;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let no_task = args.is_empty();
    let flags = match flags::parse(args) {
        Ok(f) => f,
        Err(e) if e.is_help() => {
            println!("{e}");
            return ExitCode::SUCCESS;
        }
        Err(e) if no_task => {
            let help = flags::parse(vec!["--help".into()]).err();
            eprintln!("{}", help.map(|h| h.to_string()).unwrap_or_default());
            eprintln!("cargo xtask: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("cargo xtask: {e}\nRun `cargo xtask help` for usage.");
            return ExitCode::from(2);
        }
    };
    let budget = |minutes| match flags::budget(minutes) {
        Ok(b) => Ok(b),
        Err(e) => {
            eprintln!("cargo xtask: {e}");
            Err(ExitCode::from(2))
        }
    };
    exec::forward_signals();
    let run = || -> Result<ExitCode, ExitCode> {
        Ok(match &flags.subcommand {
            XtaskCmd::Test(t) => tasks::test(t, budget(t.budget)?),
            XtaskCmd::Lint(l) => tasks::lint(budget(l.budget)?),
            XtaskCmd::Package(p) => tasks::package_only(budget(p.budget)?),
            XtaskCmd::Bench(b) => bench::run(b),
            XtaskCmd::Setup(s) if s.clean_root => crate::cross::clean_root_task(budget(None)?),
            XtaskCmd::Setup(s) => setup::run_task(&s.tool, s.check),
            XtaskCmd::Cross(c) => cross::run_task(&c.target, budget(c.budget)?),
            XtaskCmd::Matrix(m) => matrix::run_task(&m.kernel, &m.nextest_args, budget(m.budget)?),
        })
    };
    let code = run().unwrap_or_else(|code| code);
    exec::exit_if_stopped();
    code
}
