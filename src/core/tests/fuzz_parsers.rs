//! Property tests ("fuzz targets") of the library's parsers of outside input: the SSE reader,
//! catalyst-api's JSON answers, Flux status decoding, the fleet file and the troubleshooting tree
//! file. Each takes arbitrary bytes and structure-aware mutations of valid inputs; none may panic,
//! file errors name file:line, and valid inputs still parse (and round-trip where they can).
//! Bounded and seeded in CI; `SOVTUI_FUZZ_SECS=600` makes each a long run (docs/RELIABILITY.md).

#[path = "../../../tests/support/fuzz.rs"]
mod fuzz;

use std::path::Path;

use fuzz::{edit, hostile_value, mutate, text_input};
use proptest::prelude::*;
use serde_json::{Value, json};
use sovtui_core::config::fleet_file;
use sovtui_core::provision::catalyst::fold::DeploymentFold;
use sovtui_core::provision::catalyst::model::{
    ComponentsState, CreateResponse, DeploymentState, Event, EventsResponse, RetryResponse,
    SubdomainVerdict,
};
use sovtui_core::provision::catalyst::sse::{SseFrame, SseParser, StreamItem, decode};
use sovtui_core::provision::fleet::objects::{FluxKind, FluxObject, Reduced, reduce};
use sovtui_core::provision::flux::ComponentState;
use sovtui_core::provision::troubleshoot::tree;

// ---------------------------------------------------------------- SSE reader

/// A well-formed frame: optional event name, data lines without line breaks.
fn frame() -> impl Strategy<Value = SseFrame> {
    (
        prop::option::of(prop_oneof![
            Just("done".to_string()),
            Just("message".to_string()),
            "[a-z]{1,8}"
        ]),
        prop::collection::vec("[^\r\n]{0,40}", 1..4),
    )
        .prop_map(|(event, lines)| SseFrame {
            event,
            data: lines.join("\n"),
        })
}

fn encode(f: &SseFrame, crlf: bool, comment: bool) -> Vec<u8> {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut out = String::new();
    if comment {
        out.push_str(": heartbeat");
        out.push_str(nl);
    }
    if let Some(e) = &f.event {
        out.push_str(&format!("event: {e}{nl}"));
    }
    for l in f.data.split('\n') {
        out.push_str(&format!("data: {l}{nl}"));
    }
    out.push_str(nl);
    out.into_bytes()
}

fn feed_chunked(p: &mut SseParser, bytes: &[u8], cuts: &[usize]) -> Vec<SseFrame> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut frames = Vec::new();
    let mut at = 0;
    for c in points.into_iter().chain([bytes.len()]) {
        frames.extend(p.feed(&bytes[at..c]));
        at = c;
    }
    frames
}

#[derive(Debug, Clone)]
enum SseInput {
    /// Arbitrary bytes cut into arbitrary chunks.
    Bytes(Vec<u8>, Vec<usize>),
    /// Valid frames, encoded, then mutated byte-wise, cut into chunks.
    Frames(Vec<SseFrame>, bool, bool, Vec<(usize, u8)>, Vec<usize>),
    /// One endless line or endless data lines with no blank line, against a small cap.
    Endless(usize, bool, usize),
}

fn sse_input() -> impl Strategy<Value = SseInput> {
    prop_oneof![
        1 => (
            prop::collection::vec(
                prop_oneof![any::<u8>(), Just(b'\n'), Just(b'\r'), Just(b':')],
                0..2048
            ),
            prop::collection::vec(any::<usize>(), 0..8)
        )
            .prop_map(|(b, c)| SseInput::Bytes(b, c)),
        3 => (
            prop::collection::vec(frame(), 0..6),
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
            prop::collection::vec(any::<usize>(), 0..8)
        )
            .prop_map(|(f, crlf, comment, flips, cuts)| SseInput::Frames(f, crlf, comment, flips, cuts)),
        1 => (1usize..4096, any::<bool>(), 1usize..64).prop_map(|(n, lines, cap)| SseInput::Endless(n, lines, cap)),
    ]
}

