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

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    workspace_root()
}

/// One kubectl binary and the release it reports.
#[derive(Debug, Clone)]
pub struct Kubectl {
    pub path: PathBuf,
    /// `v1.32.3`
    pub version: String,
    pub minor: u32,
}

impl Kubectl {
    /// Run `connection` (how to reach the cluster) then `args`, with `input` on stdin (None: no
    /// stdin), within `wait`: (exit code, stdout, stderr prefixed with the release that said it,
    /// for every assertion message that shows it).
    pub async fn run(
        &self,
        connection: &[String],
        args: &[&str],
        input: Option<&str>,
        wait: std::time::Duration,
    ) -> (i32, String, String) {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::new(&self.path)
            .args(connection)
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn kubectl");
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin.write_all(text.as_bytes()).await.expect("write stdin");
            drop(stdin);
        }
        let out = tokio::time::timeout(wait, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {} {args:?} timed out", self.version))
            .expect("kubectl runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            format!(
                "[kubectl {}] {}",
                self.version,
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

/// A long-running kubectl (`get … -w`): each stdout line, as it comes, goes to `on_line`, which
/// may act on the cluster (make the change the watch must show) and says when it has seen enough.
/// `true` once it has, `false` when the stream ended first; past `wait` it panics naming the
/// release and the arguments. The process is killed either way.
pub async fn kubectl_stream_until(
    k: &Kubectl,
    connection: &[String],
    args: &[&str],
    wait: std::time::Duration,
    mut on_line: impl FnMut(&str) -> bool,
) -> bool {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(&k.path)
        .args(connection)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn kubectl");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let saw = tokio::time::timeout(wait, async {
        while let Ok(Some(line)) = lines.next_line().await {
            println!("kubectl {} {args:?}: {line}", k.version);
            if on_line(&line) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or_else(|_| panic!("kubectl {} {args:?}: not seen within {wait:?}", k.version));
    let _ = child.kill().await;
    saw
}

fn kubectl_version(path: &Path) -> Option<Kubectl> {
    let out = Command::new(path)
        .args(["version", "--client", "-o", "json"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let cv = &v["clientVersion"];
    let minor = cv["minor"].as_str()?.trim_end_matches('+').parse().ok()?;
    Some(Kubectl {
        path: path.to_path_buf(),
        version: cv["gitVersion"].as_str().unwrap_or("?").to_string(),
        minor,
    })
}

/// The releases the conformance tests are meant to run with: Debian's 1.20 and a current one.
const OLD_MINOR_MAX: u32 = 20;
const CURRENT_MINOR_MIN: u32 = 30;

/// Every distinct kubectl release on this machine, oldest first: `SOVTUI_KUBECTL`, the ones
/// `.ci/install-deps` unpacks under target/tools, and those on `PATH`. Where an old (≤1.20) or a
/// current (≥1.30) one is missing, `test` notes the skip — or fails under SOVTUI_REQUIRE_TOOLS=1,
/// where install-deps has installed both.
pub fn kubectls(test: &str) -> Vec<Kubectl> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("SOVTUI_KUBECTL")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.push(repo().join("target/tools/kubectl/usr/bin/kubectl"));
    candidates.push(repo().join("target/tools/kubectl-current/kubectl"));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("kubectl")));
    }
    let mut found: Vec<Kubectl> = Vec::new();
    for c in candidates.iter().filter(|p| p.is_file()) {
        if let Some(k) = kubectl_version(c)
            && !found.iter().any(|f| f.minor == k.minor)
        {
            found.push(k);
        }
    }
    found.sort_by_key(|k| k.minor);
    if !found.iter().any(|k| k.minor <= OLD_MINOR_MAX) {
        missing(
            test,
            "kubectl 1.20 (Debian's kubernetes-client, target/tools/kubectl)",
        );
    }
    if !found.iter().any(|k| k.minor >= CURRENT_MINOR_MIN) {
        missing(
            test,
            "a current kubectl (≥1.30; target/tools/kubectl-current or PATH)",
        );
    }
    found
}

/// A Python interpreter with a client module, and that module's version.
#[derive(Debug, Clone)]
pub struct Python {
    pub path: PathBuf,
    pub module: &'static str,
    pub version: String,
}

impl Python {
    /// `kubernetes 37.0.2`
    pub fn label(&self) -> String {
        format!("python {} {}", self.module, self.version)
    }

    /// Whether this is a current client (from PyPI), not Debian's old one.
    pub fn is_current(&self) -> bool {
        self.path.starts_with(repo().join("target/tools"))
    }
}

/// Interpreters with `module` importable: Debian's `/usr/bin/python3` (old clients from apt) and
/// the venv of pinned current clients `.ci/install-deps` makes at target/tools/py. A missing one
/// is a noted skip (a failure under SOVTUI_REQUIRE_TOOLS=1).
pub fn pythons(test: &str, module: &'static str) -> Vec<Python> {
    let mut found = Vec::new();
    for (path, what) in [
        (
            PathBuf::from("/usr/bin/python3"),
            "Debian's /usr/bin/python3 with the python3 module",
        ),
        (
            repo().join("target/tools/py/bin/python"),
            "the current client in target/tools/py (.ci/install-deps)",
        ),
    ] {
        let version = Command::new(&path)
            .args([
                "-c",
                &format!("import {module}, importlib.metadata as m; print(m.version('{module}'))"),
            ])
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        match version {
            Some(version) => found.push(Python {
                path,
                module,
                version,
            }),
            None => missing(test, &format!("{what}: no {module} module")),
        }
    }
    found
}
