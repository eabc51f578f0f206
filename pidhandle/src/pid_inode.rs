//! util-linux's `PID:inode`: a PID and the pidfs inode id of the process
//! that has it (Linux 6.9+), the form `getino` prints and `kill`,
//! `waitpid`, `nsenter` and `prlimit` of util-linux 2.42 accept.

use std::fmt;
use std::str::FromStr;

use crate::calls::{check_pid, open_pidfd, pidfds, pidfs_id};
use crate::error::io_context;
use crate::{Error, PidFd, PidHandle, probe};

/// The superblock magic of pidfs (`PIDFS_MAGIC`, "PIDF"), which a pidfd's
/// file system must have for its inode number to be a pidfs inode id.
const PIDFS_MAGIC: i64 = 0x5049_4446;

/// A process named as util-linux names it: `PID:inode`, the PID and the
/// pidfs inode id (Linux 6.9+) of the process that had it when the pair
/// was written.
///
/// Text form: two decimal numbers joined by one `:`, with no sign, no
/// spaces and no leading zeros; the PID is in `1..=2147483647`, the inode
/// any `u64`. Parsing is strict: every pair has exactly one text.
///
/// Written by [`PidHandle::pid_inode`], restored (verified) by
/// [`PidHandle::from_pid_inode`]. Unlike pidkit's own text it carries no
/// boot id: a pidfs inode id is unique within one boot only, so a pair kept
/// across a reboot may name another process of the new boot.
///
/// ```
/// use pidkit_pidhandle::PidInode;
///
/// let pair: PidInode = "4338:12345".parse()?;
/// assert_eq!((pair.pid(), pair.inode()), (4338, 12345));
/// assert_eq!(pair.to_string(), "4338:12345");
/// assert!("4338:012345".parse::<PidInode>().is_err());
/// # Ok::<(), pidkit_pidhandle::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PidInode {
    pid: u32,
    inode: u64,
}

impl PidInode {
    /// The pair `pid:inode`; [`Error::InvalidPid`] for PID 0 or a PID above
    /// `i32::MAX`.
    pub fn new(pid: u32, inode: u64) -> Result<PidInode, Error> {
        check_pid(pid)?;
        Ok(PidInode { pid, inode })
    }

    /// The PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The pidfs inode id.
    pub fn inode(&self) -> u64 {
        self.inode
    }
}

impl fmt::Display for PidInode {
    /// `PID:inode`, both in decimal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.pid, self.inode)
    }
}

impl FromStr for PidInode {
    type Err = Error;

    /// Parses `PID:inode` strictly; [`Error::Parse`] names the text and
    /// what is wrong with it.
    fn from_str(s: &str) -> Result<PidInode, Error> {
        parse(s).map_err(|reason| Error::Parse {
            input: s.to_owned(),
            reason,
        })
    }
}

/// The pair in `s`, or what is wrong with it.
fn parse(s: &str) -> Result<PidInode, String> {
    let Some((pid, inode)) = s.split_once(':') else {
        return Err("expected PID:inode, found no ':'".into());
    };
    let pid = number(pid, "pid")?;
    let inode = number(inode, "inode")?;
    let Ok(pid) = u32::try_from(pid) else {
        return Err(format!("pid {pid} is out of range 1..={}", i32::MAX));
    };
    if pid == 0 || pid > i32::MAX as u32 {
        return Err(format!("pid {pid} is out of range 1..={}", i32::MAX));
    }
    Ok(PidInode { pid, inode })
}

/// A decimal `u64` with no sign, no spaces and no leading zeros.
pub(crate) fn number(s: &str, what: &str) -> Result<u64, String> {
    if s.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii_digit()) {
        return Err(format!(
            "the {what} {s:?} has {c:?}, not only decimal digits"
        ));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(format!("the {what} {s:?} has a leading zero"));
    }
    s.parse()
        .map_err(|_| format!("the {what} {s} does not fit 64 bits"))
}

