//! The simulated OpenOva world: Kubernetes apiservers, catalyst-api, PDM and the Hetzner Cloud API
//! on loopback, speaking the real wire protocols so the real clients are exercised end to end.

pub mod catalyst;
pub mod clock;
pub mod control;
pub mod dataplane;
pub mod hetzner;
pub mod ingress;
pub mod kube;
pub mod large_fleet;
pub mod mothership;
pub mod operator;
pub mod pgmodel;
pub mod pgpair;
pub mod scenario;
pub mod world;

/// The world's rule (docs/WORLD.md): of the library it uses only the wire types, so every test of
/// the library against the world checks two implementations of the contract.
#[cfg(test)]
mod independence {
    use std::path::{Path, PathBuf};

    /// Paths into the rest of the crate a world source line uses that the rule forbids.
    fn violations(line: &str) -> Vec<String> {
        let code = line.trim_start();
        if code.starts_with("//") {
            return Vec::new();
        }
        let mut found = Vec::new();
        for (at, _) in code.match_indices("provision") {
            let before = code[..at].chars().next_back();
            let after = &code[at + "provision".len()..];
            let is_path = before == Some(':') || after.starts_with(':');
            if is_path && !after.starts_with("::wire") {
                found.push(
                    code[at..]
                        .split([';', ' '])
                        .next()
                        .unwrap_or("")
                        .to_string(),
                );
            }
        }
        for other in [
            "sovtui_core",
            "crate::tui",
            "crate::cli",
            "crate::config",
            "crate::logging",
        ] {
            if code.contains(other) {
                found.push(other.to_string());
            }
        }
        found
    }

    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn the_scanner_sees_what_the_rule_forbids() {
        assert!(violations("use crate::provision::wire::{Event, DeploymentRequest};").is_empty());
        assert!(violations("async fn run_provisioning(ctx: Ctx)").is_empty());
        assert!(violations("/// unlike provision::flux, this reads Ready only").is_empty());
        assert_eq!(
            violations("use crate::provision::flux::derive_catalyst_state;"),
            ["provision::flux::derive_catalyst_state"]
        );
        assert_eq!(violations("use crate::provision;"), ["provision"]);
        assert_eq!(violations("let c = crate::config::load();").len(), 1);
        assert_eq!(violations("use sovtui_core::provision::flux;").len(), 2);
    }

    #[test]
    fn the_world_uses_only_wire_types_from_the_library() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sim");
        let mut files = Vec::new();
        sources(&root, &mut files);
        assert!(files.len() > 20, "found only {} world sources", files.len());
        let mut bad = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            // This module spells out forbidden paths as test data; the lines above it are checked.
            let text = text.split("mod independence {").next().unwrap_or_default();
            for (n, line) in text.lines().enumerate() {
                for v in violations(line) {
                    bad.push(format!("{}:{}: {v}", file.display(), n + 1));
                }
            }
        }
        assert!(
            bad.is_empty(),
            "the world reaches past the wire types:\n{}",
            bad.join("\n")
        );
    }
}
