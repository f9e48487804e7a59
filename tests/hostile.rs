//! Misbehaving servers on loopback (port 0): one that accepts and never answers, one that drips
//! its answer, one whose event stream never ends an event, one with an endless body, one whose
//! messages carry terminal escape sequences. Each client of sovtui must turn them into a clear,
//! bounded outcome — an error or a state naming the source and the bound — within the configured
//! deadline. Deadlines are set short here; tests wait for states, never for fixed times (the
//! PATIENCE bound only turns a hang into a failure).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use sovtui::config::fleet_file::{FleetFile, SovereignEntry};
use sovtui::provision::catalyst::{
    CatalystClient, ClientError, DeploymentFold, FollowOptions, FollowUpdate, follow,
};
use sovtui::provision::fleet::model::ConnectionState;
use sovtui::provision::fleet::{Fleet, FleetEvent, FleetOptions};
use sovtui::provision::limits::Limits;
use sovtui::sim::clock::SimClock;
use sovtui::sim::kube::{ClusterOptions, KubeSim};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const PATIENCE: Duration = Duration::from_secs(60);
const DEADLINE: Duration = Duration::from_secs(1);

/// How a hostile server treats each connection.
#[derive(Clone)]
enum Behaviour {
    /// Accept, read the request, never answer.
    Silent,
    /// Headers of an event stream, then `data:` lines forever without the blank line that would
    /// end an event.
    EndlessEvent,
    /// Headers of an event stream, one event, then silence with the connection open.
    StallingStream,
    /// 200 with a chunked body that never ends.
    EndlessBody,
    /// 200 whose body arrives one byte every 200 ms.
    Drip,
    /// A complete SSE answer (`text`), any path.
    Sse(String),
}

/// Serve `b` on 127.0.0.1:0 until the test ends; the root URL.
async fn hostile(b: Behaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(serve(sock, b.clone()));
        }
    });
    format!("http://{addr}")
}

