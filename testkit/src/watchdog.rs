//! Watchdogs: a hung test aborts instead of stalling CI.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Aborts the whole test process if it is still alive after a deadline, so a hang
/// fails CI instead of stalling it. Dropping the watchdog disarms it.
#[derive(Debug)]
pub struct Watchdog {
    cancel: Option<mpsc::Sender<()>>,
}

/// How much longer than on the host every watchdog waits:
/// `PIDKIT_TEST_TIME_SCALE` (a whole number, default 1). `cargo xtask matrix`
/// sets it for guests under QEMU's TCG, which run 5-10x slower. Tests never
/// wait for a time, only for facts; this scales the backstops alone.
pub fn time_scale() -> u32 {
    std::env::var("PIDKIT_TEST_TIME_SCALE")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|&n| n >= 1)
        .unwrap_or(1)
}

/// Arms a watchdog named `name` for `limit` (times [`time_scale`]).
pub fn watchdog(name: &str, limit: Duration) -> Watchdog {
    let limit = limit * time_scale();
    let (tx, rx) = mpsc::channel::<()>();
    let name = name.to_owned();
    thread::Builder::new()
        .name(format!("watchdog-{name}"))
        .spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("watchdog: test `{name}` still running after {limit:?}; aborting");
                std::process::abort();
            }
        })
        .unwrap();
    Watchdog { cancel: Some(tx) }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.cancel.take() {
            let _ = tx.send(());
        }
    }
}
