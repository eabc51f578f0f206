//! Fuzz target for reading lock file content: whatever bytes a lock file
//! holds, free, held by this process's claim or held by someone else, a
//! read gives back exactly those bytes, text or not, and leaves no lock
//! behind that it does not report. The corpus (`fuzz-corpus/content/`) holds
//! contents around the sizes where the reader's buffer changes (128, 256
//! bytes) and UTF-8 sequences cut at those places. `cargo xtask test --fuzz`
//! runs it with many cases.

use std::fs::File;
use std::time::Duration;

use camino::Utf8Path;
use fs4::fs_std::FileExt as Flock;
use pidkit_lockfile::{LockFileRead, read_and_hold_lock_file};
use proptest::prelude::*;
use testkit::fuzz::{self, Bytes};
use testkit::helper::serial;
use testkit::{temp_lock, watchdog};

/// Whether nobody holds any lock on the file.
fn is_free(path: &Utf8Path) -> bool {
    Flock::try_lock_exclusive(&File::open(path).unwrap()).unwrap()
}

fn check(path: &Utf8Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    std::fs::write(path, bytes).unwrap();

    // Free: the reader takes the lock and reports the stale content.
    match read_and_hold_lock_file(path) {
        Ok(LockFileRead::NotHeldByAnyProcess(guard, content)) => {
            prop_assert_eq!(content, bytes);
            prop_assert!(!is_free(path));
            // While the guard lives, the file is this process's.
            match read_and_hold_lock_file(path) {
                Ok(LockFileRead::HeldByThisProcess { content }) => {
                    prop_assert_eq!(content, bytes);
                }
                other => prop_assert!(false, "ours: {:?}", other),
            }
            drop(guard);
        }
        other => prop_assert!(false, "free: {:?}", other),
    }
    prop_assert!(is_free(path));

    // Held by someone else (an exclusive lock): the content, and no lock kept.
    let claim = File::open(path).unwrap();
    prop_assert!(Flock::try_lock_exclusive(&claim).unwrap());
    match read_and_hold_lock_file(path) {
        Ok(LockFileRead::LockedByOtherProcess { content, .. }) => {
            prop_assert_eq!(content, bytes);
        }
        other => prop_assert!(false, "held: {:?}", other),
    }
    drop(claim);
    prop_assert!(is_free(path));
    prop_assert_eq!(std::fs::read(path).unwrap(), bytes);
    Ok(())
}

/// Fuzz target: lock file content, from the corpus mutated, and arbitrary
/// bytes (inputs reach a few hundred bytes through repetitions and splices).
#[test]
fn fuzz_lockfile_content() {
    let _serial = serial();
    let _w = watchdog(
        "fuzz_lockfile_content",
        fuzz::budget() + Duration::from_secs(120),
    );
    let (_dir, path) = temp_lock("fuzz.lock");
    let seeds = fuzz::corpus(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz-corpus/content"));
    let verbatim: Vec<Bytes> = seeds.iter().cloned().map(Bytes).collect();
    let tokens: &[&[u8]] = &[
        "\u{e9}".as_bytes(),
        "\u{20ac}".as_bytes(),
        "\u{1f600}".as_bytes(),
        b"\xc3",
        b"\xe2\x82",
        b"\xf0\x9f\x98",
        b"\xff",
        b"\0",
        b"\n",
    ];
    fuzz::run(
        "lockfile/content",
        (fuzz::cases() / 4).max(64),
        &verbatim,
        fuzz::inputs(seeds, tokens),
        |input| check(&path, &input.0),
    );
}
