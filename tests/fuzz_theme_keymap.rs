//! Property tests ("fuzz targets") of the theme and keymap file parsers: arbitrary text and
//! structure-aware mutations of the shipped files, loaded as a user's file, never panic; every
//! error names the user's file and a line in it; the shipped files load at every colour depth.
//! Bounded and seeded in CI; `SOVTUI_FUZZ_SECS=600` makes each a long run (docs/RELIABILITY.md).

#[path = "support/fuzz.rs"]
mod fuzz;

use std::path::Path;

use fuzz::text_input;
use proptest::prelude::*;
use sovtui::tui::keymap::{self, KeymapCatalog};
use sovtui::tui::theme::{self, ColorLevel, ThemeCatalog};

const LEVELS: [ColorLevel; 4] = [
    ColorLevel::TrueColor,
    ColorLevel::Ansi256,
    ColorLevel::Ansi16,
    ColorLevel::Mono,
];

fn line_in(line: Option<usize>, text: &str) -> bool {
    let lines = text.split('\n').count().max(1);
    line.is_some_and(|l| l >= 1 && l <= lines)
}

/// What a theme's `extends` may say.
fn parent() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"default\"".to_string()),
        Just("\"mono\"".to_string()),
        Just("\"fuzz\"".to_string()),
        Just("\"nope\"".to_string()),
        Just("\"\"".to_string()),
        "\"[a-z0-9./-]{0,12}\"",
        Just("3".to_string()),
    ]
}

#[test]
fn fuzz_theme_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("fuzz.toml");
    let catalog = ThemeCatalog::new(Some(dir.path().to_path_buf()));
    let seeds: Vec<String> = theme::BUILTIN.iter().map(|(_, t)| t.to_string()).collect();
    for s in &seeds {
        std::fs::write(&file, s).expect("write");
        for level in LEVELS {
            catalog
                .load("fuzz", level)
                .unwrap_or_else(|e| panic!("shipped theme as a user file: {e}"));
        }
    }
    let label = file.display().to_string();
    let levels = prop_oneof![
        Just(LEVELS[0]),
        Just(LEVELS[1]),
        Just(LEVELS[2]),
        Just(LEVELS[3])
    ];
    fuzz::run(
        "theme-file",
        0x7e3e_0007,
        300,
        (text_input(seeds), levels, prop::option::of(parent())),
        |(text, level, extends)| {
            // Themes inherit: a first line naming a parent (real, missing, itself, junk).
            let text = match extends {
                Some(p) => format!("extends = {p}\n{text}"),
                None => text,
            };
            std::fs::write(&file, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            if let Err(e) = catalog.load("fuzz", level) {
                prop_assert_eq!(&e.file, &label, "{}", e);
                prop_assert!(line_in(e.line, &text), "no line: {}\n---\n{}", e, text);
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_keymap_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("keymaps")).expect("mkdir");
    let named = dir.path().join("keymaps/fuzz.toml");
    let overlay = dir.path().join("keymap.toml");
    let catalog = KeymapCatalog::new(Some(dir.path().to_path_buf()));
    let seeds: Vec<String> = keymap::BUILTIN.iter().map(|(_, t)| t.to_string()).collect();
    for s in &seeds {
        std::fs::write(&named, s).expect("write");
        catalog
            .load("fuzz")
            .unwrap_or_else(|e| panic!("shipped keymap as a user file: {e}"));
    }
    std::fs::remove_file(&named).expect("rm");
    fuzz::run(
        "keymap-file",
        0x4e40_0008,
        300,
        (text_input(seeds), any::<bool>()),
        |(text, as_overlay)| {
            // As a keymap of its own, or as the overlay on the default keymap.
            let (file, name) = if as_overlay {
                (&overlay, "default")
            } else {
                (&named, "fuzz")
            };
            std::fs::write(file, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let got = catalog.load(name);
            let _ = std::fs::remove_file(file);
            if let Err(e) = got {
                prop_assert_eq!(&e.file, &file.display().to_string(), "{}", e);
                prop_assert!(line_in(e.line, &text), "no line: {}\n---\n{}", e, text);
            }
            Ok(())
        },
    );
    let _ = Path::new("");
}
