//! One command in a pod of the mothership over `pods/exec` (kube-rs, the `ws` feature): argv
//! as given (no shell unless argv runs one), optional stdin sent to its end, stdout and stderr
//! read whole under the body cap, the exit code from the Status the apiserver sends last. The
//! whole exchange is bounded by the request deadline.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, ListParams};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::provision::limits::{Limits, show_size};

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// 0 on success, the command's exit code otherwise.
    pub code: i32,
}

impl Output {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr's first line, for a report.
    pub fn why(&self) -> String {
        let first = self.stderr.lines().next().unwrap_or("");
        let safe = crate::provision::safe_text::one_line(first);
        let line = safe.trim();
        if line.is_empty() {
            format!("exit {}", self.code)
        } else {
            format!("exit {}: {line}", self.code)
        }
    }
}

async fn read_capped(r: Option<impl AsyncRead + Unpin>, cap: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    if let Some(r) = r {
        r.take(cap as u64 + 1)
            .read_to_end(&mut out)
            .await
            .map_err(|e| format!("reading the command's output: {e}"))?;
    }
    if out.len() > cap {
        return Err(format!(
            "the command's output is larger than {} (cap SOVTUI_MAX_BODY); refused",
            show_size(cap)
        ));
    }
    Ok(out)
}

/// The first Running pod (by name) of `namespace` carrying `selector` (`k=v`).
pub async fn pod_of(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
    limits: &Limits,
) -> Result<String, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = tokio::time::timeout(
        limits.request,
        pods.list(&ListParams::default().labels(selector)),
    )
    .await
    .map_err(|_| format!("listing pods -l {selector} in {namespace}: no answer in time"))?
    .map_err(|e| format!("listing pods -l {selector} in {namespace}: {e}"))?;
    let mut running: Vec<String> = list
        .items
        .iter()
        .filter(|p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                && p.metadata.deletion_timestamp.is_none()
        })
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    running.sort();
    running
        .into_iter()
        .next()
        .ok_or_else(|| format!("no running pod -l {selector} in namespace {namespace}"))
}

/// Run `argv` in `pod` (its default container), with `stdin` when given.
pub async fn run(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    argv: &[&str],
    stdin: Option<&[u8]>,
    limits: &Limits,
) -> Result<Output, String> {
    let what = format!("exec in {namespace}/{pod}");
    tokio::time::timeout(
        limits.request,
        run_unbounded(client, namespace, pod, argv, stdin, limits),
    )
    .await
    .map_err(|_| format!("{what}: no end in time"))?
    .map_err(|e| format!("{what}: {e}"))
}

async fn run_unbounded(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    argv: &[&str],
    stdin: Option<&[u8]>,
    limits: &Limits,
) -> Result<Output, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = AttachParams::default()
        .stdin(stdin.is_some())
        .stdout(true)
        .stderr(true);
    let mut proc = pods
        .exec(pod, argv.iter().copied(), &params)
        .await
        .map_err(|e| e.to_string())?;
    let status = proc.take_status().ok_or("no status channel")?;
    if let Some(input) = stdin {
        let mut w = proc.stdin().ok_or("no stdin channel")?;
        w.write_all(input)
            .await
            .map_err(|e| format!("sending stdin: {e}"))?;
        // kube-rs sends the close-stdin frame on shutdown; dropping the writer alone does not
        // end the command's input.
        w.shutdown()
            .await
            .map_err(|e| format!("closing stdin: {e}"))?;
    }
    let cap = limits.max_body;
    let (out, err) = tokio::join!(
        read_capped(proc.stdout(), cap),
        read_capped(proc.stderr(), cap)
    );
    let (stdout, stderr) = (out?, err?);
    let status = status.await;
    let _ = proc.join().await;
    let code = match status {
        Some(s) if s.status.as_deref() == Some("Success") => 0,
        Some(s) if s.reason.as_deref() == Some("NonZeroExitCode") => s
            .details
            .and_then(|d| d.causes)
            .and_then(|c| {
                c.into_iter()
                    .find(|c| c.reason.as_deref() == Some("ExitCode"))
            })
            .and_then(|c| c.message)
            .and_then(|m| m.trim().parse().ok())
            .unwrap_or(1),
        Some(s) => {
            return Err(format!(
                "the apiserver ended it: {}",
                s.message.or(s.reason).unwrap_or_default()
            ));
        }
        None => return Err("the stream ended without an exit status".into()),
    };
    Ok(Output {
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        code,
    })
}