#[test]
fn fuzz_sse_reader() {
    fuzz::run("sse", 0x55e0_0001, 600, sse_input(), |input| {
        match input {
            SseInput::Bytes(bytes, cuts) => {
                let mut whole = SseParser::with_max_event(1 << 20);
                let at_once = whole.feed(&bytes);
                let mut p = SseParser::with_max_event(1 << 20);
                let chunked = feed_chunked(&mut p, &bytes, &cuts);
                // How the bytes arrive never changes what is read.
                prop_assert_eq!(&at_once, &chunked);
                prop_assert_eq!(whole.malformed_lines, p.malformed_lines);
                for f in &chunked {
                    let _ = decode(f);
                }
            }
            SseInput::Frames(frames, crlf, comment, flips, cuts) => {
                let mut bytes: Vec<u8> = frames
                    .iter()
                    .flat_map(|f| encode(f, crlf, comment))
                    .collect();
                let clean = flips.is_empty();
                for (at, b) in flips {
                    if !bytes.is_empty() {
                        let n = bytes.len();
                        bytes[at % n] = b;
                    }
                }
                let mut p = SseParser::new();
                let got = feed_chunked(&mut p, &bytes, &cuts);
                if clean {
                    // Valid frames round-trip exactly, however they are chunked.
                    prop_assert_eq!(&got, &frames);
                    prop_assert!(!p.has_partial_frame());
                    prop_assert_eq!(p.malformed_lines, 0);
                }
                for f in &got {
                    match decode(f) {
                        StreamItem::Malformed { detail } => prop_assert!(!detail.is_empty()),
                        StreamItem::Event(_) | StreamItem::Done(_) => {}
                    }
                }
            }
            SseInput::Endless(n, lines, cap) => {
                let mut p = SseParser::with_max_event(cap);
                let chunk: Vec<u8> = if lines {
                    b"data: x\n".repeat(n)
                } else {
                    vec![b'x'; n]
                };
                let got = p.feed(&chunk);
                prop_assert!(got.is_empty());
                // Past the cap the parser stops and says so; below it, it holds the event.
                let held = if lines { n * b"data: x".len() } else { n };
                prop_assert_eq!(p.overflowed(), held > cap, "held {} cap {}", held, cap);
                if p.overflowed() {
                    let after = p.feed(b"\n\ndata: {}\n\n");
                    prop_assert!(after.is_empty());
                }
            }
        }
        Ok(())
    });
}

// ---------------------------------------------------------------- catalyst JSON

fn valid_state() -> Value {
    json!({
        "id": "d-1", "status": "ready", "startedAt": "2026-12-06T10:00:00Z",
        "finishedAt": "2026-12-06T10:30:00Z", "sovereignFQDN": "omantel.omani.works",
        "region": "fsn1", "numEvents": 42, "error": "tofu apply failed",
        "result": {"sovereignFQDN": "omantel.omani.works", "controlPlaneIP": "10.0.0.2",
                   "loadBalancerIP": "1.2.3.4", "consoleURL": "https://console.omantel.omani.works",
                   "gitopsRepoURL": "https://git", "kubeconfigPath": "/var/k",
                   "componentStates": {"cilium": "installed", "flux": "failed"},
                   "phase1FinishedAt": "2026-12-06T10:31:00Z", "phase1Outcome": "ready"},
        "componentStates": {"cilium": "installed"},
        "phase1FinishedAt": "2026-12-06T10:31:00Z",
        "lastWipeReport": {"servers": 3}
    })
}

fn valid_event() -> Value {
    json!({"time": "2026-12-06T10:00:01Z", "phase": "component", "level": "info",
           "message": "cilium installed", "component": "cilium", "state": "installed"})
}

fn catalyst_seeds() -> Vec<String> {
    [
        valid_state(),
        valid_event(),
        json!({"time": "t", "phase": "tofu-apply", "level": "error", "message": "Error: boom"}),
        json!({"state": valid_state(), "events": [valid_event(), valid_event()], "done": true}),
        json!({"watching": true, "components": [{"appId": "cilium", "status": "installed",
              "helmReleaseName": "bp-cilium", "namespace": "flux-system",
              "lastTransitionAt": "t", "message": "", "dependsOn": ["a"]}]}),
        json!({"id": "d", "status": "pending", "streamURL": "/api/v1/deployments/d/logs"}),
        json!({"id": "d", "status": "running", "phase": "phase0", "streamURL": "/x", "message": "m", "runbook": "r"}),
        json!({"available": false, "reason": "exists", "detail": "taken", "fqdn": "a.b.c"}),
    ]
    .iter()
    .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
    .collect()
}

