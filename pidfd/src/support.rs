//! What [`probe`](crate::probe) answers: [`Support`], why pidfds are
//! unusable ([`Unusable`], [`ProbeStep`]), and the [`Feature`] names.

use std::fmt;
use std::io;
use std::str::FromStr;

/// A pidfd feature that [`probe`](crate::probe) checks and that `PIDKIT_HIDE_FEATURES` can
/// hide, named as that variable names it ([`Feature::name`]).
///
/// ```
/// use pidkit_pidfd::Feature;
///
/// let f: Feature = "get_info".parse().unwrap();
/// assert_eq!(f, Feature::GetInfo);
/// assert_eq!(f.to_string(), "get_info");
/// assert!("getinfo".parse::<Feature>().unwrap_err().to_string().contains("getinfo"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Feature {
    /// The core set (open, signal, wait); hiding it hides every feature.
    Pidfd,
    /// pidfs inode ids ([`Support::pidfs`]); hiding it hides
    /// [`Feature::FileHandles`] too.
    Pidfs,
    /// `PIDFD_GET_INFO` ([`Support::get_info`]) and every info field.
    GetInfo,
    /// `PIDFD_INFO_EXIT` ([`Support::info_exit`]).
    InfoExit,
    /// `PIDFD_INFO_COREDUMP` ([`Support::info_coredump`]).
    InfoCoredump,
    /// The kernel's `PIDFD_INFO_SUPPORTED_MASK`
    /// ([`Support::info_supported_mask`]); hidden, the info fields are
    /// decided by the kernel release as before Linux 6.19.
    SupportedMask,
    /// pidfs file handles ([`Support::pidfs_file_handles`]).
    FileHandles,
    /// `PIDFD_THREAD` and signal scopes ([`Support::thread`],
    /// [`Support::signal_scope`]).
    Thread,
}

impl Feature {
    /// Every feature, in the order of the list above.
    ///
    /// ```
    /// use pidkit_pidfd::Feature;
    ///
    /// assert_eq!(Feature::ALL[0], Feature::Pidfd);
    /// for f in Feature::ALL {
    ///     assert_eq!(f.name().parse::<Feature>().unwrap(), f);
    /// }
    /// ```
    pub const ALL: [Feature; 8] = [
        Feature::Pidfd,
        Feature::Pidfs,
        Feature::GetInfo,
        Feature::InfoExit,
        Feature::InfoCoredump,
        Feature::SupportedMask,
        Feature::FileHandles,
        Feature::Thread,
    ];

    /// The name `PIDKIT_HIDE_FEATURES` knows it by: `pidfd`, `pidfs`,
    /// `get_info`, `info_exit`, `info_coredump`, `supported_mask`,
    /// `file_handles` or `thread`.
    ///
    /// ```
    /// assert_eq!(pidkit_pidfd::Feature::FileHandles.name(), "file_handles");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Feature::Pidfd => "pidfd",
            Feature::Pidfs => "pidfs",
            Feature::GetInfo => "get_info",
            Feature::InfoExit => "info_exit",
            Feature::InfoCoredump => "info_coredump",
            Feature::SupportedMask => "supported_mask",
            Feature::FileHandles => "file_handles",
            Feature::Thread => "thread",
        }
    }
}

impl fmt::Display for Feature {
    /// The feature's [`name`](Feature::name).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Feature {
    type Err = ParseFeatureError;

    /// The feature of that exact [`name`](Feature::name).
    fn from_str(s: &str) -> Result<Feature, ParseFeatureError> {
        Feature::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| ParseFeatureError { name: s.to_owned() })
    }
}

/// A name that is not one of [`Feature::name`]'s.
///
/// ```
/// use pidkit_pidfd::Feature;
///
/// let e = "pidfs_v2".parse::<Feature>().unwrap_err();
/// assert_eq!(e.name(), "pidfs_v2");
/// assert!(e.to_string().contains("expected one of pidfd, pidfs"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseFeatureError {
    pub(crate) name: String,
}

