//! The text form: round trips, strictness, the fuzz target.

use super::*;
use crate::Error;
use crate::parse::MAX_LEN;
use proptest::prelude::*;

const BOOT: &str = "0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e90";

#[test]
fn boot_id_round_trips_and_is_strict() {
    let b = BootId::parse_canonical(BOOT).unwrap();
    assert_eq!(b.to_string(), BOOT);
    assert_eq!(
        BootId::parse_canonical("00000000-0000-0000-0000-000000000000")
            .unwrap()
            .as_u128(),
        0
    );
    for bad in [
        "",
        "0F3C9A5E-6B1D-4E0A-9A43-2F5B7C1D8E90",
        "0f3c9a5e6b1d4e0a9a432f5b7c1d8e90",
        "0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e9",
        "0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e900",
        "0f3c9a5e_6b1d-4e0a-9a43-2f5b7c1d8e90",
        "0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8eg0",
        "{f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e9}",
    ] {
        assert_eq!(BootId::parse_canonical(bad), None, "{bad}");
    }
}

#[test]
fn every_form_round_trips() {
    for text in [
        format!("pidkit-pid:v1:pid=1:boot={BOOT}:pidfs=0"),
        format!("pidkit-pid:v1:pid=2147483647:boot={BOOT}:start=18446744073709551615"),
        format!("pidkit-pid:v1:pid=42:boot={BOOT}:pidfs=7:start=9"),
        format!("pidkit-pid:v1:pid=42:boot={BOOT}:pidfs=7:fh=fe.0700000000000000"),
        format!("pidkit-pid:v1:pid=42:boot={BOOT}:pidfs=7:fh=1.00:start=9"),
        "pidkit-pid:v1:pid=42:gone".to_owned(),
    ] {
        let id: Identity = text.parse().unwrap();
        assert_eq!(id.to_string(), text);
    }
    let id: Identity = format!("pidkit-pid:v1:pid=42:boot={BOOT}:pidfs=7:fh=fe.0700000000000000")
        .parse()
        .unwrap();
    let h = id.file_handle().unwrap();
    assert_eq!(h.handle_type(), 0xfe);
    assert_eq!(h.as_bytes(), &[7, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(id.pidfs_id(), Some(7));
}

/// The longest valid text fits `MAX_LEN`, as its comment says.
#[test]
fn longest_text_fits() {
    let h = FileHandle::new(i32::MAX, &[0xab; FH_MAX]).unwrap();
    let id = Identity::live(
        i32::MAX as u32,
        BootId::from_u128(u128::MAX),
        Some(u64::MAX),
        Some(u64::MAX),
    )
    .with_file_handle(&h);
    let text = id.to_string();
    assert_eq!(text.len(), 201, "{text}");
    assert!(text.len() <= MAX_LEN);
    assert_eq!(text.parse::<Identity>().unwrap(), id);
    // A handle longer than the text can carry does not exist, and one
    // of a type the text cannot carry is left out rather than cut.
    assert!(FileHandle::new(0xfe, &[1; FH_MAX + 1]).is_err());
    let base = Identity::live(1, BootId::from_u128(0), Some(5), None);
    assert_eq!(
        base.with_file_handle(&FileHandle::new(-1, &[1]).unwrap()),
        base
    );
    // Only a pidfs identity carries one.
    let ticks = Identity::live(1, BootId::from_u128(0), None, Some(5));
    assert_eq!(ticks.with_file_handle(&h), ticks);
}

/// Malformed `fh=` fields are parse errors that say what is wrong.
#[test]
fn bad_file_handles_are_parse_errors() {
    let head = format!("pidkit-pid:v1:pid=42:boot={BOOT}");
    for (tail, why) in [
        (":fh=fe.07", "only valid after `pidfs=`"),
        (":start=1:fh=fe.07", "repeated or out of order"),
        (":pidfs=7:fh=", "expected `<type>.<bytes>`"),
        (":pidfs=7:fh=fe", "expected `<type>.<bytes>`"),
        (":pidfs=7:fh=fe.", "even number of hex digits"),
        (":pidfs=7:fh=fe.0", "even number of hex digits"),
        (":pidfs=7:fh=FE.07", "not lowercase hex"),
        (":pidfs=7:fh=fe.0A", "not lowercase hex"),
        (":pidfs=7:fh=0fe.07", "leading zero"),
        (":pidfs=7:fh=0.07", "leading zero"),
        (":pidfs=7:fh=80000000.07", "out of range"),
        (":pidfs=7:fh=100000000.07", "not lowercase hex"),
        (":pidfs=7:fh=fe.07.08", "even number of hex digits"),
        (":pidfs=7:fh=fe.07.0", "not lowercase hex"),
        (":pidfs=7:fh=-2.07", "not lowercase hex"),
        (":pidfs=7:fh=fe.07:fh=fe.07", "repeated or out of order"),
        (":pidfs=7:start=1:fh=fe.07", "repeated or out of order"),
        (":pidfs=7:fh", "has no `=`"),
    ] {
        let text = format!("{head}{tail}");
        match text.parse::<Identity>() {
            Err(Error::Parse { reason, .. }) => {
                assert!(reason.contains(why), "{text}: {reason}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    let too_long = format!("{head}:pidfs=7:fh=fe.{}", "00".repeat(FH_MAX + 1));
    assert!(too_long.parse::<Identity>().is_err());
}

fn arb_identity() -> impl Strategy<Value = Identity> {
    let pid = 1u32..=i32::MAX as u32;
    prop_oneof![
        pid.clone().prop_map(Identity::gone),
        (
            pid,
            any::<u128>(),
            proptest::option::of(any::<u64>()),
            any::<u64>(),
            0..3u8,
            proptest::option::of((1..=i32::MAX, prop::collection::vec(any::<u8>(), 1..=FH_MAX))),
        )
            .prop_map(|(pid, boot, pidfs, start, which, fh)| {
                let boot = BootId::from_u128(boot);
                let id = match (which, pidfs) {
                    (0, Some(ino)) => Identity::live(pid, boot, Some(ino), None),
                    (1, p) => Identity::live(pid, boot, p, Some(start)),
                    _ => Identity::live(pid, boot, None, Some(start)),
                };
                match fh {
                    Some((ty, bytes)) => id.with_file_handle(&FileHandle::new(ty, &bytes).unwrap()),
                    None => id,
                }
            }),
    ]
}

/// Checks one input against everything the parser promises.
fn check_text(raw: &[u8]) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(raw);
    match text.parse::<Identity>() {
        Ok(id) => {
            // Canonical: the text is the one Display writes, so no two
            // texts mean the same identity.
            prop_assert_eq!(&id.to_string(), &*text);
            prop_assert!(text.len() <= MAX_LEN);
            prop_assert!((1..=i32::MAX as u32).contains(&id.pid()));
            prop_assert_eq!(text.parse::<Identity>().unwrap(), id);
            if id.is_gone() {
                prop_assert!(id.boot_id().is_none());
                prop_assert!(id.pidfs_id().is_none() && id.start_ticks().is_none());
            } else {
                prop_assert!(id.boot_id().is_some());
                prop_assert!(id.pidfs_id().is_some() || id.start_ticks().is_some());
            }
            if let Some(h) = id.file_handle() {
                prop_assert!(id.pidfs_id().is_some());
                prop_assert!(!h.as_bytes().is_empty() && h.as_bytes().len() <= FH_MAX);
                prop_assert!(h.handle_type() >= 1);
            }
        }
        Err(Error::Parse { input, reason }) => {
            prop_assert_eq!(&input, &*text);
            prop_assert!(!reason.is_empty() && !reason.ends_with('.'), "{:?}", reason);
            let message = Error::Parse { input, reason }.to_string();
            // At most 100 characters of the input are shown, each
            // escaped in at most 10 bytes, and reasons quote at most
            // MAX_LEN bytes of it.
            prop_assert!(message.len() < 2000, "{} bytes", message.len());
            prop_assert!(message.starts_with("invalid process handle text "));
        }
        Err(e) => prop_assert!(false, "not a parse error: {e:?}"),
    }
    Ok(())
}

/// Fuzz target: the text form, from real handles of every form (the
/// corpus) mutated, and arbitrary bytes. Pure parsing, no system call.
#[test]
fn fuzz_identity() {
    let tokens: &[&[u8]] = &[
        b"pidkit-pid",
        b":v1",
        b":v2",
        b":pid=",
        b":boot=",
        b":pidfs=",
        b":start=",
        b":fh=",
        b":fh=fe.",
        b"0700000000000000",
        b".",
        b":gone",
        b":",
        b"=",
        b"-",
        b"0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e90",
        b"0F3C9A5E",
        b" ",
        b"\n",
        b"\0",
        "\u{e9}".as_bytes(),
        "\u{ff11}".as_bytes(),
    ];
    testkit::fuzz::target(
        "pidhandle/identity",
        concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz-corpus/identity"),
        tokens,
        |input| check_text(&input.0),
    );
}

proptest! {
    #[test]
    fn parse_inverts_display(id in arb_identity()) {
        let text = id.to_string();
        prop_assert!(text.len() <= MAX_LEN);
        prop_assert_eq!(text.parse::<Identity>().unwrap(), id);
    }

    /// The parser is injective: whatever it accepts prints back exactly,
    /// so two different texts never mean the same identity, and a text
    /// that differs from a valid one is either an error or a different
    /// identity.
    #[test]
    fn accepted_text_is_canonical(text in "(?s).{0,200}") {
        match text.parse::<Identity>() {
            Ok(id) => prop_assert_eq!(id.to_string(), text),
            Err(Error::Parse { input, reason }) => {
                prop_assert_eq!(input, text);
                prop_assert!(!reason.is_empty());
            }
            Err(e) => prop_assert!(false, "not a parse error: {e}"),
        }
    }

    #[test]
    fn near_valid_text_is_canonical(
        id in arb_identity(),
        pos in any::<prop::sample::Index>(),
        c in prop::char::range(' ', '~'),
        op in 0..3u8,
    ) {
        let text = id.to_string();
        let mut chars: Vec<char> = text.chars().collect();
        let i = pos.index(chars.len() + 1);
        match op {
            0 if i < chars.len() => chars[i] = c,
            1 if i < chars.len() => { chars.remove(i); }
            _ => chars.insert(i, c),
        }
        let mutated: String = chars.into_iter().collect();
        if let Ok(other) = mutated.parse::<Identity>() {
            prop_assert_eq!(other.to_string(), mutated.clone());
            if mutated != text {
                prop_assert_ne!(other, id);
            }
        }
    }
}
