//! `cargo xtask matrix` (and the matrix steps of `cargo xtask test`): the whole
//! nextest suite inside real Debian kernels booted in QEMU.
//!
//! For each suite in [`KERNELS`] the newest `linux-image-amd64` is fetched with
//! apt through a private sources list and state directory, cached, and
//! unpacked ([`fetch`]). A small initramfs ([`initramfs`]) is made of the
//! static guest init (`src/bin/pidkit-guest-init.rs`) and the kernel's own
//! 9p/virtio modules; the guest ([`guest`]) mounts the host's root read-only
//! over virtio-9p, gets fresh `/tmp` and `/run`, and runs a
//! `cargo nextest archive` of the workspace with the distributions' default
//! soft `RLIMIT_NOFILE` of 1024. One line per kernel gives its counts and the
//! failing tests. A kernel that cannot be fetched or booted fails its step.

mod fetch;
mod guest;
mod initramfs;

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::exec::Cmd;
use crate::report::Report;
use crate::workspace;

/// A Debian suite whose kernel the matrix boots.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kernel {
    /// The suite's code name.
    pub(crate) suite: &'static str,
    /// The kernel series the suite ships, for the step name.
    pub(crate) series: &'static str,
    /// Whether the suite has a `-security` archive (where its newest kernel is).
    security: bool,
}

impl Kernel {
    /// The name of this kernel's step in the summary.
    pub(crate) fn step_name(&self) -> String {
        format!("matrix: Linux {} ({})", self.series, self.suite)
    }
}

/// The kernels of the matrix: Debian 11, 12 and 13's and unstable's.
pub(crate) const KERNELS: [Kernel; 4] = [
    Kernel {
        suite: "bullseye",
        series: "5.10",
        security: true,
    },
    Kernel {
        suite: "bookworm",
        series: "6.1",
        security: true,
    },
    Kernel {
        suite: "trixie",
        series: "6.12",
        security: true,
    },
    Kernel {
        suite: "sid",
        series: "7.x",
        security: false,
    },
];

/// The kernel of the matrix with this suite or series name.
pub(crate) fn kernel(name: &str) -> Option<Kernel> {
    KERNELS
        .into_iter()
        .find(|k| k.suite == name || k.series == name)
}

const MIN: u64 = 60;
const APT_LIMIT: Duration = Duration::from_secs(5 * MIN);
const BUILD_LIMIT: Duration = Duration::from_secs(15 * MIN);
/// One kernel's boot and suite; QEMU is killed past it.
const GUEST_LIMIT: Duration = Duration::from_secs(40 * MIN);
/// Guest memory (MiB) and CPUs.
const GUEST_MEM: &str = "6144";
const GUEST_CPUS: &str = "2";
/// The modules the guest needs beyond the kernel image (their dependencies
/// are found from each module's `depends=` field).
const GUEST_MODULES: [&str; 3] = ["virtio_pci", "9pnet_virtio", "9p"];
const INIT_BIN: &str = "pidkit-guest-init";

/// `cargo xtask matrix`.
pub(crate) fn run_task(only: &[String], nextest_args: &[OsString], budget: Duration) -> ExitCode {
    let mut r = Report::new("matrix", budget);
    run(&mut r, only, nextest_args);
    r.finish()
}

