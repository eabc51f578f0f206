//! `pidkit-bench`: the signal- and exit-latency benchmark that
//! `cargo xtask bench` runs. Every figure it prints was measured in this run,
//! side by side (A B A B) with its raw-syscall baseline.
//!
//! Usage: `pidkit-bench [--quick|--full] [--filter TEXT] [--json] [--wide]
//! [--out DIR] [--peers [--go-peer BIN] [--psutil-peer PYTHON SCRIPT]]`
//!
//! `--peers` adds tokio::process (measured here) and the external peer
//! programs of `bench/peers/` (built and fetched by `cargo xtask bench
//! --peers`), each measured against its own language's raw `kill` in its own
//! process.

// The floors make their system calls inline (`floor.rs`, the only module
// allowed `unsafe`).
#![deny(unsafe_code)]

mod asyncwait;
mod cases;
mod floor;
mod measure;
mod op;
mod peers;
mod report;
mod spawn;
mod tree;
mod window;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use measure::{Stats, stats};

/// Run settings.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    full: bool,
    /// One line a row with p99s and run counts, however wide (`--wide`).
    wide: bool,
    filter: Option<String>,
    json: bool,
    pub(crate) out: PathBuf,
    /// `--peers`: tokio rows and the external peers below.
    peers: bool,
    /// The external peer programs to run (with `--peers`).
    programs: Vec<peers::Program>,
}

impl Config {
    /// Time budget for one A/B pair: `quick_secs` in quick mode, 4× in full.
    pub(crate) fn budget(&self, quick_secs: f64) -> Duration {
        Duration::from_secs_f64(if self.full {
            quick_secs * 4.0
        } else {
            quick_secs
        })
    }

    /// Sample cap for per-event measurements.
    pub(crate) fn samples(&self, quick: usize) -> usize {
        if self.full { quick * 5 } else { quick }
    }
}

/// One line of the result table: a series of pidkit (or a peer) and its
/// baseline, measured interleaved in one process.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub(crate) group: String,
    /// Whose figure the first series is: `pidkit`, or a peer.
    pub(crate) subject: String,
    /// The operation, when the baseline is its floor: rows with one are
    /// drawn in the ratio chart, grouped by it.
    pub(crate) op: Option<String>,
    pub(crate) metric: String,
    pub(crate) pidkit: Vec<f64>,
    pub(crate) baseline: Vec<f64>,
    /// Per-event latencies (plotted as distributions) rather than batched costs.
    pub(crate) is_latency: bool,
    /// The figures are bytes, not nanoseconds.
    pub(crate) is_bytes: bool,
}

impl Row {
    pub(crate) fn new(group: &str, metric: &str, pidkit: Vec<f64>, baseline: Vec<f64>) -> Row {
        Row {
            group: group.to_owned(),
            subject: "pidkit".to_owned(),
            op: None,
            metric: metric.to_owned(),
            pidkit,
            baseline,
            is_latency: false,
            is_bytes: false,
        }
    }

    /// Marks the baseline as the floor of operation `op` (for the chart).
    pub(crate) fn floor_of(mut self, op: &str) -> Row {
        self.op = Some(op.to_owned());
        self
    }

    /// Names whose figure the first series is (default `pidkit`).
    pub(crate) fn by(mut self, subject: &str) -> Row {
        self.subject = subject.to_owned();
        self
    }

    /// Marks the figures as bytes (memory), not times.
    pub(crate) fn bytes(mut self) -> Row {
        self.is_bytes = true;
        self
    }

    pub(crate) fn latency(mut self) -> Row {
        self.is_latency = true;
        self
    }

    pub(crate) fn pidkit_stats(&self) -> Stats {
        stats(&self.pidkit)
    }

    pub(crate) fn baseline_stats(&self) -> Stats {
        stats(&self.baseline)
    }

    /// pidkit median / baseline median (times: lower is better).
    pub(crate) fn ratio(&self) -> f64 {
        self.pidkit_stats().p50 / self.baseline_stats().p50
    }
}

fn parse_args() -> Result<Config, String> {
    let mut cfg = Config {
        full: false,
        wide: false,
        filter: None,
        json: false,
        out: default_out(),
        peers: false,
        programs: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => cfg.full = false,
            "--full" => cfg.full = true,
            "--json" => cfg.json = true,
            "--wide" => cfg.wide = true,
            "--peers" => cfg.peers = true,
            "--go-peer" => cfg.programs.push(peers::Program {
                name: "Go",
                argv: vec![PathBuf::from(
                    args.next().ok_or("--go-peer needs a program")?,
                )],
            }),
            "--psutil-peer" => {
                let python = args.next().ok_or("--psutil-peer needs PYTHON SCRIPT")?;
                let script = args.next().ok_or("--psutil-peer needs PYTHON SCRIPT")?;
                cfg.programs.push(peers::Program {
                    name: "psutil",
                    argv: vec![PathBuf::from(python), PathBuf::from(script)],
                });
            }
            "--filter" => cfg.filter = Some(args.next().ok_or("--filter needs a value")?),
            "--out" => cfg.out = PathBuf::from(args.next().ok_or("--out needs a value")?),
            "-h" | "--help" => {
                return Err(
                    "usage: pidkit-bench [--quick|--full] [--filter TEXT] [--json] [--wide] \
                     [--out DIR] [--peers [--go-peer BIN] [--psutil-peer PYTHON SCRIPT]]"
                        .into(),
                );
            }
            other => {
                if let Some(v) = other.strip_prefix("--filter=") {
                    cfg.filter = Some(v.to_owned());
                } else if let Some(v) = other.strip_prefix("--out=") {
                    cfg.out = PathBuf::from(v);
                } else {
                    return Err(format!("unknown argument {other:?}"));
                }
            }
        }
    }
    if !cfg.programs.is_empty() && !cfg.peers {
        return Err("--go-peer and --psutil-peer need --peers".into());
    }
    Ok(cfg)
}

