//! `cargo xtask test`, `lint` and `package`: the steps and how they are combined.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::exec::Cmd;
use crate::flags;
use crate::report::Report;
use crate::setup::{self, Need};
use crate::workspace::{self, Metadata};

const MIN: u64 = 60;
/// Time limits per step (the task's overall budget can cut them further).
const FMT_LIMIT: Duration = Duration::from_secs(5 * MIN);
const CLIPPY_LIMIT: Duration = Duration::from_secs(20 * MIN);
const TEST_LIMIT: Duration = Duration::from_secs(15 * MIN);
const BUILD_LIMIT: Duration = Duration::from_secs(10 * MIN);
const DOC_LIMIT: Duration = Duration::from_secs(15 * MIN);
const PACKAGE_LIMIT: Duration = Duration::from_secs(20 * MIN);
const FUZZ_LIMIT: Duration = Duration::from_secs(20 * MIN);

/// The environment variable that tells tests which sandbox they run in.
pub(crate) const SANDBOX_ENV: &str = "PIDKIT_SANDBOX";
/// The seccomp runner binary (in `testkit/src/bin/`).
const RUNNER_BIN: &str = "pidkit-seccomp-exec";
/// Default number of proptest cases per property in `--fuzz`.
const FUZZ_CASES: &str = "20000";
/// The time budget of each fuzz target in `--fuzz`, in seconds
/// (`PIDKIT_FUZZ_SECONDS`, which `testkit::fuzz::run` honours: a target stops
/// drawing cases when it is used up).
const FUZZ_TARGET_SECONDS: &str = "60";

/// A seccomp sandbox mode of the test suite (see `pidkit-seccomp-exec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sandbox {
    /// pidfd system calls fail with ENOSYS, as on a kernel without them.
    Enosys,
    /// pidfd system calls fail with EPERM, as under container seccomp profiles.
    Eperm,
}

impl Sandbox {
    fn name(self) -> &'static str {
        match self {
            Sandbox::Enosys => "enosys",
            Sandbox::Eperm => "eperm",
        }
    }
}

/// `cargo xtask test`.
pub(crate) fn test(opts: &flags::Test, budget: Duration) -> ExitCode {
    let mut r = Report::new("test", budget);
    let matrix = !(opts.quick || opts.no_matrix);
    let cross = !(opts.quick || opts.no_cross);
    let mut needs = vec![Need::Build, Need::Lint, Need::Tests];
    if matrix {
        needs.push(Need::Matrix);
    }
    if cross {
        needs.extend([Need::Cross, Need::CleanRoot]);
    }
    let setup = setup::ensure(&needs);
    let nextest = workspace::nextest_version();
    match &nextest {
        Some(v) => println!("xtask test: using {v}"),
        None if workspace::in_ci() => {
            println!(
                "xtask test: WARNING: cargo-nextest is not installed; falling back to cargo test"
            )
        }
        None => println!("xtask test: cargo-nextest is not installed; using cargo test"),
    }
    let nextest = nextest.is_some();

    fmt(&mut r, &setup);
    clippy(&mut r, &setup);
    util_linux(&mut r);
    tests(&mut r, &setup, nextest, None);
    doctests(&mut r);

    let sandbox_skip = if opts.quick {
        Some("--quick")
    } else if opts.no_sandbox {
        Some("--no-sandbox")
    } else {
        None
    };
    match sandbox_skip {
        Some(why) => {
            for mode in [Sandbox::Enosys, Sandbox::Eperm] {
                r.skip(&sandbox_step_name(nextest, mode), why);
            }
        }
        None => {
            let runner = build_runner(&mut r);
            for mode in [Sandbox::Enosys, Sandbox::Eperm] {
                match &runner {
                    Some(path) => tests(&mut r, &setup, nextest, Some((mode, path))),
                    None => {
                        let name = sandbox_step_name(nextest, mode);
                        let started = r.begin(&name);
                        r.record(
                            &name,
                            started,
                            Err("the seccomp runner did not build".into()),
                        );
                    }
                }
            }
        }
    }

    for feature in HIDDEN_FEATURES {
        let name = format!("tests (hidden feature: {feature})");
        if let Some(why) = sandbox_skip {
            r.skip(&name, why);
        } else {
            hidden_feature(&mut r, &setup, nextest, feature);
        }
    }

    if opts.quick {
        r.skip("doc", "--quick");
    } else {
        docs(&mut r);
    }
    package(&mut r);
    if opts.fuzz {
        fuzz(&mut r);
    }
    if cross {
        crate::cross::clean_root(&mut r, &setup);
        crate::cross::run(&mut r, &[], &setup);
    } else {
        let why = if opts.quick { "--quick" } else { "--no-cross" };
        r.skip("setup in a clean Debian root", why);
        for t in crate::cross::TARGETS {
            r.skip(&format!("cross: {} check, clippy", t.triple), why);
            if t.run.is_some() {
                r.skip(&format!("cross: {} tests under qemu-user", t.triple), why);
            }
        }
    }
    if !matrix {
        let why = if opts.quick { "--quick" } else { "--no-matrix" };
        for k in crate::matrix::KERNELS {
            r.skip(&k.step_name(), why);
        }
    } else {
        crate::matrix::run(&mut r, &[], &[]);
    }
    r.finish()
}

