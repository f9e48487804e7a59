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

/// Run `diagnose_json` until it lands on `leaf`, moving the world's clock on by `step` between
/// tries (the timeline needs simulated time to reach the failure); the text of the diagnosis.
pub async fn diagnose_json_until(
    world: &sovtui::sim::world::World,
    fleet: &Path,
    fqdn: &str,
    leaf: &str,
    step: std::time::Duration,
    deadline: std::time::Duration,
) -> String {
    let start = std::time::Instant::now();
    loop {
        let (out, doc) = diagnose_json(fleet, fqdn).await;
        if doc.pointer("/leaf/id").and_then(|v| v.as_str()) == Some(leaf) {
            assert!(out.status.success(), "exit 0 on a leaf");
            return doc.to_string();
        }
        assert!(
            start.elapsed() < deadline,
            "never reached {leaf}: {doc:#}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        world.clock.advance(step);
    }
}

/// The evidence that decided the last question cites `needle`.
pub fn assert_cites(d: &sovtui::provision::troubleshoot::walk::Diagnosis, needle: &str) {
    use sovtui::provision::troubleshoot::walk::AnsweredBy;
    let last = d.path.last().expect("a path");
    let AnsweredBy::Evidence { evidence } = &last.by else {
        panic!(
            "last step {} was not answered by evidence:\n{}",
            last.node,
            d.to_text()
        );
    };
    assert!(
        evidence.iter().any(|c| c.text.contains(needle)),
        "{} did not cite {needle:?}: {evidence:?}",
        last.node
    );
}
