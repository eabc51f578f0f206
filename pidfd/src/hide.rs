//! The test hook `PIDKIT_HIDE_FEATURES`: kernel features reported absent on
//! purpose, so that the fallbacks can be tested on a kernel that has them.
//! Not part of the documented API.

use std::fmt;
use std::str::FromStr;

use crate::steps::kernel_at_least;
use crate::{Support, Unusable};

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
    name: String,
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

/// The features `PIDKIT_HIDE_FEATURES` names, and the names it has that
/// are no feature.
pub(crate) fn hidden_features() -> (Vec<Feature>, Vec<String>) {
    parse_hidden(&std::env::var("PIDKIT_HIDE_FEATURES").unwrap_or_default())
}

/// `"pidfs, get_info,bogus"` → `([Pidfs, GetInfo], ["bogus"])`.
pub(crate) fn parse_hidden(list: &str) -> (Vec<Feature>, Vec<String>) {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for name in list.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        match name.parse() {
            Ok(f) => known.push(f),
            Err(ParseFeatureError { name }) => unknown.push(name),
        }
    }
    (known, unknown)
}

pub(crate) fn apply_hidden(s: &mut Support, hidden: &[Feature]) {
    for f in hidden {
        match f {
            Feature::Pidfd => {
                *s = Support {
                    reason: Some(Unusable::Hidden),
                    ..Support::default()
                }
            }
            Feature::Pidfs => {
                s.pidfs = false;
                s.pidfs_file_handles = false;
            }
            Feature::FileHandles => s.pidfs_file_handles = false,
            Feature::GetInfo => {
                s.get_info = false;
                s.info_exit = false;
                s.info_coredump = false;
                s.info_supported_mask = None;
            }
            Feature::InfoExit => s.info_exit = false,
            Feature::InfoCoredump => s.info_coredump = false,
            Feature::SupportedMask => {
                s.info_supported_mask = None;
                s.info_exit = s.get_info && kernel_at_least(6, 15);
                s.info_coredump = s.get_info && kernel_at_least(6, 16);
            }
            Feature::Thread => {
                s.thread = false;
                s.signal_scope = false;
            }
        }
    }
}
