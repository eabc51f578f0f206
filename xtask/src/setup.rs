//! `cargo xtask setup`, and the first thing `cargo xtask test` does: find
//! the tools the steps need and, as root, install the missing ones.
//!
//! [`TOOLS`] is the one list of what the tasks need from the machine: each
//! tool, how to tell it is there, where it comes from (a Debian package, a
//! rustup component or `cargo install`) and which part of the tasks needs it.
//! Run as root with apt-get, [`ensure`] installs what is missing (at most one
//! `apt-get update`, then one `apt-get install`), one line per package. Not
//! as root it prints the command that would, and every step that needs a
//! missing tool fails with that command ([`Setup::missing_for`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::exec::{self, Cmd};

/// The part of the tasks a tool is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Need {
    /// Building at all: the linker rustc calls.
    Build,
    /// The lints: `cargo fmt`, `cargo clippy`.
    Lint,
    /// The host test suite (PID namespaces, other programs' pidfiles).
    Tests,
    /// The kernel matrix (`matrix: *`).
    Matrix,
    /// The other architectures (`cross: *`).
    Cross,
    /// The setup check in a clean Debian root (`setup in a clean Debian root`).
    CleanRoot,
}

impl Need {
    /// What the tool is for, as the setup lines say it.
    pub(crate) fn purpose(self) -> &'static str {
        match self {
            Need::Build => "to link what rustc builds",
            Need::Lint => "for the lint steps",
            Need::Tests => "for the test suite",
            Need::Matrix => "for the kernel matrix",
            Need::Cross => "for the other architectures",
            Need::CleanRoot => "for the setup check in a clean Debian root",
        }
    }
}

/// How to tell that a tool is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// A program on `PATH`.
    Program(&'static str),
    /// A file at this absolute path.
    File(&'static str),
    /// A cargo subcommand that answers `cargo <name> --version`.
    CargoSub(&'static str),
}

/// Where a missing tool comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    /// A Debian package, installed with apt-get.
    Apt(&'static str),
    /// A rustup component.
    Rustup(&'static str),
    /// A crate built with `cargo install --locked`.
    Cargo(&'static str),
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Apt(p) | Source::Rustup(p) | Source::Cargo(p) => p,
        }
    }
}

/// One tool a step needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tool {
    /// How to tell it is there (also its name in messages).
    pub(crate) probe: Probe,
    /// Where it comes from.
    pub(crate) source: Source,
    /// What needs it.
    pub(crate) need: Need,
}

const fn apt(program: &'static str, package: &'static str, need: Need) -> Tool {
    Tool {
        probe: Probe::Program(program),
        source: Source::Apt(package),
        need,
    }
}

const fn apt_file(file: &'static str, package: &'static str, need: Need) -> Tool {
    Tool {
        probe: Probe::File(file),
        source: Source::Apt(package),
        need,
    }
}

/// Everything the tasks need from the machine.
pub(crate) const TOOLS: &[Tool] = &[
    apt("cc", "gcc", Need::Build),
    apt_file("/usr/include/stdio.h", "libc6-dev", Need::Build),
    Tool {
        probe: Probe::CargoSub("fmt"),
        source: Source::Rustup("rustfmt"),
        need: Need::Lint,
    },
    Tool {
        probe: Probe::CargoSub("clippy"),
        source: Source::Rustup("clippy"),
        need: Need::Lint,
    },
    // PID-namespace tests (unshare --pid) and the pidfile interoperability
    // tests: flock(1), lslocks, pgrep -L / pkill -L, start-stop-daemon, a
    // pidfile held by a Python daemon.
    apt("unshare", "util-linux", Need::Tests),
    apt("flock", "util-linux", Need::Tests),
    apt("lslocks", "util-linux", Need::Tests),
    apt("pgrep", "procps", Need::Tests),
    apt("start-stop-daemon", "dpkg", Need::Tests),
    apt("python3", "python3", Need::Tests),
    // QEMU boots Debian's kernels, which apt fetches through a private
    // sources list checked against the archive keyring; dpkg-deb, xz and
    // zstd unpack them and their modules; the guest runs the suite with
    // nextest.
    apt("qemu-system-x86_64", "qemu-system-x86", Need::Matrix),
    apt("apt-get", "apt", Need::Matrix),
    apt("dpkg-deb", "dpkg", Need::Matrix),
    apt("xz", "xz-utils", Need::Matrix),
    apt("zstd", "zstd", Need::Matrix),
    apt_file(
        "/usr/share/keyrings/debian-archive-keyring.gpg",
        "debian-archive-keyring",
        Need::Matrix,
    ),
    Tool {
        probe: Probe::CargoSub("nextest"),
        source: Source::Cargo("cargo-nextest"),
        need: Need::Matrix,
    },
    // Linkers and C libraries of the other architectures, and qemu-user to
    // run their test binaries.
    apt(
        "aarch64-linux-gnu-gcc",
        "gcc-aarch64-linux-gnu",
        Need::Cross,
    ),
    apt_file(
        "/usr/aarch64-linux-gnu/lib/crt1.o",
        "libc6-dev-arm64-cross",
        Need::Cross,
    ),
    apt("i686-linux-gnu-gcc", "gcc-i686-linux-gnu", Need::Cross),
    apt_file(
        "/usr/i686-linux-gnu/lib/crt1.o",
        "libc6-dev-i386-cross",
        Need::Cross,
    ),
    apt("qemu-aarch64", "qemu-user", Need::Cross),
    apt("qemu-i386", "qemu-user", Need::Cross),
    apt("debootstrap", "debootstrap", Need::CleanRoot),
];

impl Tool {
    /// The tool's name in messages: the program, file or cargo subcommand.
    pub(crate) fn name(&self) -> String {
        match self.probe {
            Probe::Program(p) | Probe::File(p) => p.to_owned(),
            Probe::CargoSub(s) => format!("cargo {s}"),
        }
    }
}

/// Where the machine's programs are looked up: `PATH`, plus cargo's own bin
/// directory (where `cargo install` puts cargo-nextest).
fn search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(bin) = cargo_bin() {
        dirs.push(bin);
    }
    dirs
}

