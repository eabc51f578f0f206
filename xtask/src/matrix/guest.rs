//! One kernel's run of the matrix: its initramfs, the script the guest runs,
//! the QEMU boot, and the nextest results the guest leaves behind.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Instant;

use super::{GUEST_CPUS, GUEST_LIMIT, GUEST_MEM, GUEST_MODULES, Kernel, Setup, fetch, initramfs};
use crate::exec::{self, Cmd};
use crate::report::Report;

/// Boots kernel `k` (fetched first) with the suite archive of `s`; the
/// kernel's line of the matrix, or why it failed.
pub(super) fn run_kernel(
    r: &Report,
    s: &Setup,
    k: Kernel,
    nextest_args: &[OsString],
) -> Result<String, String> {
    let (root, label) = fetch::fetch_kernel(r, &s.cache, k)?;
    let (modules_dir, release, vmlinuz) = fetch::locate(&root)?;
    let out = s.out_root.join(k.suite);
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let initrd = out.join("initrd.cpio");
    let modules = initramfs::guest_modules(&modules_dir, &GUEST_MODULES)?;
    initramfs::write(&initrd, &s.init, &modules)?;

    let script = out.join("run.sh");
    fs::write(&script, guest_script(s, nextest_args))
        .map_err(|e| format!("{}: {e}", script.display()))?;
    let console = out.join("console.log");
    let append = format!(
        "console=ttyS0 panic=-1 quiet loglevel=4 pidkit.script={} pidkit.out={}",
        script.display(),
        out.display()
    );
    let qemu = || {
        Cmd::new("qemu-system-x86_64")
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
            .arg(&append)
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
            .capture_stderr()
    };
    // A kernel may crash while booting under TCG, before init has run
    // (a text-patching oops on 6.12, under this project's QEMU): such a
    // boot ran no test, so it is made once more, and says so. A crash after
    // the suite started is a failure like any other.
    let mut rebooted = false;
    let (secs, log, status) = loop {
        for stale in ["console.log", "nextest.log", "status"] {
            let _ = fs::remove_file(out.join(stale));
        }
        let started = Instant::now();
        println!(
            "booting {label} ({release}); console: {}",
            console.display()
        );
        let run = r.exec(qemu());
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
            if !rebooted && log.is_empty() && crashed_at_boot(&console_text) {
                rebooted = true;
                println!(
                    "{release}: the kernel crashed before the suite started ({secs}s); booting once more:\n{}",
                    tail(&console_text, 12)
                );
                continue;
            }
            return Err(format!(
                "{release}: the suite did not run to its end ({secs}s); console:\n{}",
                tail(&console_text, 40)
            ));
        }
        break (secs, log, status);
    };
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
fn guest_script(s: &Setup, nextest_args: &[OsString]) -> String {
    let q = |p: &Path| exec::shell_quote(&p.to_string_lossy());
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{home}/.cargo"));
    let rustup_home = std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{home}/.rustup"));
    let extra: Vec<String> = nextest_args
        .iter()
        .map(|a| exec::shell_quote(&a.to_string_lossy()))
        .collect();
    format!(
        r#"# Written by `cargo xtask matrix`; run by pidkit-guest-init inside the guest.
out="$PIDKIT_MATRIX_OUT"
export HOME=/tmp/home XDG_CACHE_HOME=/tmp/home/.cache CARGO_HOME={cargo_home} RUSTUP_HOME={rustup_home}
# Watchdogs wait longer under TCG (testkit::time_scale); tests wait for facts.
export PIDKIT_TEST_TIME_SCALE=8
export CI=true PIDKIT_SANDBOX=none PIDKIT_MATRIX=1 CARGO_TERM_COLOR=never NEXTEST_HIDE_PROGRESS_BAR=1
export PIDKIT_UTIL_LINUX_ROOT={util_linux}
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
        util_linux = q(&s.util_linux),
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
        // "1 test run: ..." when a filter leaves one test.
        let at = t.find(" tests run: ").or_else(|| t.find(" test run: "));
        if let Some(i) = at {
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

/// Whether a console shows the kernel oopsing or panicking before the
/// guest's init printed anything of the suite.
fn crashed_at_boot(console: &str) -> bool {
    console.contains("Oops:") || console.contains("Kernel panic") || console.contains("BUG:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_kernel_crash_counts_as_a_boot_crash() {
        assert!(crashed_at_boot(
            "[    2.199530] Oops: int3: 0000 [#2] PREEMPT SMP NOPTI\n"
        ));
        assert!(crashed_at_boot(
            "Kernel panic - not syncing: Attempted to kill init!"
        ));
        assert!(!crashed_at_boot("[    1.0] Run /init as init process\n"));
    }

    #[test]
    fn summary_counts_and_failures() {
        let log = "        PASS [   0.1s] pidkit-pidfd::pidfd a\n        FAIL [   2.0s] pidkit-monitor::monitor b::c\n------------\n     Summary [ 200.1s] 293 tests run: 292 passed, 1 failed, 0 skipped\n        FAIL [   2.0s] pidkit-monitor::monitor b::c\n";
        let s = summarize(log);
        assert!(s.ran);
        assert_eq!(s.counts, "293 tests run: 292 passed, 1 failed, 0 skipped");
        let one = summarize("     Summary [   2.800s] 1 test run: 1 passed, 422 skipped\n");
        assert!(one.ran);
        assert_eq!(one.counts, "1 test run: 1 passed, 422 skipped");
        assert_eq!(s.failed, ["pidkit-monitor::monitor b::c"]);
        assert!(!summarize("error: no archive").ran);
    }
}