impl ParseFeatureError {
    /// The name as given.
    ///
    /// ```
    /// let e = "Thread".parse::<pidkit_pidfd::Feature>().unwrap_err();
    /// assert_eq!(e.name(), "Thread"); // names are lowercase
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for ParseFeatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown pidfd feature {:?}: expected one of ", self.name)?;
        for (i, feature) in Feature::ALL.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{feature}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseFeatureError {}

/// A call the probe makes on its own process.
///
/// ```
/// use pidkit_pidfd::{Feature, ProbeStep};
///
/// assert_eq!(ProbeStep::ThreadOpen.feature(), Feature::Thread);
/// assert_eq!(ProbeStep::PidfdOpen.to_string(), "pidfd_open on self");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProbeStep {
    /// `pidfd_open` on ourselves.
    PidfdOpen,
    /// `waitid(P_PIDFD)` on ourselves, which must fail with `ECHILD`.
    Waitid,
    /// Signal 0 to ourselves through `pidfd_send_signal`.
    SendSignal,
    /// `pidfd_getfd` on ourselves.
    Getfd,
    /// The pidfs file handle round trip on ourselves.
    FileHandles,
    /// `pidfd_open(PIDFD_THREAD)` on our own thread.
    ThreadOpen,
}

impl ProbeStep {
    /// The feature this step checks.
    ///
    /// ```
    /// use pidkit_pidfd::{Feature, ProbeStep};
    /// assert_eq!(ProbeStep::Waitid.feature(), Feature::Pidfd);
    /// ```
    #[doc(hidden)]
    pub const fn feature(self) -> Feature {
        match self {
            ProbeStep::PidfdOpen | ProbeStep::Waitid | ProbeStep::SendSignal | ProbeStep::Getfd => {
                Feature::Pidfd
            }
            ProbeStep::FileHandles => Feature::FileHandles,
            ProbeStep::ThreadOpen => Feature::Thread,
        }
    }
}

impl fmt::Display for ProbeStep {
    /// What the step calls, e.g. `waitid(P_PIDFD) on self`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProbeStep::PidfdOpen => "pidfd_open on self",
            ProbeStep::Waitid => "waitid(P_PIDFD) on self",
            ProbeStep::SendSignal => "pidfd_send_signal on self",
            ProbeStep::Getfd => "pidfd_getfd on self",
            ProbeStep::FileHandles => "pidfs file handle round trip on self",
            ProbeStep::ThreadOpen => "pidfd_open(PIDFD_THREAD) on self",
        })
    }
}

/// Why the core feature set is unusable ([`Support::reason`]): the first
/// failing step, or the reason no step was believed.
///
/// ```
/// let support = pidkit_pidfd::probe();
/// if let Some(why) = &support.reason {
///     eprintln!("no pidfds ({}): {why}", why.feature());
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unusable {
    /// A step failed: `kind` and, for an error from the kernel, `errno`
    /// (`ENOSYS`, `EPERM` from seccomp, ...).
    Failed {
        /// The step that failed.
        step: ProbeStep,
        /// The error's kind.
        kind: io::ErrorKind,
        /// The errno, when the error is one.
        errno: Option<i32>,
    },
    /// `waitid(P_PIDFD)` on ourselves succeeded where it must fail with
    /// `ECHILD` (we are not our own parent): the call is not what it says.
    WaitidSucceeded,
    /// The process or system ran out of file descriptors or memory at
    /// `step`; the answer is not cached ([`Support::resource_error`]).
    OutOfResources {
        /// The step that could not be made.
        step: ProbeStep,
        /// `EMFILE`, `ENFILE` or `ENOMEM`.
        errno: i32,
    },
    /// Hidden by the test hook `PIDKIT_HIDE_FEATURES`.
    #[doc(hidden)]
    Hidden,
}

impl Unusable {
    pub(crate) fn failed(step: ProbeStep, e: &io::Error) -> Unusable {
        Unusable::Failed {
            step,
            kind: e.kind(),
            errno: e.raw_os_error(),
        }
    }

    /// The feature whose check failed: [`Feature::Pidfd`] but for a probe
    /// cut short by a lack of resources in an optional feature's step.
    ///
    /// ```
    /// use pidkit_pidfd::{Feature, ProbeStep, Unusable};
    ///
    /// assert_eq!(Unusable::Hidden.feature(), Feature::Pidfd);
    /// let short = Unusable::OutOfResources { step: ProbeStep::FileHandles, errno: libc::EMFILE };
    /// assert_eq!(short.feature(), Feature::FileHandles);
    /// ```
    #[doc(hidden)]
    pub fn feature(&self) -> Feature {
        match self {
            Unusable::Failed { step, .. } | Unusable::OutOfResources { step, .. } => step.feature(),
            Unusable::WaitidSucceeded | Unusable::Hidden => Feature::Pidfd,
        }
    }