/// Every decoder the client applies to a catalyst-api body, plus what the library then does with
/// the result (fold it, ask whether it is final).
fn decode_all(text: &str) -> Result<(), TestCaseError> {
    if let Ok(st) = serde_json::from_str::<DeploymentState>(text) {
        let _ = (
            st.is_terminal(),
            st.component_states(),
            st.needs_refresh_watch(),
        );
        let mut fold = DeploymentFold::new("d");
        fold.set_state(st);
        let _ = (
            fold.phase0_failure(),
            fold.phase0_timeline(),
            fold.component_counts(),
        );
    }
    if let Ok(ev) = serde_json::from_str::<Event>(text) {
        let _ = (ev.is_component_transition(), ev.is_watch_diagnostic());
        let mut fold = DeploymentFold::new("d");
        prop_assert!(fold.apply(ev.clone()));
        // A reconnect replays the buffer: the event seen before is a duplicate, a second
        // identical one after it is news.
        fold.begin_replay();
        prop_assert!(!fold.apply(ev.clone()), "a replayed event is a duplicate");
        prop_assert!(fold.apply(ev));
        let _ = (fold.phase0_failure(), fold.phase0_timeline());
    }
    if let Ok(r) = serde_json::from_str::<EventsResponse>(text) {
        let mut fold = DeploymentFold::new("d");
        fold.begin_replay();
        for ev in r.events {
            fold.apply(ev);
        }
        fold.set_state(r.state);
        let _ = (
            fold.is_terminal(),
            fold.phase0_failure(),
            fold.needs_refresh_watch(),
        );
    }
    if let Ok(c) = serde_json::from_str::<ComponentsState>(text) {
        let mut fold = DeploymentFold::new("d");
        fold.set_components(&c);
        let _ = fold.component_counts();
    }
    let _ = serde_json::from_str::<CreateResponse>(text);
    let _ = serde_json::from_str::<RetryResponse>(text);
    let _ = serde_json::from_str::<SubdomainVerdict>(text);
    // The same text as a stream frame, named and unnamed.
    for event in [None, Some("done".to_string())] {
        let item = decode(&SseFrame {
            event,
            data: text.to_string(),
        });
        if let StreamItem::Malformed { detail } = item {
            prop_assert!(!detail.is_empty());
        }
    }
    Ok(())
}

#[test]
fn fuzz_catalyst_json() {
    // Valid answers decode and round-trip.
    let st: DeploymentState = serde_json::from_value(valid_state()).expect("state");
    let again: DeploymentState =
        serde_json::from_str(&serde_json::to_string(&st).expect("ser")).expect("de");
    assert_eq!(st, again);
    fuzz::run(
        "catalyst-json",
        0xca7a_0002,
        800,
        prop_oneof![
            text_input(catalyst_seeds()),
            // Wrong types and deep nesting in every position of a valid answer.
            (0usize..8, arb_json(), any::<usize>()).prop_map(|(i, v, at)| {
                let mut seed: Value =
                    serde_json::from_str(&catalyst_seeds()[i]).unwrap_or_default();
                replace_somewhere(&mut seed, v, at);
                seed.to_string()
            }),
            (1usize..5000).prop_map(|d| format!("{}{}", "[".repeat(d), "]".repeat(d))),
            (1usize..5000).prop_map(|d| format!("{}1{}", "{\"a\":".repeat(d), "}".repeat(d))),
        ],
        |text| decode_all(&text),
    );
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
        "[\\x00-\\x1f\u{1b}\u{9b}]{0,8}".prop_map(Value::from),
        prop_oneof![
            Just("True"),
            Just("False"),
            Just("Unknown"),
            Just("Ready"),
            Just("Stalled"),
            Just("InstallFailed"),
            Just("RetriesExceeded"),
            Just("Progressing"),
            Just("2026-12-06T10:00:00Z"),
            Just("ready"),
            Just("failed")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_string()),
                    Just("status".to_string()),
                    Just("reason".to_string()),
                    Just("message".to_string()),
                    Just("lastTransitionTime".to_string()),
                    Just("conditions".to_string()),
                    Just("name".to_string()),
                    Just("namespace".to_string()),
                    "[a-zA-Z]{1,10}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replace the `at`-th node (pre-order, modulo the node count) of `v` with `with`.
fn replace_somewhere(v: &mut Value, with: Value, at: usize) {
    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Array(a) => a.iter().map(count).sum(),
            Value::Object(o) => o.values().map(count).sum(),
            _ => 0,
        }
    }
    fn walk(v: &mut Value, with: &mut Option<Value>, k: &mut usize) {
        if *k == 0 {
            if let Some(w) = with.take() {
                *v = w;
            }
            return;
        }
        *k -= 1;
        match v {
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, with, k)),
            Value::Object(o) => o.values_mut().for_each(|x| walk(x, with, k)),
            _ => {}
        }
    }
    let mut k = at % count(v);
    walk(v, &mut Some(with), &mut k);
}

