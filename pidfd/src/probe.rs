//! [`probe`]: the capability probe's cache; its steps are in `steps.rs`, its
//! answer in `support.rs`.

use std::sync::OnceLock;

use crate::hide::{apply_hidden, hidden_features};
use crate::steps::run_probe;
use crate::support::{Support, Unusable};

/// Probes the pidfd features once and caches the answer; never panics.
///
/// An answer found while the process or system was out of file descriptors
/// or memory is not cached ([`Support::resource_error`]); the next call
/// probes again.
///
/// The steps follow Go's `checkPidfd`: `pidfd_open` on ourselves,
/// `waitid(P_PIDFD)` on ourselves must fail with `ECHILD` (we are not our own
/// parent), and signal 0 to ourselves must succeed. Then the optional
/// features are tried one by one. `ENOSYS` (old kernel, or seccomp) and
/// `EPERM` (seccomp in container profiles) both mean "absent".
///
/// For tests of fallbacks, the environment variable `PIDKIT_HIDE_FEATURES`
/// (comma separated: `pidfd`, `pidfs`, `get_info`, `info_exit`,
/// `info_coredump`, `supported_mask`, `file_handles`, `thread`) reports the
/// named features absent; `pidfd` hides all of them, and `pidfs` hides
/// `file_handles` too (a pidfs file handle is a pidfs id in other form). Hiding `supported_mask` makes the
/// probe decide `info_exit` and `info_coredump` by the kernel release, as on
/// kernels before 6.19.
///
/// The answer prints as one line per feature ([`Support`]'s `Display`).
///
/// ```
/// let support = pidkit_pidfd::probe();
/// if support.usable() {
///     println!("pidfds work; pidfs ids: {}", support.pidfs);
/// } else {
///     println!("no pidfds here: {:?}", support.reason);
/// }
/// ```
#[inline]
pub fn probe() -> &'static Support {
    // Inline, so that a caller's system calls are not separated by a call
    // (ARCHITECTURE.md, "Where a call's cost goes"); the probe itself runs
    // out of line, once.
    match SUPPORT.get() {
        Some(s) => s,
        None => run_and_keep(),
    }
}

/// The cached answer of [`probe`], once it has run to completion.
static SUPPORT: OnceLock<Support> = OnceLock::new();

/// [`probe`]'s first call (and each call that ran out of resources).
#[cold]
#[inline(never)]
fn run_and_keep() -> &'static Support {
    // Answers that are not cached, one per errno, so that a process that
    // keeps running out of descriptors does not allocate one per call.
    static EXHAUSTED: [OnceLock<Support>; 3] = [const { OnceLock::new() }; 3];
    let (hidden, unknown) = hidden_features();
    let mut s = run_probe();
    apply_hidden(&mut s, &hidden);
    s.hidden = hidden;
    s.unknown_hidden = unknown;
    if let Some(Unusable::OutOfResources { errno, .. }) = s.reason {
        let slot = match errno {
            libc::EMFILE => 0,
            libc::ENFILE => 1,
            _ => 2,
        };
        return EXHAUSTED[slot].get_or_init(|| s);
    }
    SUPPORT.get_or_init(|| s)
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
