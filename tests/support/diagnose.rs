//! Running the real binary's `sovtui --config FLEET diagnose FQDN --json`.

use std::path::Path;
use std::process::{Command, Output};

/// The process output and its one JSON document (a test failure if stdout holds anything else).
pub async fn diagnose_json(fleet: &Path, fqdn: &str) -> (Output, serde_json::Value) {
    let fleet = fleet.to_path_buf();
    let fqdn = fqdn.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_sovtui"))
            .arg("--config")
            .arg(&fleet)
            .args(["diagnose", &fqdn, "--json"])
            .output()
            .expect("run sovtui diagnose")
    })
    .await
    .expect("join");
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "one JSON document on stdout ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, doc)
}
