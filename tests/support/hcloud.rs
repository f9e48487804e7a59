//! The hcloud CLI (hcloud-go) against a simulated Hetzner API: what an operator types by hand
//! (the world's `conformance_hcloud` includes this file by path).
//! `.ci/install-deps` installs it; without it, tests skip through [`super::tools::missing`].
#![allow(dead_code)] // each test file uses some of these

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

/// Run `cmd` (bounded) and insist that it succeeded.
pub async fn run(mut cmd: tokio::process::Command, what: &str) -> Output {
    cmd.kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{what}: timed out"))
        .unwrap_or_else(|e| panic!("{what}: could not run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The hcloud CLI pointed at one simulator with one token; its own config stays in `config`.
pub struct Hcloud {
    pub bin: PathBuf,
    pub endpoint: String,
    pub token: String,
    pub config: PathBuf,
}

impl Hcloud {
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.args(["--poll-interval", "50ms"])
            .args(args)
            .env("HCLOUD_ENDPOINT", &self.endpoint)
            .env("HCLOUD_TOKEN", &self.token)
            .env("HCLOUD_CONFIG", &self.config)
            .env_remove("HCLOUD_CONTEXT");
        run(cmd, &format!("hcloud {}", args.join(" "))).await
    }

    pub async fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args).await;
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "hcloud {}: not JSON ({e}): {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}
