//! `cargo xtask matrix` (and the matrix steps of `cargo xtask test`): the whole
//! nextest suite inside real Debian kernels booted in QEMU.
//!
//! For each suite in [`KERNELS`] the newest `linux-image-amd64` is fetched with
//! apt through a private sources list and state directory (the machine's apt
//! configuration is never read or changed), cached, and unpacked. A small
//! initramfs is made of the static guest init (`src/bin/pidkit-guest-init.rs`)
//! and the kernel's own 9p/virtio modules; the guest mounts the host's root
//! read-only over virtio-9p, gets fresh `/tmp` and `/run`, and runs a
//! `cargo nextest archive` of the workspace with the distributions' default
//! soft `RLIMIT_NOFILE` of 1024. One line per kernel gives its counts and the
//! failing tests. A kernel that cannot be fetched or booted fails its step.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::exec::{self, Cmd};
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
/// Guests booted side by side (1: two TCG guests on two cores slowed each
/// other down more than they overlapped).
const LANES: usize = 1;

/// Options of `cargo xtask matrix`.
#[derive(Debug, Clone, Default)]
pub(crate) struct MatrixOptions {
    /// Only these suites (code names or series); all when empty.
    pub(crate) only: Vec<String>,
    /// Extra arguments for `nextest run` in the guest (a filter, say).
    pub(crate) nextest_args: Vec<String>,
    /// Overall budget.
    pub(crate) budget: Option<Duration>,
}

/// Parses the options of `cargo xtask matrix`.
pub(crate) fn parse_options(args: &[String]) -> Result<MatrixOptions, String> {
    let mut o = MatrixOptions::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--kernel" => {
                let v = it.next().ok_or("--kernel needs a suite or series")?;
                if !KERNELS.iter().any(|k| k.suite == v || k.series == v) {
                    return Err(format!("--kernel: unknown suite or series {v}"));
                }
                o.only.push(v.clone());
            }
            "--budget" => {
                let v = it.next().ok_or("--budget needs a number of minutes")?;
                let m: u64 = v
                    .parse()
                    .map_err(|_| format!("--budget: not a number: {v}"))?;
                o.budget = Some(Duration::from_secs(m * MIN));
            }
            "--" => {
                o.nextest_args.extend(it.by_ref().cloned());
            }
            other => return Err(format!("unknown option for `matrix`: {other}")),
        }
    }
    Ok(o)
}

/// `cargo xtask matrix`.
pub(crate) fn run_task(opts: &MatrixOptions) -> std::process::ExitCode {
    let mut r = Report::new(
        "matrix",
        opts.budget.unwrap_or(crate::tasks::DEFAULT_BUDGET),
    );
    run(&mut r, opts);
    r.finish()
}