async fn read_request(sock: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn serve(mut sock: TcpStream, b: Behaviour) {
    read_request(&mut sock).await;
    let sse_head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                    Cache-Control: no-cache\r\n\r\n";
    match b {
        Behaviour::Silent => {
            // Hold the connection open, answering nothing.
            let mut sink = [0u8; 1024];
            while let Ok(n) = sock.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        }
        Behaviour::EndlessEvent => {
            if sock.write_all(sse_head.as_bytes()).await.is_err() {
                return;
            }
            let line = format!("data: {}\n", "x".repeat(1000));
            while sock.write_all(line.as_bytes()).await.is_ok() {}
        }
        Behaviour::StallingStream => {
            let ev = json!({"time": "2026-12-06T10:00:00Z", "phase": "tofu-init",
                            "level": "info", "message": "starting"});
            let text = format!("{sse_head}data: {ev}\n\n");
            if sock.write_all(text.as_bytes()).await.is_ok() {
                let mut sink = [0u8; 64];
                let _ = sock.read(&mut sink).await;
            }
        }
        Behaviour::EndlessBody => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                        Transfer-Encoding: chunked\r\n\r\n";
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, " ".repeat(64 * 1024));
            while sock.write_all(chunk.as_bytes()).await.is_ok() {}
        }
        Behaviour::Drip => {
            let body = "{\"deployments\":[]}".repeat(100);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for b in body.bytes() {
                if sock.write_all(&[b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Behaviour::Sse(text) => {
            let _ = sock.write_all(format!("{sse_head}{text}").as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    }
}

fn limits() -> Limits {
    Limits::strict(DEADLINE)
}

/// The sovtui binary with short deadlines and a private config/state home.
fn sovtui(home: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sovtui"));
    cmd.env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("SOVTUI_REQUEST_TIMEOUT", "1s")
        .env("SOVTUI_SSE_IDLE", "1s")
        .env_remove("HCLOUD_TOKEN")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

// ---- catalyst-api -------------------------------------------------------------------------

#[tokio::test]
async fn a_silent_catalyst_api_is_an_error_naming_the_deadline() {
    let url = hostile(Behaviour::Silent).await;
    let client = CatalystClient::with_limits(&url, limits()).expect("client");
    let err = tokio::time::timeout(PATIENCE, client.list_deployments())
        .await
        .expect("bounded by the request deadline")
        .expect_err("no answer");
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("no answer within 1s") && text.contains(&url),
        "{text}"
    );
    let err = tokio::time::timeout(PATIENCE, client.kubeconfig("abc"))
        .await
        .expect("bounded")
        .expect_err("no answer");
    assert!(err.to_string().contains("SOVTUI_REQUEST_TIMEOUT"), "{err}");
}

#[tokio::test]
async fn a_dripping_answer_is_cut_at_the_request_deadline() {
    let url = hostile(Behaviour::Drip).await;
    let client = CatalystClient::with_limits(&url, limits()).expect("client");
    let err = tokio::time::timeout(PATIENCE, client.list_deployments())
        .await
        .expect("bounded")
        .expect_err("too slow");
    assert!(
        err.to_string()
            .contains("the answer was not complete within 1s"),
        "{err}"
    );
}

#[tokio::test]
async fn an_endless_body_is_refused_at_the_body_cap() {
    let url = hostile(Behaviour::EndlessBody).await;
    let client = CatalystClient::with_limits(
        &url,
        Limits {
            max_body: 256 * 1024,
            request: PATIENCE,
            ..Limits::default()
        },
    )
    .expect("client");
    let err = tokio::time::timeout(PATIENCE, client.list_deployments())
        .await
        .expect("bounded")
        .expect_err("too large");
    assert!(matches!(err, ClientError::TooLarge { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("larger than 256 KiB") && text.contains("SOVTUI_MAX_BODY"),
        "{text}"
    );
}

#[tokio::test]
async fn endless_data_lines_are_refused_at_the_event_cap_and_the_stream_reopens() {
    let url = hostile(Behaviour::EndlessEvent).await;
    let client = CatalystClient::with_limits(
        &url,
        Limits {
            max_event: 64 * 1024,
            ..Limits::strict(PATIENCE)
        },
    )
    .expect("client");
    let mut stream = client.open_stream("d1", None).await.expect("opens");
    let mut items = 0;
    while stream.next().await.is_some() {
        items += 1;
    }
    assert_eq!(items, 0, "nothing of the oversized event is delivered");
    let why = stream.interrupted().expect("interrupted").to_string();
    assert!(
        why.contains("an event is larger than 64 KiB") && why.contains("SOVTUI_MAX_EVENT"),
        "{why}"
    );

    // Following reconnects, says why each time, and gives up with the same reason.
    let mut fold = DeploymentFold::new("d1");
    let opts = FollowOptions {
        max_failures: 2,
        ..FollowOptions::default()
    };
    let mut reasons = Vec::new();
    let result = tokio::time::timeout(
        PATIENCE,
        follow(&client, &mut fold, &opts, |u, _| {
            if let FollowUpdate::Reconnecting { reason, .. } = u {
                reasons.push(reason.clone());
            }
        }),
    )
    .await
    .expect("bounded");
    let err = result.expect_err("gives up").to_string();
    assert!(err.contains("larger than 64 KiB"), "{err}");
    assert!(
        reasons.iter().any(|r| r.contains("larger than 64 KiB")),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_stalled_stream_is_reported_with_its_time_and_reopened() {
    let url = hostile(Behaviour::StallingStream).await;
    let client = CatalystClient::with_limits(&url, limits()).expect("client");
    let mut fold = DeploymentFold::new("d1");
    let mut seen = Vec::new();
    let opts = FollowOptions::default();
    // Stop at the first reconnect: what it says is what the operator sees.
    let _ = tokio::time::timeout(
        PATIENCE,
        sovtui::provision::catalyst::follow_async(
            &client,
            &mut fold,
            &opts,
            &mut StopAtReconnect(&mut seen),
        ),
    )
    .await
    .expect("a stall is noticed within the idle deadline");
    let reason = seen.first().expect("a reconnect");
    assert!(
        reason.contains("the stream stalled: nothing since") && reason.contains("within 1s"),
        "{reason}"
    );
    assert_eq!(fold.applied, 1, "the event before the stall was kept");
}

struct StopAtReconnect<'a>(&'a mut Vec<String>);

impl sovtui::provision::catalyst::FollowSink for StopAtReconnect<'_> {
    async fn update(&mut self, u: &FollowUpdate, _: &DeploymentFold) -> bool {
        if let FollowUpdate::Reconnecting { reason, .. } = u {
            self.0.push(reason.clone());
            return false;
        }
        true
    }
}

#[tokio::test]
async fn a_stream_url_on_another_origin_and_plain_http_elsewhere_are_refused() {
    let client = CatalystClient::with_limits("http://127.0.0.1:9", limits()).expect("loopback");
    let err = match client
        .open_stream("d1", Some("http://203.0.113.7/api/v1/deployments/d1/logs"))
        .await
    {
        Err(e) => e,
        Ok(_) => panic!("followed a foreign streamURL"),
    };
    assert!(
        matches!(err, ClientError::Refused(_))
            && err.to_string().contains("not on catalyst-api's origin"),
        "{err}"
    );
    let err = CatalystClient::with_limits("http://console.example.org/sovereign", limits())
        .expect_err("clear text to a remote host");
    assert!(err.to_string().contains("https://"), "{err}");
    assert!(
        CatalystClient::with_limits(
            "http://console.example.org/sovereign",
            Limits {
                insecure_http: true,
                ..limits()
            }
        )
        .is_ok(),
        "--insecure-http allows it"
    );
}

// ---- the CLI ------------------------------------------------------------------------------

#[tokio::test]
async fn fleet_join_against_a_silent_api_fails_within_the_deadline() {
    let home = tempfile::tempdir().expect("tempdir");
    let url = hostile(Behaviour::Silent).await;
    let fleet = home.path().join("fleet.toml");
    let out = tokio::time::timeout(
        PATIENCE,
        sovtui(home.path())
            .arg("--config")
            .arg(&fleet)
            .args(["fleet", "join", "new.example.org", "--api", &url])
            .args(["--deployment", "0123456789abcdef"])
            .output(),
    )
    .await
    .expect("join ends within the deadline")
    .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no answer within 1s") && stderr.contains("nothing was added"),
        "{stderr}"
    );
    assert!(!fleet.exists(), "nothing written");
}

#[tokio::test]
async fn deploy_watch_against_a_silent_api_says_so_within_the_deadline() {
    let home = tempfile::tempdir().expect("tempdir");
    let url = hostile(Behaviour::Silent).await;
    let mut child = sovtui(home.path())
        .args(["deploy", "watch", "--api", &url, "0123456789abcdef"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let line = tokio::time::timeout(PATIENCE, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("reconnecting") {
                return line;
            }
        }
        panic!("stderr ended without a reconnect line");
    })
    .await
    .expect("the silent API is reported");
    assert!(line.contains("no answer within 1s"), "{line}");
    let _ = child.kill().await;
}

fn escaped_event(message: &str) -> Value {
    json!({"time": "2026-12-06T10:00:00Z", "phase": "tofu-apply", "level": "error",
           "message": message})
}

const NASTY: &str = "boom\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31mred\u{1b}[0m\rover\u{9b}2Jend";

#[tokio::test]
async fn escape_sequences_in_events_print_clean_and_json_stays_exact() {
    let home = tempfile::tempdir().expect("tempdir");
    let done = json!({"id": "0123456789abcdef", "status": "failed", "sovereignFQDN": "x.example",
                      "error": format!("tofu apply: {NASTY}")});
    let body = format!(
        "data: {}\n\nevent: done\ndata: {done}\n\n",
        escaped_event(NASTY)
    );
    let url = hostile(Behaviour::Sse(body)).await;

    let human = tokio::time::timeout(
        PATIENCE,
        sovtui(home.path())
            .args(["deploy", "watch", "--api", &url, "0123456789abcdef"])
            .output(),
    )
    .await
    .expect("ends")
    .expect("runs");
    let stderr = String::from_utf8_lossy(&human.stderr);
    assert!(
        !stderr.chars().any(|c| c.is_control() && c != '\n'),
        "control characters reached the terminal: {stderr:?}"
    );
    assert!(stderr.contains("boomredoverend"), "{stderr}");
    assert!(!stderr.contains("pwned"), "{stderr}");

    let json_run = tokio::time::timeout(
        PATIENCE,
        sovtui(home.path())
            .args([
                "deploy",
                "watch",
                "--json",
                "--api",
                &url,
                "0123456789abcdef",
            ])
            .output(),
    )
    .await
    .expect("ends")
    .expect("runs");
    let stdout = String::from_utf8_lossy(&json_run.stdout);
    assert!(!stdout.contains('\u{1b}'), "JSON escapes controls itself");
    let event: Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "event")
        .expect("event line");
    assert_eq!(event["event"]["message"], NASTY, "--json is exact");
}

#[tokio::test]
async fn escape_sequences_in_helmrelease_messages_print_clean_and_json_stays_exact() {
    let sim = KubeSim::new(SimClock::new(1.0));
    let fqdn = "esc.fleet.test";
    let c = sim
        .add_empty_cluster(fqdn, ClusterOptions::default())
        .await
        .expect("cluster");
    c.apply(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "bp-evil", "namespace": "flux-system"},
        "spec": {"interval": "15m", "chart": {"spec": {"chart": "bp-evil",
                 "sourceRef": {"kind": "HelmRepository", "name": "bp-evil"}}}},
        "status": {"conditions": [{"type": "Ready", "status": "False",
                   "reason": "InstallFailed", "message": NASTY,
                   "lastTransitionTime": "2026-12-06T10:00:00Z"}]}
    }))
    .expect("seed");
    let home = tempfile::tempdir().expect("tempdir");
    std::fs::write(home.path().join("kubeconfig"), sim.kubeconfig_yaml()).expect("kubeconfig");
    let fleet = home.path().join("fleet.toml");
    std::fs::write(
        &fleet,
        format!("[[sovereign]]\nfqdn = \"{fqdn}\"\nkubeconfig = \"kubeconfig\"\n"),
    )
    .expect("fleet");

    let human = tokio::time::timeout(
        PATIENCE,
        sovtui(home.path())
            .arg("--config")
            .arg(&fleet)
            .args(["fleet", "status", "--timeout", "30"])
            .output(),
    )
    .await
    .expect("ends")
    .expect("runs");
    let stderr = String::from_utf8_lossy(&human.stderr);
    assert!(human.status.success(), "{stderr}");
    assert!(
        !stderr.chars().any(|c| c.is_control() && c != '\n'),
        "control characters reached the terminal: {stderr:?}"
    );
    assert!(stderr.contains("boomredoverend"), "{stderr}");

    let json_run = tokio::time::timeout(
        PATIENCE,
        sovtui(home.path())
            .arg("--config")
            .arg(&fleet)
            .args(["fleet", "status", "--json", "--timeout", "30"])
            .output(),
    )
    .await
    .expect("ends")
    .expect("runs");
    let doc: Value = serde_json::from_slice(&json_run.stdout).expect("one JSON document");
    let message = &doc["sovereigns"][0]["components"][0]["message"];
    assert_eq!(message, NASTY, "--json is exact: {doc}");
}

// ---- the fleet ----------------------------------------------------------------------------

fn kubeconfig_for(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: silent.fleet.test\n\
         clusters:\n- name: silent\n  cluster:\n    server: {server}\n\
         users:\n- name: u\n  user:\n    token: t\n\
         contexts:\n- name: silent.fleet.test\n  context:\n    cluster: silent\n    user: u\n"
    )
}

#[tokio::test]
async fn a_silent_apiserver_turns_unreachable_within_the_deadline() {
    let url = hostile(Behaviour::Silent).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, kubeconfig_for(&url)).expect("kubeconfig");
    let mut entry = SovereignEntry::adopted("silent.fleet.test");
    entry.adopted = false;
    entry.kubeconfig = Some(kc);
    let file = FleetFile {
        sovereigns: vec![entry],
        ..Default::default()
    };
    let (_handle, mut events) = Fleet::start_with(
        file,
        FleetOptions {
            audit_log: dir.path().join("audit.jsonl"),
            limits: limits(),
            ..Default::default()
        },
    );
    let error = tokio::time::timeout(PATIENCE, async {
        while let Some(ev) = events.recv().await {
            if let FleetEvent::Connection {
                connection: ConnectionState::Unreachable { error, .. },
                ..
            } = ev
            {
                return error;
            }
        }
        panic!("fleet stopped");
    })
    .await
    .expect("unreachable, not connecting forever");
    assert!(
        error.contains("LIST: no answer within 1s"),
        "the state says why: {error}"
    );
}

// ---- the cockpit --------------------------------------------------------------------------

/// The cockpit relies on ratatui dropping every grapheme that holds a control character when it
/// fills its buffer (docs/RELIABILITY.md): this guards that assumption across upgrades.
#[test]
fn ratatui_cells_never_hold_control_characters() {
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::widgets::{Paragraph, Widget};
    let area = Rect::new(0, 0, 80, 3);
    let mut buf = Buffer::empty(area);
    Paragraph::new(NASTY).render(area, &mut buf);
    let cells: String = buf.content().iter().map(|c| c.symbol()).collect();
    assert!(
        !cells.chars().any(char::is_control),
        "a control character reached a cell: {cells:?}"
    );
    assert!(cells.contains("boom"), "{cells:?}");
}
