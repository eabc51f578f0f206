//! The table, the JSON and CSV files, and the SVG latency distributions.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::Row;

/// What the figures were measured on.
pub(crate) struct Machine {
    cores: usize,
    kernel: String,
    cpu: String,
    features: Vec<(&'static str, bool)>,
}

impl Machine {
    pub(crate) fn read() -> Machine {
        let s = pidkit_pidfd::probe();
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    l.strip_prefix("model name")
                        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
                })
            })
            .unwrap_or_else(|| "unknown cpu".into());
        Machine {
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            kernel: rustix::system::uname()
                .release()
                .to_string_lossy()
                .into_owned(),
            cpu,
            features: vec![
                ("pidfd_open", s.pidfd_open),
                ("send_signal", s.send_signal),
                ("waitid", s.waitid),
                ("pidfs", s.pidfs),
                ("get_info", s.get_info),
                ("info_exit", s.info_exit),
                ("thread", s.thread),
            ],
        }
    }

    fn feature_text(&self) -> String {
        self.features
            .iter()
            .map(|(n, ok)| format!("{n}{}", if *ok { "" } else { "(absent)" }))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub(crate) fn header(&self, full: bool) -> String {
        format!(
            "pidkit bench ({}) on Linux {}, {} cores, {}\npidfd features: {}\n\
             ratio = subject median / baseline median (time; lower is better, 1.00 = same cost)\n\
             floors: the minimal system-call sequence of each row, every call made the same way ({})",
            if full { "full" } else { "quick" },
            self.kernel,
            self.cores,
            self.cpu,
            self.feature_text(),
            crate::floor::PATH
        )
    }
}

/// `512 B`, `1.5 KiB`.
pub(crate) fn fmt_bytes(v: f64) -> String {
    if v.abs() < 1024.0 {
        format!("{v:.0} B")
    } else {
        format!("{:.1} KiB", v / 1024.0)
    }
}

/// `412 ns`, `5.31 µs`, `1.23 ms`.
pub(crate) fn fmt_ns(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v < 1_000.0 {
        format!("{v:.0} ns")
    } else if v < 1_000_000.0 {
        format!("{:.2} µs", v / 1_000.0)
    } else {
        format!("{:.2} ms", v / 1_000_000.0)
    }
}

/// How wide the default table may be: an ordinary terminal.
pub(crate) const TERMINAL: usize = 120;

/// The default table, at most `width` columns: group, subject, the row's
/// description and the two medians with their ratio; a cell too long for its
/// column is wrapped at spaces onto the next lines. `--wide` prints
/// [`wide_table`], which also has the p99s and the run counts, one line a
/// row.
pub(crate) fn table(rows: &[Row], width: usize) -> String {
    let head = [
        "group",
        "subject",
        "metric",
        "subject p50",
        "baseline p50",
        "ratio",
    ];
    let mut cells: Vec<[String; 6]> = vec![head.map(str::to_owned)];
    for r in rows {
        let f = if r.is_bytes { fmt_bytes } else { fmt_ns };
        cells.push([
            r.group.clone(),
            r.subject.clone(),
            r.metric.clone(),
            f(r.pidkit_stats().p50),
            f(r.baseline_stats().p50),
            format!("{:.2}x", r.ratio()),
        ]);
    }
    let natural = |j: usize| {
        cells
            .iter()
            .map(|c| c[j].chars().count())
            .max()
            .unwrap_or(0)
    };
    // The figures keep their natural width; group and subject wrap at 12
    // and 14 columns; the description takes what is left.
    let mut widths = [
        natural(0).min(12),
        natural(1).min(14),
        0,
        natural(3),
        natural(4),
        natural(5),
    ];
    let fixed: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
    widths[2] = natural(2).min(width.saturating_sub(fixed).max(20));
    let mut out = String::new();
    for (i, row) in cells.iter().enumerate() {
        let wrapped: Vec<Vec<String>> = row.iter().zip(widths).map(|(c, w)| wrap(c, w)).collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        for k in 0..height {
            let mut line = String::new();
            for (j, (lines, w)) in wrapped.iter().zip(widths).enumerate() {
                let c = lines.get(k).map(String::as_str).unwrap_or("");
                let pad = " ".repeat(w - c.chars().count());
                if j >= 3 {
                    let _ = write!(line, "{pad}{c}  ");
                } else {
                    let _ = write!(line, "{c}{pad}  ");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if i == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            out.push('\n');
        }
    }
    out
}

/// `text` in lines of at most `width` characters, broken at spaces (a word
/// longer than a line is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let line = lines.last_mut().expect("never empty");
            let used = line.chars().count();
            let sep = usize::from(used > 0);
            if used + sep + word.len() <= width {
                if sep == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                break;
            }
            if used > 0 {
                lines.push(String::new());
                continue;
            }
            let rest = word.split_off(width.max(1));
            line.extend(word.iter());
            word = rest;
            lines.push(String::new());
        }
    }
    lines
}

