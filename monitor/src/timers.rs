//! The reaper's retry timers: when to look again at a process that exited
//! without a status yet (an adopted process whose parent has not reaped
//! it), or whose pidfd the epoll set refused back.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use pidkit_pidfd::low_level::Backoff;

/// Shortest and longest pause between two attempts to learn a status that
/// is not there yet (an adopted process whose parent has not reaped it).
pub(crate) const RETRY_MIN: Duration = Duration::from_millis(1);
pub(crate) const RETRY_MAX: Duration = Duration::from_millis(100);

/// Retry timers of the entries that are off the epoll set, waiting for a
/// status: each token has one deadline, and its pause doubles from
/// [`RETRY_MIN`] up to [`RETRY_MAX`] on every reschedule.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    queue: BTreeSet<(Instant, u64)>,
    /// token → (deadline in `queue`, if queued; current pause; the pauses
    /// after it)
    state: HashMap<u64, (Option<Instant>, Duration, Backoff)>,
}

impl Timers {
    /// (Re)schedules `token`: after [`RETRY_MIN`] the first time, after twice
    /// the previous pause (at most [`RETRY_MAX`]) afterwards.
    pub(crate) fn schedule(&mut self, token: u64, now: Instant) {
        let mut pauses = match self.state.get(&token) {
            Some((queued, _, pauses)) => {
                if let Some(at) = queued {
                    self.queue.remove(&(*at, token));
                }
                *pauses
            }
            None => Backoff::new(RETRY_MIN, RETRY_MAX),
        };
        let pause = pauses.next_pause();
        let at = now + pause;
        self.queue.insert((at, token));
        self.state.insert(token, (Some(at), pause, pauses));
    }

    /// Removes and returns the tokens whose deadline is at or before `now`,
    /// earliest first. They keep their pause for the next [`Timers::schedule`].
    pub(crate) fn due(&mut self, now: Instant) -> Vec<u64> {
        let mut out = Vec::new();
        while let Some(&(at, token)) = self.queue.first() {
            if at > now {
                break;
            }
            self.queue.pop_first();
            if let Some(s) = self.state.get_mut(&token) {
                s.0 = None;
            }
            out.push(token);
        }
        out
    }

    /// Drops everything about `token`.
    pub(crate) fn forget(&mut self, token: u64) {
        if let Some((Some(at), _, _)) = self.state.remove(&token) {
            self.queue.remove(&(at, token));
        }
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.queue.first().map(|(at, _)| *at)
    }

    #[cfg(test)]
    fn pause(&self, token: u64) -> Option<Duration> {
        self.state.get(&token).map(|s| s.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Schedule(u64),
        Forget(u64),
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u64..6).prop_map(Op::Schedule),
            (0u64..6).prop_map(Op::Forget),
            (0u64..250).prop_map(Op::Advance),
        ]
    }

    proptest! {
        /// Against a simple model: every scheduled token comes out of `due`
        /// exactly once, not before its deadline, in deadline order, unless
        /// it was forgotten or rescheduled first; pauses double up to the cap.
        #[test]
        fn timers_match_model(ops in proptest::collection::vec(op(), 0..60)) {
            let start = Instant::now();
            let mut now = start;
            let mut t = Timers::default();
            // token -> (deadline, pause)
            let mut model: HashMap<u64, (Option<Instant>, Duration)> = HashMap::new();
            for op in ops {
                match op {
                    Op::Schedule(tok) => {
                        let pause = model.get(&tok).map_or(RETRY_MIN, |(_, p)| (*p * 2).min(RETRY_MAX));
                        model.insert(tok, (Some(now + pause), pause));
                        t.schedule(tok, now);
                        prop_assert_eq!(t.pause(tok), Some(pause));
                    }
                    Op::Forget(tok) => {
                        model.remove(&tok);
                        t.forget(tok);
                        prop_assert_eq!(t.pause(tok), None);
                    }
                    Op::Advance(ms) => {
                        now += Duration::from_millis(ms);
                        let got = t.due(now);
                        let mut want: Vec<(Instant, u64)> = model
                            .iter()
                            .filter_map(|(tok, (at, _))| at.filter(|a| *a <= now).map(|a| (a, *tok)))
                            .collect();
                        want.sort();
                        for (_, tok) in &want {
                            if let Some(s) = model.get_mut(tok) {
                                s.0 = None;
                            }
                        }
                        prop_assert_eq!(got, want.into_iter().map(|(_, tok)| tok).collect::<Vec<_>>());
                    }
                }
                let next = model.values().filter_map(|(at, _)| *at).min();
                prop_assert_eq!(t.next_deadline(), next);
            }
        }
    }

    #[test]
    fn pause_doubles_to_the_cap() {
        let now = Instant::now();
        let mut t = Timers::default();
        let mut last = Duration::ZERO;
        for _ in 0..20 {
            t.schedule(7, now);
            let p = t.pause(7).unwrap();
            assert!(p >= last && p <= RETRY_MAX);
            last = p;
        }
        assert_eq!(last, RETRY_MAX);
        assert_eq!(t.queue.len(), 1, "rescheduling replaces the deadline");
    }
}