fn default_out() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        });
    target.join("pidkit-bench")
}

type Case = (
    &'static str,
    String,
    Box<dyn Fn(&Config) -> Result<Vec<Row>, Box<dyn std::error::Error>>>,
);

fn main() -> ExitCode {
    // The memory row measures each side in a fresh process of this program.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--footprint-child") {
        let side = args.get(1).and_then(|s| asyncwait::Side::from_name(s));
        let count = args.get(2).and_then(|s| s.parse().ok());
        let (Some(side), Some(count)) = (side, count) else {
            eprintln!("usage: pidkit-bench --footprint-child pidkit|tokio COUNT");
            return ExitCode::from(2);
        };
        return match asyncwait::footprint_child(side, count) {
            Ok(bytes) => {
                println!("{bytes}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("footprint child ({side:?}): {e}");
                ExitCode::FAILURE
            }
        };
    }
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&cfg.out) {
        eprintln!("cannot create {}: {e}", cfg.out.display());
        return ExitCode::FAILURE;
    }
    let machine = report::Machine::read();
    println!("{}", machine.header(cfg.full));

    let mut cases: Vec<Case> = vec![
        (
            "signal send",
            "signal send cost (pinned to CPU 0)".into(),
            Box::new(cases::signal_cost),
        ),
        (
            "signal latency pinned",
            "signal latency, both processes on one CPU".into(),
            Box::new(|c| cases::signal_latency(c, true)),
        ),
        (
            "signal latency unpinned",
            "signal latency, unpinned".into(),
            Box::new(|c| cases::signal_latency(c, false)),
        ),
        (
            "exit notification",
            "exit-notification latency (pinned to CPU 0)".into(),
            Box::new(cases::exit_latency),
        ),
        (
            "spawn+wait",
            "spawn+wait throughput".into(),
            Box::new(cases::spawn_throughput),
        ),
        (
            "sliding window",
            "sliding window of a job runner (wait for the oldest, start the next)".into(),
            Box::new(window::rows),
        ),
        (
            "pidfile",
            "pidfile claim and read".into(),
            Box::new(cases::pidfile),
        ),
        (
            "async",
            "awaiting exits on tokio: pidkit-monitor vs tokio::process".into(),
            Box::new(asyncwait::rows),
        ),
        (
            "process tree",
            "killing a 1,000-process tree: Tree::kill_tree + wait_tree vs cgroup.kill + inotify"
                .into(),
            Box::new(tree::rows),
        ),
    ];
    if cfg.peers {
        cases.push((
            "peer tokio",
            "peer: tokio::process exit notification and spawn+wait".into(),
            Box::new(peers::tokio_rows),
        ));
        for p in &cfg.programs {
            let prog = p.clone();
            cases.push((
                if p.name == "Go" {
                    "peer go"
                } else {
                    "peer psutil"
                },
                format!("peer: {} (its own process, against its own kill)", p.name),
                Box::new(move |c| peers::external(c, &prog)),
            ));
        }
    }
    let selected: Vec<&Case> = cases
        .iter()
        .filter(|(name, desc, _)| {
            cfg.filter
                .as_deref()
                .is_none_or(|f| name.contains(f) || desc.contains(f))
        })
        .collect();
    if selected.is_empty() {
        eprintln!("no benchmark matches the filter {:?}", cfg.filter);
        return ExitCode::from(2);
    }
    let mut rows = Vec::new();
    let mut failed = false;
    let started = Instant::now();
    for (i, (_, desc, run)) in selected.iter().enumerate() {
        eprintln!("[{}/{}] {desc} ...", i + 1, selected.len());
        let t = Instant::now();
        match run(&cfg) {
            Ok(r) => {
                eprintln!("      done in {:.1} s", t.elapsed().as_secs_f64());
                rows.extend(r);
            }
            Err(e) => {
                eprintln!("      FAILED: {e}");
                failed = true;
            }
        }
    }
    if cfg.wide {
        println!("{}", report::wide_table(&rows));
    } else {
        println!("{}", report::table(&rows, report::TERMINAL));
    }
    println!("total {:.0} s", started.elapsed().as_secs_f64());
    match report::write_files(&cfg.out, &machine, &rows, cfg.full) {
        Ok(paths) => {
            for p in paths {
                println!("wrote {}", p.display());
            }
        }
        Err(e) => {
            eprintln!("writing results: {e}");
            failed = true;
        }
    }
    if cfg.json {
        println!("{}", report::json(&machine, &rows, cfg.full));
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