/// Runs the matrix as steps of `r`: one build step, then one step per kernel
/// (those named in `only`, or all), one kernel at a time: two TCG guests on
/// two cores slow each other down more than they overlap.
pub(crate) fn run(r: &mut Report, only: &[String], nextest_args: &[OsString]) {
    let name = "matrix: build guest init and suite archive";
    let started = r.begin(name);
    let setup = prepare(r);
    let recorded = setup.as_ref().map(|_| String::new()).map_err(Clone::clone);
    r.record(name, started, recorded);
    let mut results = Vec::new();
    for k in KERNELS {
        if !only.is_empty() && !only.iter().any(|o| o == k.suite || o == k.series) {
            continue;
        }
        println!("\n==> matrix: Linux {} ({}) starts", k.series, k.suite);
        let t = Instant::now();
        let result = match &setup {
            Ok(s) => guest::run_kernel(r, s, k, nextest_args),
            Err(_) => Err("not run: the guest init or the suite archive did not build".into()),
        };
        results.push((k, t.elapsed(), result));
    }
    let mut lines = Vec::new();
    for (k, took, result) in results {
        let shown = match &result {
            Ok(l) => l.clone(),
            Err(l) => (l.lines())
                .take_while(|x| !x.starts_with("  log:"))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        lines.push(format!("{:<9} {}", k.suite, shown));
        r.record_took(&k.step_name(), took, result);
    }
    println!("\nkernel matrix:");
    for l in &lines {
        println!("  {l}");
    }
}

/// What every kernel's run shares.
#[derive(Debug)]
struct Setup {
    workspace: PathBuf,
    out_root: PathBuf,
    cache: PathBuf,
    init: PathBuf,
    archive: PathBuf,
    nextest: PathBuf,
    /// Debian sid's util-linux 2.42 unpacked, for the `PID:inode` interop
    /// tests inside the guest (`PIDKIT_UTIL_LINUX_ROOT`).
    util_linux: PathBuf,
}

/// Directories the guest init mounts anew (`pidkit-guest-init`).
const GUEST_FRESH: [&str; 6] = ["/tmp", "/var/tmp", "/run", "/dev", "/proc", "/sys"];

fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PIDKIT_MATRIX_CACHE") {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    base.join("pidkit").join("matrix")
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn prepare(r: &Report) -> Result<Setup, String> {
    crate::setup::check(&[crate::setup::Need::Matrix]).missing_for(crate::setup::Need::Matrix)?;
    let nextest = which("cargo-nextest").ok_or("cargo-nextest is not installed")?;
    let meta = workspace::metadata()?;
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask has no parent directory")?
        .to_path_buf();
    let out_root = meta.target_dir.join("pidkit-matrix");
    // The guest sees this machine's `/` read-only, with fresh file systems
    // on the directories below: a workspace or target directory in one of
    // them is not there inside.
    let util_linux = crate::peers::cache_dir().and_then(|c| crate::peers::util_linux_root(&c))?;
    for (what, dir) in [
        ("workspace", &workspace),
        ("target directory", &meta.target_dir),
        ("util-linux root", &util_linux),
    ] {
        if let Some(fresh) = GUEST_FRESH.iter().find(|f| dir.starts_with(f)) {
            return Err(format!(
                "the {what} {} is under {fresh}, which the guest mounts fresh; \
                 put it elsewhere to run the kernel matrix",
                dir.display()
            ));
        }
    }
    fs::create_dir_all(&out_root).map_err(|e| format!("{}: {e}", out_root.display()))?;
    let triple = workspace::host_triple()?;

    // The guest init, linked statically, in a target dir of its own.
    let init_target = out_root.join("init-target");
    let cmd = Cmd::cargo([
        "build",
        "--release",
        "--package",
        "xtask",
        "--bin",
        INIT_BIN,
        "--target",
        &triple,
    ])
    .env("CARGO_TARGET_DIR", &init_target)
    .env("RUSTFLAGS", "-C target-feature=+crt-static")
    .timeout(BUILD_LIMIT);
    let out = r.exec(cmd);
    if !out.finish.success() {
        return Err(format!("building {INIT_BIN}: {}", out.note()));
    }
    let init = init_target.join(&triple).join("release").join(INIT_BIN);

    let archive = out_root.join("suite.tar.zst");
    let cmd = Cmd::cargo([
        "nextest",
        "archive",
        "--workspace",
        "--exclude",
        "xtask",
        "--all-targets",
        "--archive-file",
    ])
    .arg(&archive)
    .timeout(BUILD_LIMIT);
    let out = r.exec(cmd);
    if !out.finish.success() {
        return Err(format!("cargo nextest archive: {}", out.note()));
    }
    let cache = cache_dir();
    fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    Ok(Setup {
        workspace,
        out_root,
        cache,
        init,
        archive,
        nextest,
        util_linux,
    })
}
