//! Fuzz targets for pidfile content: the parser alone ([`parse_pid`]), and
//! the whole read of a held pidfile with that content.
//!
//! The corpus (`fuzz-corpus/content/`) holds what pidfiles contain in the
//! wild and the usual ways they go wrong. `cargo xtask test --fuzz` runs
//! these with many cases.

use std::fs::File;
use std::time::Duration;

use camino::Utf8Path;
use pidkit_pidfile::{Error, PidFileRead, parse_pid, read_with_wait};
use proptest::prelude::*;
use testkit::fuzz::{self, Bytes};
use testkit::helper::serial;
use testkit::{temp_lock, watchdog};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz-corpus/content");

const TOKENS: &[&[u8]] = &[
    b"\n",
    b" ",
    b"\t",
    b"\r",
    b"\x0b",
    b"\x0c",
    b"-",
    b"+",
    b"0",
    b"\0",
    "\u{a0}".as_bytes(),
    "\u{2003}".as_bytes(),
    "\u{ff14}".as_bytes(),
    "\u{0664}".as_bytes(),
];

/// The rule, computed another way than `parse_pid`: the value is
/// accumulated digit by digit in a `u128`, saturating.
fn oracle(content: &[u8]) -> Option<u32> {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c');
    let start = content.iter().position(|b| !ws(b))?;
    let end = content.iter().rposition(|b| !ws(b))? + 1;
    let digits = &content[start..end];
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().fold(0u128, |v, d| {
        v.saturating_mul(10).saturating_add(u128::from(d - b'0'))
    });
    (1..=i32::MAX as u128)
        .contains(&value)
        .then_some(value as u32)
}

/// Fuzz target: `parse_pid` on real and broken pidfile contents, mutated,
/// and arbitrary bytes. It agrees with the oracle, accepts only PIDs in
/// `1..=i32::MAX`, and the error that shows bad content stays short.
#[test]
fn fuzz_pid_content() {
    let _w = watchdog(
        "fuzz_pid_content",
        fuzz::budget() + Duration::from_secs(120),
    );
    let seeds = fuzz::corpus(CORPUS);
    let verbatim: Vec<Bytes> = seeds.iter().cloned().map(Bytes).collect();
    fuzz::run(
        "pidfile/content (parse_pid)",
        fuzz::cases(),
        &verbatim,
        fuzz::inputs(seeds, TOKENS),
        |input| {
            let text = input.lossy();
            let parsed = parse_pid(&text);
            // Lossy decoding only ever adds U+FFFD, which no PID contains.
            prop_assert_eq!(parsed, oracle(text.as_bytes()), "{:?}", text);
            if let Some(pid) = parsed {
                prop_assert!((1..=i32::MAX as u32).contains(&pid));
                prop_assert_eq!(parse_pid(format!("{pid}\n")), Some(pid));
            }
            let shown = Error::BadContent {
                path: "/run/x.pid".into(),
                content: text.clone(),
            }
            .to_string();
            prop_assert!(shown.starts_with("pidfile /run/x.pid holds "));
            // At most 64 characters are shown, each escaped in at most 10 bytes.
            prop_assert!(shown.len() < 64 * 10 + 100, "{} bytes", shown.len());
            Ok(())
        },
    );
}

/// What a read of `path`, held by someone (an exclusive lock), must give
/// for `bytes`.
fn check_held_read(path: &Utf8Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    std::fs::write(path, bytes).unwrap();
    let claim = File::open(path).unwrap();
    prop_assert!(fs4::fs_std::FileExt::try_lock_exclusive(&claim).unwrap());
    let result = read_with_wait(path, Duration::ZERO);
    match result {
        Ok(PidFileRead::LockedByOtherProcess(owner)) => {
            prop_assert_eq!(Some(owner.pid()), parse_pid(bytes));
            prop_assert_eq!(owner.path(), path);
        }
        Err(Error::BadContent { path: p, content }) => {
            prop_assert_eq!(parse_pid(bytes), None);
            prop_assert_eq!(p, path);
            // The content as text, with U+FFFD where it is not.
            prop_assert_eq!(content, String::from_utf8_lossy(bytes));
        }
        other => prop_assert!(false, "{:?}", other),
    }
    drop(claim);
    // Unheld, the same content is stale, never parsed, and kept whatever its
    // bytes; the read's guard is the only lock, and goes with it.
    match read_with_wait(path, Duration::ZERO) {
        Ok(PidFileRead::NotHeldByAnyProcess(guard, stale)) => {
            prop_assert_eq!(stale, bytes);
            drop(guard);
            let probe = File::open(path).unwrap();
            prop_assert!(fs4::fs_std::FileExt::try_lock_exclusive(&probe).unwrap());
        }
        other => prop_assert!(false, "{:?}", other),
    }
    Ok(())
}

/// Fuzz target: a held pidfile with any content, read end to end. The owner
/// is reported exactly when the content is a PID; otherwise the error names
/// the path and carries the content (as text, U+FFFD where it is not); an
/// unheld file reads as stale with its bytes, whatever they are.
#[test]
fn fuzz_read_held_pidfile() {
    let _serial = serial();
    let _w = watchdog(
        "fuzz_read_held_pidfile",
        fuzz::budget() + Duration::from_secs(120),
    );
    let (_dir, path) = temp_lock("fuzz.pid");
    let seeds = fuzz::corpus(CORPUS);
    let verbatim: Vec<Bytes> = seeds.iter().cloned().map(Bytes).collect();
    fuzz::run(
        "pidfile/held read",
        (fuzz::cases() / 4).max(64),
        &verbatim,
        fuzz::inputs(seeds, TOKENS),
        |input| check_held_read(&path, &input.0),
    );
}
