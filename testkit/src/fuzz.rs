//! Fuzzing on stable Rust: proptest strategies that mutate a corpus of real
//! inputs kept in the repository, and a runner bounded by a number of cases
//! and by time.
//!
//! A fuzz target is a test whose name starts with `fuzz_` (so that
//! `cargo xtask test --fuzz`, which runs `cargo test --release -- fuzz` with
//! `PROPTEST_CASES=20000`, picks it up). It calls [`run`] with
//! [`inputs`] built from its corpus directory: every seed is first
//! checked as it is, then random cases are drawn: one in eight arbitrary
//! bytes, one in eight a soup of the target's tokens, the rest seeds with one
//! to eight mutations, mostly one or two (bit flips, byte changes, insertions
//! of bytes, tokens or boundary numbers, deletions, truncations, splices with
//! another seed, repetitions). A failing case is shrunk and reported with its
//! bytes.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseResult, TestError, TestRunner};

/// Environment variable bounding each fuzz target's run, in seconds
/// (default [`DEFAULT_BUDGET`]): the target stops drawing cases when it is
/// used up, and passes with what it ran.
pub const BUDGET_ENV: &str = "PIDKIT_FUZZ_SECONDS";
/// The default time budget of one fuzz target.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(60);

/// The number of cases proptest runs per property here (`PROPTEST_CASES`,
/// default 256).
pub fn cases() -> u32 {
    Config::default().cases
}

/// The time budget of one fuzz target ([`BUDGET_ENV`]).
pub fn budget() -> Duration {
    std::env::var(BUDGET_ENV)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(DEFAULT_BUDGET, Duration::from_secs_f64)
}

/// Bytes that print as an escaped byte string.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\" ({} bytes)", self.0.escape_ascii(), self.0.len())
    }
}

