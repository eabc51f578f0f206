//! The `serde` feature: identities in a state file, as systemd and
//! containerd keep them, restored only through `PidHandle::restore`.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on the first unexpected error"
)]

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use pidkit_pidhandle::{BootId, Error, Identity, PidHandle, Signal, State};
use serde::{Deserialize, Serialize};
use testkit::{sleeper, watchdog};

const LIMIT: Duration = Duration::from_secs(120);

/// A supervisor's state record: `{ pid, identity }`, the shape of a TOML
/// table or a JSON object.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Record {
    pid: u32,
    identity: Identity,
    boot: Option<BootId>,
}

#[test]
fn state_record_round_trips_and_restores_only_the_same_process() {
    let _w = watchdog("serde state record", LIMIT);
    let child = sleeper();
    let handle = PidHandle::from_child(child.child()).unwrap();
    let identity = *handle.identity();
    let record = Record {
        pid: child.id(),
        identity,
        boot: identity.boot_id(),
    };
    let json = serde_json::to_string_pretty(&record).unwrap();
    // The identity is its text form, no descriptor number or other field.
    let text = identity.to_string();
    assert!(
        json.contains(&format!("\"identity\": \"{text}\"")),
        "{json}"
    );
    assert_eq!(json.matches("pidkit-pid:").count(), 1, "{json}");
    drop(handle);

    let back: Record = serde_json::from_str(&json).unwrap();
    assert_eq!(back, record);
    let restored = PidHandle::restore(&back.identity).unwrap();
    assert_eq!(restored.pid(), child.id());
    assert_eq!(restored.state().unwrap(), State::Running);
    restored.kill(Signal::TERM).unwrap();
    assert_eq!(child.wait().signal(), Some(Signal::TERM.as_raw()));

    // The same record after the process is reaped: it still deserializes
    // (it is only data), and restoring it finds the process gone.
    let stale: Record = serde_json::from_str(&json).unwrap();
    let gone = PidHandle::restore(&stale.identity).unwrap();
    assert!(matches!(gone.kill(Signal::KILL), Err(Error::Gone { pid }) if pid == record.pid));
}

#[test]
fn bad_record_names_the_content() {
    let json = r#"{"pid": 5, "identity": "pidkit-pid:v1:pid=5:boot=nope:start=1", "boot": null}"#;
    let e = serde_json::from_str::<Record>(json)
        .unwrap_err()
        .to_string();
    assert!(e.contains("pidkit-pid:v1:pid=5:boot=nope:start=1"), "{e}");
    let json = r#"{"pid": 5, "identity": 5, "boot": null}"#;
    let e = serde_json::from_str::<Record>(json)
        .unwrap_err()
        .to_string();
    assert!(e.contains("invalid type: integer `5`"), "{e}");
}
