//! The peers (`--peers`): tokio::process measured here against raw
//! syscalls and std, and the Go and Python peer programs of `bench/peers/`,
//! each run as its own process that measures its library against its own
//! language's raw `kill` and prints one JSON line per row.

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use pidkit_monitor::Monitor;
use testkit::ChildGuard;

use crate::cases::{exit_sample_raw, pin, settle};
use crate::measure::interleave;
use crate::op;
use crate::spawn;
use crate::{Config, Row};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// tokio::process: exit notification and spawn+wait, against the same
/// baselines as the monitor's rows.
pub(crate) fn tokio_rows(cfg: &Config) -> Result<Vec<Row>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    let subject = "tokio::process";

    pin(Some(0));
    let n = cfg.samples(400);
    let mut tokio_exit = || -> f64 {
        rt.block_on(async {
            let mut c = tokio::process::Command::new("sleep")
                .arg("1000")
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn");
            let pid = c.id().expect("pid") as i32;
            settle();
            let t0 = Instant::now();
            rustix::process::kill_process(
                rustix::process::Pid::from_raw(pid).expect("pid"),
                rustix::process::Signal::KILL,
            )
            .expect("kill");
            let st = c.wait().await.expect("wait");
            let t = t0.elapsed();
            black_box(st);
            t.as_nanos() as f64
        })
    };
    let (a, b) = interleave(cfg.budget(3.0), n / 4, n, &mut tokio_exit, &mut || {
        exit_sample_raw()
    });
    rows.push(
        Row::new(
            "exit notification",
            "tokio Child::wait vs raw poll(pidfd)+waitid",
            a,
            b,
        )
        .by(subject)
        .floor_of(op::EXIT)
        .latency(),
    );
    pin(None);

    let (a, b) = interleave(
        cfg.budget(3.0),
        20,
        100_000,
        &mut || spawn::tokio_sample(&rt, 1),
        &mut || spawn::std_sample(1),
    );
    rows.push(
        Row::new(
            "spawn+wait",
            "sequential, per child: tokio::process vs std::process::Command",
            a,
            b,
        )
        .by(subject)
        .floor_of(op::SPAWN_SEQ),
    );

    let (a, b) = interleave(
        cfg.budget(3.0),
        20,
        100_000,
        &mut || spawn::tokio_sample(&rt, spawn::BATCH),
        &mut || spawn::std_sample(spawn::BATCH),
    );
    rows.push(
        Row::new(
            "spawn+wait",
            "8 in flight, per child: tokio::process vs std::process::Command",
            a,
            b,
        )
        .by(subject)
        .floor_of(op::SPAWN_PAR),
    );

    // The rows pidkit shares with tokio::process, measured head to head in
    // one interleave (the two "vs std" rows above and in the spawn+wait
    // group come from different moments of the run).
    let monitor = Monitor::new()?;
    for in_flight in [1, spawn::BATCH] {
        let (a, b) = interleave(
            cfg.budget(3.0),
            20,
            100_000,
            &mut || spawn::monitor_sample(&monitor, in_flight),
            &mut || spawn::tokio_sample(&rt, in_flight),
        );
        let what = if in_flight == 1 {
            "sequential".to_owned()
        } else {
            format!("{in_flight} in flight")
        };
        rows.push(
            Row::new(
                "spawn+wait",
                &format!(
                    "{what}, per child: Monitor::start + wait vs tokio::process spawn + wait().await"
                ),
                a,
                b,
            )
            .by("pidkit vs tokio::process"),
        );
    }
    Ok(rows)
}

/// An external peer program: the command line that runs it.
#[derive(Clone, Debug)]
pub(crate) struct Program {
    pub(crate) name: &'static str,
    pub(crate) argv: Vec<PathBuf>,
}

/// Runs one peer program pinned to CPU 0 (like the pidkit signal rows) and
/// turns its JSON lines into rows.
pub(crate) fn external(cfg: &Config, prog: &Program) -> Result<Vec<Row>> {
    let (exe, args) = prog.argv.split_first().ok_or("empty peer command")?;
    pin(Some(0));
    let budget = cfg.budget(1.5).as_secs_f64();
    let child = Command::new(exe)
        .args(args)
        .arg(format!("{budget}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running the {} peer {}: {e}", prog.name, exe.display()));
    pin(None);
    let mut child = ChildGuard::new(child?);
    let out = child.child_mut().stdout.take().ok_or("no stdout")?;
    let mut rows = Vec::new();
    for line in BufReader::new(out).lines() {
        let line = line?;
        if line.trim_start().starts_with('{') {
            rows.push(parse_line(&line).map_err(|e| format!("{} peer: {e}: {line}", prog.name))?);
        }
    }
    let st = child.wait();
    if !st.success() {
        return Err(format!("the {} peer failed: {st}", prog.name).into());
    }
    if rows.is_empty() {
        return Err(format!("the {} peer printed no result", prog.name).into());
    }
    Ok(rows)
}

/// One result line of a peer: `{"group", "op", "subject", "metric",
/// "a": [ns...], "b": [ns...]}`, `a` the library, `b` its floor.
pub(crate) fn parse_line(line: &str) -> Result<Row> {
    let v: serde_json::Value = serde_json::from_str(line)?;
    let s = |k: &str| -> Result<String> {
        Ok(v.get(k)
            .and_then(|x| x.as_str())
            .ok_or_else(|| format!("missing string {k:?}"))?
            .to_owned())
    };
    let nums = |k: &str| -> Result<Vec<f64>> {
        let arr = v
            .get(k)
            .and_then(|x| x.as_array())
            .ok_or_else(|| format!("missing array {k:?}"))?;
        let out: Vec<f64> = arr.iter().filter_map(|x| x.as_f64()).collect();
        if out.len() != arr.len() || out.is_empty() {
            return Err(format!("{k:?} must be a non-empty array of numbers").into());
        }
        Ok(out)
    };
    let op = match s("op")?.as_str() {
        "held_kill" => op::HELD_VS_KILL,
        "held_pidfd" => op::HELD_VS_PIDFD,
        "from_pid_kill" => op::FROM_PID_VS_KILL,
        other => return Err(format!("unknown op {other:?}").into()),
    };
    Ok(
        Row::new(&s("group")?, &s("metric")?, nums("a")?, nums("b")?)
            .by(&s("subject")?)
            .floor_of(op),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_lines() {
        let r = parse_line(
            r#"{"group":"signal send","op":"held_kill","subject":"Go os.Process","metric":"m","a":[2,4],"b":[1,2.5]}"#,
        )
        .unwrap();
        assert_eq!(r.subject, "Go os.Process");
        assert_eq!(r.op.as_deref(), Some(op::HELD_VS_KILL));
        assert_eq!((r.pidkit.len(), r.baseline.len()), (2, 2));
        assert!(
            parse_line(r#"{"group":"g","op":"nope","subject":"s","metric":"m","a":[1],"b":[1]}"#)
                .is_err()
        );
        assert!(
            parse_line(
                r#"{"group":"g","op":"held_kill","subject":"s","metric":"m","a":[],"b":[1]}"#
            )
            .is_err()
        );
        assert!(
            parse_line(
                r#"{"group":"g","op":"held_kill","subject":"s","metric":"m","a":["x"],"b":[1]}"#
            )
            .is_err()
        );
        assert!(parse_line("not json").is_err());
    }
}
