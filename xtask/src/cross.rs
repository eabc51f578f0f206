//! The other architectures (`cross: *` steps) and the setup check in a
//! clean Debian root (`setup in a clean Debian root`).
//!
//! For each of [`TARGETS`]: `rustup target add`, then `cargo check` and
//! `cargo clippy --all-targets --all-features -D warnings` of the five
//! library crates for that target, all targets in one target directory of
//! their own (`target/cross`), so each builds its dependencies once. The
//! targets with a runner then run the pidfd and pidhandle suites under
//! Debian's qemu-user; the tests that cannot run there are in
//! [`NOT_UNDER_QEMU`], each with its reason, and the step prints them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::exec::Cmd;
use crate::report::Report;
use crate::setup::{self, Need};
use crate::workspace;

/// One architecture the crates are kept building for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    /// The target triple.
    pub(crate) triple: &'static str,
    /// The C compiler that links for it, and the qemu-user program and
    /// sysroot that run its binaries; `None`: checked and linted only.
    pub(crate) run: Option<(&'static str, &'static str, &'static str)>,
}

/// The targets besides the host.
pub(crate) const TARGETS: [Target; 3] = [
    Target {
        triple: "aarch64-unknown-linux-gnu",
        run: Some((
            "aarch64-linux-gnu-gcc",
            "qemu-aarch64",
            "/usr/aarch64-linux-gnu",
        )),
    },
    Target {
        triple: "i686-unknown-linux-gnu",
        run: Some(("i686-linux-gnu-gcc", "qemu-i386", "/usr/i686-linux-gnu")),
    },
    // Another ioctl encoding (direction bits 29-31): checked and linted.
    Target {
        triple: "powerpc64le-unknown-linux-gnu",
        run: None,
    },
];

/// The crates checked and linted for every target.
const CRATES: [&str; 5] = [
    "pidkit-pidfd",
    "pidkit-pidhandle",
    "pidkit-lockfile",
    "pidkit-pidfile",
    "pidkit-monitor",
];

/// The suites run under qemu-user.
const SUITES: [&str; 2] = ["pidkit-pidfd", "pidkit-pidhandle"];

/// Why a test cannot run under qemu-user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// The test installs a seccomp filter.
    Seccomp,
    /// The test reads this process's own `/proc/<pid>/stat`.
    OwnStat,
    /// The test expects the kernel's answer to `PIDFD_GET_INFO`.
    GetInfo,
    /// The test runs Debian's x86-64 util-linux programs.
    HostTools,
}

impl Why {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Why::Seccomp => {
                "qemu-user does not implement seccomp(2) (it answers ENOSYS), so the \
                 test's seccomp filter cannot be installed"
            }
            Why::OwnStat => {
                "qemu-user answers a process's reads of its own /proc/<pid>/stat with a \
                 made-up line (state 0, most fields 0), which pidhandle rightly rejects"
            }
            Why::GetInfo => {
                "qemu-user passes on only the ioctls it knows, and Debian's QEMU does not \
                 know PIDFD_GET_INFO (Linux 6.13), so get_info is absent there although \
                 the kernel has it"
            }
            Why::HostTools => {
                "the test runs Debian sid's amd64 util-linux (getino, waitpid) against \
                 this process, which an emulated aarch64 or i686 build cannot share"
            }
        }
    }
}

/// The tests of [`SUITES`] that cannot run under qemu-user: package, test
/// name (as nextest shows it) and why. The step prints each one, and checks
/// that each still names a test.
pub(crate) const NOT_UNDER_QEMU: &[(&str, &str, Why)] = &[
    (
        "pidkit-pidfd",
        "api::probe_finds_every_feature_on_this_kernel",
        Why::GetInfo,
    ),
    (
        "pidkit-pidfd",
        "api::probe_reports_absent_under_seccomp_enosys",
        Why::Seccomp,
    ),
    (
        "pidkit-pidfd",
        "api::probe_reports_absent_under_seccomp_eperm",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "proc::tests::reads_ourselves",
        Why::OwnStat,
    ),
    (
        "pidkit-pidhandle",
        "api::every_path_agrees_without_pidfs",
        Why::OwnStat,
    ),
    (
        "pidkit-pidhandle",
        "api::command_names_with_spaces_and_parentheses_fallback",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "api::every_path_agrees_under_seccomp_enosys",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "api::every_path_agrees_under_seccomp_eperm",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "api::pidfs_only_text_under_seccomp",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "async_wait::a_waiter_made_with_a_full_fd_table_fallback",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "async_wait::wait_exited_async_under_seccomp_enosys",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "async_wait::wait_exited_async_under_seccomp_eperm",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "resources::every_operation_with_0_to_3_free_fds_fallback",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "resources::first_use_with_a_full_fd_table_fallback",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "resources::hundred_thousand_handles_leak_nothing_fallback",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "reuse::concurrent_kills_never_use_a_reused_fd_number_fallback",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "reuse::forced_pid_reuse_fallback_enosys",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "reuse::forced_pid_reuse_fallback_eperm",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "reuse::hidden_processes_are_not_gone_fallback",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "reuse::no_fd_leaks_fallback",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "peer::python_peer_without_pidfds",
        Why::Seccomp,
    ),
    (
        "pidkit-pidhandle",
        "util_linux::getino_output_restores_to_the_same_process",
        Why::HostTools,
    ),
    (
        "pidkit-pidhandle",
        "util_linux::waitpid_takes_a_pidkit_pair_and_returns_when_the_process_exits",
        Why::HostTools,
    ),
    (
        "pidkit-pidhandle",
        "util_linux::stale_pair_is_refused_by_waitpid_and_pidkit",
        Why::HostTools,
    ),
];

