//! The command line of `cargo xtask`: its grammar and help, both from the
//! [`xflags`] definition below, and the checks the grammar cannot say.

use std::ffi::OsString;
use std::time::Duration;

xflags::xflags! {
    /// Repository tasks for pidkit. Every command is printed before it runs
    /// and has a time limit (15 minutes for a test step); past it, its process
    /// group is killed and the step fails. Processes a command leaves running
    /// in its group are killed when it ends and reported as a WARNING.
    /// CI=true selects nextest's `ci` profile; CARGO_NET_OFFLINE=true packages
    /// with --no-verify.
    cmd xtask {
        /// What CI runs (.ci/run). Steps, each timed, then a summary and a last
        /// line `xtask test: N passed, M failed`; exits non-zero if a step
        /// failed (later steps still run). Steps: fmt, clippy, tests (nextest,
        /// or cargo test without it), doc tests, build seccomp runner and the
        /// suite under seccomp (sandbox=enosys, eperm), the suite with each
        /// optional kernel feature hidden (pidfs, get_info, info_exit), doc,
        /// package, fuzz (with --fuzz), and the kernel matrix (`matrix`).
        cmd test {
            /// Skip the sandbox and hidden-feature runs, doc and the matrix.
            optional --quick
            /// Skip the sandbox and hidden-feature runs.
            optional --no-sandbox
            /// Skip the kernel matrix.
            optional --no-matrix
            /// Skip the other architectures (`cross: *`) and the setup check
            /// in a clean Debian root.
            optional --no-cross
            /// Also run the fuzz targets: release build, PROPTEST_CASES=20000
            /// (the environment's wins), at most 20 minutes.
            optional --fuzz
            /// Overall time budget in minutes (default 80); each command's own
            /// limit is cut to what remains.
            optional --budget minutes: u64
        }

        /// Finds the tools the steps need (xtask/src/setup.rs lists them)
        /// and, as root, installs the missing ones with apt-get, rustup or
        /// cargo install, one line per package; not as root, prints the
        /// command to run. `test` does this first.
        cmd setup {
            /// Only this tool (program, file or package name; repeatable).
            repeated --tool tool: String
            /// Report what is missing and the command, install nothing.
            optional --check
            /// Instead: the setup check in a clean Debian root (debootstrap),
            /// the step `test` runs as `setup in a clean Debian root`.
            optional --clean-root
        }

        /// The other architectures alone, the `cross: *` steps of `test`:
        /// check and clippy of the five library crates for aarch64, i686 and
        /// powerpc64le, and the pidfd and pidhandle suites under qemu-user
        /// for aarch64 and i686.
        cmd cross {
            /// Only this target triple (repeatable).
            repeated --target triple: String
            /// Overall time budget in minutes (default 80).
            optional --budget minutes: u64
        }

        /// fmt, clippy and doc, the lint steps of `test`.
        cmd lint {
            /// Overall time budget in minutes (default 80).
            optional --budget minutes: u64
        }

        /// cargo package of every publishable crate, verified against its
        /// packaged siblings (--no-verify only when the registry is unreachable).
        cmd package {
            /// Overall time budget in minutes (default 80).
            optional --budget minutes: u64
        }

        /// The signal- and exit-latency benchmark (bench/, pidkit-bench),
        /// built in release mode with every function aligned to 64 bytes in a
        /// target dir of its own. Prints the machine, a table of medians,
        /// ratios to each row's raw-syscall floor and p99, and writes
        /// results.json, results.csv and the charts to target/pidkit-bench/
        /// (bench/README.md lists the rows).
        cmd bench {
            /// About a minute (the default).
            optional --quick
            /// Longer runs, tighter percentiles.
            optional --full
            /// Only benchmarks whose name contains this text.
            optional --filter text: String
            /// Also print the results as JSON.
            optional --json
            /// The whole table, one line a row with p99s and run counts
            /// (about 270 columns); by default it fits 120.
            optional --wide
            /// Also measure the peers, each against its own language's raw
            /// kill: Go's os.Process (Go >= 1.23 from PATH, or from Debian
            /// trixie unpacked with dpkg-deb), psutil (in a virtualenv) and
            /// tokio::process; cached in $PIDKIT_PEERS_DIR (default
            /// ~/.cache/pidkit/peers). Nothing is installed.
            optional --peers
            /// Run the criterion benches instead: cargo bench --workspace --bench '*'.
            optional --criterion
        }

        /// The kernel matrix: the whole nextest suite inside Debian's kernels
        /// booted with qemu-system-x86_64 (TCG), the host's / shared read-only,
        /// at soft RLIMIT_NOFILE 1024; one line per kernel. Kernels come from
        /// apt with a private sources list and state (cached in
        /// ~/.cache/pidkit/matrix, or PIDKIT_MATRIX_CACHE). Needs root,
        /// qemu-system-x86, xz-utils, zstd. Logs:
        /// target/pidkit-matrix/<suite>/{nextest,console}.log
        cmd matrix {
            /// Only this suite or series (repeatable): bullseye|5.10,
            /// bookworm|6.1, trixie|6.12, sid|7.x.
            repeated --kernel kernel: String
            /// Overall time budget in minutes (default 80).
            optional --budget minutes: u64
            /// Extra arguments for `nextest run` in the guest (after `--`).
            repeated nextest_args: OsString
        }
    }
}

