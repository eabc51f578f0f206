//! systemd's names for a process: the `ProcessId` object of its varlink
//! interfaces (`{"pid": N, "pidfdId": N, "bootId": "..."}`, [`PidRef`]),
//! and the `PID`/`PIDFDID` pairs of environment variables it sets
//! (`MANAGERPID`/`MANAGERPIDFDID`, `LISTEN_PID`/`LISTEN_PIDFDID`, v257+;
//! [`PidHandle::from_env`]).
//!
//! With the `serde` feature a [`PidRef`] (de)serializes as that object. It
//! is an opt-in representation: [`Identity`] keeps its v1 text. Converting
//! is explicit: [`PidHandle::pid_ref`], [`PidHandle::from_pid_ref`].

use std::fmt;

use crate::calls::check_pid;
use crate::pid_inode::number;
use crate::{BootId, Error, Identity, PidHandle, PidInode};

/// A process as systemd's varlink interfaces name it (`ProcessId`): the
/// PID, the pidfs inode id of the process (`pidfdId`, Linux 6.9+) and the
/// boot id that id belongs to (`bootId`).
///
/// With the `serde` feature it serializes as systemd writes it:
/// `{"pid":1234,"pidfdId":4711,"bootId":"0f3c9a5e6b1d4e0a9a432f5b7c1d8e90"}`
/// (the boot id as 32 lowercase hex digits, systemd's id128 encoding), with
/// `pidfdId` and `bootId` left out where they are unknown. Deserializing is
/// strict: `pid` a number in `1..=2147483647`, `pidfdId` a number above 0,
/// `bootId` exactly 32 lowercase hex digits, `null` for an absent field (the
/// interface declares both nullable), and any other field, a duplicate or a
/// wrong type refused (systemd's dispatcher also refuses fields it does not
/// know). Like [`Identity`], a deserialized `PidRef` is data: only
/// [`PidHandle::from_pid_ref`] opens and verifies the process.
///
/// ```
/// use pidkit_pidhandle::systemd::PidRef;
///
/// let json = r#"{"pid":1234,"pidfdId":4711,"bootId":"0f3c9a5e6b1d4e0a9a432f5b7c1d8e90"}"#;
/// let r: PidRef = serde_json::from_str(json)?;
/// assert_eq!((r.pid(), r.pidfd_id()), (1234, Some(4711)));
/// assert_eq!(serde_json::to_string(&r)?, json);
/// assert!(serde_json::from_str::<PidRef>(r#"{"pid":0}"#).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PidRef {
    pid: u32,
    pidfd_id: Option<u64>,
    boot_id: Option<BootId>,
}

impl PidRef {
    /// A `ProcessId`; [`Error::InvalidPid`] for PID 0 or above `i32::MAX`.
    /// A `pidfd_id` of 0 (which systemd never writes) is taken as absent.
    pub fn new(pid: u32, pidfd_id: Option<u64>, boot_id: Option<BootId>) -> Result<PidRef, Error> {
        check_pid(pid)?;
        Ok(PidRef {
            pid,
            pidfd_id: pidfd_id.filter(|&id| id != 0),
            boot_id,
        })
    }

    /// The PID (`pid`).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The pidfs inode id (`pidfdId`), if given.
    pub fn pidfd_id(&self) -> Option<u64> {
        self.pidfd_id
    }

    /// The boot id (`bootId`), if given.
    pub fn boot_id(&self) -> Option<BootId> {
        self.boot_id
    }
}

impl TryFrom<&Identity> for PidRef {
    type Error = Error;

    /// The `ProcessId` of a recorded identity: [`Error::Gone`] for the gone
    /// form, [`Error::Unsupported`] for an identity without a pidfs id
    /// (start ticks are not part of systemd's form, and a bare PID would not
    /// name the process).
    fn try_from(id: &Identity) -> Result<PidRef, Error> {
        let pid = id.pid();
        match (id.pidfs_id(), id.boot_id()) {
            _ if id.is_gone() => Err(Error::Gone { pid }),
            (Some(ino), Some(boot)) => Ok(PidRef {
                pid,
                pidfd_id: Some(ino),
                boot_id: Some(boot),
            }),
            _ => Err(Error::Unsupported {
                pid,
                reason: "systemd's ProcessId needs the process's pidfs inode id \
                         (Linux 6.9+ with pidfds), which this identity does not have"
                    .into(),
            }),
        }
    }
}

