//! What holding many running children costs: threads and resident memory
//! per child, for each backend.
//!
//! `cargo run --release -p pidkit-monitor --example footprint [N]` (default
//! 2,000 children). Starts N `sleep 1000` children, reads `Threads:` and
//! `VmRSS:` from `/proc/self/status` before and after, kills and reaps them,
//! and prints the figures. The epoll backend should add one thread (the
//! reaper) and a few hundred bytes per child; the thread-per-child fallback
//! adds a thread and a stack's touched pages per child.

use std::io;
use std::process::{Command, Stdio};
use std::time::Instant;

use pidkit_monitor::{Backend, Monitor, Process, Signal};

/// `(threads, VmRSS in kB)` of this process.
fn status() -> io::Result<(usize, usize)> {
    let text = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| -> io::Result<usize> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| io::Error::other(format!("no {name} in /proc/self/status")))
    };
    Ok((field("Threads:")?, field("VmRSS:")?))
}

fn measure(backend: Backend, n: usize) -> io::Result<()> {
    let (threads0, rss0) = status()?;
    let monitor = Monitor::with_backend(backend)?;
    let mut procs: Vec<Process> = Vec::with_capacity(n);
    let (threads_empty, rss_empty) = status()?;
    let started = Instant::now();
    for _ in 0..n {
        let mut cmd = Command::new("sleep");
        cmd.arg("1000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        procs.push(monitor.start(&mut cmd)?);
    }
    let spawn_time = started.elapsed();
    let (threads, rss) = status()?;
    println!(
        "{backend:?}: {n} children started in {spawn_time:.2?}; threads {threads0} -> {threads_empty} (monitor) -> {threads} (+{} for {n} children); \
         VmRSS {rss0} kB -> {rss_empty} kB -> {rss} kB: {:.0} bytes per child",
        threads.saturating_sub(threads_empty),
        (rss.saturating_sub(rss_empty) * 1024) as f64 / n as f64,
    );
    let started = Instant::now();
    for p in &procs {
        p.kill(Signal::KILL)?;
    }
    for p in &procs {
        let exit = p.wait()?;
        assert_eq!(exit.code(), 137, "{exit}");
    }
    println!(
        "{backend:?}: killed and reaped {n} children in {:.2?}",
        started.elapsed()
    );
    // A dropped monitor's reaper thread ends on its own once it has cleaned
    // up; let it, so that the next measurement starts from the same count.
    drop(procs);
    drop(monitor);
    let deadline = Instant::now() + std::time::Duration::from_secs(2);
    while status()?.0 > threads0 && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let n: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("not a count: {arg:?}"))
        })?,
        None => 2000,
    };
    if pidkit_pidfd::probe().usable() {
        measure(Backend::Epoll, n)?;
    } else {
        println!("pidfds unavailable here: only the fallback can be measured");
    }
    measure(Backend::ThreadPerChild, n)?;
    Ok(())
}