/// `cargo xtask lint`: formatting, clippy and the documentation build.
pub(crate) fn lint(budget: Duration) -> ExitCode {
    let setup = setup::ensure(&[Need::Build, Need::Lint]);
    let mut r = Report::new("lint", budget);
    fmt(&mut r, &setup);
    clippy(&mut r, &setup);
    docs(&mut r);
    r.finish()
}

/// `cargo xtask package`: the packaging step alone.
pub(crate) fn package_only(budget: Duration) -> ExitCode {
    let mut r = Report::new("package", budget);
    package(&mut r);
    r.finish()
}

/// Records step `name` as failed, with the command that installs what it
/// lacks, when `setup` left a tool for `need` missing.
fn blocked(r: &mut Report, name: &str, setup: &setup::Setup, need: Need) -> bool {
    match setup.missing_for(need) {
        Ok(()) => false,
        Err(why) => {
            let started = r.begin(name);
            r.record(name, started, Err(why));
            true
        }
    }
}

fn fmt(r: &mut Report, setup: &setup::Setup) {
    if blocked(r, "fmt", setup, Need::Lint) {
        return;
    }
    r.step(
        "fmt",
        Cmd::cargo(["fmt", "--all", "--check"]).timeout(FMT_LIMIT),
    );
}

fn clippy(r: &mut Report, setup: &setup::Setup) {
    if blocked(r, "clippy", setup, Need::Lint) {
        return;
    }
    let cmd = Cmd::cargo([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    r.step("clippy", cmd.timeout(CLIPPY_LIMIT));
}

fn sandbox_step_name(nextest: bool, mode: Sandbox) -> String {
    let tool = if nextest { "nextest" } else { "cargo test" };
    format!("tests ({tool}, sandbox={})", mode.name())
}

/// The whole test suite except doc tests; in a sandbox mode every test binary
/// runs under `pidkit-seccomp-exec MODE` as cargo's target runner.
///
/// The sandbox modes leave out the bench targets (`--all-targets` minus
/// `--benches`): benchmarks of pidfd calls have nothing to measure without
/// pidfds, and nextest runs a criterion bench's setup code even to list it, so
/// one bench that cannot start would stop the whole suite from being listed.
fn tests(
    r: &mut Report,
    setup: &setup::Setup,
    nextest: bool,
    sandbox: Option<(Sandbox, &PathBuf)>,
) {
    let mut cmd = suite_cmd(nextest, sandbox.is_none());
    cmd = cmd.timeout(TEST_LIMIT);
    let name = match sandbox {
        None => {
            cmd = cmd.env(SANDBOX_ENV, "none");
            format!("tests ({})", if nextest { "nextest" } else { "cargo test" })
        }
        Some((mode, runner)) => {
            let name = sandbox_step_name(nextest, mode);
            let triple = match workspace::host_triple() {
                Ok(t) => t,
                Err(e) => {
                    let started = r.begin(&name);
                    r.record(&name, started, Err(e));
                    return;
                }
            };
            let runner = format!("{} {}", runner.display(), mode.name());
            cmd = cmd
                .env(workspace::runner_env_var(&triple), runner)
                .env(SANDBOX_ENV, mode.name());
            name
        }
    };
    if !blocked(r, &name, setup, Need::Tests) {
        r.step(&name, cmd);
    }
}

/// The optional pidfd features hidden in turn, by the names pidfd's probe
/// reads from `PIDKIT_HIDE_FEATURES`, so that the crates are shown to behave
/// as documented on kernels older than this one.
const HIDDEN_FEATURES: [&str; 3] = ["pidfs", "get_info", "info_exit"];

/// The whole suite (all targets but benches) with one optional feature hidden.
fn hidden_feature(r: &mut Report, setup: &setup::Setup, nextest: bool, feature: &str) {
    let name = format!("tests (hidden feature: {feature})");
    if blocked(r, &name, setup, Need::Tests) {
        return;
    }
    let cmd = suite_cmd(nextest, false)
        .env(SANDBOX_ENV, "none")
        .env("PIDKIT_HIDE_FEATURES", feature)
        .timeout(TEST_LIMIT);
    r.step(&name, cmd);
}

/// Where Debian sid's util-linux was unpacked for the interop tests, once
/// [`util_linux`] has fetched it.
static UTIL_LINUX_ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// The environment variable that tells the interop tests where util-linux
/// 2.42's `getino` and `waitpid` are (a root with `usr/bin` and `usr/lib64`).
const UTIL_LINUX_ENV: &str = "PIDKIT_UTIL_LINUX_ROOT";

/// Fetches util-linux 2.42 from Debian sid (cached) for the `PID:inode`
/// interop tests; a failure is this step's, and the tests then fail under
/// CI for want of the tools.
fn util_linux(r: &mut Report) {
    let name = "util-linux 2.42 from Debian sid (PID:inode interop)";
    let started = r.begin(name);
    let root = crate::peers::cache_dir().and_then(|c| crate::peers::util_linux_root(&c));
    let result = match root {
        Ok(root) => {
            let shown = format!("{UTIL_LINUX_ENV}={}", root.display());
            let _ = UTIL_LINUX_ROOT.set(root);
            Ok(shown)
        }
        Err(e) => Err(e),
    };
    r.record(name, started, result);
}

/// The command that runs the test suite (no doc tests): nextest when it is
/// installed (profile `ci` under CI), else `cargo test`; with the bench
/// targets only when `with_benches`.
fn suite_cmd(nextest: bool, with_benches: bool) -> Cmd {
    let targets: &[&str] = if with_benches {
        &["--all-targets"]
    } else {
        &["--lib", "--bins", "--tests", "--examples"]
    };
    let cmd = if nextest {
        let c = Cmd::cargo(["nextest", "run", "--workspace"])
            .args(targets)
            .arg("--no-fail-fast");
        if workspace::in_ci() {
            c.args(["--profile", "ci"])
        } else {
            c
        }
    } else {
        Cmd::cargo(["test", "--workspace"])
            .args(targets)
            .arg("--no-fail-fast")
    };
    match UTIL_LINUX_ROOT.get() {
        Some(root) => cmd.env(UTIL_LINUX_ENV, root),
        None => cmd,
    }
}

/// Doc tests, which nextest does not run.
fn doctests(r: &mut Report) {
    let cmd = Cmd::cargo(["test", "--workspace", "--doc", "--no-fail-fast"]);
    r.step(
        "doc tests",
        cmd.env(SANDBOX_ENV, "none").timeout(TEST_LIMIT),
    );
}

/// Builds `pidkit-seccomp-exec` and returns its path.
fn build_runner(r: &mut Report) -> Option<PathBuf> {
    let name = "build seccomp runner";
    let started = r.begin(name);
    let meta = match workspace::metadata() {
        Ok(m) => m,
        Err(e) => {
            r.record(name, started, Err(e));
            return None;
        }
    };
    let cmd = Cmd::cargo(["build", "--package", "pidkit-testkit", "--bin", RUNNER_BIN]);
    let out = r.exec(cmd.timeout(BUILD_LIMIT));
    if !out.finish.success() {
        r.record(name, started, Err(out.note()));
        return None;
    }
    let path = meta.target_dir.join("debug").join(RUNNER_BIN);
    let result = if !path.is_file() {
        Err(format!("built, but {} is missing", path.display()))
    } else if path.to_string_lossy().chars().any(char::is_whitespace) {
        // Cargo splits a runner given as one string on whitespace.
        Err(format!(
            "the runner path {} holds whitespace; use another target dir",
            path.display()
        ))
    } else {
        Ok(String::new())
    };
    let ok = result.is_ok();
    r.record(name, started, result);
    ok.then_some(path)
}

fn docs(r: &mut Report) {
    let mut flags = std::env::var("RUSTDOCFLAGS").unwrap_or_default();
    if !flags.is_empty() {
        flags.push(' ');
    }
    flags.push_str("-D warnings");
    let cmd = Cmd::cargo(["doc", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", flags);
    r.step("doc", cmd.timeout(DOC_LIMIT));
}

/// Does `cargo package` stderr say that the registry could not be reached?
fn registry_unreachable(stderr: &str) -> Option<&str> {
    const SIGNS: [&str; 8] = [
        "failed to query replaced source registry",
        "failed to update registry",
        "failed to download from",
        "failed to get `",
        "spurious network error",
        "Could not resolve host",
        "Couldn't resolve host",
        "attempting to make an HTTP request, but --offline was specified",
    ];
    stderr
        .lines()
        .find(|l| SIGNS.iter().any(|s| l.contains(s)))
        .map(str::trim)
}

/// Removes cargo's extracted copies of our own packages from earlier
/// packaging runs.
///
/// `cargo package` verifies a crate against its siblings through a temporary
/// local registry under `target/package/`, and cargo extracts those `.crate`
/// files to `$CARGO_HOME/registry/src/-<hash of that path>/` — and reuses an
/// existing extraction of the same name and version. A later run from a clone
/// at the same path would then build against the *old* sources of a sibling.
/// Only directories of local registries (names starting with `-`) and only our
/// own package names are touched.
fn forget_unpacked_siblings(packages: &[String]) {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry").join("src")) else {
        return;
    };
    let Ok(registries) = std::fs::read_dir(&src) else {
        return;
    };
    for reg in registries.flatten() {
        if !reg.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(reg.path()) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if packages.iter().any(|p| name.starts_with(&format!("{p}-"))) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// `cargo package` of every publishable member, verified (each crate built from
/// its packaged sources, dependents against their packaged siblings through
/// cargo's local registry overlay); `--no-verify` only when the registry cannot
/// be reached.
fn package(r: &mut Report) {
    let name = "package";
    let started = r.begin(name);
    let meta: Metadata = match workspace::metadata() {
        Ok(m) => m,
        Err(e) => {
            r.record(name, started, Err(e));
            return;
        }
    };
    if meta.publishable.is_empty() {
        r.record(
            name,
            started,
            Err("no publishable package in the workspace".into()),
        );
        return;
    }
    println!(
        "packaging {} (not packaged, publish = false: {})",
        meta.publishable.join(", "),
        if meta.unpublished.is_empty() {
            "none".to_owned()
        } else {
            meta.unpublished.join(", ")
        }
    );
    forget_unpacked_siblings(&meta.publishable);
    // A target dir of its own, emptied first: cargo never rebuilds a registry
    // crate it has built before, so an old build of a sibling would be reused.
    let package_target = meta.target_dir.join("xtask-package");
    let _ = std::fs::remove_dir_all(&package_target);
    let mut cmd = Cmd::cargo(["package", "--allow-dirty"])
        .env("CARGO_TARGET_DIR", &package_target)
        .timeout(PACKAGE_LIMIT);
    for p in &meta.publishable {
        cmd = cmd.args(["--package", p]);
    }
    if workspace::offline() {
        println!(
            "CARGO_NET_OFFLINE is set: packaging with --no-verify (verifying needs the registry)"
        );
        let out = r.exec(cmd.arg("--no-verify"));
        let result = if out.finish.success() {
            Ok("not verified: offline".to_owned())
        } else {
            Err(out.note())
        };
        r.record(name, started, result);
        return;
    }
    let out = r.exec(cmd.clone().capture_stderr());
    if out.finish.success() {
        r.record(name, started, Ok("verified".into()));
        return;
    }
    let Some(sign) = registry_unreachable(&out.stderr) else {
        r.record(name, started, Err(out.note()));
        return;
    };
    println!("the registry could not be reached ({sign}); packaging again with --no-verify");
    let again = r.exec(cmd.arg("--no-verify"));
    let result = if again.finish.success() {
        Ok("not verified: registry unreachable".to_owned())
    } else {
        Err(again.note())
    };
    r.record(name, started, result);
}

/// Sums the `N passed` counts of libtest's `test result:` lines.
fn passed_count(libtest_stdout: &str) -> u64 {
    libtest_stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("test result: "))
        .filter_map(|l| l.split(". ").nth(1))
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// The summary lines `testkit::fuzz::run` prints, one per fuzz target
/// (`fuzz target NAME: N cases (K seeds) in S s, R cases/s`).
fn fuzz_summaries(libtest_stdout: &str) -> Vec<&str> {
    libtest_stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("fuzz target "))
        .collect()
}

/// The proptest-based fuzz tests (names containing `fuzz`; the fuzz targets
/// are the tests named `fuzz_*`), in release mode with many cases, bounded in
/// time: each target by its own budget (`PIDKIT_FUZZ_SECONDS`), the step by
/// [`FUZZ_LIMIT`].
fn fuzz(r: &mut Report) {
    let name = "fuzz";
    let started = r.begin(name);
    let cases = std::env::var("PROPTEST_CASES").unwrap_or_else(|_| FUZZ_CASES.to_owned());
    let seconds =
        std::env::var("PIDKIT_FUZZ_SECONDS").unwrap_or_else(|_| FUZZ_TARGET_SECONDS.to_owned());
    let cmd = Cmd::cargo([
        "test",
        "--workspace",
        "--release",
        "--lib",
        "--bins",
        "--tests",
    ])
    // --nocapture: the targets' summary lines (cases, cases/s) reach the log.
    .args(["--no-fail-fast", "--", "fuzz", "--nocapture"])
    .env("PROPTEST_CASES", &cases)
    .env("PIDKIT_FUZZ_SECONDS", &seconds)
    .env(SANDBOX_ENV, "none")
    .timeout(FUZZ_LIMIT)
    .capture_stdout();
    let out = r.exec(cmd);
    let ran = passed_count(&out.stdout);
    let targets = fuzz_summaries(&out.stdout);
    let result = if !out.finish.success() {
        Err(out.note())
    } else if ran == 0 {
        Err("no test whose name contains `fuzz` ran".to_owned())
    } else {
        Ok(format!(
            "{ran} fuzz tests, PROPTEST_CASES={cases}, at most {seconds} s per target; {}",
            if targets.is_empty() {
                "no target summaries".to_owned()
            } else {
                targets.join("; ")
            }
        ))
    };
    r.record(name, started, result);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_lacking_a_tool_fails_with_the_command() {
        let unshare = (setup::TOOLS.iter())
            .find(|t| t.name() == "unshare")
            .unwrap();
        let setup = setup::Setup {
            left: setup::Plan::new(&[unshare]),
        };
        let mut r = Report::new("selftest", Duration::from_secs(60));
        assert!(blocked(&mut r, "tests (nextest)", &setup, Need::Tests));
        assert!(!blocked(&mut r, "fmt", &setup, Need::Lint));
        assert_eq!(r.failures(), 1);
        assert!(setup.missing_for(Need::Tests).unwrap_err().contains(
            "as root, run: apt-get update && apt-get install -y --no-install-recommends util-linux"
        ));
    }

    #[test]
    fn libtest_counts() {
        let out = "running 2 tests\ntest a::fuzz_x ... ok\n\
                   test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 5 filtered out\n\
                   test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 3 filtered out\n\
                   test result: ok. 1 passed; 0 failed; 0 ignored\n";
        assert_eq!(passed_count(out), 3);
        assert_eq!(passed_count(""), 0);
    }

    #[test]
    fn target_summary_lines() {
        let out = "running 1 test\n\
                   fuzz target pidfd/fdinfo: 20010 cases (10 seeds) in 0.14 s, 147627 cases/s\n\
                   test info::tests::fuzz_fdinfo ... ok\n";
        assert_eq!(
            fuzz_summaries(out),
            vec!["pidfd/fdinfo: 20010 cases (10 seeds) in 0.14 s, 147627 cases/s"]
        );
        assert!(fuzz_summaries("test result: ok.").is_empty());
    }

    #[test]
    fn registry_signs() {
        let err = "error: failed to verify package tarball\n\nCaused by:\n  \
                   failed to query replaced source registry `crates-io`\n";
        assert!(registry_unreachable(err).is_some());
        assert!(registry_unreachable("error: expected `;`, found `}`").is_none());
    }

    /// In a sandbox mode every test binary must really run under the seccomp
    /// runner: this fails when cargo or nextest ignored the target runner.
    #[test]
    fn sandbox_mode_is_in_effect() {
        let mode = std::env::var(SANDBOX_ENV).unwrap_or_default();
        if mode != "enosys" && mode != "eperm" {
            return;
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let seccomp = status
            .lines()
            .find_map(|l| l.strip_prefix("Seccomp:"))
            .map(str::trim);
        assert_eq!(
            seccomp,
            Some("2"),
            "{SANDBOX_ENV}={mode} but no seccomp filter:\n{status}"
        );
    }
}