    /// The errno behind it, when there is one.
    ///
    /// ```
    /// use pidkit_pidfd::{ProbeStep, Unusable};
    ///
    /// assert_eq!(Unusable::Hidden.errno(), None);
    /// let short = Unusable::OutOfResources { step: ProbeStep::Getfd, errno: libc::ENOMEM };
    /// assert_eq!(short.errno(), Some(libc::ENOMEM));
    /// ```
    pub fn errno(&self) -> Option<i32> {
        match self {
            Unusable::Failed { errno, .. } => *errno,
            Unusable::OutOfResources { errno, .. } => Some(*errno),
            Unusable::WaitidSucceeded | Unusable::Hidden => None,
        }
    }
}

impl fmt::Display for Unusable {
    /// The step and its error, as `pidfd_open on self: Function not
    /// implemented (os error 38)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let error = |kind: io::ErrorKind, errno: Option<i32>| match errno {
            Some(n) => io::Error::from_raw_os_error(n),
            None => io::Error::from(kind),
        };
        match *self {
            Unusable::Failed { step, kind, errno } => write!(f, "{step}: {}", error(kind, errno)),
            Unusable::WaitidSucceeded => {
                write!(f, "{}: did not fail with ECHILD", ProbeStep::Waitid)
            }
            Unusable::OutOfResources { step, errno } => write!(
                f,
                "{step}: {}; not cached, probed again on the next call",
                error(io::ErrorKind::Other, Some(errno))
            ),
            Unusable::Hidden => f.write_str("hidden by PIDKIT_HIDE_FEATURES"),
        }
    }
}

/// Which pidfd features work here, as found by [`probe`](crate::probe).
///
/// "Works" means the call was made and behaved, not that the kernel version
/// suggests it: a seccomp filter returning `ENOSYS` or `EPERM` makes a feature
/// absent exactly like an old kernel does.
///
/// ```
/// let support = pidkit_pidfd::probe();
/// assert!(support.usable());
/// // Both came with Linux 6.9: a kernel with pidfs ids has PIDFD_THREAD.
/// assert!(!support.pidfs || support.thread);
/// assert_eq!(support.reason, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Support {
    /// `pidfd_open(2)` (Linux 5.3).
    pub pidfd_open: bool,
    /// `pidfd_send_signal(2)` (Linux 5.1).
    pub send_signal: bool,
    /// `waitid(P_PIDFD, ..)` (Linux 5.4).
    pub waitid: bool,
    /// `pidfd_getfd(2)` (Linux 5.6); probed on ourselves.
    pub getfd: bool,
    /// pidfds live on pidfs and their inode number is a unique, never reused
    /// process id (Linux 6.9).
    pub pidfs: bool,
    /// The `PIDFD_GET_INFO` ioctl (Linux 6.13).
    pub get_info: bool,
    /// `PIDFD_INFO_EXIT`: the exit status of a reaped process through its
    /// pidfd, for any holder (Linux 6.15). Taken from the kernel's own
    /// `supported_mask` where it has one (6.19+); before that from the kernel
    /// release once `get_info` works, since proving it would need a dead
    /// process.
    pub info_exit: bool,
    /// `PIDFD_INFO_COREDUMP`: the kernel's core-dump record through the
    /// pidfd (Linux 6.16), found like `info_exit`.
    pub info_coredump: bool,
    /// The kernel's own list of the `PIDFD_GET_INFO` fields it supports
    /// (`PIDFD_INFO_SUPPORTED_MASK`, Linux 6.19), as it reported it; `None`
    /// on kernels without it, where `info_exit` and `info_coredump` come
    /// from the kernel release.
    pub info_supported_mask: Option<u64>,
    /// pidfs file handles that open without a pidfd: `name_to_handle_at` on a
    /// pidfd and `open_by_handle_at` on the pidfs root (`FD_PIDFS_ROOT`,
    /// Linux 6.17), proven by a round trip on ourselves that must give back
    /// our own pidfs id ([`PidFd::file_handle`](crate::PidFd::file_handle), [`PidFd::open_file_handle`](crate::PidFd::open_file_handle)).
    pub pidfs_file_handles: bool,
    /// `PIDFD_THREAD` pidfds and thread-scoped signals (Linux 6.9).
    pub thread: bool,
    /// Signal scopes for `pidfd_send_signal` (`PIDFD_SIGNAL_*`, Linux 6.9).
    pub signal_scope: bool,
    /// Features hidden on purpose through `PIDKIT_HIDE_FEATURES` (for testing
    /// the fallbacks), in the order given.
    #[doc(hidden)]
    pub hidden: Vec<Feature>,
    /// Names in `PIDKIT_HIDE_FEATURES` that are no [`Feature`]: ignored, and
    /// listed here (and by `Display`) so that a typo does not pass for a
    /// hidden feature.
    #[doc(hidden)]
    pub unknown_hidden: Vec<String>,
    /// Why the core feature set is unusable, when it is (the first failing
    /// step), or why the probe could not finish
    /// ([`Unusable::OutOfResources`]).
    pub reason: Option<Unusable>,
}

