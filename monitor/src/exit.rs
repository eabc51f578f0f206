//! [`Exit`]: one recorded process exit.

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::SystemTime;

use pidkit_pidfd::Signal;

/// A process exit, as the monitor recorded it.
///
/// Recorded once per process, when the process was reaped (or, for an
/// adopted process, when its status became known); every later `wait` on the
/// same [`Process`](crate::Process) returns this same value.
///
/// ```
/// use pidkit_monitor::Monitor;
/// use std::process::Command;
///
/// # fn main() -> Result<(), pidkit_monitor::Error> {
/// let p = Monitor::global().start(Command::new("sh").args(["-c", "exit 7"]))?;
/// let exit = p.wait()?;
/// assert_eq!(exit.pid, p.pid());
/// assert_eq!(exit.code(), 7);
/// assert_eq!(exit.status.code(), Some(7));
/// assert_eq!(exit.signal(), None);
/// assert_eq!(p.wait()?, exit); // the same answer every time
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    /// When the monitor reaped the process (or learned an adopted process's
    /// status), by the wall clock: at once for a process someone was
    /// waiting for; for one nobody was, up to about 1 ms later while exits
    /// come in a stream (the crate's Limitations).
    pub timestamp: SystemTime,
    /// The process's PID (which may name another process by now).
    pub pid: u32,
    /// The wait status, exactly as the kernel reported it: an exit code, or
    /// the terminating signal and whether a core was dumped
    /// ([`ExitStatusExt::signal`], [`ExitStatusExt::core_dumped`]).
    pub status: ExitStatus,
}

impl Exit {
    /// The exit in one number, by the shell and containerd convention: the
    /// exit code (0–255) for a process that exited, `128 + signal` for one
    /// killed by a signal (137 for `SIGKILL`, 143 for `SIGTERM`).
    ///
    /// Never -1 (go-runc's "unknown"), never a made-up 0, never 255 for a
    /// signal death. A status the monitor never records (stopped or
    /// continued, possible only in an `Exit` built by hand) gives
    /// `128 + the stop signal`, or `128 + SIGCONT` for "continued".
    ///
    /// Note that a process may also *exit* with a code above 128; use
    /// [`Exit::signal`] to tell the two apart.
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start(Command::new("sh").args(["-c", "exit 3"]))?;
    /// assert_eq!(p.wait()?.code(), 3);
    /// let p = Monitor::global().start(Command::new("sleep").arg("1000"))?;
    /// # p.set_kill_on_drop(true); // a failing example must not leave it running
    /// p.kill(Signal::KILL)?;
    /// assert_eq!(p.wait()?.code(), 137); // 128 + SIGKILL
    /// # Ok(())
    /// # }
    /// ```
    pub fn code(&self) -> i32 {
        if let Some(code) = self.status.code() {
            code
        } else if let Some(sig) = self.status.signal() {
            128 + sig
        } else if let Some(sig) = self.status.stopped_signal() {
            128 + sig
        } else {
            128 + Signal::CONT.as_raw()
        }
    }

    /// The signal that killed the process, if one did.
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start(Command::new("sleep").arg("1000"))?;
    /// # p.set_kill_on_drop(true); // a failing example must not leave it running
    /// p.kill(Signal::TERM)?;
    /// assert_eq!(p.wait()?.signal(), Some(Signal::TERM));
    /// # Ok(())
    /// # }
    /// ```
    pub fn signal(&self) -> Option<Signal> {
        self.status.signal().and_then(Signal::from_raw)
    }

    /// Whether the process was killed by a signal and dumped core.
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, Signal};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let p = Monitor::global().start(Command::new("sleep").arg("1000"))?;
    /// # p.set_kill_on_drop(true); // a failing example must not leave it running
    /// p.kill(Signal::KILL)?;
    /// let exit = p.wait()?;
    /// assert_eq!(exit.signal(), Some(Signal::KILL));
    /// assert!(!exit.core_dumped()); // SIGKILL never dumps core
    /// # Ok(())
    /// # }
    /// ```
    pub fn core_dumped(&self) -> bool {
        self.status.core_dumped()
    }

    /// Whether the process exited with code 0.
    ///
    /// ```
    /// use pidkit_monitor::Monitor;
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// assert!(Monitor::global().start(&mut Command::new("true"))?.wait()?.success());
    /// assert!(!Monitor::global().start(&mut Command::new("false"))?.wait()?.success());
    /// # Ok(())
    /// # }
    /// ```
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