fn cargo_bin() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|h| h.join("bin"))
}

/// The first file named `program` in `dirs`.
pub(crate) fn find_in(dirs: &[PathBuf], program: &str) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(program)).find(|p| p.is_file())
}

/// Is the tool there on this machine?
fn present(tool: &Tool, dirs: &[PathBuf]) -> bool {
    match tool.probe {
        Probe::Program(p) => find_in(dirs, p).is_some(),
        Probe::File(f) => Path::new(f).exists(),
        Probe::CargoSub(s) => {
            // A subcommand cargo finds as a program, or a rustup proxy
            // that answers (rustfmt and clippy come with the toolchain).
            find_in(dirs, &format!("cargo-{s}")).is_some()
                && exec::output_of("cargo", &[s, "--version"], Duration::from_secs(60)).is_some()
        }
    }
}

/// What to do about the missing tools: the packages, components and crates
/// to install, and the commands that install them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The missing tools, by name, with the part that needs each.
    pub(crate) missing: Vec<(String, Source, Need)>,
}

impl Plan {
    /// The plan for `missing`, the tools found absent.
    pub(crate) fn new(missing: &[&Tool]) -> Plan {
        Plan {
            missing: missing
                .iter()
                .map(|t| (t.name(), t.source, t.need))
                .collect(),
        }
    }

    /// Each source once, with the first (most basic) part that needs it.
    pub(crate) fn sources(&self) -> Vec<(Source, Need)> {
        let mut seen = BTreeSet::new();
        let mut out: Vec<(Source, Need)> = Vec::new();
        for (_, source, need) in &self.missing {
            if seen.insert(*source) {
                out.push((*source, *need));
            } else if let Some(e) = out.iter_mut().find(|(s, _)| s == source) {
                e.1 = e.1.min(*need);
            }
        }
        out
    }