// ---------------------------------------------------------------- Flux status

fn flux_object(kind: FluxKind) -> Value {
    let (g, v, k, _) = kind.gvk_plural();
    json!({
        "apiVersion": format!("{g}/{v}"), "kind": k,
        "metadata": {"name": "bp-cilium", "namespace": "flux-system"},
        "spec": {"suspend": false, "dependsOn": [{"name": "bp-flux"}, {"name": "x", "namespace": "y"}]},
        "status": {
            "lastAppliedRevision": "main@sha1:abc",
            "artifact": {"revision": "main@sha1:abc"},
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "InstallFailed",
                 "message": "chart pull failed", "lastTransitionTime": "2026-12-06T10:00:00Z"},
                {"type": "Stalled", "status": "False", "reason": "", "message": ""}
            ]
        }
    })
}

#[test]
fn fuzz_flux_status() {
    let kinds = prop_oneof![
        Just(FluxKind::HelmRelease),
        Just(FluxKind::Kustomization),
        Just(FluxKind::GitRepository)
    ];
    fuzz::run(
        "flux-status",
        0xf1c5_0003,
        800,
        (
            kinds,
            arb_json(),
            any::<usize>(),
            any::<bool>(),
            any::<bool>(),
        ),
        |(kind, v, at, whole, suspend)| {
            let mut obj = flux_object(kind);
            if whole {
                // An arbitrary status (and spec) where Flux's would be.
                obj["status"] = v;
            } else {
                replace_somewhere(&mut obj, v, at);
            }
            if suspend && let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("suspend".into(), Value::Bool(true));
            }
            let Ok(o) = serde_json::from_str::<FluxObject>(&obj.to_string()) else {
                // Only metadata is read strictly (as kube reads it); nothing below spec or
                // status may fail the object.
                let meta = &obj["metadata"];
                let bad = |f: &str| meta.get(f).is_some_and(|v| !v.is_string() && !v.is_null());
                prop_assert!(
                    !meta.is_object() || bad("name") || bad("namespace") || bad("resourceVersion"),
                    "refused: {obj}"
                );
                return Ok(());
            };
            match reduce(kind, o) {
                Reduced::Component(c) => {
                    prop_assert_eq!(kind, FluxKind::HelmRelease);
                    prop_assert!(!c.message.is_empty(), "a component always says something");
                    let suspended = obj.pointer("/spec/suspend") == Some(&Value::Bool(true));
                    if suspended {
                        prop_assert_eq!(c.state, ComponentState::Suspended);
                    }
                    let ready_true = c
                        .conditions
                        .iter()
                        .find(|x| x.type_ == "Ready")
                        .is_some_and(|x| x.status == "True");
                    let stalled = c
                        .conditions
                        .iter()
                        .any(|x| x.type_ == "Stalled" && x.status == "True");
                    if ready_true && !suspended && !stalled {
                        prop_assert_eq!(c.state, ComponentState::Installed);
                    }
                    if c.conditions.iter().all(|x| x.type_ != "Ready") && !suspended && !stalled {
                        prop_assert_eq!(c.state, ComponentState::Pending);
                    }
                }
                Reduced::Object(f) => {
                    prop_assert!(kind != FluxKind::HelmRelease);
                    let _ = f.ready;
                }
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- fleet file

const FLEET_SEEDS: &[&str] = &[
    r#"adopt_kubeconfig = true

[limits]
connect = "5s"
request = "30s"
sse_idle = "2m"
watch_idle = "90s"
max_event = "1MiB"
max_body = 67108864
insecure_http = false

[[sovereign]]
fqdn = "omantel.omani.works"
kubeconfig = "~/.kube/omantel"
context = "omantel"
namespace = "catalyst"
tags = ["prod", "gulf"]
catalyst_api = "https://console.openova.io/api"
deployment_id = "d-1"
hetzner = { token_env = "HCLOUD_TOKEN" }
probe = { resolve = "127.0.0.1:8443", scheme = "https" }

[[sovereign]]
fqdn = "acme.omani.works"
catalyst_api = "http://127.0.0.1:8080"
deployment_id = "d-2"
kubeconfig_from = "catalyst"
[sovereign.hetzner]
hcloud_context = "acme"
"#,
    r#"[[sovereign]]
fqdn = "a.b.c"
"#,
];

#[test]
fn fuzz_fleet_file() {
    let path = Path::new("/etc/sovtui/fleet.toml");
    for seed in FLEET_SEEDS {
        let parsed = fleet_file::parse(path, seed).unwrap_or_else(|e| panic!("seed: {e}"));
        // Round trip: what we write reads back the same.
        let again = fleet_file::parse(path, &parsed.to_toml())
            .unwrap_or_else(|e| panic!("round trip: {e}\n{}", parsed.to_toml()));
        assert_eq!(parsed.sovereigns, again.sovereigns);
    }
    let seeds: Vec<String> = FLEET_SEEDS.iter().map(|s| s.to_string()).collect();
    fuzz::run("fleet-file", 0xf1ee_0004, 800, text_input(seeds), |text| {
        match fleet_file::parse(path, &text) {
            Ok(f) => {
                // Whatever parses, round-trips.
                let again = fleet_file::parse(path, &f.to_toml());
                prop_assert!(again.is_ok(), "{:?}\n{}", again, f.to_toml());
                prop_assert_eq!(again.ok().map(|a| a.sovereigns), Some(f.sovereigns));
            }
            Err(e) => {
                let shown = e.to_string();
                prop_assert!(shown.starts_with("/etc/sovtui/fleet.toml:"), "{}", shown);
                // Every problem in a file's text has a line (only unreadable files have none).
                prop_assert!(e.line.is_some(), "no line: {}\n---\n{}", shown, text);
                let lines = text.split('\n').count().max(1);
                prop_assert!(
                    e.line.is_some_and(|l| l >= 1 && l <= lines),
                    "line out of range: {} ({} lines)",
                    shown,
                    lines
                );
            }
        }
        Ok(())
    });
}

// ---------------------------------------------------------------- troubleshooting tree file

fn tree_seeds() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/troubleshoot/broken");
    let mut seeds = vec![tree::BUILTIN_TREE.to_string()];
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            if let Ok(t) = std::fs::read_to_string(f) {
                seeds.push(t);
            }
        }
    }
    // A small valid extension of the shipped tree.
    seeds.push("[[leaf]]\nid = \"X1\"\ntitle = \"x\"\nremedy = \"y\"\n".to_string());
    seeds
}

#[test]
fn fuzz_tree_file() {
    assert!(tree::lint_text("tree.toml", tree::BUILTIN_TREE).is_empty());
    let seeds = tree_seeds();
    fuzz::run(
        "tree-file",
        0x7ee0_0005,
        150,
        prop_oneof![
            1 => text_input(seeds.clone()),
            // The shipped tree with a few edits is the most interesting input.
            3 => prop::collection::vec(edit(), 1..4)
                .prop_map(|e| mutate(tree::BUILTIN_TREE, &e)),
            1 => hostile_value(),
        ],
        |text| {
            let lines = text.split('\n').count().max(1);
            for p in tree::lint_text("ext.toml", &text) {
                prop_assert!(
                    p.file == "ext.toml" || p.file == tree::BUILTIN_NAME,
                    "{}",
                    p
                );
                if p.file == "ext.toml" {
                    prop_assert!(
                        p.line >= 1 && p.line <= lines,
                        "no line: {}\n---\n{}",
                        p,
                        text
                    );
                }
            }
            Ok(())
        },
    );
}