impl PidHandle {
    /// The handle's process as systemd's `ProcessId` (Linux 6.9+), from
    /// [`PidHandle::identity`]; see [`PidRef`]'s `TryFrom<&Identity>` for
    /// the errors.
    ///
    /// ```
    /// use pidkit_pidhandle::{BootId, PidHandle, probe};
    ///
    /// let me = PidHandle::new(std::process::id())?;
    /// if probe().pidfs {
    ///     let r = me.pid_ref()?;
    ///     assert_eq!(r.pidfd_id(), me.pidfs_id());
    ///     assert_eq!(r.boot_id(), Some(BootId::current()?));
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pid_ref(&self) -> Result<PidRef, Error> {
        PidRef::try_from(self.identity())
    }

    /// Restores a handle from systemd's `ProcessId`, verified as
    /// [`PidHandle::restore`] verifies text: another boot, no process with
    /// the PID, or one with another pidfs id give a handle in state
    /// [`State::Gone`](crate::State::Gone); otherwise the handle holds a
    /// pidfd of exactly that process.
    ///
    /// A `ProcessId` without `pidfdId` or `bootId` (what systemd writes on
    /// kernels before 6.9) names the process by its PID alone and is
    /// [`Error::Unsupported`], never trusted; so is one restored where pidfs
    /// ids cannot be read.
    ///
    /// ```
    /// use pidkit_pidhandle::{PidHandle, State, probe};
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// if probe().pidfs {
    ///     let r = PidHandle::from_child(&child)?.pid_ref()?;
    ///     assert_eq!(PidHandle::from_pid_ref(&r)?.state()?, State::Running);
    /// }
    /// # child.kill()?;
    /// # child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pid_ref(r: &PidRef) -> Result<PidHandle, Error> {
        let pid = r.pid;
        check_pid(pid)?;
        let (Some(ino), Some(boot)) = (r.pidfd_id, r.boot_id) else {
            return Err(Error::Unsupported {
                pid,
                reason: format!(
                    "the ProcessId has no {}, so it names the process by its PID alone",
                    if r.pidfd_id.is_none() {
                        "pidfdId"
                    } else {
                        "bootId"
                    }
                ),
            });
        };
        PidHandle::restore(&Identity::live(pid, boot, Some(ino), None))
    }

    /// A handle from a `PID`/`PIDFDID` pair of environment variables, such
    /// as systemd's `LISTEN_PID`/`LISTEN_PIDFDID` or
    /// `MANAGERPID`/`MANAGERPIDFDID` (v257+; the boot is this one), checked
    /// as [`PidHandle::from_pid_inode`] checks `PID:inode`.
    ///
    /// [`Error::Env`] for a variable that is unset or not a strict decimal
    /// number (PID in `1..=2147483647`); [`Error::Unsupported`] when only
    /// the PID is set (systemd leaves `*PIDFDID` out before Linux 6.9: a PID
    /// alone is never trusted); [`Error::NoSuchPidInode`] when the process
    /// with the PID is not the one the id names.
    ///
    /// ```no_run
    /// use pidkit_pidhandle::PidHandle;
    ///
    /// // In a service started by systemd v257+ on Linux 6.9+:
    /// let manager = PidHandle::from_env("MANAGERPID", "MANAGERPIDFDID")?;
    /// # Ok::<(), pidkit_pidhandle::Error>(())
    /// ```
    pub fn from_env(pid_var: &str, pidfd_id_var: &str) -> Result<PidHandle, Error> {
        let pid = env_number(pid_var, "a pid")?;
        let pid = match u32::try_from(pid) {
            Ok(p) if p != 0 && p <= i32::MAX as u32 => p,
            _ => {
                return Err(Error::Env {
                    var: pid_var.into(),
                    reason: format!("is {pid}, not a pid in 1..={}", i32::MAX),
                });
            }
        };
        if std::env::var_os(pidfd_id_var).is_none() {
            return Err(Error::Unsupported {
                pid,
                reason: format!(
                    "{pidfd_id_var} is not set, so {pid_var} names the process by its PID alone"
                ),
            });
        }
        let inode = env_number(pidfd_id_var, "a pidfs inode id")?;
        PidHandle::from_pid_inode(&PidInode::new(pid, inode)?)
    }
}

