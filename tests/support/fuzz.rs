//! The one harness of the parser fuzz targets (root `tests/fuzz_*`, `src/core/tests/fuzz_*`,
//! `src/world/tests/fuzz_*`, which include this file by path).
//!
//! In CI a target runs a bounded number of cases from a fixed seed, so every run tries the same
//! inputs and never passes or fails by luck; strategies never reject, so proptest's reject limit
//! cannot end a run early. With `SOVTUI_FUZZ_SECS=N` the same target runs fresh seeds until N
//! seconds have passed and prints how many cases it executed (the long runs of docs/RELIABILITY.md);
//! `SOVTUI_FUZZ_LOG=FILE` appends that line to FILE as well.
#![allow(dead_code)]

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree as _};
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

/// Run `test` on values of `strategy`: `ci_cases` cases from `seed`, or, under
/// `SOVTUI_FUZZ_SECS`, as many as fit in that time. A failing case is shrunk and reported.
pub fn run<S: Strategy>(
    target: &str,
    seed: u64,
    ci_cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let secs = std::env::var("SOVTUI_FUZZ_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let count = AtomicU64::new(0);
    let counted = |v: S::Value| {
        count.fetch_add(1, Ordering::Relaxed);
        test(v)
    };
    let started = Instant::now();
    match secs {
        None => one_round(target, seed, ci_cases, &strategy, &counted),
        Some(secs) => {
            let deadline = started + Duration::from_secs(secs);
            let mut round = 0u64;
            while Instant::now() < deadline {
                // A different, still reproducible, seed per round: the failure message names it.
                let s = seed ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                one_round(target, s, 500, &strategy, &counted);
                round += 1;
            }
        }
    }
    let line = format!(
        "fuzz {target}: {} cases in {:.1} s (seed {seed:#x}{})",
        count.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        if secs.is_some() { ", long run" } else { "" },
    );
    eprintln!("{line}");
    if let Ok(path) = std::env::var("SOVTUI_FUZZ_LOG")
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

fn one_round<S: Strategy>(
    target: &str,
    seed: u64,
    cases: u32,
    strategy: &S,
    test: &impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        // Strategies here never filter; a reject would be a bug in the target.
        max_global_rejects: 0,
        ..Config::default()
    });
    if let Err(e) = runner.run(strategy, test) {
        panic!("fuzz {target} (seed {seed:#x}): {e}");
    }
}

/// Draw one value of `strategy` (for building seeds of structure-aware mutations).
pub fn sample<S: Strategy>(strategy: &S, seed: u64) -> S::Value {
    let mut runner = TestRunner::new(Config {
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    });
    strategy
        .new_tree(&mut runner)
        .map(|t| t.current())
        .unwrap_or_else(|e| panic!("strategy: {e}"))
}

// ---- structure-aware mutations of a valid text file ----

use proptest::prelude::*;

/// One edit of a line-oriented text file (TOML, YAML): what a hand edit, a bad merge or a cut-off
/// copy does to a file.
#[derive(Debug, Clone)]
pub enum Edit {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    InsertLine(usize, String),
    ReplaceLine(usize, String),
    /// Replace what follows the first `=` or `:` of a line (a value of the wrong type, a huge
    /// number, control characters, deep nesting).
    ReplaceValue(usize, String),
    /// Insert text at a byte position (rounded down to a character boundary).
    InsertAt(usize, String),
    Truncate(usize),
}

/// Values that break parsers: wrong types, huge and odd numbers, control characters, deep nesting.
pub fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[0-9]{1,40}",
        Just("18446744073709551616".to_string()),
        Just("-9223372036854775809".to_string()),
        Just("1e999".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("0x7fffffffffffffffff".to_string()),
        Just("true".to_string()),
        Just("~".to_string()),
        Just("null".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("\"\"".to_string()),
        "\"[a-z]{0,12}\"",
        "'[^'\n]{0,12}'",
        "[\\x00-\\x1f\\x7f\u{80}-\u{9f}\u{202e}\u{feff}]{1,6}",
        "\"[\\x00-\\x1f\\x7f\u{1b}]{1,6}\"",
        (1usize..300).prop_map(|d| format!("{}{}", "[".repeat(d), "]".repeat(d))),
        (1usize..300).prop_map(|d| format!("{}1{}", "{a=".repeat(d), "}".repeat(d))),
        (1usize..300).prop_map(|d| "- ".repeat(d)),
        (1usize..3000).prop_map(|d| "[".repeat(d)),
        (1usize..200).prop_map(|d| "&a [*a, ".repeat(d)),
        Just("*undefined_alias".to_string()),
        Just("!!binary AAAA".to_string()),
        Just("\"\\uD800\"".to_string()),
        "\\PC{0,40}",
        (1usize..100_000).prop_map(|n| "x".repeat(n)),
    ]
}