const CHECK_LIMIT: Duration = Duration::from_secs(15 * 60);
const TEST_LIMIT: Duration = Duration::from_secs(20 * 60);

/// The environment variable cargo reads for `triple`'s `what` (LINKER, RUNNER).
fn target_env(triple: &str, what: &str) -> String {
    workspace::runner_env_var(triple).replace("_RUNNER", &format!("_{what}"))
}

/// The nextest filter that selects the tests of `listed`.
pub(crate) fn listed_filter(listed: &[(&str, &str, Why)]) -> Option<String> {
    if listed.is_empty() {
        return None;
    }
    let parts: Vec<String> = (listed.iter())
        .map(|(p, t, _)| format!("(package({p}) & test(={t}))"))
        .collect();
    Some(parts.join(" | "))
}

/// The tests of `listed` that nextest's JSON test list does not show as
/// matching (a renamed or removed test).
fn stale(listed: &[(&str, &str, Why)], list_json: &str) -> Result<Vec<String>, String> {
    let v: serde_json::Value =
        serde_json::from_str(list_json).map_err(|e| format!("nextest list: not JSON: {e}"))?;
    let suites = v["rust-suites"]
        .as_object()
        .ok_or("nextest list: no rust-suites")?;
    let matching: Vec<(String, String)> = (suites.values())
        .flat_map(|suite| {
            let package = suite["package-name"].as_str().unwrap_or("").to_owned();
            let cases = suite["testcases"].as_object().cloned().unwrap_or_default();
            cases
                .into_iter()
                .filter(|(_, c)| c["filter-match"]["status"] == "matches")
                .map(move |(name, _)| (package.clone(), name))
        })
        .collect();
    Ok((listed.iter())
        .filter(|(p, t, _)| !matching.iter().any(|(mp, mt)| mp == p && mt == t))
        .map(|(p, t, _)| format!("{p} {t}"))
        .collect())
}

fn cross_dir() -> Result<PathBuf, String> {
    Ok(workspace::metadata()?.target_dir.join("cross"))
}

/// Runs the `cross: *` steps for the targets named in `only` (all when empty).
pub(crate) fn run(r: &mut Report, only: &[String], setup: &setup::Setup) {
    let dir = cross_dir();
    for t in TARGETS {
        if !only.is_empty() && !only.iter().any(|o| o == t.triple) {
            continue;
        }
        let checked = check_target(r, t, &dir);
        if t.run.is_some() {
            let name = format!("cross: {} tests under qemu-user", t.triple);
            if !checked {
                let started = r.begin(&name);
                r.record(
                    &name,
                    started,
                    Err("not run: the target could not be added or did not check".into()),
                );
            } else {
                test_target(r, t, &dir, setup);
            }
        }
    }
}