impl PidHandle {
    /// The handle's process as util-linux's `PID:inode` (Linux 6.9+): the
    /// PID and [`PidHandle::pidfs_id`].
    ///
    /// [`Error::Unsupported`] where the handle has no pidfs inode id (a
    /// kernel before 6.9, or the fallback without pidfds): the form is
    /// never made up from anything else. [`Error::Gone`] for a gone handle.
    ///
    /// ```
    /// use pidkit_pidhandle::{PidHandle, probe};
    ///
    /// let me = PidHandle::new(std::process::id())?;
    /// if probe().pidfs {
    ///     let pair = me.pid_inode()?;
    ///     assert_eq!(pair.pid(), std::process::id());
    ///     assert_eq!(Some(pair.inode()), me.pidfs_id());
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pid_inode(&self) -> Result<PidInode, Error> {
        let pid = self.pid();
        if self.identity().is_gone() {
            return Err(Error::Gone { pid });
        }
        match self.pidfs_id() {
            Some(inode) => Ok(PidInode { pid, inode }),
            None => Err(no_pidfs(pid)),
        }
    }

    /// Restores a handle from util-linux's `PID:inode`, with the checks
    /// util-linux makes: a pidfd is opened for the PID, its file system must
    /// be pidfs, and its inode number must be the pair's inode. From then
    /// on every signal goes through that pidfd.
    ///
    /// [`Error::NoSuchPidInode`] when no process has the PID or the one that
    /// has it is another process (its inode differs: the PID was reused);
    /// [`Error::Unsupported`] where pidfs inode ids cannot be read (a kernel
    /// before 6.9, or no pidfds): the pair is never checked by anything
    /// weaker.
    ///
    /// ```
    /// use pidkit_pidhandle::{Error, PidHandle, PidInode, probe};
    ///
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
    /// let handle = PidHandle::from_child(&child)?;
    /// if probe().pidfs {
    ///     let pair = handle.pid_inode()?;
    ///     let again = PidHandle::from_pid_inode(&pair)?;
    ///     assert!(again.is_alive()?);
    ///     let wrong = PidInode::new(pair.pid(), pair.inode() + 1)?;
    ///     assert!(matches!(
    ///         PidHandle::from_pid_inode(&wrong),
    ///         Err(Error::NoSuchPidInode { .. })
    ///     ));
    /// }
    /// # child.kill()?;
    /// # child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pid_inode(pair: &PidInode) -> Result<PidHandle, Error> {
        let (pid, inode) = (pair.pid, pair.inode);
        check_pid(pid)?;
        if !pidfds(pid)? || !probe().pidfs {
            return Err(no_pidfs(pid));
        }
        let Some(fd) = open_pidfd(pid)? else {
            return Err(Error::NoSuchPidInode { pid, inode });
        };
        on_pidfs(pid, &fd)?;
        if pidfs_id(pid, &fd)? != Some(inode) {
            return Err(Error::NoSuchPidInode { pid, inode });
        }
        match PidHandle::from_pidfd(pid, fd) {
            Ok(handle) if handle.pidfs_id() == Some(inode) => Ok(handle),
            // Reaped between the check and the pin: the pair names nothing.
            Ok(_) => Err(Error::NoSuchPidInode { pid, inode }),
            Err(e) => Err(e.into_error()),
        }
    }
}

/// Checks that `fd` lives on pidfs, so that its inode number is a pidfs
/// inode id (as util-linux does before comparing it).
fn on_pidfs(pid: u32, fd: &PidFd) -> Result<(), Error> {
    let sfs = rustix::fs::fstatfs(fd)
        .map_err(|e| io_context(format!("fstatfs of the pidfd for pid {pid}"), e.into()))?;
    // `f_type`'s width differs between architectures; the magic fits 32 bits.
    if sfs.f_type as i64 == PIDFS_MAGIC {
        Ok(())
    } else {
        Err(no_pidfs(pid))
    }
}

