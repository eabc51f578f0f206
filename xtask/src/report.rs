//! Steps of a task: each one announced, its command printed and run under the
//! remaining time budget, its result and duration recorded, and a summary table
//! with a final `xtask <task>: N passed, M failed` line at the end.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::exec::{self, Cmd, Finish, Outcome};

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Passed,
    Failed,
    Skipped,
}

#[derive(Debug)]
struct StepResult {
    name: String,
    status: Status,
    secs: Option<f64>,
    note: String,
}

/// The steps of one task run.
#[derive(Debug)]
pub(crate) struct Report {
    task: &'static str,
    results: Vec<StepResult>,
    started: Instant,
    deadline: Instant,
}

impl Report {
    /// A task run that, as a whole, may take at most `budget`: each command's own
    /// limit is cut to what remains, so a summary is always printed in time.
    pub(crate) fn new(task: &'static str, budget: Duration) -> Report {
        let now = Instant::now();
        Report {
            task,
            results: Vec::new(),
            started: now,
            deadline: now + budget,
        }
    }

    /// Announces the start of a step; returns its start time for [`Report::record`].
    pub(crate) fn begin(&self, name: &str) -> Instant {
        println!("\n==> xtask {}: {name}", self.task);
        Instant::now()
    }

    /// Prints and runs one command of a step, within the remaining budget.
    pub(crate) fn exec(&self, cmd: Cmd) -> Outcome {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        println!("$ {}", cmd.display());
        if remaining < Duration::from_secs(1) {
            return Outcome::not_started(Finish::NotRun(
                "the task's time budget is used up".into(),
            ));
        }
        let limit = cmd.limit().min(remaining);
        exec::run(&cmd.timeout(limit))
    }

    /// Records a step that began at `started`: `Ok(note)` passed, `Err(why)` failed.
    pub(crate) fn record(&mut self, name: &str, started: Instant, result: Result<String, String>) {
        self.record_took(name, started.elapsed(), result);
    }

    /// Records a step that took `took` (steps run side by side).
    pub(crate) fn record_took(
        &mut self,
        name: &str,
        took: Duration,
        result: Result<String, String>,
    ) {
        let secs = took.as_secs_f64();
        let (status, note) = match result {
            Ok(note) => (Status::Passed, note),
            Err(why) => (Status::Failed, why),
        };
        let word = if status == Status::Passed {
            "ok"
        } else {
            "FAILED"
        };
        let sep = if note.is_empty() { "" } else { ": " };
        println!("<== {name}: {word} in {secs:.1}s{sep}{note}");
        self.results.push(StepResult {
            name: name.to_owned(),
            status,
            secs: Some(secs),
            note,
        });
    }

    /// Runs a one-command step; it passes when the command exits with status 0.
    pub(crate) fn step(&mut self, name: &str, cmd: Cmd) -> bool {
        let started = self.begin(name);
        let out = self.exec(cmd);
        let ok = out.finish.success();
        self.record(
            name,
            started,
            if ok {
                Ok(String::new())
            } else {
                Err(out.finish.describe())
            },
        );
        ok
    }

    /// Lists a step that was not run, and why (neither passed nor failed).
    pub(crate) fn skip(&mut self, name: &str, why: &str) {
        println!("\n==> xtask {}: {name}: skipped ({why})", self.task);
        self.results.push(StepResult {
            name: name.to_owned(),
            status: Status::Skipped,
            secs: None,
            note: why.to_owned(),
        });
    }

    /// The note of the step recorded last.
    #[cfg(test)]
    pub(crate) fn last_note(&self) -> Option<&str> {
        self.results.last().map(|r| r.note.as_str())
    }

    /// Number of failed steps so far.
    pub(crate) fn failures(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.status == Status::Failed)
            .count()
    }

    /// Prints the summary table and the final count line; the exit code is 0
    /// only when no step failed (and at least one ran).
    pub(crate) fn finish(&self) -> ExitCode {
        let passed = self
            .results
            .iter()
            .filter(|r| r.status == Status::Passed)
            .count();
        let failed = self.failures();
        let width = self
            .results
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let mut text = format!("\n==> xtask {} summary\n", self.task);
        text += &format!(
            "{:<width$}  {:<7}  {:>8}  note\n",
            "step", "result", "seconds"
        );
        for r in &self.results {
            let result = match r.status {
                Status::Passed => "ok",
                Status::Failed => "FAILED",
                Status::Skipped => "skipped",
            };
            let secs = r.secs.map_or_else(|| "-".to_owned(), |s| format!("{s:.1}"));
            let line = format!("{:<width$}  {result:<7}  {secs:>8}  {}", r.name, r.note);
            text += line.trim_end();
            text.push('\n');
        }
        let total = self.started.elapsed().as_secs_f64();
        text += &format!("{:<width$}  {:<7}  {total:>8.1}\n", "total", "");
        text += &format!("xtask {}: {passed} passed, {failed} failed\n", self.task);
        print!("{text}");
        let _ = std::io::stdout().flush();
        if failed == 0 && passed > 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_budget() {
        let mut r = Report::new("selftest", Duration::from_secs(60));
        assert!(r.step("true", Cmd::new("true")));
        assert!(!r.step("false", Cmd::new("false")));
        r.skip("later", "--quick");
        assert_eq!(r.failures(), 1);
        assert_eq!(r.finish(), ExitCode::FAILURE);

        let mut spent = Report::new("selftest", Duration::ZERO);
        assert!(!spent.step("sleep", Cmd::new("sleep").arg("5")));
        assert_eq!(spent.failures(), 1);
    }
}
