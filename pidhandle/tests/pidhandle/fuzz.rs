//! Fuzz target for restoring handles from text against real processes:
//! `PidHandle::from_str` on mutated handle texts (the corpus and the texts of
//! a live child), arbitrary bytes, and texts assembled from right and wrong
//! identity facts. `cargo xtask test --fuzz` runs it with many cases; the
//! pure parser has its own, faster target (`identity::tests::fuzz_identity`).
//!
//! Nothing is ever signalled but with signal 0, and only the test's own child.

#![allow(
    clippy::unwrap_used,
    reason = "a failed step must fail the test loudly"
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pidkit_pidhandle::{BootId, Error, Identity, PidFd, PidHandle, Signal, State, probe};
use proptest::prelude::*;
use testkit::fuzz::{self, Bytes};
use testkit::{sleeper, watchdog};

/// Whether restoring compares pidfs ids here (else start ticks).
fn pidfs_checked() -> bool {
    pidkit_pidhandle::probe().usable() && probe().pidfs
}

/// Whether text written here carries a pidfs file handle.
fn fh_opened() -> bool {
    pidkit_pidhandle::probe().usable() && probe().pidfs_file_handles
}

/// What the test knows about its child.
struct Child {
    pid: u32,
    pidfs: Option<u64>,
    /// Its pidfs file handle in text form (`fh=` value), where the kernel
    /// has them.
    fh: Option<String>,
    start: u64,
}