/// `rustup target add`, `cargo check` and `cargo clippy` for one target.
fn check_target(r: &mut Report, t: Target, dir: &Result<PathBuf, String>) -> bool {
    let name = format!("cross: {} check, clippy", t.triple);
    let started = r.begin(&name);
    let dir = match dir {
        Ok(d) => d,
        Err(e) => {
            r.record(&name, started, Err(e.clone()));
            return false;
        }
    };
    let add = Cmd::new("rustup")
        .args(["target", "add", t.triple])
        .timeout(CHECK_LIMIT)
        .capture_stderr();
    let out = r.exec(add);
    if !out.finish.success() {
        // rustup's own `error:` line; the last line when there is none.
        let why = (out.stderr.lines())
            .find(|l| l.trim_start().starts_with("error:"))
            .or_else(|| out.stderr.lines().rev().find(|l| !l.trim().is_empty()));
        r.record(
            &name,
            started,
            Err(format!(
                "rustup could not add the target {}: {}",
                t.triple,
                why.map_or_else(|| out.finish.describe(), |l| l.trim().to_owned())
            )),
        );
        return false;
    }
    let with_crates = |mut c: Cmd| {
        for p in CRATES {
            c = c.args(["--package", p]);
        }
        c.args(["--target", t.triple])
            .env("CARGO_TARGET_DIR", dir)
            .timeout(CHECK_LIMIT)
    };
    let check = with_crates(Cmd::cargo(["check", "--all-features"]));
    let out = r.exec(check);
    if !out.finish.success() {
        r.record(&name, started, Err(format!("cargo check: {}", out.note())));
        return false;
    }
    let clippy = with_crates(Cmd::cargo(["clippy", "--all-targets", "--all-features"]))
        .args(["--", "-D", "warnings"]);
    let out = r.exec(clippy);
    if !out.finish.success() {
        r.record(&name, started, Err(format!("cargo clippy: {}", out.note())));
        return false;
    }
    r.record(&name, started, Ok(String::new()));
    true
}

/// The pidfd and pidhandle suites for `t` under qemu-user.
fn test_target(r: &mut Report, t: Target, dir: &Result<PathBuf, String>, setup: &setup::Setup) {
    let name = format!("cross: {} tests under qemu-user", t.triple);
    let started = r.begin(&name);
    let Some((linker, qemu, sysroot)) = t.run else {
        return;
    };
    let dir = match dir {
        Ok(d) => d,
        Err(e) => {
            r.record(&name, started, Err(e.clone()));
            return;
        }
    };
    if let Err(e) = setup.missing_for(Need::Cross) {
        r.record(&name, started, Err(e));
        return;
    }
    println!(
        "{} tests of {} cannot run under qemu-user, left out:",
        NOT_UNDER_QEMU.len(),
        SUITES.join(" and ")
    );
    for (p, test, why) in NOT_UNDER_QEMU {
        println!("  {p} {test}: {}", why.reason());
    }
    let nextest = |sub: &str| {
        let mut cmd = Cmd::cargo(["nextest", sub]);
        for p in SUITES {
            cmd = cmd.args(["--package", p]);
        }
        cmd.args(["--all-features", "--target", t.triple])
            .args(["--lib", "--tests"])
            .env("CARGO_TARGET_DIR", dir)
            .env(target_env(t.triple, "LINKER"), linker)
            .env(
                target_env(t.triple, "RUNNER"),
                format!("{qemu} -L {sysroot}"),
            )
            .timeout(TEST_LIMIT)
    };
    // Each listed test must still exist, or the list hides nothing real.
    if let Some(f) = listed_filter(NOT_UNDER_QEMU) {
        let list = nextest("list")
            .args(["--message-format", "json", "-E", &f])
            .capture_stdout();
        let out = r.exec(list);
        if !out.finish.success() {
            r.record(&name, started, Err(format!("nextest list: {}", out.note())));
            return;
        }
        match stale(NOT_UNDER_QEMU, &out.stdout) {
            Ok(gone) if gone.is_empty() => {}
            Ok(gone) => {
                let why = format!(
                    "tests listed as not runnable under qemu-user are not in the suite \
                     (xtask/src/cross.rs NOT_UNDER_QEMU): {}",
                    gone.join(", ")
                );
                r.record(&name, started, Err(why));
                return;
            }
            Err(e) => {
                r.record(&name, started, Err(e));
                return;
            }
        }
    }
    let mut cmd = nextest("run").arg("--no-fail-fast");
    if let Some(f) = listed_filter(NOT_UNDER_QEMU) {
        cmd = cmd.args(["-E", &format!("not ({f})")]);
    }
    if workspace::in_ci() {
        cmd = cmd.args(["--profile", "ci"]);
    }
    let cmd = cmd
        // The tests start their own binary again (testkit), under the same runner.
        .env("PIDKIT_TEST_RUNNER", format!("{qemu} -L {sysroot}"))
        .env(crate::tasks::SANDBOX_ENV, "none")
        .timeout(TEST_LIMIT);
    let out = r.exec(cmd);
    let result = if out.finish.success() {
        Ok(format!(
            "{} tests left out (listed above)",
            NOT_UNDER_QEMU.len()
        ))
    } else {
        Err(out.note())
    };
    r.record(&name, started, result);
}