/// The refusal of the `PID:inode` form where there are no pidfs inode ids.
#[cold]
fn no_pidfs(pid: u32) -> Error {
    Error::Unsupported {
        pid,
        reason: "the PID:inode form needs pidfs inode ids (Linux 6.9+ with pidfds), \
                 which this system does not have"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn refused(s: &str) -> String {
        match s.parse::<PidInode>() {
            Err(Error::Parse { input, reason }) => {
                assert_eq!(input, s);
                reason
            }
            other => panic!("{s:?} gave {other:?}"),
        }
    }

    #[test]
    fn every_bad_text_is_named() {
        let cases = [
            ("", "expected PID:inode, found no ':'"),
            ("4338", "expected PID:inode, found no ':'"),
            (":12", "the pid is empty"),
            ("12:", "the inode is empty"),
            ("+12:3", "the pid \"+12\" has '+', not only decimal digits"),
            ("12:-3", "the inode \"-3\" has '-', not only decimal digits"),
            (" 12:3", "the pid \" 12\" has ' ', not only decimal digits"),
            ("12:3 ", "the inode \"3 \" has ' ', not only decimal digits"),
            (
                "12:3:4",
                "the inode \"3:4\" has ':', not only decimal digits",
            ),
            ("012:3", "the pid \"012\" has a leading zero"),
            ("12:03", "the inode \"03\" has a leading zero"),
            ("0:3", "pid 0 is out of range 1..=2147483647"),
            (
                "2147483648:3",
                "pid 2147483648 is out of range 1..=2147483647",
            ),
            (
                "99999999999:3",
                "pid 99999999999 is out of range 1..=2147483647",
            ),
            (
                "1:18446744073709551616",
                "the inode 18446744073709551616 does not fit 64 bits",
            ),
            ("1:٣", "the inode \"٣\" has '٣', not only decimal digits"),
        ];
        for (text, want) in cases {
            assert_eq!(refused(text), want, "{text:?}");
        }
        let e = "0:3".parse::<PidInode>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid process handle text \"0:3\": pid 0 is out of range 1..=2147483647"
        );
    }

    #[test]
    fn edges_are_taken() {
        for (text, pid, inode) in [
            ("1:0", 1, 0),
            ("2147483647:18446744073709551615", i32::MAX as u32, u64::MAX),
        ] {
            let pair: PidInode = text.parse().unwrap();
            assert_eq!((pair.pid(), pair.inode()), (pid, inode));
            assert_eq!(pair.to_string(), text);
        }
        assert!(matches!(
            PidInode::new(0, 1),
            Err(Error::InvalidPid { pid: 0 })
        ));
    }

    #[test]
    fn no_pidfs_names_the_pid_and_the_kernel() {
        assert_eq!(
            no_pidfs(42).to_string(),
            "unsupported for pid 42: the PID:inode form needs pidfs inode ids \
             (Linux 6.9+ with pidfds), which this system does not have"
        );
    }

    proptest! {
        #[test]
        fn every_pair_round_trips(pid in 1..=i32::MAX as u32, inode: u64) {
            let pair = PidInode::new(pid, inode).unwrap();
            let text = pair.to_string();
            prop_assert_eq!(text.parse::<PidInode>().unwrap(), pair);
        }

        /// Any text the parser takes is the one text of its pair.
        #[test]
        fn taken_texts_are_canonical(s in "[0-9+: -]{0,24}|\\PC{0,24}") {
            if let Ok(pair) = s.parse::<PidInode>() {
                prop_assert_eq!(pair.to_string(), s);
            }
        }

        /// Any change to a valid text (a sign, a space, a zero in front)
        /// is refused.
        #[test]
        fn decorated_texts_are_refused(
            pid in 1..=i32::MAX as u32,
            inode: u64,
            at in 0usize..4,
            extra in prop::sample::select(vec!["+", "-", " ", "0", "\t", "\n", ":"]),
        ) {
            let (p, i) = (pid.to_string(), inode.to_string());
            let s = match at {
                0 => format!("{extra}{p}:{i}"),
                1 => format!("{p}{extra}:{i}"),
                2 => format!("{p}:{extra}{i}"),
                _ => format!("{p}:{i}{extra}"),
            };
            // A trailing "0" makes another valid pair, a leading "0" on an
            // inode of 0 ("00") is still refused.
            if (at == 1 || at == 3) && extra == "0" {
                if let Ok(pair) = s.parse::<PidInode>() {
                    prop_assert_eq!(pair.to_string(), s);
                }
            } else {
                prop_assert!(s.parse::<PidInode>().is_err(), "{s:?} taken");
            }
        }
    }
}
