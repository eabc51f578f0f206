//! `pidkit-bench`: the signal- and exit-latency benchmark that
//! `cargo xtask bench` runs. Every figure it prints was measured in this run,
//! side by side (A B A B) with its raw-syscall baseline.
//!
//! Usage: `pidkit-bench [--quick|--full] [--filter TEXT] [--json] [--out DIR]`

#![forbid(unsafe_code)]

mod cases;
mod measure;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use measure::{Stats, stats};

/// Run settings.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    full: bool,
    filter: Option<String>,
    json: bool,
    pub(crate) out: PathBuf,
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

/// One line of the result table: a pidkit series and its baseline.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub(crate) group: &'static str,
    pub(crate) metric: String,
    pub(crate) pidkit: Vec<f64>,
    pub(crate) baseline: Vec<f64>,
    /// Per-event latencies (plotted as distributions) rather than batched costs.
    pub(crate) is_latency: bool,
}

impl Row {
    pub(crate) fn new(
        group: &'static str,
        metric: &str,
        pidkit: Vec<f64>,
        baseline: Vec<f64>,
    ) -> Row {
        Row {
            group,
            metric: metric.to_owned(),
            pidkit,
            baseline,
            is_latency: false,
        }
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
        filter: None,
        json: false,
        out: default_out(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => cfg.full = false,
            "--full" => cfg.full = true,
            "--json" => cfg.json = true,
            "--filter" => cfg.filter = Some(args.next().ok_or("--filter needs a value")?),
            "--out" => cfg.out = PathBuf::from(args.next().ok_or("--out needs a value")?),
            "-h" | "--help" => {
                return Err(
                    "usage: pidkit-bench [--quick|--full] [--filter TEXT] [--json] [--out DIR]"
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
    &'static str,
    fn(&Config) -> Result<Vec<Row>, Box<dyn std::error::Error>>,
);

fn main() -> ExitCode {
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

    let cases: [Case; 6] = [
        (
            "signal send",
            "signal send cost (pinned to CPU 0)",
            cases::signal_cost,
        ),
        (
            "signal latency pinned",
            "signal latency, both processes on one CPU",
            |c| cases::signal_latency(c, true),
        ),
        ("signal latency unpinned", "signal latency, unpinned", |c| {
            cases::signal_latency(c, false)
        }),
        (
            "exit notification",
            "exit-notification latency (pinned to CPU 0)",
            cases::exit_latency,
        ),
        (
            "spawn+wait",
            "spawn+wait throughput",
            cases::spawn_throughput,
        ),
        ("pidfile", "pidfile claim and read", cases::pidfile),
    ];
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
    println!("{}", report::table(&rows));
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