/// `cargo xtask cross`.
pub(crate) fn run_task(only: &[String], budget: Duration) -> ExitCode {
    if let Some(o) = only
        .iter()
        .find(|o| !TARGETS.iter().any(|t| t.triple == o.as_str()))
    {
        eprintln!("cargo xtask cross: --target: not one of the targets: {o}");
        return ExitCode::from(2);
    }
    let setup = setup::ensure(&[Need::Build, Need::Lint, Need::Cross]);
    let mut r = Report::new("cross", budget);
    run(&mut r, only, &setup);
    r.finish()
}

const ROOT_LIMIT: Duration = Duration::from_secs(3 * 60);

/// The Debian release of this machine (`VERSION_CODENAME`), so that the
/// xtask binary built here finds a C library as new as its own in the root.
fn host_codename() -> Result<String, String> {
    let text = std::fs::read_to_string("/etc/os-release")
        .map_err(|e| format!("cannot read /etc/os-release: {e}"))?;
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("ID="))
        .map(|v| v.trim_matches('"'));
    if id != Some("debian") {
        return Err(format!(
            "this machine is not Debian (ID={}), so a Debian root may not run xtask",
            id.unwrap_or("?")
        ));
    }
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| "no VERSION_CODENAME in /etc/os-release".to_owned())
}

/// The step `setup in a clean Debian root`: a minimal Debian root made by
/// debootstrap (cached beside the kernel matrix's cache), copied afresh;
/// this xtask binary copied in and run there with the root's own PATH, where
/// none of the tools are. As another user it must name what is missing and
/// the command; as root it must install zstd with the root's real apt.
pub(crate) fn clean_root(r: &mut Report, setup: &setup::Setup) {
    let name = "setup in a clean Debian root";
    let started = r.begin(name);
    let result = setup
        .missing_for(Need::CleanRoot)
        .and_then(|()| clean_root_check(r));
    r.record(name, started, result);
}

fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/tmp"))
        .join("pidkit")
        .join("setup-root")
}

fn clean_root_check(r: &Report) -> Result<String, String> {
    if !rustix::process::geteuid().is_root() {
        return Err("needs root (debootstrap and chroot)".into());
    }
    let suite = host_codename()?;
    let pristine = cache_dir().join(&suite);
    let done = pristine.join(".pidkit-complete");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&pristine);
        std::fs::create_dir_all(&pristine)
            .map_err(|e| format!("cannot create {}: {e}", pristine.display()))?;
        let boot = Cmd::new("debootstrap")
            .args(["--variant=minbase", &suite])
            .arg(&pristine)
            .arg("http://deb.debian.org/debian")
            .timeout(ROOT_LIMIT);
        let out = r.exec(boot);
        if !out.finish.success() {
            return Err(format!("debootstrap {suite}: {}", out.note()));
        }
        std::fs::write(&done, b"").map_err(|e| format!("{}: {e}", done.display()))?;
    } else {
        println!("using the cached Debian root {}", pristine.display());
    }
    let work = workspace::metadata()?.target_dir.join("pidkit-setup-root");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let root = work.join("root");
    let copy = Cmd::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(&pristine)
        .arg(&root)
        .timeout(ROOT_LIMIT);
    if !r.exec(copy).finish.success() {
        return Err(format!("cannot copy {}", pristine.display()));
    }
    let outcome = check_in_root(r, &root);
    let _ = std::fs::remove_dir_all(&work);
    outcome
}