/// Default overall budget of a task run: under CI's 90 minutes, with room to report.
pub(crate) const DEFAULT_BUDGET: Duration = Duration::from_secs(80 * 60);

/// The budget of `--budget minutes`: a positive number of minutes.
pub(crate) fn budget(minutes: Option<u64>) -> xflags::Result<Duration> {
    match minutes {
        None => Ok(DEFAULT_BUDGET),
        Some(0) => Err(xflags::Error::new(
            "--budget: not a positive number of minutes: 0",
        )),
        Some(m) => Ok(Duration::from_secs(m * 60)),
    }
}

impl Bench {
    /// The combinations the grammar allows but the benchmark does not.
    pub(crate) fn validate(&self) -> xflags::Result<()> {
        let clash = |a: bool, b: bool, what: &str| match a && b {
            true => Err(xflags::Error::new(format!("{what} exclude each other"))),
            false => Ok(()),
        };
        clash(self.quick, self.full, "--quick and --full")?;
        clash(self.peers, self.criterion, "--peers and --criterion")?;
        if self.filter.as_deref() == Some("") {
            return Err(xflags::Error::new("--filter needs a non-empty value"));
        }
        Ok(())
    }
}

impl Matrix {
    /// Every `--kernel` names a kernel of the matrix.
    pub(crate) fn validate(&self) -> xflags::Result<()> {
        match self
            .kernel
            .iter()
            .find(|k| crate::matrix::kernel(k).is_none())
        {
            Some(k) => Err(xflags::Error::new(format!(
                "--kernel: unknown suite or series {k}"
            ))),
            None => Ok(()),
        }
    }
}

/// Parses the command line after the program name. `help` asks for the help;
/// `--flag=value` is `--flag value`, as before `--`.
pub(crate) fn parse(args: Vec<OsString>) -> xflags::Result<Xtask> {
    let mut words = Vec::with_capacity(args.len() + 1);
    let mut plain = true;
    for (i, a) in args.into_iter().enumerate() {
        let split = a
            .to_str()
            .filter(|s| plain && s.starts_with("--"))
            .and_then(|s| s.split_once('='))
            .map(|(f, v)| (OsString::from(f), OsString::from(v)));
        plain &= a != "--";
        match split {
            Some((flag, value)) => words.extend([flag, value]),
            None if i == 0 && a == "help" => words.push("--help".into()),
            None => words.push(a),
        }
    }
    let flags = Xtask::from_vec(words)?;
    match &flags.subcommand {
        XtaskCmd::Bench(b) => b.validate()?,
        XtaskCmd::Matrix(m) => m.validate()?,
        _ => {}
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> xflags::Result<Xtask> {
        parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn test_flags() {
        let XtaskCmd::Test(t) = parse_str(&["test", "--fuzz", "--budget", "30"])
            .unwrap()
            .subcommand
        else {
            panic!("not `test`")
        };
        assert!(t.fuzz && !t.quick && !t.no_sandbox && !t.no_matrix);
        assert_eq!(budget(t.budget).unwrap(), Duration::from_secs(1800));
        assert_eq!(budget(None).unwrap(), DEFAULT_BUDGET);
        assert!(budget(Some(0)).is_err());
        assert!(parse_str(&["test", "--bogus"]).is_err());
        assert!(parse_str(&["test", "--budget"]).is_err());
        assert!(parse_str(&["lint", "--quick"]).is_err());
        assert!(parse_str(&["help"]).unwrap_err().is_help());
    }

    #[test]
    fn setup_and_cross_flags() {
        let XtaskCmd::Setup(s) = parse_str(&["setup", "--tool", "zstd", "--check"])
            .unwrap()
            .subcommand
        else {
            panic!("not `setup`")
        };
        assert!(s.check && !s.clean_root);
        assert_eq!(s.tool, ["zstd"]);
        let XtaskCmd::Cross(c) = parse_str(&["cross", "--target=i686-unknown-linux-gnu"])
            .unwrap()
            .subcommand
        else {
            panic!("not `cross`")
        };
        assert_eq!(c.target, ["i686-unknown-linux-gnu"]);
        let XtaskCmd::Test(t) = parse_str(&["test", "--no-cross"]).unwrap().subcommand else {
            panic!("not `test`")
        };
        assert!(t.no_cross && !t.no_matrix);
    }

    #[test]
    fn bench_and_matrix_flags() {
        let XtaskCmd::Bench(b) = parse_str(&["bench", "--full", "--filter=kill", "--json"])
            .unwrap()
            .subcommand
        else {
            panic!("not `bench`")
        };
        assert!(b.full && b.json && !b.peers);
        assert_eq!(b.filter.as_deref(), Some("kill"));
        for bad in [
            &["bench", "--quick", "--full"][..],
            &["bench", "--peers", "--criterion"],
            &["bench", "--filter="],
            &["matrix", "--kernel", "4.19"],
        ] {
            assert!(parse_str(bad).is_err(), "{bad:?}");
        }
        let XtaskCmd::Matrix(m) = parse_str(&["matrix", "--kernel", "6.1", "--", "-E", "a=b"])
            .unwrap()
            .subcommand
        else {
            panic!("not `matrix`")
        };
        assert_eq!(m.kernel, ["6.1"]);
        assert_eq!(m.nextest_args, ["-E", "a=b"]);
    }
}