/// The whole table, one line a row, with the p99s and the run counts
/// (`--wide`).
pub(crate) fn wide_table(rows: &[Row]) -> String {
    let head = [
        "group",
        "subject",
        "metric",
        "subject p50",
        "baseline p50",
        "ratio",
        "subject p99",
        "baseline p99",
        "runs",
    ];
    let mut cells: Vec<[String; 9]> = vec![head.map(str::to_owned)];
    for r in rows {
        let (a, b) = (r.pidkit_stats(), r.baseline_stats());
        let f = if r.is_bytes { fmt_bytes } else { fmt_ns };
        cells.push([
            r.group.clone(),
            r.subject.clone(),
            r.metric.clone(),
            f(a.p50),
            f(b.p50),
            format!("{:.2}x", r.ratio()),
            f(a.p99),
            f(b.p99),
            format!("{}/{}", a.runs, b.runs),
        ]);
    }
    let mut width = [0usize; 9];
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (i, row) in cells.iter().enumerate() {
        for (j, (c, w)) in row.iter().zip(width).enumerate() {
            let pad = w - c.chars().count();
            if j >= 3 {
                let _ = write!(out, "{}{}  ", " ".repeat(pad), c);
            } else {
                let _ = write!(out, "{}{}  ", c, " ".repeat(pad));
            }
        }
        out = out.trim_end().to_owned();
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(width.iter().sum::<usize>() + 2 * 8));
            out.push('\n');
        }
    }
    out
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}")
    } else {
        "null".into()
    }
}

