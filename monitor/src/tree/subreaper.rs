//! The fallback tree: the program as child subreaper, members found in
//! `/proc` (see [`Mechanism::Subreaper`](crate::Mechanism::Subreaper)).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use pidkit_pidfd::PidFd;
use pidkit_pidfd::low_level::Backoff;
use pidkit_pidhandle::Signal;
use rustix::process::getpid;

use super::{POLL_MAX, POLL_MIN, pinned_member, signal_member};
use crate::error::{Error, io_context};

/// What a scan needs of `/proc/<pid>/stat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) state: char,
    pub(crate) ppid: u32,
    pub(crate) pgrp: u32,
    pub(crate) session: u32,
}

/// The state, parent and process group of a `/proc/<pid>/stat` text.
pub(crate) fn parse_stat(text: &str) -> Option<Stat> {
    let after = text.get(text.rfind(')')? + 1..)?;
    let mut f = after.split_ascii_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    let session = f.next()?.parse().ok()?;
    Some(Stat {
        state,
        ppid,
        pgrp,
        session,
    })
}

fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every process in `/proc` with its stat.
fn scan() -> Result<HashMap<u32, Stat>, Error> {
    let entries = fs::read_dir("/proc").map_err(|e| io_context("listing /proc", e))?;
    Ok(entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?)))
        .collect())
}

#[derive(Debug)]
pub(crate) struct SubreaperTree {
    /// The root's PID, which is its group's id.
    leader: u32,
    me: u32,
    my_pgrp: u32,
    my_session: u32,
    /// Members seen in earlier scans, pinned, so that one that leaves the
    /// group stays known.
    known: Mutex<HashMap<u32, PidFd>>,
}

/// Before the root is started: the program becomes a subreaper.
#[derive(Debug)]
pub(crate) struct Prepared {
    me: u32,
    my_pgrp: u32,
    my_session: u32,
}

impl SubreaperTree {
    pub(crate) fn prepare() -> Result<Prepared, Error> {
        let me = getpid();
        rustix::process::set_child_subreaper(Some(me)).map_err(|e| {
            io_context(
                format!("making process {} a child subreaper", me.as_raw_nonzero()),
                e.into(),
            )
        })?;
        let me = me.as_raw_nonzero().get() as u32;
        // By number from /proc: a group or session begun outside our PID
        // namespace (a guest's init has session 0) reads as 0, which rustix's
        // `getsid` and `getpgrp` cannot return.
        let own = stat(me).ok_or_else(|| {
            io_context(
                format!("reading /proc/{me}/stat"),
                io::Error::from(io::ErrorKind::InvalidData),
            )
        })?;
        Ok(Prepared {
            me,
            my_pgrp: own.pgrp,
            my_session: own.session,
        })
    }

    /// Whether our child `pid` is an orphan re-parented to us rather than a
    /// process the program started: it is in a session of its own, or in a
    /// group that is neither ours nor one it leads (the program's own
    /// children are in our session, and in our group or one they lead).
    fn is_orphan(&self, pid: u32, s: &Stat) -> bool {
        s.session != self.my_session || (s.pgrp != self.my_pgrp && s.pgrp != pid)
    }

    /// Whether a process of `procs` is a member, given those already known.
    fn classify(&self, procs: &HashMap<u32, Stat>, known: &HashSet<u32>) -> HashSet<u32> {
        let mut members: HashSet<u32> = procs
            .iter()
            .filter(|(pid, s)| {
                s.pgrp == self.leader
                    || known.contains(pid)
                    || (s.ppid == self.me && self.is_orphan(**pid, s))
            })
            .map(|(pid, _)| *pid)
            .collect();
        // Descendants of members, to a fixed point.
        loop {
            let more: Vec<u32> = procs
                .iter()
                .filter(|(pid, s)| !members.contains(pid) && members.contains(&s.ppid))
                .map(|(pid, _)| *pid)
                .collect();
            if more.is_empty() {
                return members;
            }
            members.extend(more);
        }
    }

