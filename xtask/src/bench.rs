//! `cargo xtask bench`: the signal- and exit-latency benchmark (issue 6), and
//! `--criterion` for the crates' criterion micro-benchmarks.
//!
//! The latency benchmark is not written yet. Until it is, `bench` says so and
//! exits with status 2, printing no figures: nothing is reported that was not
//! measured in the same run. [`latency`] is where it goes; the options it
//! needs are parsed already.

use std::process::ExitCode;
use std::time::Duration;

use crate::exec::{self, Cmd};

/// How long the latency benchmark runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Length {
    /// About a minute (the default).
    #[default]
    Quick,
    /// Longer runs, tighter percentiles.
    Full,
}

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct BenchOptions {
    /// `--quick` (default) or `--full`.
    pub(crate) length: Length,
    /// `--filter X`: only benchmarks whose name contains X.
    pub(crate) filter: Option<String>,
    /// `--json`: also print the results as JSON on stdout.
    pub(crate) json: bool,
    /// `--criterion`: run `cargo bench` (the criterion benches) instead.
    pub(crate) criterion: bool,
}

/// Parses the options of `cargo xtask bench`.
pub(crate) fn parse_options(args: &[String]) -> Result<BenchOptions, String> {
    let mut o = BenchOptions::default();
    let mut length_set = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let length = match a.as_str() {
            "--quick" => Some(Length::Quick),
            "--full" => Some(Length::Full),
            "--json" => {
                o.json = true;
                None
            }
            "--criterion" => {
                o.criterion = true;
                None
            }
            "--filter" => {
                let v = it.next().ok_or("--filter needs a value")?;
                o.filter = Some(v.clone());
                None
            }
            other => match other.strip_prefix("--filter=") {
                Some(v) => {
                    o.filter = Some(v.to_owned());
                    None
                }
                None => return Err(format!("unknown option for `bench`: {other}")),
            },
        };
        if let Some(l) = length {
            if length_set.is_some_and(|prev| prev != l) {
                return Err("--quick and --full exclude each other".into());
            }
            length_set = Some(l);
            o.length = l;
        }
    }
    if o.filter.as_deref() == Some("") {
        return Err("--filter needs a non-empty value".into());
    }
    Ok(o)
}

/// `cargo xtask bench`.
pub(crate) fn run(opts: &BenchOptions) -> ExitCode {
    if opts.criterion {
        criterion(opts)
    } else {
        latency(opts)
    }
}

/// `cargo bench` over the bench targets of the workspace only (`--bench '*'`;
/// `--benches` would also run the libraries' and binaries' libtest harnesses in
/// bench mode), with the filter passed to criterion.
fn criterion(opts: &BenchOptions) -> ExitCode {
    let mut cmd = Cmd::cargo(["bench", "--workspace", "--bench", "*"]);
    if let Some(f) = &opts.filter {
        cmd = cmd.args(["--", f.as_str()]);
    }
    let limit = match opts.length {
        Length::Quick => Duration::from_secs(30 * 60),
        Length::Full => Duration::from_secs(120 * 60),
    };
    let cmd = cmd.timeout(limit);
    println!("$ {}", cmd.display());
    let out = exec::run(&cmd);
    if out.finish.success() {
        ExitCode::SUCCESS
    } else {
        eprintln!("xtask bench --criterion: {}", out.finish.describe());
        ExitCode::FAILURE
    }
}

/// The latency benchmark of issue 6. Not implemented: says so, measures and
/// prints nothing, and exits with status 2.
fn latency(opts: &BenchOptions) -> ExitCode {
    let _ = opts;
    eprintln!(
        "xtask bench: the signal- and exit-latency benchmark (issue 6) is not implemented yet.\n\
         Nothing was measured and no figures are reported.\n\
         `cargo xtask bench --criterion` runs the crates' criterion micro-benchmarks."
    );
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<BenchOptions, String> {
        parse_options(&a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn options() {
        assert_eq!(parse(&[]).unwrap(), BenchOptions::default());
        let o = parse(&["--full", "--filter", "kill", "--json"]).unwrap();
        assert_eq!(o.length, Length::Full);
        assert_eq!(o.filter.as_deref(), Some("kill"));
        assert!(o.json && !o.criterion);
        let o = parse(&["--criterion", "--filter=open", "--quick"]).unwrap();
        assert!(o.criterion);
        assert_eq!(o.filter.as_deref(), Some("open"));
        assert!(parse(&["--quick", "--full"]).is_err());
        assert!(parse(&["--filter"]).is_err());
        assert!(parse(&["--filter="]).is_err());
        assert!(parse(&["--fast"]).is_err());
    }

    #[test]
    fn latency_is_honest_about_not_existing() {
        assert_eq!(latency(&BenchOptions::default()), ExitCode::from(2));
    }
}