pub(crate) fn json(m: &Machine, rows: &[Row], full: bool) -> String {
    let mut o = String::from("{\n");
    let _ = writeln!(
        o,
        "  \"mode\": {},",
        json_str(if full { "full" } else { "quick" })
    );
    let _ = writeln!(
        o,
        "  \"machine\": {{\"kernel\": {}, \"cores\": {}, \"cpu\": {}, \"features\": {{{}}}}},",
        json_str(&m.kernel),
        m.cores,
        json_str(&m.cpu),
        m.features
            .iter()
            .map(|(n, ok)| format!("{}: {ok}", json_str(n)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    o.push_str("  \"unit\": \"ns\",\n  \"results\": [\n");
    for (i, r) in rows.iter().enumerate() {
        let (a, b) = (r.pidkit_stats(), r.baseline_stats());
        let _ = write!(
            o,
            "    {{\"group\": {}, \"subject\": {}, \"op\": {}, \"metric\": {}, \"pidkit_p50\": {}, \"baseline_p50\": {}, \"ratio\": {}, \
             \"pidkit_p99\": {}, \"baseline_p99\": {}, \"pidkit_min\": {}, \"baseline_min\": {}, \
             \"pidkit_runs\": {}, \"baseline_runs\": {}}}{}",
            json_str(&r.group),
            json_str(&r.subject),
            r.op.as_deref().map_or_else(|| "null".to_owned(), json_str),
            json_str(&r.metric),
            json_num(a.p50),
            json_num(b.p50),
            if r.ratio().is_finite() {
                format!("{:.3}", r.ratio())
            } else {
                "null".into()
            },
            json_num(a.p99),
            json_num(b.p99),
            json_num(a.min),
            json_num(b.min),
            a.runs,
            b.runs,
            if i + 1 < rows.len() { "," } else { "" }
        );
        o.push('\n');
    }
    o.push_str("  ]\n}");
    o
}

fn csv(rows: &[Row]) -> String {
    let mut o = String::from(
        "group,subject,op,metric,pidkit_p50_ns,baseline_p50_ns,ratio,pidkit_p99_ns,baseline_p99_ns,pidkit_runs,baseline_runs\n",
    );
    for r in rows {
        let (a, b) = (r.pidkit_stats(), r.baseline_stats());
        let _ = writeln!(
            o,
            "{},\"{}\",\"{}\",\"{}\",{:.1},{:.1},{:.3},{:.1},{:.1},{},{}",
            r.group,
            r.subject.replace('"', "\"\""),
            r.op.as_deref().unwrap_or("").replace('"', "\"\""),
            r.metric.replace('"', "\"\""),
            a.p50,
            b.p50,
            r.ratio(),
            a.p99,
            b.p99,
            a.runs,
            b.runs
        );
    }
    o
}

/// Writes results.json, results.csv, ratios.svg and latency.svg; returns their paths.
pub(crate) fn write_files(
    dir: &Path,
    m: &Machine,
    rows: &[Row],
    full: bool,
) -> std::io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    let p = dir.join("results.json");
    std::fs::write(&p, json(m, rows, full) + "\n")?;
    paths.push(p);
    let p = dir.join("results.csv");
    std::fs::write(&p, csv(rows))?;
    paths.push(p);
    if rows.iter().any(|r| r.op.is_some()) {
        let p = dir.join("ratios.svg");
        ratio_svg(&p, rows, m).map_err(|e| std::io::Error::other(e.to_string()))?;
        paths.push(p);
    }
    let latency: Vec<&Row> = rows.iter().filter(|r| r.is_latency).collect();
    if !latency.is_empty() {
        let p = dir.join("latency.svg");
        svg(&p, &latency, m).map_err(|e| std::io::Error::other(e.to_string()))?;
        paths.push(p);
    }
    Ok(paths)
}

/// What a row's two series are, in its own words: the text either side of
/// " vs " in its metric, after any leading "what: ", so that each curve is
/// named after its subject ("tokio Child::wait", "raw poll(pidfd)+waitid").
fn sides(metric: &str) -> (String, String) {
    let Some((subject, baseline)) = metric.split_once(" vs ") else {
        return ("subject".into(), "baseline".into());
    };
    let subject = subject.rsplit_once(": ").map_or(subject, |(_, s)| s);
    (subject.trim().to_owned(), baseline.trim().to_owned())
}

/// One panel per latency row: the cumulative distribution of pidkit and its
/// baseline, x in microseconds up to the 99.5th percentile, so medians and tails read off directly.
fn svg(path: &Path, rows: &[&Row], m: &Machine) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let panel_h = 300u32;
    let root = SVGBackend::new(path, (900, 60 + panel_h * rows.len() as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(60);
    title.draw(&Text::new(
        format!(
            "pidkit latency distributions — Linux {}, {} cores",
            m.kernel, m.cores
        ),
        (20, 20),
        ("sans-serif", 20).into_font(),
    ))?;
    let panels = body.split_evenly((rows.len(), 1));
    for (panel, row) in panels.iter().zip(rows) {
        let cdf = |v: &[f64]| -> Vec<(f64, f64)> {
            let mut s: Vec<f64> = v
                .iter()
                .map(|x| x / 1000.0)
                .filter(|x| x.is_finite() && *x > 0.0)
                .collect();
            s.sort_by(f64::total_cmp);
            let n = s.len().max(1) as f64;
            s.iter()
                .enumerate()
                .map(|(i, x)| (*x, (i + 1) as f64 / n))
                .collect()
        };
        let a = cdf(&row.pidkit);
        let b = cdf(&row.baseline);
        // The x range covers everything up to the 99.5th percentile of
        // either side, so one outlier does not squash the distributions.
        let cut = |v: &[(f64, f64)]| v.iter().find(|p| p.1 >= 0.995).map_or(0.0, |p| p.0);
        let lo = a
            .iter()
            .chain(&b)
            .map(|p| p.0)
            .fold(f64::INFINITY, f64::min)
            .max(0.01);
        let hi = cut(&a).max(cut(&b)).max(lo * 1.5);
        let mut chart = ChartBuilder::on(panel)
            .caption(&row.metric, ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(45)
            .build_cartesian_2d(lo * 0.95..hi * 1.05, 0.0..1.0)?;
        chart
            .configure_mesh()
            .x_desc("latency (µs)")
            .x_labels(10)
            .x_label_formatter(&|v| {
                if *v >= 10.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            })
            .y_desc("fraction ≤ x")
            .draw()?;
        chart
            .draw_series(LineSeries::new(a, BLUE.stroke_width(2)))?
            .label(format!(
                "{} (p50 {})",
                sides(&row.metric).0,
                crate::report::fmt_ns(row.pidkit_stats().p50)
            ))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(b, RED.stroke_width(2)))?
            .label(format!(
                "{} (p50 {})",
                sides(&row.metric).1,
                crate::report::fmt_ns(row.baseline_stats().p50)
            ))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// The ratio chart: one bar per row that has a floor, grouped by operation,
/// length = subject median / floor median on a log scale (1 = the floor).
fn ratio_svg(path: &Path, rows: &[Row], m: &Machine) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let mut groups: Vec<(&str, Vec<&Row>)> = Vec::new();
    for r in rows {
        let (Some(op), true) = (r.op.as_deref(), r.ratio().is_finite()) else {
            continue;
        };
        match groups.iter_mut().find(|(g, _)| *g == op) {
            Some((_, v)) => v.push(r),
            None => groups.push((op, vec![r])),
        }
    }
    let bar_h = 20i32;
    let head_h = 26i32;
    let top = 70i32;
    let height = top
        + groups
            .iter()
            .map(|(_, v)| head_h + bar_h * v.len() as i32)
            .sum::<i32>()
        + 50;
    let (width, x0, x1) = (1000i32, 250i32, 900i32);
    let ratios = groups.iter().flat_map(|(_, v)| v.iter().map(|r| r.ratio()));
    let hi = ratios.clone().fold(2.0f64, f64::max) * 1.15;
    let lo = ratios.fold(0.9f64, f64::min) * 0.95;
    let x = |v: f64| x0 + ((v.ln() - lo.ln()) / (hi.ln() - lo.ln()) * f64::from(x1 - x0)) as i32;

    let root = SVGBackend::new(path, (width as u32, height as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let font = |size: i32| ("sans-serif", size).into_font();
    root.draw(&Text::new(
        format!(
            "time ÷ floor, same process (1.00 = the floor) — Linux {}, {} cores",
            m.kernel, m.cores
        ),
        (20, 18),
        font(18),
    ))?;
    root.draw(&Text::new(
        "each library against its own language's raw system call, measured interleaved in its own process; log scale",
        (20, 42),
        font(12).color(&BLACK.mix(0.7)),
    ))?;
    let bottom = height - 40;
    let mut last_label = i32::MIN;
    for tick in [
        1.0, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0,
    ] {
        if tick < lo || tick > hi {
            continue;
        }
        let tx = x(tick);
        let style = if tick == 1.0 {
            BLACK.stroke_width(2)
        } else {
            BLACK.mix(0.15).stroke_width(1)
        };
        root.draw(&PathElement::new(vec![(tx, top - 6), (tx, bottom)], style))?;
        // Labels only where they do not run into the previous one.
        if tx.saturating_sub(last_label) >= 36 {
            root.draw(&Text::new(
                format!("{tick}x"),
                (tx - 12, bottom + 6),
                font(11),
            ))?;
            last_label = tx;
        }
    }
    let mut y = top;
    for (op, rs) in &groups {
        root.draw(&Text::new(
            op.to_string(),
            (20, y + 6),
            font(13).style(FontStyle::Bold),
        ))?;
        y += head_h;
        for r in rs {
            let ratio = r.ratio();
            let color = if r.subject.starts_with("pidkit") {
                BLUE
            } else {
                RGBColor(230, 120, 20)
            };
            let (a, b) = (x(1.0), x(ratio));
            root.draw(&Rectangle::new(
                [
                    (a.min(b), y + 2),
                    (a.max(b).max(a.min(b) + 2), y + bar_h - 3),
                ],
                color.filled(),
            ))?;
            root.draw(&Text::new(r.subject.clone(), (30, y + 4), font(12)))?;
            root.draw(&Text::new(
                format!("{ratio:.2}x"),
                (a.max(b) + 6, y + 4),
                font(12),
            ))?;
            y += bar_h;
        }
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(group: &str, subject: &str, metric: &str) -> Row {
        Row::new(group, metric, vec![612_345.0; 5], vec![1_234.5; 5]).by(subject)
    }

    /// The longest descriptions and subjects the bench prints.
    fn rows() -> Vec<Row> {
        vec![
            row("signal send", "pidkit, 4 threads", "held PidHandle::kill(0) vs pidfd_send_signal(fd, 0) [4 threads]"),
            row("signal send", "pidkit", "raw open_by_handle_at+pidfd_send_signal+close vs pidfd_open+fstat+pidfd_send_signal+close (the two restore routes, before the PID check the first still needs)"),
            row("async wait", "pidkit", "memory per awaited process, 2000 in flight (bytes of RSS, each side in a fresh process): wait_async vs tokio::process").bytes(),
            row("spawn+wait", "pidkit vs tokio::process", "8 in flight, per child: Monitor::start + wait vs tokio::process spawn + wait().await"),
            row("signal send", "psutil 7.2.2 (Python 3.11)", "Process(pid).send_signal(0) vs os.kill(pid, 0) [Python]"),
            row("exit notification", "tokio::process", "tokio Child::wait vs raw poll(pidfd)+waitid"),
            row("pidfile", "pidkit", "Owner::handle() vs raw pidfd_open+fstat+fstat+/proc/<pid>/fd scan+fdinfo+poll"),
        ]
    }

    #[test]
    fn the_default_table_fits_a_terminal_and_keeps_every_word() {
        let rows = rows();
        let text = table(&rows, TERMINAL);
        for line in text.lines() {
            assert!(
                line.chars().count() <= TERMINAL,
                "{} columns: {line}",
                line.chars().count()
            );
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        for r in &rows {
            for w in r
                .metric
                .split_whitespace()
                .chain(r.subject.split_whitespace())
            {
                assert!(words.contains(&w), "{w:?} lost from the table");
            }
        }
        assert!(text.contains("612.35 µs") && text.contains("1.23 µs"));
    }

    #[test]
    fn the_wide_table_is_one_line_a_row() {
        let rows = rows();
        assert_eq!(wide_table(&rows).lines().count(), rows.len() + 2);
        assert!(
            wide_table(&rows)
                .lines()
                .any(|l| l.chars().count() > TERMINAL)
        );
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_cuts_only_long_words() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 5), [""]);
    }

    #[test]
    fn each_curve_is_named_after_its_subject() {
        assert_eq!(
            sides("tokio Child::wait vs raw poll(pidfd)+waitid"),
            ("tokio Child::wait".into(), "raw poll(pidfd)+waitid".into())
        );
        assert_eq!(
            sides(
                "exit latency on a current_thread runtime: Process::wait_async vs tokio Child::wait"
            ),
            ("Process::wait_async".into(), "tokio Child::wait".into())
        );
    }
}
