//! `cargo xtask`: the pidkit repository's tasks (tests, lints, packaging,
//! benchmarks), written in Rust. Run `cargo xtask help`.
//!
//! Every command xtask runs is printed first and has a time limit; past it the
//! command's whole process tree is killed and the step fails, so CI never hangs.

#![forbid(unsafe_code)]

mod bench;
mod exec;
mod initramfs;
mod matrix;
mod peers;
mod report;
mod tasks;
mod workspace;

use std::process::ExitCode;

const USAGE: &str = "\
cargo xtask: repository tasks for pidkit

USAGE:
    cargo xtask <TASK> [OPTIONS]

TASKS:
    test        What CI runs (`.ci/run`). Steps, each timed, then a summary table
                and a final line `xtask test: N passed, M failed`; exits non-zero
                if any step failed (later steps still run):
                  1. `fmt`: cargo fmt --all --check
                  2. `clippy`: cargo clippy --workspace --all-targets -- -D warnings
                  3. `tests (*)`, the test suite: cargo nextest run --workspace
                     --all-targets (profile `ci` when CI=true; see
                     .config/nextest.toml), or cargo test --workspace
                     --all-targets without cargo-nextest; PIDKIT_SANDBOX=none
                  4. `doc tests`: cargo test --workspace --doc (nextest runs no
                     doc tests)
                  5. `build seccomp runner`, then `tests (*, sandbox=*)`: the
                     test suite (all targets but benches) twice more under a
                     seccomp filter on the pidfd system calls: cargo's target
                     runner is `pidkit-seccomp-exec enosys|eperm` (testkit/src/bin),
                     PIDKIT_SANDBOX=enosys|eperm; and `tests (hidden feature: *)`:
                     the suite once with each optional kernel feature (pidfs,
                     get_info, info_exit) hidden through PIDKIT_HIDE_FEATURES
                  6. `doc`: cargo doc --workspace --no-deps, RUSTDOCFLAGS=-D warnings
                  7. `package`: cargo package of every publishable member, verified
                     (--no-verify only when the registry is unreachable)
                  8. `fuzz`, with --fuzz: cargo test --release -- fuzz,
                     PROPTEST_CASES=20000
                  9. `matrix: *`, the kernel matrix: the whole nextest suite
                     inside Debian's kernels 5.10 (bullseye), 6.1 (bookworm),
                     6.12 (trixie) and 7.x (sid) under QEMU, as `cargo xtask matrix`
                Names in backticks are the steps' names in the summary (`*`: a
                variant); a step missing here fails the run.
        --quick         skip steps 5, 6 and 9
        --no-sandbox    skip step 5
        --no-matrix     skip step 9
        --fuzz          add step 8 (bounded to 20 minutes; PROPTEST_CASES from
                        the environment wins)
        --budget MIN    overall time budget in minutes (default 80); each
                        command's own limit is cut to what remains

    lint        Steps 1, 2 and 6 of `test`.     Option: --budget MIN

    package     Step 7 of `test` alone.         Option: --budget MIN

    bench       The signal- and exit-latency benchmark: builds and runs bench/
                (pidkit-bench) in release mode. Each figure is measured
                interleaved with its baseline in the same process; prints the
                machine, progress and a table of medians, ratios and p99, and
                writes results.json, results.csv, ratios.svg and latency.svg to
                target/pidkit-bench/. Floors are the minimal system-call
                sequence of each row, every call an inline syscall instruction
                (one path for kill and pidfd_send_signal):
                  held kill(0)        pidfd_send_signal(fd, 0), and kill(pid, 0),
                                      single- and multi-threaded
                  restored + kill(0)  pidfd_open + fstat + pidfd_send_signal + close
                  PidHandle::new      pidfd_open + fstat + close
                  exit notification   kill + poll(pidfd) + waitid(P_PIDFD)
                  spawn+wait          std::process::Command
                (bench/README.md lists every row). Built with every function
                aligned to 64 bytes (RUSTFLAGS += -C llvm-args=
                -align-all-functions=6) in target/pidkit-bench/build, so a
                change elsewhere does not move the measured code.
        --quick | --full    run length (default --quick, about a minute)
        --filter X          only benchmarks whose name contains X
        --json              also print results as JSON
        --peers             also measure the real peers, each against its own
                            language's raw kill in its own process: Go >= 1.23
                            os.Process, psutil, tokio::process. Go comes from
                            PATH or from Debian trixie (golang-1.24-go, -src)
                            through a private apt sources list and state,
                            unpacked with dpkg-deb -x; psutil goes into a
                            virtualenv from PyPI; all under $PIDKIT_PEERS_DIR
                            (default ~/.cache/pidkit/peers). Nothing is installed.
        --criterion         run the criterion benches instead:
                            cargo bench --workspace --bench '*' [-- X]

    matrix      Step 9 of `test`: for each kernel, fetch the newest linux-image-amd64
                of its Debian suite with apt through a private sources list and
                state dir (cached in ~/.cache/pidkit/matrix, or PIDKIT_MATRIX_CACHE),
                boot it with qemu-system-x86_64 (TCG, 2 vCPUs, the host's / shared
                read-only over virtio-9p, fresh /tmp), run a `cargo nextest archive`
                of the workspace inside at soft RLIMIT_NOFILE 1024, and print one
                line per kernel with its counts and failing tests. Needs root,
                qemu-system-x86, xz-utils, zstd (.ci/run installs them). Logs:
                target/pidkit-matrix/<suite>/{nextest,console}.log
        --kernel K          only suite or series K (repeatable): bullseye|5.10,
                            bookworm|6.1, trixie|6.12, sid|7.x
        --budget MIN        overall time budget in minutes (default 80)
        -- ARGS             extra arguments for `nextest run` in the guest

    help        This text.

Every command is printed before it runs and has a time limit (15 minutes for a
test step); past it its whole process tree is killed and the step fails.
Processes a command leaves behind (they inherit PIDKIT_XTASK_RUN) are killed
when it ends and reported as a WARNING in the summary.
Environment: CI=true selects nextest's `ci` profile; CARGO_NET_OFFLINE=true packages
with --no-verify.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let usage_error = |e: String| {
        eprintln!("cargo xtask {task}: {e}\nRun `cargo xtask help` for usage.");
        ExitCode::from(2)
    };
    match task.as_str() {
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        "test" => match tasks::parse_test_options(rest) {
            Ok(o) => tasks::test(&o),
            Err(e) => usage_error(e),
        },
        "lint" => match tasks::parse_budget_only("lint", rest) {
            Ok(b) => tasks::lint(b),
            Err(e) => usage_error(e),
        },
        "package" => match tasks::parse_budget_only("package", rest) {
            Ok(b) => tasks::package_only(b),
            Err(e) => usage_error(e),
        },
        "matrix" => match matrix::parse_options(rest) {
            Ok(o) => matrix::run_task(&o),
            Err(e) => usage_error(e),
        },
        "bench" => match bench::parse_options(rest) {
            Ok(o) => bench::run(&o),
            Err(e) => usage_error(e),
        },
        other => {
            eprintln!("cargo xtask: unknown task `{other}`\n");
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