/// The strict decimal number in environment variable `var`.
fn env_number(var: &str, what: &str) -> Result<u64, Error> {
    let Some(value) = std::env::var_os(var) else {
        return Err(Error::Env {
            var: var.into(),
            reason: "is not set".into(),
        });
    };
    let Some(text) = value.to_str() else {
        return Err(Error::Env {
            var: var.into(),
            reason: format!("is {value:?}, not UTF-8"),
        });
    };
    number(text, "value").map_err(|_| Error::Env {
        var: var.into(),
        reason: format!("is {text:?}, not {what} (decimal digits, no sign or leading zeros)"),
    })
}

impl fmt::Display for PidRef {
    /// The object as systemd writes it, without spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{\"pid\":{}", self.pid)?;
        if let Some(id) = self.pidfd_id {
            write!(f, ",\"pidfdId\":{id}")?;
        }
        if let Some(boot) = self.boot_id {
            write!(f, ",\"bootId\":\"{:032x}\"", boot.as_u128())?;
        }
        f.write_str("}")
    }
}

/// The boot id in systemd's id128 encoding: exactly 32 lowercase hex digits.
#[cfg(any(feature = "serde", test))]
fn parse_id128(s: &str) -> Option<BootId> {
    if s.len() != 32
        || !s
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    {
        return None;
    }
    u128::from_str_radix(s, 16).ok().map(BootId::from_value)
}

#[cfg(feature = "serde")]
mod serde_impl {
    use super::{PidRef, parse_id128};
    use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
    use serde::ser::{Serialize, SerializeStruct, Serializer};
    use std::fmt;

    const FIELDS: &[&str] = &["pid", "pidfdId", "bootId"];