impl Support {
    /// The core set: open, signal and wait through pidfds all work. This is
    /// Go's `checkPidfd`; without it the higher crates use their fallbacks.
    ///
    /// ```
    /// use pidkit_pidfd::{probe, Support};
    ///
    /// assert!(probe().usable());
    /// assert!(!Support::default().usable());
    /// ```
    pub fn usable(&self) -> bool {
        self.pidfd_open && self.send_signal && self.waitid
    }

    /// The error that kept the probe from finishing: the process or the
    /// system ran out of file descriptors or memory (`EMFILE`, `ENFILE`,
    /// `ENOMEM`) while probing.
    ///
    /// Such an answer says nothing about the kernel or the sandbox: every
    /// feature reads as absent, [`probe`](crate::probe) does not cache it, and its next
    /// call probes again. Callers should report the error rather than take a
    /// fallback meant for systems without pidfds.
    ///
    /// ```
    /// let support = pidkit_pidfd::probe();
    /// if let Some(e) = support.resource_error() {
    ///     eprintln!("cannot tell whether pidfds work right now: {e}");
    /// }
    /// ```
    pub fn resource_error(&self) -> Option<io::Error> {
        match self.reason {
            Some(Unusable::OutOfResources { errno, .. }) => {
                Some(io::Error::from_raw_os_error(errno))
            }
            _ => None,
        }
    }
}

/// The features `Support` prints, each with the kernel that brought it, in
/// the order of its `Display`.
const ROWS: [(&str, &str); 12] = [
    ("pidfd_send_signal", "5.1"),
    ("pidfd_open", "5.3"),
    ("waitid(P_PIDFD)", "5.4"),
    ("pidfd_getfd", "5.6"),
    ("pidfs inode ids", "6.9"),
    ("PIDFD_THREAD", "6.9"),
    ("signal scopes incl. PIDFD_SIGNAL_PROCESS_GROUP", "6.9"),
    ("PIDFD_GET_INFO", "6.13"),
    ("PIDFD_INFO_EXIT", "6.15"),
    ("PIDFD_INFO_COREDUMP", "6.16"),
    (
        "pidfs file handles (open_by_handle_at on FD_PIDFS_ROOT)",
        "6.17",
    ),
    ("PIDFD_INFO_SUPPORTED_MASK", "6.19"),
];

impl fmt::Display for Support {
    /// One line per feature: its name, the kernel that brought it, and
    /// whether the probe found it, then what was hidden and why the core set
    /// is unusable, when it is.
    ///
    /// ```
    /// let text = pidkit_pidfd::probe().to_string();
    /// assert!(text.contains("pidfd_open (5.3): "));
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "yes" } else { "no" };
        let found = [
            self.send_signal,
            self.pidfd_open,
            self.waitid,
            self.getfd,
            self.pidfs,
            self.thread,
            self.signal_scope,
            self.get_info,
            self.info_exit,
            self.info_coredump,
            self.pidfs_file_handles,
            self.info_supported_mask.is_some(),
        ];
        for ((name, since), found) in ROWS.iter().zip(found) {
            writeln!(f, "{name} ({since}): {}", yes(found))?;
        }
        match self.info_supported_mask {
            Some(m) => writeln!(f, "info fields by the kernel's supported_mask {m:#x}")?,
            None => writeln!(f, "info fields by the kernel release")?,
        }
        if !self.hidden.is_empty() {
            let names: Vec<&str> = self.hidden.iter().map(|h| h.name()).collect();
            writeln!(f, "hidden by PIDKIT_HIDE_FEATURES: {}", names.join(","))?;
        }
        if !self.unknown_hidden.is_empty() {
            writeln!(
                f,
                "unknown names in PIDKIT_HIDE_FEATURES (ignored): {}",
                self.unknown_hidden.join(",")
            )?;
        }
        if let Some(reason) = &self.reason {
            writeln!(f, "unusable: {reason}")?;
        }
        Ok(())
    }
}
