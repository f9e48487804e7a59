//! Third-party clients (kubectl, the hcloud CLI, Python's hcloud and kubernetes) that check the
//! simulated world. `.ci/install-deps` installs them; a developer machine may lack some.

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
