//! Property test ("fuzz target") of the scenario YAML parser: arbitrary text and structure-aware
//! mutations of every shipped scenario never panic, every error names `file:line`, and every
//! scenario that parses serialises and parses again to the same scenario. Bounded and seeded in
//! CI; `SOVTUI_FUZZ_SECS=600` makes it a long run (docs/RELIABILITY.md).

#[path = "../../../tests/support/fuzz.rs"]
mod fuzz;

use std::path::Path;

use fuzz::text_input;
use proptest::prelude::*;
use sovtui_world::sim::scenario::WorldScenario;

fn seeds() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/scenarios")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| std::fs::read_to_string(f).expect("scenario"))
        .collect()
}

/// `f.yaml:LINE:` or `f.yaml:LINE:COL:` with LINE within the text.
fn names_file_and_line(err: &str, text: &str) -> bool {
    let Some(rest) = err.strip_prefix("f.yaml:") else {
        return false;
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let lines = text.split('\n').count().max(1);
    digits
        .parse::<usize>()
        .is_ok_and(|l| l >= 1 && l <= lines + 1)
}

#[test]
fn fuzz_scenario_yaml() {
    let seeds = seeds();
    assert!(seeds.len() > 10);
    fuzz::run(
        "scenario-yaml",
        0x5ce0_0006,
        1000,
        text_input(seeds),
        |text| {
            match WorldScenario::parse(&text, "f.yaml") {
                Ok(s) => {
                    let yaml = serde_yaml::to_string(&s);
                    prop_assert!(yaml.is_ok(), "{:?}", yaml);
                    let again = WorldScenario::parse(&yaml.unwrap_or_default(), "again.yaml");
                    prop_assert_eq!(again, Ok(s));
                }
                Err(e) => prop_assert!(names_file_and_line(&e, &text), "{}\n---\n{}", e, text),
            }
            Ok(())
        },
    );
}