    fn apt_packages(&self) -> Vec<&'static str> {
        (self.sources().into_iter())
            .filter_map(|(s, _)| match s {
                Source::Apt(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    /// The shell commands that install everything missing, in order.
    pub(crate) fn commands(&self) -> Vec<String> {
        let mut out = Vec::new();
        let apt = self.apt_packages();
        if !apt.is_empty() {
            out.push(format!(
                "apt-get update && apt-get install -y --no-install-recommends {}",
                apt.join(" ")
            ));
        }
        for (s, _) in self.sources() {
            match s {
                Source::Apt(_) => {}
                Source::Rustup(c) => out.push(format!("rustup component add {c}")),
                Source::Cargo(c) => out.push(format!("cargo install --locked {c}")),
            }
        }
        out
    }

    /// The one line a person runs (as root) to install everything missing.
    pub(crate) fn command_line(&self) -> String {
        self.commands().join(" && ")
    }

    /// `Err` naming the tools missing for `need`, and the command to run
    /// as root to install them; `Ok` when nothing it needs is missing.
    pub(crate) fn missing_for(&self, need: Need) -> Result<(), String> {
        let tools: Vec<&(String, Source, Need)> =
            self.missing.iter().filter(|(_, _, n)| *n == need).collect();
        if tools.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = tools.iter().map(|(t, _, _)| t.as_str()).collect();
        let only = Plan {
            missing: tools.into_iter().cloned().collect(),
        };
        Err(format!(
            "missing {} ({}); as root, run: {} (or `cargo xtask setup`)",
            names.join(", "),
            need.purpose(),
            only.command_line()
        ))
    }
}

/// The outcome of the setup: what is still missing after it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Setup {
    /// The tools still missing.
    pub(crate) left: Plan,
}

impl Setup {
    /// `Err` with the tools `need` lacks and the command that installs them.
    pub(crate) fn missing_for(&self, need: Need) -> Result<(), String> {
        self.left.missing_for(need)
    }
}

/// The tools of [`TOOLS`] for `needs` that are absent here.
pub(crate) fn check(needs: &[Need]) -> Plan {
    let dirs = search_path();
    let missing: Vec<&Tool> = (TOOLS.iter())
        .filter(|t| needs.contains(&t.need) && !present(t, &dirs))
        .collect();
    Plan::new(&missing)
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Finds what `needs` lacks and, as root, installs it (one line per
/// package); otherwise prints the command to run. Returns what is still
/// missing afterwards.
pub(crate) fn ensure(needs: &[Need]) -> Setup {
    let plan = check(needs);
    if plan.missing.is_empty() {
        println!("setup: every tool the steps need is here");
        return Setup::default();
    }
    let names: Vec<&str> = plan.missing.iter().map(|(t, _, _)| t.as_str()).collect();
    println!("setup: missing {}", names.join(", "));
    if !is_root() {
        println!(
            "setup: not root, so nothing is installed; as root, run:\n  {}",
            plan.command_line()
        );
        println!("setup: the steps that need these tools fail until then");
        return Setup { left: plan };
    }
    install(&plan);
    let after = check(needs);
    for (tool, source, _) in &after.missing {
        println!(
            "setup: {tool} is still missing after installing {}",
            source.name()
        );
    }
    Setup { left: after }
}

const APT_LIMIT: Duration = Duration::from_secs(20 * 60);
const CARGO_INSTALL_LIMIT: Duration = Duration::from_secs(25 * 60);

/// Installs every source of `plan` (as root): one `apt-get update` and one
/// `apt-get install` for the Debian packages, then the rustup components
/// and crates. A failure is printed; what it left missing shows afterwards.
fn install(plan: &Plan) {
    let sources = plan.sources();
    for (source, need) in &sources {
        let how = match source {
            Source::Apt(_) => "",
            Source::Rustup(_) => " with rustup",
            Source::Cargo(_) => " with cargo install",
        };
        println!(
            "setup: installing {}{how} ({})",
            source.name(),
            need.purpose().trim_start_matches("to ")
        );
    }
    let apt = plan.apt_packages();
    if !apt.is_empty() {
        if find_in(&search_path(), "apt-get").is_none() {
            println!("setup: there is no apt-get to install {}", apt.join(" "));
        } else {
            let env = ("DEBIAN_FRONTEND", "noninteractive");
            let update = Cmd::new("apt-get")
                .args(["update", "-qq"])
                .env(env.0, env.1)
                .timeout(APT_LIMIT);
            run_printed(update);
            let install = Cmd::new("apt-get")
                .args(["install", "-y", "-qq", "--no-install-recommends"])
                .args(&apt)
                .env(env.0, env.1)
                .timeout(APT_LIMIT);
            run_printed(install);
        }
    }
    for (source, _) in sources {
        match source {
            Source::Apt(_) => {}
            Source::Rustup(c) => {
                run_printed(
                    Cmd::new("rustup")
                        .args(["component", "add", c])
                        .timeout(APT_LIMIT),
                );
            }
            Source::Cargo(c) => {
                let cmd = Cmd::cargo(["install", "--locked", c]).timeout(CARGO_INSTALL_LIMIT);
                run_printed(cmd);
            }
        }
    }
}

fn run_printed(cmd: Cmd) {
    println!("$ {}", cmd.display());
    let out = exec::run(&cmd);
    if !out.finish.success() {
        println!("setup: {}", out.note());
    }
}

/// `cargo xtask setup`: the setup alone, for everything the tasks need, or
/// only the tools named in `only` (their programs, files or packages).
/// Fails when something is still missing.
pub(crate) fn run_task(only: &[String], check_only: bool) -> std::process::ExitCode {
    let all = [
        Need::Build,
        Need::Lint,
        Need::Tests,
        Need::Matrix,
        Need::Cross,
        Need::CleanRoot,
    ];
    let selected =
        |t: &Tool| only.is_empty() || only.iter().any(|o| *o == t.name() || o == t.source.name());
    if let Some(o) = only.iter().find(|o| {
        !TOOLS
            .iter()
            .any(|t| **o == t.name() || *o == t.source.name())
    }) {
        eprintln!("cargo xtask setup: --tool: no tool or package named {o}");
        return std::process::ExitCode::from(2);
    }
    let dirs = search_path();
    let missing = |dirs: &[PathBuf]| -> Plan {
        let m: Vec<&Tool> = (TOOLS.iter())
            .filter(|t| all.contains(&t.need) && selected(t) && !present(t, dirs))
            .collect();
        Plan::new(&m)
    };
    let plan = missing(&dirs);
    if plan.missing.is_empty() {
        println!("setup: every tool the steps need is here");
        return std::process::ExitCode::SUCCESS;
    }
    let names: Vec<&str> = plan.missing.iter().map(|(t, _, _)| t.as_str()).collect();
    println!("setup: missing {}", names.join(", "));
    if check_only || !is_root() {
        let why = if check_only { "--check" } else { "not root" };
        println!(
            "setup: {why}, so nothing is installed; as root, run:\n  {}",
            plan.command_line()
        );
        return std::process::ExitCode::FAILURE;
    }
    install(&plan);
    let after = missing(&search_path());
    if after.missing.is_empty() {
        println!("setup: done");
        std::process::ExitCode::SUCCESS
    } else {
        let names: Vec<&str> = after.missing.iter().map(|(t, _, _)| t.as_str()).collect();
        println!("setup: still missing {}", names.join(", "));
        std::process::ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str) -> &'static Tool {
        TOOLS
            .iter()
            .find(|t| t.name() == name)
            .unwrap_or_else(|| panic!("no tool {name}"))
    }

    #[test]
    fn one_package_per_source_with_the_first_need() {
        // start-stop-daemon (tests) and dpkg-deb (matrix) both come from dpkg.
        let plan = Plan::new(&[
            tool("dpkg-deb"),
            tool("start-stop-daemon"),
            tool("qemu-aarch64"),
            tool("qemu-i386"),
        ]);
        assert_eq!(
            plan.sources(),
            vec![
                (Source::Apt("dpkg"), Need::Tests),
                (Source::Apt("qemu-user"), Need::Cross)
            ]
        );
        assert_eq!(
            plan.command_line(),
            "apt-get update && apt-get install -y --no-install-recommends dpkg qemu-user"
        );
    }

    #[test]
    fn commands_for_each_kind_of_source() {
        let plan = Plan::new(&[
            tool("cargo nextest"),
            tool("zstd"),
            tool("cargo clippy"),
            tool("/usr/share/keyrings/debian-archive-keyring.gpg"),
        ]);
        assert_eq!(
            plan.commands(),
            vec![
                "apt-get update && apt-get install -y --no-install-recommends \
                 zstd debian-archive-keyring"
                    .to_owned(),
                "cargo install --locked cargo-nextest".to_owned(),
                "rustup component add clippy".to_owned(),
            ]
        );
        assert_eq!(Plan::default().commands(), Vec::<String>::new());
    }

    #[test]
    fn a_step_fails_with_the_command_for_its_own_tools() {
        let plan = Plan::new(&[
            tool("qemu-system-x86_64"),
            tool("zstd"),
            tool("qemu-aarch64"),
        ]);
        assert_eq!(
            plan.missing_for(Need::Matrix).unwrap_err(),
            "missing qemu-system-x86_64, zstd (for the kernel matrix); as root, run: \
             apt-get update && apt-get install -y --no-install-recommends \
             qemu-system-x86 zstd (or `cargo xtask setup`)"
        );
        assert_eq!(
            plan.missing_for(Need::Cross).unwrap_err(),
            "missing qemu-aarch64 (for the other architectures); as root, run: \
             apt-get update && apt-get install -y --no-install-recommends \
             qemu-user (or `cargo xtask setup`)"
        );
        assert_eq!(plan.missing_for(Need::Tests), Ok(()));
    }

    #[test]
    fn the_table_names_what_ci_installs() {
        for package in [
            "qemu-system-x86",
            "qemu-user",
            "xz-utils",
            "zstd",
            "debian-archive-keyring",
            "util-linux",
            "procps",
            "dpkg",
            "python3",
            "cargo-nextest",
            "gcc-aarch64-linux-gnu",
            "gcc-i686-linux-gnu",
        ] {
            assert!(
                TOOLS.iter().any(|t| t.source.name() == package),
                "{package} is not in the table"
            );
        }
        for t in TOOLS {
            if let Probe::File(f) = t.probe {
                assert!(f.starts_with('/'), "{f} is not absolute");
            }
        }
    }

    #[test]
    fn finds_programs_only_in_the_given_dirs() {
        let dirs = vec![PathBuf::from("/nonexistent-pidkit-dir")];
        assert_eq!(find_in(&dirs, "sh"), None);
        assert!(!present(tool("zstd"), &dirs));
        let sh_dir = ["/usr/bin", "/bin"]
            .into_iter()
            .map(PathBuf::from)
            .find(|d| d.join("sh").is_file())
            .expect("no sh in /usr/bin or /bin");
        assert_eq!(
            find_in(std::slice::from_ref(&sh_dir), "sh"),
            Some(sh_dir.join("sh"))
        );
    }
}