/// What the kernel makes of a file handle: `Some(Some(id))` it opens the
/// process with pidfs id `id`, `Some(None)` it names no process (stale, or
/// not decodable: `EINVAL`), `None` the call itself was refused.
fn opened_by(h: &pidkit_pidhandle::FileHandle) -> Option<Option<u64>> {
    match PidFd::open_file_handle(h) {
        Ok(fd) => Some(fd.pidfs_id().unwrap()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(22) => {
            Some(None)
        }
        Err(_) => None,
    }
}

/// The facts a text is assembled from: right, near and wrong ones.
fn assembled(child: &Child, boot: BootId) -> impl Strategy<Value = Bytes> {
    let pid = child.pid;
    let pidfs = child.pidfs.unwrap_or(4711);
    let start = child.start;
    let fh = child
        .fh
        .clone()
        .unwrap_or_else(|| "fe.0700000000000000".into());
    let fhs = prop_oneof![
        3 => Just(None),
        4 => Just(Some(fh.clone())),
        1 => Just(Some(format!("{fh}00"))),
        1 => Just(Some(format!("1{fh}"))),
        1 => (1..=i32::MAX, prop::collection::vec(any::<u8>(), 1..=32)).prop_map(|(t, b)| {
            Some(format!(
                "{t:x}.{}",
                b.iter().map(|x| format!("{x:02x}")).collect::<String>()
            ))
        }),
    ];
    let pids = prop_oneof![
        6 => Just(pid),
        1 => Just(pid + 1),
        1 => Just(pid - 1),
        1 => Just(1u32),
        1 => 1u32..=i32::MAX as u32,
    ];
    let boots = prop_oneof![
        6 => Just(boot.to_string()),
        // Any other boot id: 32 hex digits with the canonical dashes.
        1 => any::<u128>().prop_map(|b| {
            let mut text = format!("{b:032x}");
            for at in [20, 16, 12, 8] {
                text.insert(at, '-');
            }
            text
        }),
    ];
    let pidfs_ids = prop_oneof![
        2 => Just(None),
        4 => Just(Some(pidfs)),
        1 => Just(Some(pidfs + 1)),
        1 => any::<u64>().prop_map(Some),
    ];
    let starts = prop_oneof![
        2 => Just(None),
        4 => Just(Some(start)),
        1 => Just(Some(start.wrapping_add(1))),
        1 => Just(Some(start.wrapping_sub(1))),
        1 => any::<u64>().prop_map(Some),
    ];
    (pids, boots, pidfs_ids, starts, 0..10u8, fhs).prop_map(
        |(pid, boot, pidfs, start, gone, fh)| {
            let mut text = format!("pidkit-pid:v1:pid={pid}");
            if gone == 0 {
                text.push_str(":gone");
            } else {
                text.push_str(&format!(":boot={boot}"));
                if let Some(ino) = pidfs {
                    text.push_str(&format!(":pidfs={ino}"));
                    if let Some(fh) = fh {
                        text.push_str(&format!(":fh={fh}"));
                    }
                }
                if let Some(t) = start {
                    text.push_str(&format!(":start={t}"));
                }
            }
            Bytes(text.into_bytes())
        },
    )
}

/// How the restores came out: parse errors, unsupported, gone, live.
static OUTCOMES: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

fn count(outcome: usize) {
    OUTCOMES[outcome].fetch_add(1, Ordering::Relaxed);
}

/// Checks one restore against what the text says and what the kernel says.
fn check(child: &Child, boot: BootId, input: &Bytes) -> Result<(), TestCaseError> {
    let text = input.lossy();
    let parsed = text.parse::<Identity>();
    let restored = text.parse::<PidHandle>();
    let id = match (parsed, restored) {
        (
            Err(Error::Parse {
                input: a,
                reason: r,
            }),
            Err(Error::Parse {
                input: b,
                reason: s,
            }),
        ) => {
            prop_assert_eq!((a, r), (b, s));
            count(0);
            return Ok(());
        }
        (Ok(id), restored) => {
            check_restored(child, boot, &text, &id, restored)?;
            id
        }
        (parsed, restored) => {
            prop_assert!(false, "parse gave {parsed:?} but restore {restored:?}");
            unreachable!()
        }
    };
    prop_assert!((1..=i32::MAX as u32).contains(&id.pid()));
    Ok(())
}

fn check_restored(
    child: &Child,
    boot: BootId,
    text: &str,
    id: &Identity,
    restored: Result<PidHandle, Error>,
) -> Result<(), TestCaseError> {
    let this_boot = id.boot_id() == Some(boot);
    let only_pidfs = id.pidfs_id().is_some() && id.start_ticks().is_none();
    // What the restore must conclude for the child's PID.
    let expected_live = || -> Option<bool> {
        if id.is_gone() || !this_boot {
            return Some(false);
        }
        if let (Some(h), Some(ino)) = (id.file_handle(), id.pidfs_id()) {
            // A handle that names another process than the text's pidfs id
            // is edited text, gone: read from the pidfs form (type 0xfe,
            // the id in eight little-endian bytes), or else by the kernel
            // where it opens handles.
            if h.handle_type() == 0xfe && h.as_bytes().len() == 8 {
                if h.as_bytes() != ino.to_le_bytes() {
                    return Some(false);
                }
            } else if fh_opened() {
                match opened_by(&h) {
                    Some(Some(opened)) if opened != ino => return Some(false),
                    Some(None) => return Some(false),
                    _ => {}
                }
            }
        }
        match (id.pidfs_id(), id.start_ticks()) {
            (Some(ino), _) if pidfs_checked() => Some(Some(ino) == child.pidfs),
            (_, Some(t)) => Some(t == child.start),
            (_, None) => None,
        }
    };
    let h = match restored {
        Ok(h) => h,
        Err(Error::Unsupported { pid, .. }) => {
            prop_assert_eq!(pid, id.pid());
            prop_assert!(
                this_boot && only_pidfs && !pidfs_checked(),
                "unsupported for {text}"
            );
            if id.pid() == child.pid {
                prop_assert_eq!(expected_live(), None);
            }
            count(1);
            return Ok(());
        }
        Err(e) => {
            prop_assert!(false, "{text}: {e:?}");
            unreachable!()
        }
    };
    prop_assert_eq!(h.pid(), id.pid());
    let gone_text = format!("pidkit-pid:v1:pid={}:gone", id.pid());
    if h.identity().is_gone() {
        prop_assert_eq!(h.to_string(), gone_text);
        prop_assert_eq!(h.state().unwrap(), State::Gone);
        if id.pid() == child.pid {
            prop_assert_eq!(expected_live(), Some(false), "{} restored gone", text);
        }
        count(2);
        return Ok(());
    }
    // A live handle: the text was verified against the process.
    count(3);
    prop_assert_eq!(h.to_string(), text);
    prop_assert_eq!(h.identity(), id);
    prop_assert!(this_boot);
    prop_assert_eq!(h.pidfd().is_some(), pidkit_pidhandle::probe().usable());
    if id.pid() == child.pid {
        prop_assert_eq!(expected_live(), Some(true), "{} restored live", text);
        prop_assert_eq!(h.state().unwrap(), State::Running);
        h.kill(Signal::ZERO).unwrap();
        return Ok(());
    }
    // Another process matched (a mutation named it, with facts that fit):
    // check those facts independently, unless it is gone by now.
    match (id.pidfs_id(), id.start_ticks()) {
        (Some(ino), _) if pidfs_checked() => {
            if let Ok(fd) = PidFd::open(id.pid()) {
                prop_assert_eq!(fd.pidfs_id().unwrap(), Some(ino), "{}", text);
            }
        }
        (_, Some(t)) => {
            if let Some(actual) = testkit::start_ticks(id.pid()) {
                prop_assert_eq!(actual, t, "{}", text);
            }
        }
        _ => prop_assert!(false, "{text} restored live without a checkable identity"),
    }
    Ok(())
}

/// Fuzz target: restoring text, against a live child and whatever else the
/// mutated PIDs name. A text restores to a live handle only when its facts
/// are the process's (checked again here by other means), to a gone handle
/// otherwise, and is a parse error exactly when `Identity` says so; never a
/// panic, never another error.
#[test]
fn fuzz_handle_text() {
    let _w = watchdog(
        "fuzz_handle_text",
        fuzz::budget() + Duration::from_secs(120),
    );
    let sleeper = sleeper();
    let pid = sleeper.id();
    let handle = PidHandle::from_child(sleeper.child()).unwrap();
    let boot = BootId::current().unwrap();
    let child = Child {
        pid,
        pidfs: if pidfs_checked() {
            PidFd::open(pid).unwrap().pidfs_id().unwrap()
        } else {
            None
        },
        fh: handle
            .identity()
            .to_string()
            .split(":fh=")
            .nth(1)
            .map(|rest| rest.split(':').next().unwrap_or_default().to_owned()),
        start: testkit::start_ticks_once_named(pid, "sleep"),
    };
    assert_eq!(child.fh.is_some(), fh_opened(), "{}", handle);
    let mut seeds = fuzz::corpus(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz-corpus/identity"));
    let live = [
        handle.to_string(),
        format!("pidkit-pid:v1:pid={pid}:boot={boot}:start={}", child.start),
        format!(
            "pidkit-pid:v1:pid={pid}:boot={boot}:pidfs={}",
            child.pidfs.unwrap_or(1)
        ),
        format!(
            "pidkit-pid:v1:pid={pid}:boot={boot}:pidfs={}:start={}",
            child.pidfs.unwrap_or(1),
            child.start
        ),
        format!("pidkit-pid:v1:pid={pid}:gone"),
        format!(
            "pidkit-pid:v1:pid={pid}:boot={boot}:pidfs={}:fh={}",
            child.pidfs.unwrap_or(1),
            child.fh.as_deref().unwrap_or("fe.0100000000000000")
        ),
    ];
    seeds.extend(live.iter().map(|t| t.clone().into_bytes()));
    let verbatim: Vec<Bytes> = seeds.iter().cloned().map(Bytes).collect();
    let tokens: &[&[u8]] = &[
        b":pid=",
        b":boot=",
        b":pidfs=",
        b":start=",
        b":fh=",
        b":fh=fe.",
        b":gone",
        b":",
        b"=",
        pid.to_string().leak().as_bytes(),
        child.start.to_string().leak().as_bytes(),
        boot.to_string().leak().as_bytes(),
    ];
    let inputs = prop_oneof![
        3 => fuzz::inputs(seeds, tokens),
        1 => assembled(&child, boot),
    ];
    fuzz::run(
        "pidhandle/handle text (restore)",
        fuzz::cases(),
        &verbatim,
        inputs,
        |input| check(&child, boot, &input),
    );
    let [parse, unsupported, gone, live] = OUTCOMES.each_ref().map(|c| c.load(Ordering::Relaxed));
    println!("restores: {parse} parse errors, {unsupported} unsupported, {gone} gone, {live} live");
    // The child was only ever sent signal 0.
    assert_eq!(handle.state().unwrap(), State::Running);
}