/// Runs the matrix as steps of `r`: one build step, then one step per kernel.
pub(crate) fn run(r: &mut Report, opts: &MatrixOptions) {
    let kernels: Vec<Kernel> = KERNELS
        .iter()
        .filter(|k| opts.only.is_empty() || opts.only.iter().any(|o| o == k.suite || o == k.series))
        .copied()
        .collect();
    let name = "matrix: build guest init and suite archive";
    let started = r.begin(name);
    let prepared = prepare(r);
    let ok = prepared.is_ok();
    let (setup, err) = match prepared {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e)),
    };
    r.record(
        name,
        started,
        setup
            .as_ref()
            .map(|_| String::new())
            .ok_or_else(|| err.unwrap_or_default()),
    );
    // Two lanes of kernels side by side: the guests spend much of the suite
    // waiting (for children, exits, locks), so two of them share the host's
    // CPUs better than one at a time.
    let lanes: Vec<Vec<Kernel>> = (0..LANES)
        .map(|lane| kernels.iter().skip(lane).step_by(LANES).copied().collect())
        .collect();
    let shared: &Report = r;
    let mut results: Vec<(Kernel, Duration, Result<String, String>)> = std::thread::scope(
        |scope| {
            let handles: Vec<_> = lanes
            .into_iter()
            .map(|lane| {
                let setup = setup.as_ref();
                let args = &opts.nextest_args;
                scope.spawn(move || {
                    lane.into_iter()
                        .map(|k| {
                            println!("\n==> matrix: Linux {} ({}) starts", k.series, k.suite);
                            let t = Instant::now();
                            let result = match setup {
                                Some(s) if ok => run_kernel(shared, s, k, args),
                                _ => Err("not run: the guest init or the suite archive did not build"
                                    .into()),
                            };
                            (k, t.elapsed(), result)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        },
    );
    results.sort_by_key(|(k, _, _)| KERNELS.iter().position(|x| x.suite == k.suite));
    let mut lines = Vec::new();
    for (k, took, result) in results {
        let name = format!("matrix: Linux {} ({})", k.series, k.suite);
        let shown = match &result {
            Ok(l) => l.clone(),
            Err(l) => l
                .lines()
                .take_while(|x| !x.starts_with("  log:"))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        lines.push(format!("{:<9} {}", k.suite, shown));
        r.record_took(&name, took, result);
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
}

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
    if which("qemu-system-x86_64").is_none() {
        return Err(
            "qemu-system-x86_64 is not installed (.ci/run installs qemu-system-x86)".into(),
        );
    }
    for tool in ["apt-get", "dpkg-deb", "xz", "zstd"] {
        if which(tool).is_none() {
            return Err(format!("{tool} is not installed (.ci/run installs it)"));
        }
    }
    let nextest = which("cargo-nextest").ok_or("cargo-nextest is not installed")?;
    let meta = workspace::metadata()?;
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask has no parent directory")?
        .to_path_buf();
    let out_root = meta.target_dir.join("pidkit-matrix");
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
    })
}

/// apt with a private sources list, state and cache under `dir`.
fn apt(dir: &Path, program: &str) -> Cmd {
    // Each of apt's directories and files, as a path under `dir`.
    let paths = [
        ("Dir::Etc::SourceList", "sources.list"),
        ("Dir::Etc::SourceParts", "parts"),
        ("Dir::Etc::Preferences", "preferences"),
        ("Dir::Etc::PreferencesParts", "parts"),
        ("Dir::State", "state"),
        ("Dir::State::status", "state/status"),
        ("Dir::Cache", "cache"),
    ];
    let mut cmd = Cmd::new(program);
    for (option, under) in paths {
        cmd = cmd
            .arg("-o")
            .arg(format!("{option}={}", dir.join(under).display()));
    }
    cmd.args(["-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root"])
        .args([
            "-o",
            "APT::Architecture=amd64",
            "-o",
            "Acquire::Languages=none",
        ])
        .timeout(APT_LIMIT)
}

fn quiet(r: &Report, cmd: Cmd) -> Result<String, String> {
    let shown = cmd.display();
    let out = r.exec(cmd.capture_stdout().capture_stderr());
    if out.finish.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "`{shown}` failed: {}: {}",
            out.finish.describe(),
            out.stderr.trim()
        ))
    }
}

/// Fetches (or finds cached) the suite's newest kernel; returns the directory
/// it is unpacked in and its version string.
fn fetch_kernel(r: &Report, cache: &Path, k: Kernel) -> Result<(PathBuf, String), String> {
    let dir = cache.join("apt").join(k.suite);
    for sub in [
        "state/lists/partial",
        "cache/archives/partial",
        "debs",
        "parts",
    ] {
        fs::create_dir_all(dir.join(sub)).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let status = dir.join("state").join("status");
    if !status.exists() {
        fs::write(&status, "").map_err(|e| format!("{}: {e}", status.display()))?;
    }
    let key = "[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]";
    let mut sources = format!("deb {key} http://deb.debian.org/debian {} main\n", k.suite);
    if k.security {
        let _ = writeln!(
            sources,
            "deb {key} http://deb.debian.org/debian-security {}-security main",
            k.suite
        );
    }
    fs::write(dir.join("sources.list"), sources).map_err(|e| format!("sources.list: {e}"))?;
    quiet(r, apt(&dir, "apt-get").arg("update"))?;
    let depends = quiet(
        r,
        apt(&dir, "apt-cache").args(["depends", "linux-image-amd64"]),
    )?;
    let package = parse_image_depends(&depends).ok_or_else(|| {
        format!(
            "{}: linux-image-amd64 names no kernel image:\n{depends}",
            k.suite
        )
    })?;
    // Since 7.x the image package is a shell around linux-binary-* (the
    // kernel) and linux-modules-* (its modules): fetch those too.
    let image_deps = quiet(r, apt(&dir, "apt-cache").args(["depends", &package]))?;
    let mut packages = vec![package.clone()];
    packages.extend(parse_split_packages(&image_deps));
    let mut debs_of = Vec::new();
    let mut version = String::new();
    for (i, pkg) in packages.iter().enumerate() {
        let policy = quiet(r, apt(&dir, "apt-cache").args(["policy", pkg]))?;
        let v = policy
            .lines()
            .find_map(|l| l.trim().strip_prefix("Candidate:"))
            .map(|v| v.trim().to_owned())
            .filter(|v| v != "(none)")
            .ok_or_else(|| format!("{}: no candidate for {pkg}", k.suite))?;
        if i == 0 {
            version = v.clone();
        }
        let debs = dir.join("debs");
        let deb = debs.join(format!("{pkg}_{}_amd64.deb", v.replace(':', "%3a")));
        if !deb.is_file() {
            quiet(
                r,
                apt(&dir, "apt-get")
                    .args(["download", &format!("{pkg}={v}")])
                    .current_dir(&debs),
            )?;
            if !deb.is_file() {
                return Err(format!("apt-get download left no {}", deb.display()));
            }
        }
        debs_of.push(deb);
    }
    let unpacked = cache.join("kernels").join(format!("{package}_{version}"));
    let done = unpacked.join(".unpacked");
    if !done.exists() {
        let _ = fs::remove_dir_all(&unpacked);
        fs::create_dir_all(&unpacked).map_err(|e| format!("{}: {e}", unpacked.display()))?;
        for deb in &debs_of {
            quiet(
                r,
                Cmd::new("dpkg-deb")
                    .arg("-x")
                    .arg(deb)
                    .arg(&unpacked)
                    .timeout(APT_LIMIT),
            )?;
        }
        fs::write(&done, "").map_err(|e| format!("{}: {e}", done.display()))?;
    }
    // Remove older unpacked kernels of the same package.
    if let Ok(entries) = fs::read_dir(cache.join("kernels")) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(&format!("{package}_")) && e.path() != unpacked {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    Ok((unpacked, format!("{package} {version}")))
}

/// The packages an image package splits its kernel and modules into
/// (`linux-binary-*`, `linux-modules-*`; none before 7.x).
fn parse_split_packages(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().trim_start_matches('|').strip_prefix("Depends:"))
        .map(str::trim)
        .filter(|p| p.starts_with("linux-binary-") || p.starts_with("linux-modules-"))
        .filter(|p| !p.contains('<'))
        .map(str::to_owned)
        .collect()
}

/// The kernel image package `apt-cache depends linux-image-amd64` names.
fn parse_image_depends(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().trim_start_matches('|').strip_prefix("Depends:"))
        .map(str::trim)
        .find(|p| p.starts_with("linux-image-") && !p.contains('<'))
        .map(str::to_owned)
}

fn run_kernel(r: &Report, s: &Setup, k: Kernel, nextest_args: &[String]) -> Result<String, String> {
    let (root, label) = fetch_kernel(r, &s.cache, k)?;
    // Merged-/usr packages (trixie on) ship their modules under /usr/lib.
    let modules_root = [
        root.join("lib").join("modules"),
        root.join("usr/lib/modules"),
    ]
    .into_iter()
    .find(|p| p.is_dir())
    .ok_or_else(|| format!("no lib/modules or usr/lib/modules in {}", root.display()))?;
    let release = fs::read_dir(&modules_root)
        .map_err(|e| format!("{}: {e}", modules_root.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .next()
        .ok_or("the kernel package has no modules directory")?;
    let vmlinuz = [
        root.join("boot"),
        root.join("usr/lib/linux"),
        root.join(format!("usr/lib/modules/{release}")),
        root.join(format!("lib/modules/{release}")),
    ]
    .iter()
    .flat_map(|d| [d.join(format!("vmlinuz-{release}")), d.join("vmlinuz")])
    .find(|p| p.is_file())
    .unwrap_or_else(|| root.join("boot").join(format!("vmlinuz-{release}")));
    if !vmlinuz.is_file() {
        return Err(format!("no {}", vmlinuz.display()));
    }
    let out = s.out_root.join(k.suite);
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let initrd = out.join("initrd.cpio");
    let modules = crate::initramfs::guest_modules(&modules_root.join(&release), &GUEST_MODULES)?;
    crate::initramfs::write(&initrd, &s.init, &modules)?;

    let script = out.join("run.sh");
    fs::write(&script, guest_script(s, nextest_args))
        .map_err(|e| format!("{}: {e}", script.display()))?;
    let console = out.join("console.log");
    let append = format!(
        "console=ttyS0 panic=-1 quiet loglevel=4 pidkit.script={} pidkit.out={}",
        script.display(),
        out.display()
    );
    let started = Instant::now();
    let cmd = Cmd::new("qemu-system-x86_64")
        .args([
            "-accel",
            "tcg,thread=multi",
            "-cpu",
            "max",
            "-smp",
            GUEST_CPUS,
            "-m",
            GUEST_MEM,
        ])
        .args([
            "-display",
            "none",
            "-monitor",
            "none",
            "-no-reboot",
            "-nic",
            "none",
        ])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-kernel")
        .arg(&vmlinuz)
        .arg("-initrd")
        .arg(&initrd)
        .arg("-append")
        .arg(append)
        .args([
            "-fsdev",
            "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
        ])
        .args(["-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot"])
        .arg("-fsdev")
        .arg(format!(
            "local,id=out,path={},security_model=none",
            out.display()
        ))
        .args(["-device", "virtio-9p-pci,fsdev=out,mount_tag=out"])
        .timeout(GUEST_LIMIT)
        .capture_stdout()
        .capture_stderr();
    println!(
        "booting {label} ({release}); console: {}",
        console.display()
    );
    let run = r.exec(cmd);
    let secs = started.elapsed().as_secs();
    let console_text = fs::read_to_string(&console).unwrap_or_default();
    if !run.finish.success() {
        return Err(format!(
            "{release}: qemu failed after {secs}s: {}\n{}",
            run.finish.describe(),
            tail(&console_text, 40)
        ));
    }
    let log = fs::read_to_string(out.join("nextest.log")).unwrap_or_default();
    let status = fs::read_to_string(out.join("status")).unwrap_or_default();
    if status.trim().is_empty() {
        return Err(format!(
            "{release}: the suite did not run to its end ({secs}s); console:\n{}",
            tail(&console_text, 40)
        ));
    }
    let summary = summarize(&log);
    let mut line = format!("Linux {release}: {} in {secs}s ({label})", summary.counts);
    // The reuse tests' own counts ("N immediate reuses, ..., 0 wrong signals").
    let mut seen = Vec::new();
    for l in log.lines().map(str::trim) {
        if l.contains("immediate reuses") && !seen.contains(&l) {
            seen.push(l);
            let _ = write!(line, "\n    {l}");
        }
    }
    if status.trim() == "0" && summary.failed.is_empty() && summary.ran {
        Ok(line)
    } else {
        let mut msg = format!("{line}; nextest exit status {}", status.trim());
        for t in &summary.failed {
            let _ = write!(msg, "\n    {t}");
        }
        let _ = write!(
            msg,
            "\n  log: {}\n{}",
            out.join("nextest.log").display(),
            tail_from_summary(&log, 400)
        );
        Err(msg)
    }
}

/// The script the guest runs (as a file on the host, which the guest sees).
fn guest_script(s: &Setup, nextest_args: &[String]) -> String {
    let q = |p: &Path| exec::shell_quote(&p.to_string_lossy());
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{home}/.cargo"));
    let rustup_home = std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{home}/.rustup"));
    let extra: Vec<String> = nextest_args.iter().map(|a| exec::shell_quote(a)).collect();
    format!(
        r#"# Written by `cargo xtask matrix`; run by pidkit-guest-init inside the guest.
out="$PIDKIT_MATRIX_OUT"
export HOME=/tmp/home XDG_CACHE_HOME=/tmp/home/.cache CARGO_HOME={cargo_home} RUSTUP_HOME={rustup_home}
# Watchdogs wait longer under TCG (testkit::time_scale); tests wait for facts.
export PIDKIT_TEST_TIME_SCALE=8
export CI=true PIDKIT_SANDBOX=none PIDKIT_MATRIX=1 CARGO_TERM_COLOR=never NEXTEST_HIDE_PROGRESS_BAR=1
command -v ip >/dev/null && ip link set lo up
# The distributions' default soft limit on open files.
ulimit -Sn 1024
echo "guest: $(uname -r), $(nproc) cpus, nofile $(ulimit -Sn)/$(ulimit -Hn)"
mkdir -p /tmp/nextest /tmp/home
cd {ws}
{nextest} nextest run --archive-file {archive} --workspace-remap {ws} --extract-to /tmp/nextest --profile matrix --no-fail-fast {extra} >"$out/nextest.log" 2>&1
echo $? >"$out/status"
sync
"#,
        ws = q(&s.workspace),
        nextest = q(&s.nextest),
        archive = q(&s.archive),
        extra = extra.join(" "),
    )
}

#[derive(Debug, Default)]
struct Summary {
    ran: bool,
    counts: String,
    failed: Vec<String>,
}

/// The counts and the failing tests from nextest's output.
fn summarize(log: &str) -> Summary {
    let mut s = Summary::default();
    for line in log.lines() {
        let t = line.trim();
        if let Some(i) = t.find(" tests run: ") {
            s.ran = true;
            // "Summary [ 12.3s] 293 tests run: 293 passed, 0 skipped"
            let start = t[..i].rfind(' ').map_or(0, |j| j + 1);
            s.counts = t[start..].to_owned();
        } else if t.starts_with("error: ") && !s.ran {
            s.counts = t.to_owned();
        }
        for word in [
            "FAIL [",
            "TIMEOUT [",
            "SIGSEGV [",
            "SIGABRT [",
            "SIGKILL [",
            "LEAK-FAIL [",
        ] {
            if let Some(rest) = t.strip_prefix(word) {
                let name = rest
                    .split_once(']')
                    .map_or(rest, |(_, n)| n)
                    .trim()
                    .to_owned();
                if !s.failed.contains(&name) {
                    s.failed.push(name);
                }
            }
        }
    }
    if !s.ran && s.counts.is_empty() {
        s.counts = "no summary line in nextest's output".into();
    }
    s
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn tail_from_summary(log: &str, max: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.contains("Summary ["))
        .unwrap_or(lines.len().saturating_sub(max));
    lines[start..]
        .iter()
        .take(max)
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_packages() {
        let text = "linux-image-7.2.13+deb14-amd64\n  PreDepends: linux-base\n |Depends: dracut\n  Depends: <linux-initramfs-tool>\n  Depends: linux-base-7.2.13+deb14-amd64\n  Depends: linux-binary-7.2.13+deb14-amd64\n  Depends: linux-modules-7.2.13+deb14-amd64\n";
        assert_eq!(
            parse_split_packages(text),
            [
                "linux-binary-7.2.13+deb14-amd64",
                "linux-modules-7.2.13+deb14-amd64"
            ]
        );
        assert!(parse_split_packages("linux-image-5.10.0-46-amd64\n  Depends: kmod\n").is_empty());
    }

    #[test]
    fn image_depends() {
        let text = "linux-image-amd64\n  Depends: linux-image-5.10.0-46-amd64\n";
        assert_eq!(
            parse_image_depends(text).as_deref(),
            Some("linux-image-5.10.0-46-amd64")
        );
        assert_eq!(parse_image_depends("linux-image-amd64\n"), None);
        let alt =
            "x\n |Depends: linux-image-7.0.1-amd64\n  Depends: linux-image-7.0.1-amd64-unsigned\n";
        assert_eq!(
            parse_image_depends(alt).as_deref(),
            Some("linux-image-7.0.1-amd64")
        );
    }

    #[test]
    fn summary_counts_and_failures() {
        let log = "        PASS [   0.1s] pidkit-pidfd::pidfd a\n        FAIL [   2.0s] pidkit-monitor::monitor b::c\n------------\n     Summary [ 200.1s] 293 tests run: 292 passed, 1 failed, 0 skipped\n        FAIL [   2.0s] pidkit-monitor::monitor b::c\n";
        let s = summarize(log);
        assert!(s.ran);
        assert_eq!(s.counts, "293 tests run: 292 passed, 1 failed, 0 skipped");
        assert_eq!(s.failed, ["pidkit-monitor::monitor b::c"]);
        assert!(!summarize("error: no archive").ran);
    }
}
