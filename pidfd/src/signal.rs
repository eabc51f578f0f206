//! The [`Signal`] newtype.

use std::fmt;
use std::str::FromStr;

/// A signal number, as `kill(2)` and `pidfd_send_signal(2)` take it.
///
/// A thin newtype over the raw number with constants for the common signals.
/// [`Signal::ZERO`] sends nothing and only checks that the target exists and
/// may be signalled. Real-time signals (`SIGRTMIN`..=`SIGRTMAX`) are accepted
/// by [`Signal::from_raw`] as plain numbers.
///
/// ```
/// use pidkit_pidfd::Signal;
/// assert_eq!(Signal::TERM.as_raw(), 15);
/// assert_eq!("SIGKILL".parse::<Signal>().unwrap(), Signal::KILL);
/// assert_eq!(Signal::from_raw(-1), None);
/// assert_eq!(Signal::HUP.to_string(), "SIGHUP");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

/// Highest signal number the kernel knows (`_NSIG - 1` on Linux).
const MAX_SIGNAL: i32 = 64;

macro_rules! signals {
    ($( $(#[$doc:meta])* $name:ident = $value:expr, $text:literal; )*) => {
        impl Signal {
            $( $(#[$doc])* pub const $name: Signal = Signal($value); )*
        }
        const NAMES: &[(i32, &str)] = &[ $( ($value, $text), )* ];
    };
}

signals! {
    /// No signal: only checks that the process exists and may be signalled.
    ZERO = 0, "0";
    /// `SIGHUP`: hangup; daemons reload their configuration.
    HUP = libc::SIGHUP, "SIGHUP";
    /// `SIGINT`: interrupt from the keyboard.
    INT = libc::SIGINT, "SIGINT";
    /// `SIGQUIT`: quit, with a core dump by default.
    QUIT = libc::SIGQUIT, "SIGQUIT";
    /// `SIGILL`: illegal instruction.
    ILL = libc::SIGILL, "SIGILL";
    /// `SIGTRAP`: trace or breakpoint trap.
    TRAP = libc::SIGTRAP, "SIGTRAP";
    /// `SIGABRT`: abort, with a core dump by default.
    ABRT = libc::SIGABRT, "SIGABRT";
    /// `SIGBUS`: bus error.
    BUS = libc::SIGBUS, "SIGBUS";
    /// `SIGFPE`: arithmetic exception.
    FPE = libc::SIGFPE, "SIGFPE";
    /// `SIGKILL`: kill; cannot be caught or ignored.
    KILL = libc::SIGKILL, "SIGKILL";
    /// `SIGUSR1`: user-defined signal 1.
    USR1 = libc::SIGUSR1, "SIGUSR1";
    /// `SIGSEGV`: invalid memory reference.
    SEGV = libc::SIGSEGV, "SIGSEGV";
    /// `SIGUSR2`: user-defined signal 2.
    USR2 = libc::SIGUSR2, "SIGUSR2";
    /// `SIGPIPE`: write to a pipe with no reader.
    PIPE = libc::SIGPIPE, "SIGPIPE";
    /// `SIGALRM`: timer signal.
    ALRM = libc::SIGALRM, "SIGALRM";
    /// `SIGTERM`: polite termination request.
    TERM = libc::SIGTERM, "SIGTERM";
    /// `SIGCHLD`: a child stopped or terminated.
    CHLD = libc::SIGCHLD, "SIGCHLD";
    /// `SIGCONT`: continue if stopped.
    CONT = libc::SIGCONT, "SIGCONT";
    /// `SIGSTOP`: stop; cannot be caught or ignored.
    STOP = libc::SIGSTOP, "SIGSTOP";
    /// `SIGTSTP`: stop typed at the terminal.
    TSTP = libc::SIGTSTP, "SIGTSTP";
    /// `SIGTTIN`: terminal input for a background process.
    TTIN = libc::SIGTTIN, "SIGTTIN";
    /// `SIGTTOU`: terminal output for a background process.
    TTOU = libc::SIGTTOU, "SIGTTOU";
    /// `SIGURG`: urgent condition on a socket.
    URG = libc::SIGURG, "SIGURG";
    /// `SIGXCPU`: CPU time limit exceeded.
    XCPU = libc::SIGXCPU, "SIGXCPU";
    /// `SIGXFSZ`: file size limit exceeded.
    XFSZ = libc::SIGXFSZ, "SIGXFSZ";
    /// `SIGVTALRM`: virtual alarm clock.
    VTALRM = libc::SIGVTALRM, "SIGVTALRM";
    /// `SIGPROF`: profiling timer expired.
    PROF = libc::SIGPROF, "SIGPROF";
    /// `SIGWINCH`: window resize.
    WINCH = libc::SIGWINCH, "SIGWINCH";
    /// `SIGIO`: I/O now possible.
    IO = libc::SIGIO, "SIGIO";
    /// `SIGPWR`: power failure.
    PWR = libc::SIGPWR, "SIGPWR";
    /// `SIGSYS`: bad system call (also what a seccomp `TRAP` action sends).
    SYS = libc::SIGSYS, "SIGSYS";
}

impl Signal {
    /// The signal with number `raw`, if it is a signal number Linux accepts
    /// (`0..=64`; 0 is [`Signal::ZERO`]).
    ///
    /// ```
    /// use pidkit_pidfd::Signal;
    ///
    /// assert_eq!(Signal::from_raw(15), Some(Signal::TERM));
    /// assert_eq!(Signal::from_raw(0), Some(Signal::ZERO));
    /// assert_eq!(Signal::from_raw(65), None);
    /// ```
    pub const fn from_raw(raw: i32) -> Option<Signal> {
        if raw >= 0 && raw <= MAX_SIGNAL {
            Some(Signal(raw))
        } else {
            None
        }
    }

    /// The raw signal number.
    ///
    /// ```
    /// use pidkit_pidfd::Signal;
    ///
    /// assert_eq!(Signal::KILL.as_raw(), 9);
    /// assert_eq!(Signal::TERM.as_raw(), libc::SIGTERM);
    /// ```
    #[inline]
    pub const fn as_raw(self) -> i32 {
        self.0
    }

    /// The conventional name (`"SIGTERM"`), or `None` for numbers without one
    /// (real-time signals) and for [`Signal::ZERO`].
    ///
    /// ```
    /// use pidkit_pidfd::Signal;
    ///
    /// assert_eq!(Signal::HUP.name(), Some("SIGHUP"));
    /// assert_eq!(Signal::from_raw(40).unwrap().name(), None);
    /// assert_eq!(Signal::ZERO.name(), None);
    /// ```
    pub fn name(self) -> Option<&'static str> {
        NAMES
            .iter()
            .find(|(n, _)| *n == self.0 && *n != 0)
            .map(|(_, s)| *s)
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "Signal({name})"),
            None => write!(f, "Signal({})", self.0),
        }
    }
}

impl fmt::Display for Signal {
    /// `SIGTERM` for named signals, `signal 40` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "signal {}", self.0),
        }
    }
}

