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
use tokio::io::{AsyncBufReadExt, BufReader};

mod support;
use support::hostile::{Behaviour, Hostile, NASTY};

const PATIENCE: Duration = Duration::from_secs(60);
const DEADLINE: Duration = Duration::from_secs(1);

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

/// The deployment list from `client`, which must fail (`why` says how), within [`PATIENCE`].
async fn list_error(client: &CatalystClient, why: &str) -> ClientError {
    tokio::time::timeout(PATIENCE, client.list_deployments())
        .await
        .expect("bounded")
        .expect_err(why)
}

/// Follow deployment `d1` until `follow` gives up after `max_failures` reconnects: how it ended,
/// and the reason it gave at each reconnect.
async fn follow_until_given_up(
    client: &CatalystClient,
    max_failures: u32,
) -> (Result<(), ClientError>, Vec<String>) {
    let mut fold = DeploymentFold::new("d1");
    let opts = FollowOptions {
        max_failures,
        ..FollowOptions::default()
    };
    let mut reasons = Vec::new();
    let result = tokio::time::timeout(
        PATIENCE,
        follow(client, &mut fold, &opts, |u, _| {
            if let FollowUpdate::Reconnecting { reason, .. } = u {
                reasons.push(reason.clone());
            }
        }),
    )
    .await
    .expect("bounded");
    (result, reasons)
}

/// `sovtui fleet join` of a new Sovereign through the catalyst-api at `api`, into a fleet file
/// under `home`: the run's output and where the fleet file would be.
async fn fleet_join(home: &Path, api: &str) -> (std::process::Output, std::path::PathBuf) {
    let fleet = home.join("fleet.toml");
    let out = tokio::time::timeout(
        PATIENCE,
        sovtui(home)
            .arg("--config")
            .arg(&fleet)
            .args(["fleet", "join", "new.example.org", "--api", api])
            .args(["--deployment", "0123456789abcdef"])
            .output(),
    )
    .await
    .expect("join ends within the deadline")
    .expect("runs");
    (out, fleet)
}

// ---- catalyst-api -------------------------------------------------------------------------

#[tokio::test]
async fn a_silent_catalyst_api_is_an_error_naming_the_deadline() {
    let server = Hostile::start(Behaviour::Silent);
    let url = server.url().to_string();
    let client = CatalystClient::with_limits(&url, limits()).expect("client");
    let err = list_error(&client, "no answer").await;
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
    let server = Hostile::start(Behaviour::Drip {
        body: "{\"deployments\":[]}".repeat(100),
        every: Duration::from_secs(1),
    });
    let url = server.url().to_string();
    let client = CatalystClient::with_limits(&url, limits()).expect("client");
    let err = list_error(&client, "too slow").await;
    assert!(
        err.to_string()
            .contains("the answer was not complete within 1s"),
        "{err}"
    );
}