impl Bytes {
    /// The bytes as text, invalid UTF-8 replaced by U+FFFD.
    pub fn lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

/// Reads every file of a corpus directory, sorted by name. Panics if the
/// directory is missing or empty (the corpus is part of the package).
pub fn corpus(dir: impl AsRef<Path>) -> Vec<Vec<u8>> {
    let dir = dir.as_ref();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("fuzz corpus {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    assert!(
        !entries.is_empty(),
        "fuzz corpus {} is empty",
        dir.display()
    );
    entries.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Numbers at the edges of the ranges parsers care about.
const NUMBERS: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "00",
    "01",
    "+1",
    "-0",
    "127",
    "128",
    "255",
    "256",
    "32767",
    "32768",
    "65535",
    "65536",
    "4194304",
    "2147483646",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211455",
    "99999999999999999999999999999999999999999999",
];

/// One change to an input.
#[derive(Clone, Debug)]
pub enum Mutation {
    /// Flips one bit of one byte.
    FlipBit {
        /// Where.
        at: Index,
        /// Which bit.
        bit: u8,
    },
    /// Replaces one byte.
    SetByte {
        /// Where.
        at: Index,
        /// The new byte.
        byte: u8,
    },
    /// Inserts bytes.
    Insert {
        /// Where.
        at: Index,
        /// What.
        bytes: Vec<u8>,
    },
    /// Inserts one of the target's tokens.
    InsertToken {
        /// Where.
        at: Index,
        /// Which token.
        token: Index,
    },
    /// Deletes a run of bytes.
    Delete {
        /// Where.
        at: Index,
        /// How many bytes (at most).
        len: u8,
    },
    /// Cuts the input short.
    Truncate {
        /// Where.
        at: Index,
    },
    /// Keeps the head of the input and appends the tail of another seed.
    Splice {
        /// Where the input is cut.
        at: Index,
        /// Which seed.
        other: Index,
        /// Where that seed's tail starts.
        from: Index,
    },
    /// Repeats a run of bytes.
    Repeat {
        /// Where the run starts.
        at: Index,
        /// Its length (at most).
        len: u8,
        /// How many extra copies.
        times: u8,
    },
    /// Replaces the run of digits at (or after) a position with a boundary
    /// number, or inserts one where there is none.
    Number {
        /// Where to look.
        at: Index,
        /// Which number.
        value: Index,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<Index>;
    prop_oneof![
        2 => (at(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        2 => (at(), any::<u8>()).prop_map(|(at, byte)| Mutation::SetByte { at, byte }),
        2 => (at(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        3 => (at(), at()).prop_map(|(at, token)| Mutation::InsertToken { at, token }),
        2 => (at(), 1u8..16).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => at().prop_map(|at| Mutation::Truncate { at }),
        1 => (at(), at(), at()).prop_map(|(at, other, from)| Mutation::Splice { at, other, from }),
        1 => (at(), 1u8..16, 1u8..4).prop_map(|(at, len, times)| Mutation::Repeat { at, len, times }),
        3 => (at(), at()).prop_map(|(at, value)| Mutation::Number { at, value }),
    ]
}

/// One to eight mutations, mostly one or two: inputs near a seed reach
/// deeper into a parser than inputs far from every seed.
fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    use proptest::collection::vec;
    prop_oneof![
        4 => vec(mutation(), 1..=1),
        2 => vec(mutation(), 2..=3),
        1 => vec(mutation(), 4..=8),
    ]
}

/// Applies `ops` to `seed` in order.
pub fn apply(seed: &[u8], seeds: &[Vec<u8>], tokens: &[Vec<u8>], ops: &[Mutation]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for op in ops {
        match op {
            Mutation::FlipBit { at, bit } => {
                if !b.is_empty() {
                    let i = at.index(b.len());
                    b[i] ^= 1 << bit;
                }
            }
            Mutation::SetByte { at, byte } => {
                if !b.is_empty() {
                    let i = at.index(b.len());
                    b[i] = *byte;
                }
            }
            Mutation::Insert { at, bytes } => {
                let i = at.index(b.len() + 1);
                b.splice(i..i, bytes.iter().copied());
            }
            Mutation::InsertToken { at, token } => {
                if !tokens.is_empty() {
                    let i = at.index(b.len() + 1);
                    let t = &tokens[token.index(tokens.len())];
                    b.splice(i..i, t.iter().copied());
                }
            }
            Mutation::Delete { at, len } => {
                if !b.is_empty() {
                    let i = at.index(b.len());
                    let end = (i + usize::from(*len)).min(b.len());
                    b.drain(i..end);
                }
            }
            Mutation::Truncate { at } => {
                let i = at.index(b.len() + 1);
                b.truncate(i);
            }
            Mutation::Splice { at, other, from } => {
                let o = &seeds[other.index(seeds.len())];
                let i = at.index(b.len() + 1);
                let j = from.index(o.len() + 1);
                b.truncate(i);
                b.extend_from_slice(&o[j..]);
            }
            Mutation::Repeat { at, len, times } => {
                if !b.is_empty() {
                    let i = at.index(b.len());
                    let end = (i + usize::from(*len)).min(b.len());
                    let run = b[i..end].to_vec();
                    for _ in 0..*times {
                        b.splice(end..end, run.iter().copied());
                    }
                }
            }
            Mutation::Number { at, value } => {
                let n = NUMBERS[value.index(NUMBERS.len())].as_bytes();
                let i = at.index(b.len() + 1);
                match b[i..].iter().position(u8::is_ascii_digit) {
                    Some(k) => {
                        let start = i + k;
                        let end =
                            start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
                        b.splice(start..end, n.iter().copied());
                    }
                    None => {
                        b.splice(i..i, n.iter().copied());
                    }
                }
            }
        }
    }
    b
}

/// The inputs of a fuzz target: mostly mutated seeds, plus arbitrary bytes
/// and token soups (see the [module documentation](self)).
pub fn inputs(seeds: Vec<Vec<u8>>, tokens: &[&[u8]]) -> impl Strategy<Value = Bytes> {
    assert!(!seeds.is_empty(), "a fuzz target needs at least one seed");
    let tokens: Vec<Vec<u8>> = tokens.iter().map(|t| t.to_vec()).collect();
    let soup_tokens = tokens.clone();
    let seeds = Arc::new(seeds);
    let tokens = Arc::new(tokens);
    let soup_piece = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        proptest::sample::select(if soup_tokens.is_empty() {
            vec![Vec::new()]
        } else {
            soup_tokens
        }),
    ];
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Bytes),
        1 => proptest::collection::vec(soup_piece, 0..40)
            .prop_map(|pieces| Bytes(pieces.concat())),
        6 => (any::<Index>(), mutations()).prop_map(
            move |(seed, ops)| {
                let s = &seeds[seed.index(seeds.len())];
                Bytes(apply(s, &seeds, &tokens, &ops))
            }
        ),
    ]
}

/// What one fuzz target did.
#[derive(Clone, Debug)]
pub struct Stats {
    /// Cases run (seeds included).
    pub cases: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Whether the time budget ended the run before the case count did.
    pub budget_hit: bool,
}

/// Runs a fuzz target: each of `seeds` as it is, then up to `cases` cases
/// drawn from `strategy` (fewer if the time budget runs out), each shrunk
/// on failure. Panics with the (shrunk) input if `test` fails or panics.
/// Prints one summary line: cases, time, cases per second.
pub fn run<S>(
    target: &str,
    cases: u32,
    seeds: &[S::Value],
    strategy: S,
    test: impl Fn(S::Value) -> TestCaseResult,
) -> Stats
where
    S: Strategy,
    S::Value: Clone,
{
    let started = Instant::now();
    let deadline = started + budget();
    for seed in seeds {
        if let Err(e) = test(seed.clone()) {
            panic!("fuzz target `{target}` fails on a corpus seed: {e}\ninput: {seed:?}");
        }
    }
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_time: 60_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let mut ran = 0u64;
    let mut budget_hit = false;
    while ran < u64::from(cases) {
        if Instant::now() >= deadline {
            budget_hit = true;
            break;
        }
        let tree = strategy
            .new_tree(&mut runner)
            .unwrap_or_else(|e| panic!("fuzz target `{target}`: no input: {e}"));
        match runner.run_one(tree, &test) {
            Ok(_) => ran += 1,
            Err(TestError::Fail(reason, input)) => panic!(
                "fuzz target `{target}` failed after {ran} random cases: {reason}\nminimal input: {input:?}"
            ),
            Err(TestError::Abort(reason)) => {
                panic!("fuzz target `{target}` aborted: {reason}")
            }
        }
    }
    let stats = Stats {
        cases: ran + seeds.len() as u64,
        elapsed: started.elapsed(),
        budget_hit,
    };
    let secs = stats.elapsed.as_secs_f64().max(1e-9);
    println!(
        "fuzz target {target}: {} cases ({} seeds) in {:.2} s, {:.0} cases/s{}",
        stats.cases,
        seeds.len(),
        secs,
        stats.cases as f64 / secs,
        if budget_hit {
            format!(" (stopped by the {:?} budget)", budget())
        } else {
            String::new()
        }
    );
    stats
}

/// A corpus fuzz target in one call: arms a watchdog (the time [`budget`]
/// plus two minutes), reads the seeds in `corpus_dir`, and [`run`]s `test`
/// on each of them as it is, then on [`cases`] [`inputs`] made from them and
/// `tokens`.
///
/// ```no_run
/// use proptest::prelude::*;
/// pidkit_testkit::fuzz::target("mine/parser", "fuzz-corpus/parser", &[b":"], |input| {
///     prop_assert!(input.0.len() < 1 << 20);
///     Ok(())
/// });
/// ```
pub fn target(
    name: &str,
    corpus_dir: impl AsRef<Path>,
    tokens: &[&[u8]],
    test: impl Fn(Bytes) -> TestCaseResult,
) -> Stats {
    let _watchdog = crate::watchdog(name, budget() + Duration::from_secs(120));
    let seeds = corpus(corpus_dir);
    let verbatim: Vec<Bytes> = seeds.iter().cloned().map(Bytes).collect();
    run(name, cases(), &verbatim, inputs(seeds, tokens), test)
}
