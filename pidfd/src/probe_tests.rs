//! The probe's parsers and the printed answer.

use std::io;

use super::*;
use crate::hide::parse_hidden;
use crate::steps::parse_release;
use crate::support::{Feature, ProbeStep};

#[test]
fn release_parsing() {
    assert_eq!(parse_release("6.18.44-fc-v669"), Some((6, 18)));
    assert_eq!(parse_release("5.4.0"), Some((5, 4)));
    assert_eq!(parse_release("6.9"), Some((6, 9)));
    assert_eq!(parse_release("garbage"), None);
    assert_eq!(parse_release(""), None);
}

#[test]
fn hidden_names_typed_and_unknown_kept() {
    let (known, unknown) = parse_hidden(" pidfs,get_info,,bogus , thread,Pidfs");
    assert_eq!(known, [Feature::Pidfs, Feature::GetInfo, Feature::Thread]);
    assert_eq!(unknown, ["bogus", "Pidfs"]);
    assert_eq!(parse_hidden(""), (vec![], vec![]));
    let s = Support {
        hidden: known,
        unknown_hidden: unknown,
        ..Support::default()
    };
    let text = s.to_string();
    assert!(
        text.contains("hidden by PIDKIT_HIDE_FEATURES: pidfs,get_info,thread\n"),
        "{text}"
    );
    assert!(text.contains("(ignored): bogus,Pidfs\n"), "{text}");
}

#[test]
fn feature_names_round_trip() {
    for f in Feature::ALL {
        assert_eq!(f.name().parse::<Feature>(), Ok(f));
        assert_eq!(f.to_string(), f.name());
    }
    let e = "info-exit".parse::<Feature>().unwrap_err();
    assert_eq!(e.name(), "info-exit");
    assert!(
        e.to_string()
            .starts_with("unknown pidfd feature \"info-exit\": expected one of pidfd, pidfs,"),
        "{e}"
    );
}

#[test]
fn unusable_prints_step_and_error() {
    let u = Unusable::Failed {
        step: ProbeStep::PidfdOpen,
        kind: io::ErrorKind::Unsupported,
        errno: Some(libc::ENOSYS),
    };
    assert_eq!(u.feature(), Feature::Pidfd);
    assert_eq!(u.errno(), Some(libc::ENOSYS));
    let text = u.to_string();
    assert!(text.starts_with("pidfd_open on self: "), "{text}");
    assert!(text.contains("os error 38"), "{text}");
    let out = Unusable::OutOfResources {
        step: ProbeStep::ThreadOpen,
        errno: libc::EMFILE,
    };
    assert_eq!(out.feature(), Feature::Thread);
    assert!(
        out.to_string()
            .ends_with("not cached, probed again on the next call")
    );
    let s = Support {
        reason: Some(out),
        ..Support::default()
    };
    assert_eq!(
        s.resource_error().and_then(|e| e.raw_os_error()),
        Some(libc::EMFILE)
    );
    assert!(Support::default().resource_error().is_none());
    assert_eq!(
        Unusable::WaitidSucceeded.to_string(),
        "waitid(P_PIDFD) on self: did not fail with ECHILD"
    );
}