#[tokio::test]
async fn an_endless_body_is_refused_at_the_body_cap() {
    let server = Hostile::start(Behaviour::EndlessBody);
    let url = server.url().to_string();
    let client = CatalystClient::with_limits(
        &url,
        Limits {
            max_body: 256 * 1024,
            request: PATIENCE,
            ..Limits::default()
        },
    )
    .expect("client");
    let err = list_error(&client, "too large").await;
    assert!(matches!(err, ClientError::TooLarge { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("larger than 256 KiB") && text.contains("SOVTUI_MAX_BODY"),
        "{text}"
    );
}

#[tokio::test]
async fn endless_data_lines_are_refused_at_the_event_cap_and_the_stream_reopens() {
    let server = Hostile::start(Behaviour::EndlessEvent);
    let url = server.url().to_string();
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
    let (result, reasons) = follow_until_given_up(&client, 2).await;
    let err = result.expect_err("gives up").to_string();
    assert!(err.contains("larger than 64 KiB"), "{err}");
    assert!(
        reasons.iter().any(|r| r.contains("larger than 64 KiB")),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_stalled_stream_is_reported_with_its_time_and_reopened() {
    let server = Hostile::start(Behaviour::StallingStream);
    let url = server.url().to_string();
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
    let server = Hostile::start(Behaviour::Silent);
    let url = server.url().to_string();
    let (out, fleet) = fleet_join(home.path(), &url).await;
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
    let server = Hostile::start(Behaviour::Silent);
    let url = server.url().to_string();
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

#[tokio::test]
async fn escape_sequences_in_events_print_clean_and_json_stays_exact() {
    let home = tempfile::tempdir().expect("tempdir");
    let done = json!({"id": "0123456789abcdef", "status": "failed", "sovereignFQDN": "x.example",
                      "error": format!("tofu apply: {NASTY}")});
    let body = format!(
        "data: {}\n\nevent: done\ndata: {done}\n\n",
        escaped_event(NASTY)
    );
    let server = Hostile::start(Behaviour::Sse(body));
    let url = server.url().to_string();

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

/// A fleet of one Sovereign (`silent.fleet.test`) whose apiserver is `server`, under `limits`.
fn fleet_against(
    server: &str,
    dir: &Path,
    limits: Limits,
) -> (
    sovtui::provision::fleet::FleetHandle,
    tokio::sync::mpsc::Receiver<FleetEvent>,
) {
    let kc = dir.join("kubeconfig");
    std::fs::write(&kc, kubeconfig_for(server)).expect("kubeconfig");
    let mut entry = SovereignEntry::adopted("silent.fleet.test");
    entry.adopted = false;
    entry.kubeconfig = Some(kc);
    let file = FleetFile {
        sovereigns: vec![entry],
        ..Default::default()
    };
    Fleet::start_with(
        file,
        FleetOptions {
            audit_log: dir.join("audit.jsonl"),
            limits,
            ..Default::default()
        },
    )
}

/// The error of the first connection state (other than connecting/live) that `pred` accepts.
async fn state_error(
    events: &mut tokio::sync::mpsc::Receiver<FleetEvent>,
    pred: impl Fn(&str) -> bool,
) -> String {
    tokio::time::timeout(PATIENCE, async {
        while let Some(ev) = events.recv().await {
            if let FleetEvent::Connection { connection, .. } = ev {
                let error = match connection {
                    ConnectionState::Unreachable { error, .. }
                    | ConnectionState::Degraded { error, .. }
                    | ConnectionState::Forbidden { error }
                    | ConnectionState::AuthExpired { error } => error,
                    _ => continue,
                };
                if pred(&error) {
                    return error;
                }
            }
        }
        panic!("fleet stopped");
    })
    .await
    .expect("the state says why within the patience bound")
}

#[tokio::test]
async fn a_silent_apiserver_turns_unreachable_within_the_deadline() {
    let server = Hostile::start(Behaviour::Silent);
    let dir = tempfile::tempdir().expect("tempdir");
    let (_handle, mut events) = fleet_against(server.url(), dir.path(), limits());
    let error = state_error(&mut events, |_| true).await;
    assert!(
        error.contains("LIST: no answer within 1s"),
        "the state says why: {error}"
    );
}

// ---- TLS ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_self_signed_catalyst_api_is_a_tls_error_naming_the_source() {
    let server = Hostile::self_signed_tls(Behaviour::Silent);
    let client = CatalystClient::with_limits(server.url(), limits()).expect("client");
    let err = list_error(&client, "the certificate is refused").await;
    let text = err.to_string();
    assert!(
        text.contains("TLS handshake failed") && text.contains(server.url()),
        "{text}"
    );
    assert!(text.contains("certificate"), "says what was wrong: {text}");
    assert_eq!(server.requests(), 0, "no request went over the bad channel");
}

#[tokio::test]
async fn a_catalyst_api_closing_mid_handshake_is_a_tls_error_naming_the_source() {
    let server = Hostile::closes_mid_handshake();
    let client = CatalystClient::with_limits(server.url(), limits()).expect("client");
    let err = list_error(&client, "no handshake").await;
    let text = err.to_string();
    assert!(
        text.contains("TLS handshake failed") && text.contains(server.url()),
        "{text}"
    );
}

#[tokio::test]
async fn fleet_join_against_a_self_signed_api_names_tls_and_adds_nothing() {
    let home = tempfile::tempdir().expect("tempdir");
    let server = Hostile::self_signed_tls(Behaviour::Silent);
    let (out, fleet) = fleet_join(home.path(), server.url()).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("TLS handshake failed") && stderr.contains(server.url()),
        "{stderr}"
    );
    assert!(!fleet.exists(), "nothing written");
}

#[tokio::test]
async fn a_tls_failing_apiserver_is_unreachable_with_a_tls_reason() {
    for (server, what) in [
        (Hostile::self_signed_tls(Behaviour::Silent), "self-signed"),
        (Hostile::closes_mid_handshake(), "closes mid-handshake"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_handle, mut events) = fleet_against(server.url(), dir.path(), limits());
        let error = state_error(&mut events, |_| true).await;
        assert!(error.contains("TLS handshake failed"), "{what}: {error}");
    }
}

// ---- 500/503 flapping ---------------------------------------------------------------------

#[tokio::test]
async fn a_flapping_apiserver_shows_its_status_and_is_retried_with_backoff() {
    let server = Hostile::start(Behaviour::Flapping);
    let dir = tempfile::tempdir().expect("tempdir");
    let (_handle, mut events) = fleet_against(server.url(), dir.path(), limits());
    let first = state_error(&mut events, |e| e.contains("500") || e.contains("503")).await;
    assert!(
        first.contains("InternalError") || first.contains("ServiceUnavailable"),
        "the state names the answer: {first}"
    );
    // Over a window, the server sees a handful of requests per watched kind — the loops back off
    // (0.25 s doubling to 5 s) instead of retrying in a tight loop, which would be thousands.
    let before = server.requests();
    let window = Duration::from_secs(4);
    tokio::time::sleep(window).await;
    let during = server.requests() - before;
    let kinds = sovtui::provision::fleet::objects::FluxKind::ALL.len();
    assert!(
        during <= kinds * 8,
        "{during} requests in {window:?} from {kinds} loops: not backing off"
    );
}

#[tokio::test]
async fn a_flapping_catalyst_api_is_reported_per_attempt_and_given_up_on() {
    let server = Hostile::start(Behaviour::Flapping);
    let client = CatalystClient::with_limits(server.url(), limits()).expect("client");
    let max_failures = 4;
    let (result, reasons) = follow_until_given_up(&client, max_failures).await;
    assert!(result.is_err(), "gives up after max_failures");
    assert!(
        reasons.iter().any(|r| r.contains("HTTP 500"))
            && reasons.iter().any(|r| r.contains("HTTP 503")),
        "each attempt says what came back: {reasons:?}"
    );
    assert!(
        server.requests() <= max_failures as usize + 1,
        "one request per attempt, {} in all",
        server.requests()
    );
}

// ---- Kubernetes body caps -----------------------------------------------------------------

#[tokio::test]
async fn a_1gb_list_body_is_refused_at_the_body_cap_naming_the_cluster() {
    let server = Hostile::start(Behaviour::HugeBody { len: 1 << 30 });
    let dir = tempfile::tempdir().expect("tempdir");
    let (_handle, mut events) = fleet_against(server.url(), dir.path(), limits());
    let error = state_error(&mut events, |_| true).await;
    assert!(
        error.contains("the apiserver of silent.fleet.test")
            && error.contains("larger than 64 MiB")
            && error.contains("SOVTUI_MAX_BODY"),
        "{error}"
    );
}

#[tokio::test]
async fn an_endless_list_body_and_an_endless_watch_line_are_refused_at_the_cap() {
    let small = Limits {
        max_body: 1 << 20,
        ..limits()
    };
    let server = Hostile::start(Behaviour::EndlessKube { list_ok: false });
    let dir = tempfile::tempdir().expect("tempdir");
    let (_handle, mut events) = fleet_against(server.url(), dir.path(), small.clone());
    let error = state_error(&mut events, |_| true).await;
    assert!(
        error.contains("an answer is larger than 1 MiB") && error.contains("silent.fleet.test"),
        "{error}"
    );

    let server = Hostile::start(Behaviour::EndlessKube { list_ok: true });
    let dir = tempfile::tempdir().expect("tempdir");
    let (_handle, mut events) = fleet_against(server.url(), dir.path(), small);
    let error = state_error(&mut events, |e| e.contains("watch event")).await;
    assert!(
        error.contains("a watch event is larger than 1 MiB") && error.contains("silent.fleet.test"),
        "{error}"
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