    impl Serialize for PidRef {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let n = 1 + usize::from(self.pidfd_id.is_some()) + usize::from(self.boot_id.is_some());
            let mut s = serializer.serialize_struct("ProcessId", n)?;
            s.serialize_field("pid", &self.pid)?;
            if let Some(id) = self.pidfd_id {
                s.serialize_field("pidfdId", &id)?;
            }
            if let Some(boot) = self.boot_id {
                s.serialize_field("bootId", &format!("{:032x}", boot.as_u128()))?;
            }
            s.end()
        }
    }

    impl<'de> Deserialize<'de> for PidRef {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PidRef, D::Error> {
            deserializer.deserialize_struct("ProcessId", FIELDS, PidRefVisitor)
        }
    }

    struct PidRefVisitor;

    impl<'de> Visitor<'de> for PidRefVisitor {
        type Value = PidRef;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(
                "systemd's ProcessId object {\"pid\": N, \"pidfdId\": N, \"bootId\": \"...\"}",
            )
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PidRef, A::Error> {
            let mut pid: Option<u64> = None;
            let mut pidfd_id: Option<Option<u64>> = None;
            let mut boot: Option<Option<String>> = None;
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "pid" if pid.is_some() => return Err(de::Error::duplicate_field("pid")),
                    "pid" => pid = Some(map.next_value()?),
                    "pidfdId" if pidfd_id.is_some() => {
                        return Err(de::Error::duplicate_field("pidfdId"));
                    }
                    "pidfdId" => pidfd_id = Some(map.next_value()?),
                    "bootId" if boot.is_some() => return Err(de::Error::duplicate_field("bootId")),
                    "bootId" => boot = Some(map.next_value()?),
                    other => return Err(de::Error::unknown_field(other, FIELDS)),
                }
            }
            let pid = pid.ok_or_else(|| de::Error::missing_field("pid"))?;
            let pid = match u32::try_from(pid) {
                Ok(p) if p != 0 && p <= i32::MAX as u32 => p,
                _ => {
                    return Err(de::Error::custom(format_args!(
                        "invalid ProcessId: pid {pid} is not in 1..={}",
                        i32::MAX
                    )));
                }
            };
            let pidfd_id = pidfd_id.flatten();
            if pidfd_id == Some(0) {
                return Err(de::Error::custom(format_args!(
                    "invalid ProcessId of pid {pid}: pidfdId 0 names no process"
                )));
            }
            let boot_id = match boot.flatten() {
                None => None,
                Some(text) => Some(parse_id128(&text).ok_or_else(|| {
                    de::Error::custom(format_args!(
                        "invalid ProcessId of pid {pid}: bootId {} is not 32 lowercase hex digits",
                        crate::error::Abbrev(&text)
                    ))
                })?),
            };
            Ok(PidRef {
                pid,
                pidfd_id,
                boot_id,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOT: &str = "0f3c9a5e6b1d4e0a9a432f5b7c1d8e90";

    #[test]
    fn display_is_systemds_json() {
        let boot = parse_id128(BOOT).unwrap();
        let r = PidRef::new(1234, Some(4711), Some(boot)).unwrap();
        assert_eq!(
            r.to_string(),
            format!("{{\"pid\":1234,\"pidfdId\":4711,\"bootId\":\"{BOOT}\"}}")
        );
        assert_eq!(
            PidRef::new(7, None, None).unwrap().to_string(),
            "{\"pid\":7}"
        );
        assert_eq!(PidRef::new(7, Some(0), None).unwrap().pidfd_id(), None);
        assert!(matches!(
            PidRef::new(0, None, None),
            Err(Error::InvalidPid { pid: 0 })
        ));
    }

    #[test]
    fn id128_is_exactly_32_lowercase_hex_digits() {
        assert_eq!(
            parse_id128(BOOT).unwrap().as_u128(),
            0x0f3c9a5e6b1d4e0a9a432f5b7c1d8e90
        );
        for bad in [
            "",
            "0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e90",
            "0F3C9A5E6B1D4E0A9A432F5B7C1D8E90",
            "0f3c9a5e6b1d4e0a9a432f5b7c1d8e9",
            "0f3c9a5e6b1d4e0a9a432f5b7c1d8e900",
            "+f3c9a5e6b1d4e0a9a432f5b7c1d8e90",
            "0f3c9a5e6b1d4e0a9a432f5b7c1d8e9g",
        ] {
            assert_eq!(parse_id128(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn identities_without_pidfs_ids_have_no_pid_ref() {
        let boot = parse_id128(BOOT).unwrap();
        let e = PidRef::try_from(&Identity::live(9, boot, None, Some(55))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported for pid 9: systemd's ProcessId needs the process's pidfs inode id \
             (Linux 6.9+ with pidfds), which this identity does not have"
        );
        assert!(matches!(
            PidRef::try_from(&Identity::gone(9)),
            Err(Error::Gone { pid: 9 })
        ));
        let r = PidRef::try_from(&Identity::live(9, boot, Some(77), None)).unwrap();
        assert_eq!(
            (r.pid(), r.pidfd_id(), r.boot_id()),
            (9, Some(77), Some(boot))
        );
    }

    #[test]
    fn a_pid_ref_without_ids_is_never_trusted() {
        for (r, missing) in [
            (PidRef::new(1, None, None).unwrap(), "pidfdId"),
            (PidRef::new(1, Some(5), None).unwrap(), "bootId"),
        ] {
            let e = PidHandle::from_pid_ref(&r).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "unsupported for pid 1: the ProcessId has no {missing}, \
                     so it names the process by its PID alone"
                )
            );
        }
    }

    #[cfg(feature = "serde")]
    mod json {
        use super::*;
        use proptest::prelude::*;

        fn refused(json: &str) -> String {
            match serde_json::from_str::<PidRef>(json) {
                Err(e) => e.to_string(),
                Ok(r) => panic!("{json} taken as {r:?}"),
            }
        }

        #[test]
        fn systemds_forms_are_read() {
            let full = format!("{{\"pid\":1234,\"pidfdId\":4711,\"bootId\":\"{BOOT}\"}}");
            let r: PidRef = serde_json::from_str(&full).unwrap();
            assert_eq!(serde_json::to_string(&r).unwrap(), full);
            assert_eq!(r.to_string(), full);
            // Field order and whitespace are free; null is absent.
            let r2: PidRef = serde_json::from_str(&format!(
                "{{ \"bootId\": \"{BOOT}\", \"pidfdId\": 4711, \"pid\": 1234 }}"
            ))
            .unwrap();
            assert_eq!(r2, r);
            let bare: PidRef =
                serde_json::from_str("{\"pid\":7,\"pidfdId\":null,\"bootId\":null}").unwrap();
            assert_eq!(bare, PidRef::new(7, None, None).unwrap());
            assert_eq!(serde_json::to_string(&bare).unwrap(), "{\"pid\":7}");
        }

        #[test]
        fn every_bad_object_is_named() {
            let cases = [
                ("{}", "missing field `pid`"),
                (
                    "{\"pid\":0}",
                    "invalid ProcessId: pid 0 is not in 1..=2147483647",
                ),
                (
                    "{\"pid\":2147483648}",
                    "invalid ProcessId: pid 2147483648 is not in 1..=2147483647",
                ),
                ("{\"pid\":-1}", "invalid value: integer `-1`"),
                ("{\"pid\":\"12\"}", "invalid type: string \"12\""),
                ("{\"pid\":1.5}", "invalid type: floating point `1.5`"),
                ("{\"pid\":null}", "invalid type: null"),
                ("{\"pid\":1,\"pid\":2}", "duplicate field `pid`"),
                (
                    "{\"pid\":1,\"pidfdId\":0}",
                    "invalid ProcessId of pid 1: pidfdId 0 names no process",
                ),
                (
                    "{\"pid\":1,\"pidfdId\":\"5\"}",
                    "invalid type: string \"5\"",
                ),
                ("{\"pid\":1,\"bootId\":5}", "invalid type: integer `5`"),
                (
                    "{\"pid\":1,\"bootId\":\"0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e90\"}",
                    "invalid ProcessId of pid 1: bootId \"0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e90\" \
                     is not 32 lowercase hex digits",
                ),
                ("{\"pid\":1,\"uid\":0}", "unknown field `uid`"),
                (
                    "1234",
                    "invalid type: integer `1234`, expected systemd's ProcessId object",
                ),
                ("\"1234\"", "expected systemd's ProcessId object"),
            ];
            for (json, want) in cases {
                let got = refused(json);
                assert!(got.contains(want), "{json}: {got}");
            }
        }

        proptest! {
            #[test]
            fn every_pid_ref_round_trips(
                pid in 1..=i32::MAX as u32,
                id in prop::option::of(1..=u64::MAX),
                boot in prop::option::of(any::<u128>()),
            ) {
                let r = PidRef::new(pid, id, boot.map(BootId::from_value)).unwrap();
                let json = serde_json::to_string(&r).unwrap();
                prop_assert_eq!(&json, &r.to_string());
                prop_assert_eq!(serde_json::from_str::<PidRef>(&json).unwrap(), r);
            }

            /// Arbitrary JSON values never panic; what is taken prints back
            /// as an object with the same fields.
            #[test]
            fn arbitrary_json_never_panics(
                pid in "-?[0-9]{0,12}(\\.[0-9])?|\"[0-9]{1,4}\"|null|true",
                id in "-?[0-9]{0,21}|null|\"x\"",
                boot in "\"[0-9a-fA-F-]{0,40}\"|null|7",
                extra in prop::option::of("[a-zA-Z]{1,8}"),
            ) {
                let mut json = format!("{{\"pid\":{pid},\"pidfdId\":{id},\"bootId\":{boot}");
                if let Some(k) = extra {
                    json.push_str(&format!(",\"{k}\":1"));
                }
                json.push('}');
                if let Ok(r) = serde_json::from_str::<PidRef>(&json) {
                    let again: PidRef = serde_json::from_str(&r.to_string()).unwrap();
                    prop_assert_eq!(again, r);
                    prop_assert!(r.pid() >= 1);
                }
            }
        }
    }
}