/// The error of parsing a [`Signal`] from text; it gives back the input.
///
/// ```
/// use pidkit_pidfd::Signal;
///
/// let e = "SIGNOPE".parse::<Signal>().unwrap_err();
/// assert_eq!(e.to_string(), "not a signal name or number: \"SIGNOPE\"");
/// assert!(Signal::try_from(99).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseSignalError {
    input: String,
}

impl ParseSignalError {
    /// The text that was not a signal.
    ///
    /// ```
    /// use pidkit_pidfd::Signal;
    ///
    /// assert_eq!("65".parse::<Signal>().unwrap_err().input(), "65");
    /// assert_eq!(Signal::try_from(-1).unwrap_err().input(), "-1");
    /// ```
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl fmt::Display for ParseSignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a signal name or number: {:?}", self.input)
    }
}

impl std::error::Error for ParseSignalError {}

impl FromStr for Signal {
    type Err = ParseSignalError;

    /// Accepts `"SIGTERM"`, `"TERM"` (any case) and numbers `"0"`..=`"64"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseSignalError {
            input: s.to_owned(),
        };
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse::<i32>()
                .ok()
                .and_then(Signal::from_raw)
                .ok_or_else(err);
        }
        let upper = s.to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        NAMES
            .iter()
            .filter(|(n, _)| *n != 0)
            .find(|(_, name)| name.strip_prefix("SIG") == Some(bare))
            .map(|(n, _)| Signal(*n))
            .ok_or_else(err)
    }
}

impl From<Signal> for i32 {
    fn from(s: Signal) -> i32 {
        s.0
    }
}

impl TryFrom<i32> for Signal {
    type Error = ParseSignalError;
    fn try_from(raw: i32) -> Result<Self, Self::Error> {
        Signal::from_raw(raw).ok_or(ParseSignalError {
            input: raw.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_round_trip() {
        for (n, name) in NAMES.iter().filter(|(n, _)| *n != 0) {
            let s = Signal::from_raw(*n).unwrap();
            assert_eq!(s.name(), Some(*name));
            assert_eq!(name.parse::<Signal>().unwrap(), s);
            assert_eq!(s.to_string().parse::<Signal>().unwrap(), s);
        }
        assert_eq!("term".parse::<Signal>().unwrap(), Signal::TERM);
        assert_eq!("0".parse::<Signal>().unwrap(), Signal::ZERO);
        assert_eq!(Signal::KILL.as_raw(), 9);
        assert_eq!(Signal::TERM.as_raw(), 15);
        assert!("SIG".parse::<Signal>().is_err());
        assert!("".parse::<Signal>().is_err());
        assert!("65".parse::<Signal>().is_err());
        assert!("ZERO".parse::<Signal>().is_err());
    }

    proptest! {
        #[test]
        fn from_raw_accepts_exactly_kernel_range(raw in any::<i32>()) {
            let s = Signal::from_raw(raw);
            prop_assert_eq!(s.is_some(), (0..=64).contains(&raw));
            if let Some(s) = s {
                prop_assert_eq!(s.as_raw(), raw);
                prop_assert_eq!(raw.to_string().parse::<Signal>().unwrap(), s);
                prop_assert_eq!(Signal::try_from(raw).unwrap(), s);
            } else {
                prop_assert!(Signal::try_from(raw).is_err());
            }
        }

        #[test]
        fn parse_never_panics(text in ".{0,12}") {
            if let Ok(s) = text.parse::<Signal>() {
                prop_assert!((0..=64).contains(&s.as_raw()));
            }
        }
    }
}
