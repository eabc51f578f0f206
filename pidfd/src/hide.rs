//! The test hook `PIDKIT_HIDE_FEATURES`: kernel features reported absent on
//! purpose, so that the fallbacks can be tested on a kernel that has them.
//! Not part of the documented API.

use crate::steps::kernel_at_least;
use crate::support::{Feature, ParseFeatureError, Support, Unusable};

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