    /// Scans, pins the live members (not zombies), reaps the orphan
    /// zombies that are ours, and returns the live members.
    fn refresh(&self) -> Result<Vec<(u32, PidFd)>, Error> {
        let procs = scan()?;
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let known_pids: HashSet<u32> = known.keys().copied().collect();
        let members = self.classify(&procs, &known_pids);
        let mut live = Vec::new();
        for pid in members {
            let pinned = match known.remove(&pid) {
                // Still the process seen before: its pidfd says so.
                Some(fd) if matches!(fd.has_exited(), Ok(false)) => Some(fd),
                Some(fd) => {
                    self.reap_orphan(pid, &fd);
                    None
                }
                // Opened, then found with the parent and group it was
                // classified by: that process, or a new child of the same
                // member in the same group, a member as well.
                None => pinned_member(pid, |p| {
                    Ok(stat(p).is_some_and(|s| {
                        procs
                            .get(&p)
                            .is_some_and(|was| (was.ppid, was.pgrp) == (s.ppid, s.pgrp))
                    }))
                })?,
            };
            if let Some(fd) = pinned {
                live.push((pid, fd));
            } else if procs.get(&pid).is_some_and(|s| s.state == 'Z') {
                if let Ok(fd) = PidFd::open(pid) {
                    self.reap_orphan(pid, &fd);
                }
            }
        }
        known.retain(|_, fd| matches!(fd.has_exited(), Ok(false)));
        for (pid, fd) in &live {
            if let Ok(dup) = fd.try_clone() {
                known.insert(*pid, dup);
            }
        }
        Ok(live)
    }

    /// Reaps `pid` if it is an exited orphan re-parented to us; never the
    /// root, whose exit is the monitor's.
    fn reap_orphan(&self, pid: u32, fd: &PidFd) {
        if pid != self.leader && stat(pid).is_some_and(|s| s.ppid == self.me && s.state == 'Z') {
            let _ = fd.try_wait();
        }
    }

    pub(crate) fn members(&self) -> Result<Vec<(u32, PidFd)>, Error> {
        self.refresh()
    }

    pub(crate) fn kill(&self, signal: Signal, deadline: Instant) -> Result<(), Error> {
        let mut pauses = Backoff::new(POLL_MIN, POLL_MAX);
        loop {
            let members = self.refresh()?;
            for (pid, fd) in &members {
                signal_member(*pid, fd, signal)?;
            }
            if signal != Signal::KILL || members.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io_context(
                    format!("killing the process tree of {}", self.leader),
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{} members left after SIGKILL", members.len()),
                    ),
                ));
            }
            std::thread::sleep(pauses.next_pause());
        }
    }

    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Result<bool, Error> {
        let mut pauses = Backoff::new(POLL_MIN, POLL_MAX);
        loop {
            if self.refresh()?.is_empty() {
                return Ok(true);
            }
            match pauses.next_pause_before(deadline) {
                Some(pause) => std::thread::sleep(pause),
                None => return Ok(false),
            }
        }
    }

    #[cfg(feature = "tokio")]
    pub(crate) async fn wait_async(&self) -> Result<(), Error> {
        use rustix::time::{
            Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
            timerfd_settime,
        };
        let mut pauses = Backoff::new(POLL_MIN, POLL_MAX);
        loop {
            if self.refresh()?.is_empty() {
                return Ok(());
            }
            let pause = pauses.next_pause();
            let what = || {
                format!(
                    "pausing between scans of the process tree of {}",
                    self.leader
                )
            };
            let timer = timerfd_create(
                TimerfdClockId::Monotonic,
                TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK,
            )
            .map_err(|e| io_context(what(), e.into()))?;
            let spec = Itimerspec {
                it_interval: Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: Timespec {
                    tv_sec: pause.as_secs() as i64,
                    tv_nsec: i64::from(pause.subsec_nanos()),
                },
            };
            timerfd_settime(&timer, TimerfdTimerFlags::empty(), &spec)
                .map_err(|e| io_context(what(), e.into()))?;
            pidkit_pidfd::AsyncReadable::from_fd(timer)
                .map_err(|e| io_context(what(), e))?
                .readable()
                .await
                .map_err(|e| io_context(what(), e))?;
        }
    }
}

impl Prepared {
    pub(crate) fn with_root(self, leader: u32) -> SubreaperTree {
        SubreaperTree {
            leader,
            me: self.me,
            my_pgrp: self.my_pgrp,
            my_session: self.my_session,
            known: Mutex::new(HashMap::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_stat() {
        assert_eq!(
            parse_stat("42 (a b) c) S 1 42 40 0 -1"),
            Some(Stat {
                state: 'S',
                ppid: 1,
                pgrp: 42,
                session: 40,
            })
        );
        assert_eq!(parse_stat("42 (x) Z"), None);
        assert_eq!(parse_stat(""), None);
    }

    proptest! {
        #[test]
        fn stat_parser_never_panics(text in ".{0,200}") {
            let _ = parse_stat(&text);
        }
    }
}
