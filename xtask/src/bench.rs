//! `cargo xtask bench`: the signal- and exit-latency benchmark, and
//! `--criterion` for the crates' criterion micro-benchmarks.
//!
//! The latency benchmark lives in the `pidkit-bench` binary (`bench/`); this
//! task builds it in release mode and runs it with the options given here.

use std::process::ExitCode;
use std::time::Duration;

use crate::exec::{self, Cmd};
use crate::flags::Bench;

/// What `aligned_build` adds to `RUSTFLAGS`: every function starts on a
/// 64-byte boundary.
const ALIGN_FLAGS: &str = "-C llvm-args=-align-all-functions=6";

/// Builds the benchmark with [`ALIGN_FLAGS`], in a target directory of its
/// own (`<target>/pidkit-bench/build`, so that the flags do not rebuild the
/// workspace's usual one), keeping any `RUSTFLAGS` the caller set.
///
/// Why: on the development VM a row of a few microseconds moved by up to
/// 7 % with where the linker happened to place the measured code, the same
/// instructions measuring 1.05x in one build and 1.12x in the next after a
/// change elsewhere in the program. With every function aligned, a closure
/// starts on the same boundary whatever changed around it, and the floors'
/// closures are aligned the same way (bench/README.md).
fn aligned_build(cmd: Cmd, out_dir: &std::path::Path) -> Cmd {
    let cmd = cmd.env("CARGO_TARGET_DIR", out_dir.join("build"));
    // Cargo reads CARGO_ENCODED_RUSTFLAGS (0x1f-separated) before RUSTFLAGS.
    if let Ok(old) = std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        let mut flags: Vec<&str> = old.split('\x1f').filter(|f| !f.is_empty()).collect();
        flags.extend(ALIGN_FLAGS.split(' '));
        return cmd.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
    }
    let flags = match std::env::var("RUSTFLAGS") {
        Ok(old) if !old.trim().is_empty() => format!("{old} {ALIGN_FLAGS}"),
        _ => ALIGN_FLAGS.to_owned(),
    };
    cmd.env("RUSTFLAGS", flags)
}

/// `cargo xtask bench`.
pub(crate) fn run(opts: &Bench) -> ExitCode {
    if opts.criterion {
        criterion(opts)
    } else {
        latency(opts)
    }
}

/// `cargo bench` over the bench targets of the workspace only (`--bench '*'`;
/// `--benches` would also run the libraries' and binaries' libtest harnesses in
/// bench mode), with the filter passed to criterion.
fn criterion(opts: &Bench) -> ExitCode {
    let mut cmd = Cmd::cargo(["bench", "--workspace", "--bench", "*"]);
    if let Some(f) = &opts.filter {
        cmd = cmd.args(["--", f.as_str()]);
    }
    let limit = Duration::from_secs(if opts.full { 120 * 60 } else { 30 * 60 });
    run_to_end(cmd.timeout(limit), "xtask bench --criterion")
}

/// The latency benchmark: builds and runs the `pidkit-bench`
/// binary (in `bench/`) in release mode. It measures every figure in this run,
/// prints progress, a machine header and the table, and writes `results.json`,
/// `results.csv` and `latency.svg` under `target/pidkit-bench/`.
fn latency(opts: &Bench) -> ExitCode {
    let mut cmd = Cmd::cargo(["run", "--release", "--quiet", "-p", "pidkit-bench", "--"]);
    cmd = cmd.arg(if opts.full { "--full" } else { "--quick" });
    if let Some(f) = &opts.filter {
        cmd = cmd.args(["--filter", f.as_str()]);
    }
    if opts.json {
        cmd = cmd.arg("--json");
    }
    if opts.wide {
        cmd = cmd.arg("--wide");
    }
    let out_dir = match crate::workspace::metadata() {
        Ok(m) => m.target_dir.join("pidkit-bench"),
        Err(e) => {
            eprintln!("xtask bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    cmd = cmd.arg("--out").arg(&out_dir);
    cmd = aligned_build(cmd, &out_dir);
    let mut peers_ok = true;
    if opts.peers {
        cmd = cmd.arg("--peers");
        match peer_args() {
            Ok((args, errors)) => {
                cmd = cmd.args(args);
                for e in &errors {
                    eprintln!("xtask bench --peers: {e}; that peer is left out of this run");
                }
                peers_ok = errors.is_empty();
            }
            Err(e) => {
                eprintln!("xtask bench --peers: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let limit = Duration::from_secs(if opts.full { 60 * 60 } else { 20 * 60 });
    let status = run_to_end(cmd.timeout(limit), "xtask bench");
    if peers_ok {
        status
    } else {
        eprintln!("xtask bench: some peers could not be fetched or built (see above)");
        ExitCode::FAILURE
    }
}

/// Fetches and builds the external peers; returns pidkit-bench's arguments
/// for those that are ready and the errors of those that are not.
fn peer_args() -> Result<(Vec<std::ffi::OsString>, Vec<String>), String> {
    let cache = crate::peers::cache_dir()?;
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask has no parent directory")?
        .to_owned();
    println!("peers: cache {}", cache.display());
    let mut args = Vec::new();
    let mut errors = Vec::new();
    match crate::peers::go_peer(&workspace, &cache) {
        Ok(bin) => {
            args.push("--go-peer".into());
            args.push(bin.into_os_string());
        }
        Err(e) => errors.push(format!("Go peer: {e}")),
    }
    match crate::peers::psutil_python(&cache) {
        Ok(python) => {
            args.push("--psutil-peer".into());
            args.push(python.into_os_string());
            args.push(
                workspace
                    .join("bench")
                    .join("peers")
                    .join("psutil_peer.py")
                    .into_os_string(),
            );
        }
        Err(e) => errors.push(format!("psutil peer: {e}")),
    }
    Ok((args, errors))
}

/// Prints and runs `cmd`; its status becomes ours.
fn run_to_end(cmd: Cmd, what: &str) -> ExitCode {
    println!("$ {}", cmd.display());
    let out = exec::run(&cmd);
    if out.finish.success() {
        ExitCode::SUCCESS
    } else {
        eprintln!("{what}: {}", out.finish.describe());
        ExitCode::FAILURE
    }
}