impl fmt::Display for Exit {
    /// `process 42 exited with code 7`, `process 42 was killed by SIGKILL`,
    /// `process 42 was killed by SIGQUIT (core dumped)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(code) = self.status.code() {
            write!(f, "process {} exited with code {code}", self.pid)
        } else if let Some(sig) = self.status.signal() {
            match Signal::from_raw(sig) {
                Some(s) => write!(f, "process {} was killed by {s}", self.pid)?,
                None => write!(f, "process {} was killed by signal {sig}", self.pid)?,
            }
            if self.core_dumped() {
                f.write_str(" (core dumped)")?;
            }
            Ok(())
        } else {
            write!(f, "process {} changed state ({})", self.pid, self.status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exit(raw: i32) -> Exit {
        Exit {
            timestamp: SystemTime::UNIX_EPOCH,
            pid: 42,
            status: ExitStatus::from_raw(raw),
        }
    }

    #[test]
    fn shell_convention() {
        assert_eq!(exit(7 << 8).code(), 7);
        assert_eq!(exit(0).code(), 0);
        assert_eq!(exit(255 << 8).code(), 255);
        assert_eq!(exit(9).code(), 137);
        assert_eq!(exit(15).code(), 143);
        assert_eq!(exit(3 | 0x80).code(), 131);
        assert!(exit(3 | 0x80).core_dumped());
        assert_eq!(exit(9).signal(), Some(Signal::KILL));
        assert_eq!(exit(7 << 8).signal(), None);
        assert!(exit(0).success());
        // Stopped by SIGSTOP (0x137f) and continued (0xffff): never 255 or -1.
        assert_eq!(exit(0x137f).code(), 128 + 19);
        assert_eq!(exit(0xffff).code(), 128 + 18);
    }

    #[test]
    fn display() {
        assert_eq!(exit(7 << 8).to_string(), "process 42 exited with code 7");
        assert_eq!(exit(9).to_string(), "process 42 was killed by SIGKILL");
        assert_eq!(
            exit(3 | 0x80).to_string(),
            "process 42 was killed by SIGQUIT (core dumped)"
        );
        assert_eq!(exit(40).to_string(), "process 42 was killed by signal 40");
    }

    proptest! {
        #[test]
        fn exit_codes_map_to_themselves(code in 0i32..=255) {
            let e = exit(code << 8);
            prop_assert_eq!(e.code(), code);
            prop_assert_eq!(e.signal(), None);
            prop_assert!(!e.core_dumped());
            prop_assert_eq!(e.success(), code == 0);
        }

        #[test]
        fn signal_deaths_map_to_128_plus_signal(sig in 1i32..=64, core in any::<bool>()) {
            let e = exit(sig | if core { 0x80 } else { 0 });
            prop_assert_eq!(e.code(), 128 + sig);
            prop_assert_eq!(e.signal().map(Signal::as_raw), Some(sig));
            prop_assert_eq!(e.core_dumped(), core);
            prop_assert!(!e.success());
            prop_assert!(e.to_string().contains("killed by"));
        }

        #[test]
        fn any_status_gives_a_shell_code(raw in 0i32..=0xffff) {
            let c = exit(raw).code();
            // Exit codes and signal deaths stay in 0..=255; only hand-built
            // stopped statuses (stop signal in the high byte) go beyond.
            prop_assert!(c >= 0, "{raw:#x} -> {c}");
            if raw & 0xff != 0x7f {
                prop_assert!(c <= 255, "{raw:#x} -> {c}");
            }
        }
    }
}