/// Runs `xtask setup` inside `root` three ways and checks what it says.
fn check_in_root(r: &Report, root: &Path) -> Result<String, String> {
    // /proc/self/exe, not the path: an earlier step of `cargo xtask test`
    // may have rebuilt xtask, deleting the file this process runs from;
    // the kernel still holds it.
    let inside = root.join("usr/local/bin/xtask");
    std::fs::copy("/proc/self/exe", &inside)
        .map_err(|e| format!("cannot copy this xtask (/proc/self/exe) into the root: {e}"))?;
    std::fs::copy("/etc/resolv.conf", root.join("etc/resolv.conf"))
        .map_err(|e| format!("cannot copy /etc/resolv.conf into the root: {e}"))?;
    if root.join("usr/bin/zstd").exists() {
        return Err("the fresh root already has zstd".into());
    }
    let in_root = |user: Option<&str>, args: &[&str]| {
        let mut c = Cmd::new("chroot");
        if let Some(u) = user {
            c = c.arg(format!("--userspec={u}"));
        }
        c.arg(root)
            .args([
                "env",
                "-i",
                "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            ])
            .args(["HOME=/root", "xtask", "setup"])
            .args(args)
            .timeout(ROOT_LIMIT)
            .capture_stdout()
    };
    // Everything: the report names the tools and the command.
    let out = r.exec(in_root(None, &["--check"]));
    let expect = |what: &str, text: &str, needles: &[&str]| -> Result<(), String> {
        match needles.iter().find(|n| !text.contains(*n)) {
            Some(n) => Err(format!("{what}: the output lacks {n:?}:\n{text}")),
            None => Ok(()),
        }
    };
    if out.finish.success() {
        return Err(format!(
            "`setup --check` passed in a root without the tools:\n{}",
            out.stdout
        ));
    }
    expect(
        "setup --check",
        &out.stdout,
        &[
            "setup: missing ",
            "qemu-system-x86_64",
            "qemu-aarch64",
            "zstd",
            "cargo nextest",
            "apt-get update && apt-get install -y --no-install-recommends ",
            "qemu-user",
            "cargo install --locked cargo-nextest",
        ],
    )?;
    // Not root: nothing installed, the exact command printed.
    let out = r.exec(in_root(Some("65534:65534"), &["--tool", "zstd"]));
    if out.finish.success() {
        return Err(format!(
            "`setup --tool zstd` as nobody passed:\n{}",
            out.stdout
        ));
    }
    expect(
        "setup --tool zstd as nobody",
        &out.stdout,
        &[
            "not root, so nothing is installed",
            "apt-get update && apt-get install -y --no-install-recommends zstd\n",
        ],
    )?;
    // Root: the root's own apt installs zstd.
    let out = r.exec(in_root(None, &["--tool", "zstd"]));
    if !out.finish.success() {
        return Err(format!("`setup --tool zstd` as root: {}", out.note()));
    }
    expect(
        "setup --tool zstd as root",
        &out.stdout,
        &[
            "setup: installing zstd (for the kernel matrix)",
            "setup: done",
        ],
    )?;
    if !root.join("usr/bin/zstd").is_file() {
        return Err("setup said done, but the root has no /usr/bin/zstd".into());
    }
    Ok("missing tools reported, the command printed, zstd installed with apt".into())
}

/// `cargo xtask setup --clean-root`.
pub(crate) fn clean_root_task(budget: Duration) -> ExitCode {
    let setup = setup::ensure(&[Need::CleanRoot]);
    let mut r = Report::new("setup", budget);
    clean_root(&mut r, &setup);
    r.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_target_variables() {
        assert_eq!(
            target_env("i686-unknown-linux-gnu", "LINKER"),
            "CARGO_TARGET_I686_UNKNOWN_LINUX_GNU_LINKER"
        );
    }

    #[test]
    fn filter_names_each_listed_test() {
        assert_eq!(listed_filter(&[]), None);
        assert_eq!(
            listed_filter(&[("p", "a::b", Why::Seccomp), ("q", "c", Why::OwnStat)]).unwrap(),
            "(package(p) & test(=a::b)) | (package(q) & test(=c))"
        );
    }

    /// rustup refuses a target it does not know; the step fails with why.
    #[test]
    fn a_target_rustup_cannot_add_fails_its_step() {
        let mut r = Report::new("selftest", Duration::from_secs(120));
        let bogus = Target {
            triple: "nosucharch-unknown-linux-gnu",
            run: None,
        };
        let dir = Ok(std::env::temp_dir().join("pidkit-xtask-no-such-target"));
        assert!(!check_target(&mut r, bogus, &dir));
        assert_eq!(r.failures(), 1);
        let note = r.last_note().unwrap();
        assert!(
            note.starts_with(
                "rustup could not add the target nosucharch-unknown-linux-gnu: error:"
            ) && note.contains("does not support target"),
            "{note}"
        );
    }

    #[test]
    fn stale_entries_are_found() {
        let json = r#"{"rust-suites": {"p::t": {"package-name": "p", "testcases": {
            "a::b": {"filter-match": {"status": "matches"}},
            "a::c": {"filter-match": {"status": "mismatch", "reason": "expression"}}}}}}"#;
        let listed = [
            ("p", "a::b", Why::Seccomp),
            ("p", "a::c", Why::Seccomp),
            ("p", "gone", Why::GetInfo),
            ("q", "a::b", Why::OwnStat),
        ];
        assert_eq!(
            stale(&listed, json).unwrap(),
            ["p a::c", "p gone", "q a::b"]
        );
        assert!(stale(&listed, "not json").is_err());
    }
}
