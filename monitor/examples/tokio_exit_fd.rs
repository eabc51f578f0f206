//! Awaiting exits in tokio without a thread per process: `exit_fd()` in an
//! `AsyncFd`.
//!
//! `Process::exit_fd` is the process's pidfd (or, without pidfds, a pipe the
//! monitor closes when it records the exit): it polls readable once the
//! process has exited. Registered with tokio's reactor, it wakes the task;
//! `try_exit` then returns the exit without blocking.
//!
//! `cargo run -p pidkit-monitor --example tokio_exit_fd`

use std::io;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use pidkit_monitor::{Exit, Monitor, Process, Signal};
use tokio::io::unix::AsyncFd;

/// Waits for `process` to exit without blocking the runtime's thread.
async fn exited(process: &Process) -> io::Result<Exit> {
    // tokio deprecated the safe constructors because an `AsyncFd` of a bare
    // `RawFd` could outlive the descriptor. Here the inner value is a
    // `BorrowedFd<'_>` borrowed from `process`: the borrow checker keeps the
    // exit fd open, and the same descriptor, for as long as `fd` exists,
    // which is the guarantee `register_with_interest` asks callers to give.
    #[allow(
        deprecated,
        reason = "sound for a BorrowedFd, see above; keeps the example free of unsafe"
    )]
    let fd = AsyncFd::with_interest(process.exit_fd(), tokio::io::Interest::READABLE)?;
    loop {
        let mut ready = fd.readable().await?;
        // The exit may have to be reaped first; `try_wait` does that and
        // never blocks. Errors (an adopted process without a status) pass
        // through.
        match process.try_wait()? {
            Some(exit) => return Ok(exit),
            // Readable but not settled yet (only an adopted process whose
            // parent has not reaped it): wait for the next readiness.
            None => {
                ready.clear_ready();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]).stdin(Stdio::null());
    cmd
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let monitor = Monitor::global();
    let start = SystemTime::now();
    // Three processes with different lifetimes, awaited concurrently on one
    // thread.
    let quick = monitor.start(&mut sh("exit 4"))?;
    let slow = monitor.start(&mut sh("sleep 0.2; exit 5"))?;
    let sleeper = monitor.start(sh("exec sleep 1000").stdin(Stdio::null()))?;

    let killer = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sleeper.kill(Signal::TERM)
    };
    let (a, b, c, k) = tokio::join!(exited(&quick), exited(&slow), exited(&sleeper), killer);
    k?;
    for exit in [a?, b?, c?] {
        let after = exit.timestamp.duration_since(start).unwrap_or_default();
        println!("{exit} (code {}), recorded after {after:?}", exit.code());
    }
    Ok(())
}