/// A random line: junk, a key with a hostile value, a table header, or a stray structure char.
pub fn hostile_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        "[ -~]{0,40}",
        ("[a-z_]{1,12}", hostile_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        ("[a-z_]{1,12}", hostile_value()).prop_map(|(k, v)| format!("{k}: {v}")),
        "\\[\\[?[a-z_.]{0,12}\\]?\\]?",
        Just("---".to_string()),
        Just("...".to_string()),
        "[ \t]{0,8}-[ \t]{0,3}",
        Just("\t".to_string()),
    ]
}

pub fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        1 => any::<usize>().prop_map(Edit::DeleteLine),
        1 => any::<usize>().prop_map(Edit::DuplicateLine),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        1 => (any::<usize>(), hostile_line()).prop_map(|(i, l)| Edit::InsertLine(i, l)),
        1 => (any::<usize>(), hostile_line()).prop_map(|(i, l)| Edit::ReplaceLine(i, l)),
        3 => (any::<usize>(), hostile_value()).prop_map(|(i, v)| Edit::ReplaceValue(i, v)),
        1 => (any::<usize>(), hostile_value()).prop_map(|(i, v)| Edit::InsertAt(i, v)),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// Apply edits to `text`, in order.
pub fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    for e in edits {
        let n = lines.len().max(1);
        match e {
            Edit::DeleteLine(i) => {
                if !lines.is_empty() {
                    lines.remove(i % n);
                }
            }
            Edit::DuplicateLine(i) => {
                if let Some(l) = lines.get(i % n).cloned() {
                    lines.insert(i % n, l);
                }
            }
            Edit::SwapLines(a, b) => {
                if !lines.is_empty() {
                    lines.swap(a % n, b % n);
                }
            }
            Edit::InsertLine(i, l) => lines.insert(i % (lines.len() + 1), l.clone()),
            Edit::ReplaceLine(i, l) => {
                if let Some(x) = lines.get_mut(i % n) {
                    *x = l.clone();
                }
            }
            Edit::ReplaceValue(i, v) => {
                // Prefer lines that hold a value; fall back to the line picked.
                let with_value: Vec<usize> = (0..lines.len())
                    .filter(|&k| lines[k].contains('=') || lines[k].contains(": "))
                    .collect();
                let k = if with_value.is_empty() {
                    i % n
                } else {
                    with_value[i % with_value.len()]
                };
                if let Some(x) = lines.get_mut(k) {
                    let cut = x
                        .find('=')
                        .map(|p| p + 1)
                        .or_else(|| x.find(": ").map(|p| p + 2))
                        .unwrap_or(x.len());
                    x.truncate(cut);
                    x.push(' ');
                    x.push_str(v);
                }
            }
            Edit::InsertAt(at, v) => {
                let mut joined = lines.join("\n");
                let pos = floor_boundary(&joined, at % (joined.len() + 1));
                joined.insert_str(pos, v);
                lines = joined.split('\n').map(str::to_string).collect();
            }
            Edit::Truncate(at) => {
                let mut joined = lines.join("\n");
                let pos = floor_boundary(&joined, at % (joined.len() + 1));
                joined.truncate(pos);
                lines = joined.split('\n').map(str::to_string).collect();
            }
        }
    }
    lines.join("\n")
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Text for a parser: arbitrary bytes (lossily decoded), arbitrary Unicode, or a valid seed with
/// one to eight edits.
pub fn text_input(seeds: Vec<String>) -> impl Strategy<Value = String> {
    let n = seeds.len();
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..512)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        1 => "\\PC{0,300}",
        6 => (0..n, prop::collection::vec(edit(), 1..8))
            .prop_map(move |(i, edits)| mutate(&seeds[i], &edits)),
    ]
}
