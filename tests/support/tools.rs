//! Third-party clients (kubectl, the hcloud CLI, Python's hcloud and kubernetes) that check the
//! simulated world. `.ci/install-deps` installs them; a developer machine may lack some.
#![allow(dead_code)] // each test file uses some of these

/// `test` cannot run because `what` is missing. On a developer machine that is a skip with a
/// note; where `.ci/run` installed every client (`SOVTUI_REQUIRE_TOOLS=1`) it fails the test, so
/// CI can never pass by skipping.
pub fn missing(test: &str, what: &str) {
    assert!(
        std::env::var_os("SOVTUI_REQUIRE_TOOLS").is_none_or(|v| v != "1"),
        "{test}: {what} (SOVTUI_REQUIRE_TOOLS=1: every third-party client should be installed; \
         run .ci/install-deps)"
    );
    println!("SKIP {test}: {what}");
}

/// The workspace's top directory (where `.ci/install-deps` puts the clients under `target/tools`),
/// whichever crate's tests include this file.
pub fn workspace_root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .unwrap_or(here)
        .to_path_buf()
}
