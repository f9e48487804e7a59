//! Troubleshooting walks: the shipped tree, its validation, every leaf reached from its evidence
//! set, the walk engine, the gatherers over loopback HTTP, and the `diagnose` / `lint` commands.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::{Value, json};
use sovtui::provision::troubleshoot::evidence::Evidence;
use sovtui::provision::troubleshoot::fixture::EvidenceFixture;
use sovtui::provision::troubleshoot::gather::{catalyst, kube as kube_gather};
use sovtui::provision::troubleshoot::tree::{Tree, lint_file};
use sovtui::provision::troubleshoot::walk::{
    AnsweredBy, Outcome, Placeholders, Position, Walk, diagnose,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn builtin() -> Arc<Tree> {
    Arc::new(Tree::builtin().unwrap_or_else(|e| panic!("shipped tree: {e}")))
}

fn evidence_fixtures() -> Vec<(String, EvidenceFixture)> {
    let dir = root().join("fixtures/troubleshoot/evidence");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("evidence fixtures dir") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|x| x == "json") {
            let text = std::fs::read_to_string(&path).expect("read fixture");
            let fx: EvidenceFixture =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((path.file_name().unwrap().to_string_lossy().into_owned(), fx));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

// ───────────────────────────── the tree ─────────────────────────────

#[test]
fn shipped_tree_has_every_flowchart_edge_verbatim() {
    let t = builtin();
    let edges = [
        ("Start", "(always)", "Q1"),
        ("Q1", "No", "Q2"),
        ("Q1", "Yes", "Q3"),
        ("Q2", "PDM 409", "C18"),
        ("Q2", "Other", "HC"),
        ("Q3", "Yes", "Q4"),
        ("Q3", "Validation", "Q5"),
        ("Q3", "Runtime", "Q6"),
        ("Q5", "cpx*", "C1"),
        ("Q5", "ssh key", "C2"),
        ("Q6", "uniqueness", "C3"),
        ("Q6", "Dynadot", "C4"),
        ("Q4", "Flux Pending forever", "C5"),
        ("Q4", "cilium-operator Pending", "C6"),
        ("Q4", "Yes", "Q7"),
        ("Q7", "kube-system conflict", "C7"),
        ("Q7", "ProviderConfig CRD missing", "C8"),
        ("Q7", "Yes", "Q8"),
        ("Q8", "ghcr-pull missing", "C9"),
        ("Q8", "401 from GHCR", "C10"),
        ("Q8", "ServiceMonitor kind", "C11"),
        ("Q8", "Hollow chart", "C12"),
        ("Q8", "Yes", "Q9"),
        ("Q9", "Deployment not found", "C13"),
        ("Q9", "SSE terminates 0 comp", "C14"),
        ("Q9", "kubeconfig refused", "C15"),
        ("Q9", "All INSTALLED falsely", "C16"),
        ("Q9", "ACME rate limit", "C17"),
        ("Q9", "Yes", "DONE"),
    ];
    assert_eq!(edges.len(), 29);
    assert_eq!(
        t.flowchart_edges(),
        29,
        "non-extra answers must be exactly the flowchart's"
    );
    for (node, label, next) in edges {
        let n = t.node(node).unwrap_or_else(|| panic!("node {node}"));
        let a = n
            .answers
            .iter()
            .find(|a| a.label == label && !a.extra)
            .unwrap_or_else(|| panic!("edge {node} —{label}→"));
        assert_eq!(a.next, next, "{node} —{label}→");
    }
    let questions = [
        ("Q1", "Did wizard reach tofu-plan?"),
        ("Q2", "Step 6 Domain failed?"),
        ("Q3", "tofu-apply succeed?"),
        ("Q4", "cloud-init finish 5min?"),
        ("Q7", "bootstrap-kit Ready?"),
        ("Q8", "bp-* HelmReleases Ready?"),
        ("Q9", "Admin UI renders?"),
    ];
    for (id, q) in questions {
        assert_eq!(t.node(id).unwrap().question, q);
    }
    let mut leaves: Vec<String> = (1..=18).map(|i| format!("C{i}")).collect();
    leaves.extend(
        [
            "HC", "DONE", "M1", "M2", "M3", "M4", "D2.6", "D2.7", "D2.9", "D2.10",
        ]
        .map(String::from),
    );
    for l in &leaves {
        let leaf = t.leaf(l).unwrap_or_else(|| panic!("leaf {l}"));
        assert!(!leaf.symptom.is_empty() && !leaf.cause.is_empty() && !leaf.runbook.is_empty());
        if l != "DONE" {
            assert!(!leaf.recovery.is_empty(), "{l} has recovery steps");
        }
    }
    // The matrix rows and day-2 notes hang off the nodes contract §9.3 suggests.
    let extra_at = |node: &str, next: &str| {
        t.node(node)
            .unwrap()
            .answers
            .iter()
            .any(|a| a.extra && a.next == next)
    };
    assert!(extra_at("Q5", "M1") && extra_at("Q6", "M1"));
    assert!(extra_at("Q5", "M2") && extra_at("Q6", "M2"));
    assert!(extra_at("Q6", "M3"));
    assert!(extra_at("Q7", "M4"));
    assert!(extra_at("Q7", "D2.6") && extra_at("Q8", "D2.7"));
    assert!(extra_at("Q9", "D2.9") && extra_at("Q9", "D2.10"));
}

#[test]
fn shipped_tree_lints_clean() {
    let problems = lint_file(&root().join("src/core/provision/troubleshoot/tree.toml"));
    assert!(problems.is_empty(), "{problems:?}");
}

fn lint_broken(name: &str) -> Vec<String> {
    let path = root().join("fixtures/troubleshoot/broken").join(name);
    lint_file(&path)
        .into_iter()
        .map(|p| {
            let file = Path::new(&p.file)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{file}:{}: {}", p.line, p.message)
        })
        .collect()
}

fn assert_has(problems: &[String], expected: &str) {
    assert!(
        problems.iter().any(|p| p.contains(expected)),
        "expected a problem containing {expected:?}, got {problems:#?}"
    );
}

#[test]
fn broken_trees_report_file_and_line() {
    let p = lint_broken("dangling-edge.toml");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_has(&p, "dangling-edge.toml:21: dangling edge `Q1` —No→ `Q2`");

    let p = lint_broken("unreachable-leaf.toml");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_has(
        &p,
        "unreachable-leaf.toml:22: leaf `C99` is not reachable from `Start`",
    );

    let p = lint_broken("cycle.toml");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_has(&p, "cycle.toml:32: cycle: Q1 → Q2 → Q1");

    let p = lint_broken("bad-rules.toml");
    assert_eq!(p.len(), 5, "{p:?}");
    assert_has(&p, "bad-rules.toml:10: invalid pattern `unclosed (group`");
    assert_has(
        &p,
        "bad-rules.toml:15: unknown evidence source `flux.helmreleases`",
    );
    assert_has(&p, "bad-rules.toml:18: `extend` names unknown node `Q42`");
    assert_has(&p, "bad-rules.toml:26: unknown placeholder `{fqdm}`");
    assert_has(
        &p,
        "bad-rules.toml:29: duplicate id `C3` (first defined at src/core/provision/troubleshoot/tree.toml:",
    );

    let p = lint_broken("syntax-error.toml");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_has(&p, "syntax-error.toml:3:");

    let p = lint_broken("unknown-field.toml");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_has(&p, "unknown-field.toml:7: unknown field `recovry`");
}

#[test]
fn extension_files_add_answers_and_leaves() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("10-local.toml"),
        r#"
sources = ["probe.dns"]

[[extend]]
node = "Q9"
before = "Yes"

[[extend.answer]]
label = "console does not resolve"
next = "X-DNS"
extra = true
when = [ { source = "probe.dns", match = "NXDOMAIN" } ]

[[leaf]]
id = "X-DNS"
title = "console.{fqdn} does not resolve"
kind = "local"
symptom = "dig console.{fqdn} answers NXDOMAIN"
cause = "parent-zone NS delegation not in place yet"
runbook = "local"
recovery = [ { text = "Check the delegation.", cmd = "dig +trace console.{fqdn}" } ]
"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a tree file").unwrap();
    let tree = Arc::new(Tree::load_with_extensions(dir.path()).unwrap_or_else(|e| panic!("{e}")));
    let q9 = tree.node("Q9").unwrap();
    let labels: Vec<&str> = q9.answers.iter().map(|a| a.label.as_str()).collect();
    assert_eq!(labels.last(), Some(&"Yes"));
    assert_eq!(labels[labels.len() - 2], "console does not resolve");

    let (_, fx) = evidence_fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("DONE"))
        .unwrap();
    let mut ev = fx.evidence();
    ev.push("probe.dns", "console.omantel.omani.works NXDOMAIN", None);
    let d = diagnose(tree, ev, &Placeholders::for_fqdn("omantel.omani.works"));
    let Outcome::Leaf { leaf } = &d.outcome else {
        panic!("{d:?}")
    };
    assert_eq!(leaf.id, "X-DNS");
    assert_eq!(
        leaf.recovery[0].cmd.as_deref(),
        Some("dig +trace console.omantel.omani.works")
    );
}

// ───────────────────────────── every leaf from its evidence ─────────────────────────────

#[test]
fn every_leaf_is_reached_from_its_evidence_set_citing_it() {
    let tree = builtin();
    let fixtures = evidence_fixtures();
    let mut covered = BTreeSet::new();
    for (name, fx) in &fixtures {
        let d = diagnose(
            tree.clone(),
            fx.evidence(),
            &Placeholders::for_fqdn(&fx.fqdn),
        );
        match (&fx.leaf, &d.outcome) {
            (Some(want), Outcome::Leaf { leaf }) => {
                assert_eq!(&leaf.id, want, "{name}: path {:#?}", d.path);
                covered.insert(want.clone());
                // Every question on the way was decided by evidence, none guessed.
                for c in &d.path {
                    assert!(
                        matches!(c.by, AnsweredBy::Evidence { .. } | AnsweredBy::Always),
                        "{name}: {c:?}"
                    );
                }
                let last = d.path.last().expect("a path");
                let AnsweredBy::Evidence { evidence } = &last.by else {
                    panic!("{name}: last step not evidence")
                };
                let cites = fx
                    .cites
                    .as_deref()
                    .expect("fixture names what must be cited");
                assert!(
                    evidence[0].text.contains(cites),
                    "{name}: decided by {:?}, expected it to cite {cites:?}",
                    evidence[0]
                );
            }
            (
                None,
                Outcome::Question {
                    node,
                    missing_sources,
                    ..
                },
            ) => {
                assert_eq!(Some(node), fx.asks.as_ref(), "{name}");
                let _ = missing_sources;
            }
            (want, got) => panic!("{name}: wanted {want:?}, got {got:?} via {:#?}", d.path),
        }
    }
    let all: BTreeSet<String> = tree.leaves.iter().map(|l| l.id.clone()).collect();
    let missing: Vec<_> = all.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "leaves without an evidence set: {missing:?}"
    );
}

#[test]
fn missing_evidence_makes_the_walk_ask() {
    let tree = builtin();
    // Nothing gathered at all: the very first question is asked.
    let d = diagnose(
        tree.clone(),
        Evidence::new(),
        &Placeholders::for_fqdn("a.omani.works"),
    );
    let Outcome::Question {
        node,
        missing_sources,
        ..
    } = &d.outcome
    else {
        panic!("{d:?}")
    };
    assert_eq!(node, "Q1");
    assert!(missing_sources.contains(&"kube.pod".to_string()));
    assert_eq!(
        d.path.len(),
        1,
        "only the unconditional Start edge was taken"
    );

    // The cluster says HelmReleases exist but the Ready one is not gathered: a gathered-but-
    // empty source is evidence, an ungathered one is not.
    let (_, fx) = evidence_fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("ask-Q4"))
        .unwrap();
    let d = diagnose(tree, fx.evidence(), &Placeholders::for_fqdn(&fx.fqdn));
    let Outcome::Question {
        node,
        missing_sources,
        ..
    } = &d.outcome
    else {
        panic!("{d:?}")
    };
    assert_eq!(node, "Q4");
    assert_eq!(
        missing_sources,
        &["flux.gitrepository", "flux.helmrelease", "kube.pod"]
    );
}

// ───────────────────────────── the walk engine ─────────────────────────────

#[test]
fn walk_answers_backs_restarts_jumps_and_records_overrides() {
    let tree = builtin();
    let (_, fx) = evidence_fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("C3-"))
        .unwrap();
    let mut w = Walk::new(tree.clone(), fx.evidence());
    assert_eq!(w.at(), "Start");
    w.accept().unwrap();
    assert_eq!(w.at(), "Q1");
    match w.position() {
        Position::Question {
            node, suggestion, ..
        } => {
            assert_eq!(node.id, "Q1");
            let s = suggestion.expect("evidence decides Q1");
            assert_eq!(s.label, "Yes");
            assert_eq!(s.evidence[0].text, "tofu-plan");
        }
        Position::Leaf(_) => panic!("at a leaf"),
    }
    // The operator overrides the evidence.
    w.answer_label("No").unwrap();
    assert_eq!(w.at(), "Q2");
    let crumb = w.breadcrumbs().last().unwrap().clone();
    assert_eq!(
        crumb.by,
        AnsweredBy::Operator {
            overrode: Some("Yes".into())
        }
    );
    assert!(w.back());
    assert_eq!(w.at(), "Q1");
    assert!(w.advance(), "evidence carries the rest of the way");
    assert_eq!(w.at(), "C3");
    let crumbs: Vec<(&str, &str)> = w
        .breadcrumbs()
        .iter()
        .map(|c| (c.node.as_str(), c.answer.as_str()))
        .collect();
    assert_eq!(
        crumbs,
        [
            ("Start", "(always)"),
            ("Q1", "Yes"),
            ("Q3", "Runtime"),
            ("Q6", "uniqueness")
        ]
    );
    assert!(w.accept().is_err(), "no question at a leaf");
    w.restart();
    assert_eq!(w.at(), "Start");
    assert!(w.breadcrumbs().is_empty());
    w.jump("M4").unwrap();
    assert_eq!(w.at(), "M4");
    assert!(w.jump("C404").is_err());
    assert!(w.back());
    assert_eq!(w.at(), "Start");

    // A pre-set override wins over evidence in `advance`.
    let mut w = Walk::new(tree, fx.evidence());
    w.set_override("Q6", "Dynadot").unwrap();
    assert!(w.advance());
    assert_eq!(w.at(), "C4");
    assert!(w.set_override("Q6", "nope").is_err());
}

#[test]
fn leaf_views_fill_placeholders_and_name_actions() {
    use sovtui::provision::troubleshoot::walk::LeafView;
    let tree = builtin();
    let ph = Placeholders {
        fqdn: "t42.omani.works".into(),
        deployment: Some("0123456789abcdef".into()),
        api: Some("http://127.0.0.1:9/".into()),
        ..Default::default()
    };
    let c3 = LeafView::render(tree.leaf("C3").unwrap(), &ph);
    // A whole recovery: catalyst-api and PDM named, the purge bound to the dry run's plan.
    assert!(c3.commands().contains(
        &"sovtui recover t42.omani.works --api http://127.0.0.1:9 --pdm <pdm-url> --out recover-t42-omani-works.plan.json"
    ));
    assert!(c3.commands().contains(
        &"sovtui recover t42.omani.works --api http://127.0.0.1:9 --pdm <pdm-url> --apply --plan recover-t42-omani-works.plan.json --confirm t42.omani.works"
    ));
    assert!(c3.cause.contains("catalyst-t42-omani-works-*"));
    assert_eq!(c3.actions, ["recover"]);
    let c18 = LeafView::render(tree.leaf("C18").unwrap(), &ph);
    assert!(
        c18.commands()
            .iter()
            .any(|c| c.contains("/api/v1/pool/omani.works/release?sub=t42"))
    );
    let c14 = LeafView::render(tree.leaf("C14").unwrap(), &ph);
    assert!(c14.commands().contains(
        &"curl -s -X POST http://127.0.0.1:9/api/v1/deployments/0123456789abcdef/refresh-watch"
    ));
    let m4 = LeafView::render(tree.leaf("M4").unwrap(), &ph);
    assert_eq!(m4.actions, ["playbook:2.8"]);
    assert!(
        m4.commands()
            .contains(&"flux reconcile kustomization t42.omani.works-bootstrap-kit -n flux-system")
    );
    assert_eq!(
        LeafView::render(tree.leaf("C11").unwrap(), &ph).actions,
        ["reconcile:observability-off"]
    );
    // JSON in commands is not mistaken for placeholders.
    let d26 = LeafView::render(tree.leaf("D2.6").unwrap(), &ph);
    assert!(
        d26.commands()
            .iter()
            .any(|c| c.contains(r#"{"metadata":{"annotations""#))
    );
}

// ───────────────────────────── gatherers over loopback ─────────────────────────────

/// A loopback HTTP server answering the Kubernetes list routes and catalyst-api's `/events`
/// from one evidence set, so the real kube-rs and reqwest clients are exercised.
async fn serve(fx: EvidenceFixture, forbid: &'static [&'static str]) -> String {
    use axum::extract::{Request, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};

    async fn handler(
        State((fx, forbid)): State<(Arc<EvidenceFixture>, &'static [&'static str])>,
        req: Request,
    ) -> Response {
        let path = req.uri().path().to_string();
        let list = |kind: &str, items: &Option<Vec<Value>>| -> Response {
            if forbid.contains(&kind) {
                return (
                    StatusCode::FORBIDDEN,
                    axum::Json(json!({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,"message": format!("{kind} is forbidden")})),
                )
                    .into_response();
            }
            match items {
                Some(items) => axum::Json(json!({"kind": format!("{kind}List"), "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items})).into_response(),
                None => (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"the server could not find the requested resource"})),
                )
                    .into_response(),
            }
        };
        let c = fx.cluster.clone().unwrap_or_default();
        match path.as_str() {
            "/api/v1/pods" => list("Pod", &c.pods),
            "/api/v1/events" => list(
                "Event",
                &c.events
                    .map(|e| e.into_iter().filter(|x| x["type"] == "Warning").collect()),
            ),
            "/apis/helm.toolkit.fluxcd.io/v2/helmreleases" => list("HelmRelease", &c.helmreleases),
            "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations" => {
                list("Kustomization", &c.kustomizations)
            }
            "/apis/source.toolkit.fluxcd.io/v1/gitrepositories" => {
                list("GitRepository", &c.gitrepositories)
            }
            "/apis/cert-manager.io/v1/certificates" => list("Certificate", &c.certificates),
            "/api/v1/subdomains/check" => axum::Json(
                fx.catalyst
                    .as_ref()
                    .and_then(|c| c.subdomain_check.clone())
                    .unwrap_or_else(|| json!({"available": true})),
            )
            .into_response(),
            p if p.starts_with("/api/v1/deployments/") && p.ends_with("/events") => {
                match fx.catalyst.as_ref().and_then(|c| c.events.clone()) {
                    Some(body) => axum::Json(body).into_response(),
                    None => (StatusCode::NOT_FOUND, "deployment not found\n").into_response(),
                }
            }
            _ => (StatusCode::NOT_FOUND, "404 page not found\n").into_response(),
        }
    }
    let app = axum::Router::new()
        .fallback(handler)
        .with_state((Arc::new(fx), forbid));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn fixture(prefix: &str) -> EvidenceFixture {
    evidence_fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with(prefix))
        .map(|(_, f)| f)
        .unwrap_or_else(|| panic!("fixture {prefix}"))
}

async fn gather_live(fx: &EvidenceFixture, url: &str) -> Evidence {
    let mut ev = Evidence::new();
    let cfg = kube::Config::new(url.parse().unwrap());
    let client = kube::Client::try_from(cfg).unwrap();
    let snap = kube_gather::gather(&client, &mut ev).await;
    snap.add_to(&mut ev, &fx.fqdn);
    let http = reqwest::Client::new();
    catalyst::fetch(&http, url, "3f69f0482cd61002", &mut ev).await;
    ev
}

#[tokio::test]
async fn live_gatherers_over_loopback_land_on_the_same_leaves() {
    let tree = builtin();
    for prefix in ["C9-", "C13-", "C12-", "C17-", "DONE-"] {
        let fx = fixture(prefix);
        let url = serve(fx.clone(), &[]).await;
        let ev = gather_live(&fx, &url).await;
        assert!(ev.errors.is_empty(), "{prefix}: {:?}", ev.errors);
        let d = diagnose(tree.clone(), ev, &Placeholders::for_fqdn(&fx.fqdn));
        assert_eq!(d.leaf_id(), fx.leaf.as_deref(), "{prefix}: {:#?}", d.path);
        // Live evidence cites the object it came from.
        let last = d.path.last().unwrap();
        let AnsweredBy::Evidence { evidence } = &last.by else {
            panic!()
        };
        assert!(evidence[0].origin.is_some(), "{prefix}: {:?}", evidence[0]);
    }
}

#[tokio::test]
async fn a_forbidden_kind_is_not_evidence_and_the_walk_asks() {
    let fx = fixture("C9-");
    let url = serve(fx.clone(), &["HelmRelease"]).await;
    let ev = gather_live(&fx, &url).await;
    assert!(
        ev.errors.iter().any(|e| e.contains("helmreleases")),
        "{:?}",
        ev.errors
    );
    assert!(!ev.has("flux.helmrelease"));
    let d = diagnose(builtin(), ev, &Placeholders::for_fqdn(&fx.fqdn));
    let Outcome::Question {
        node,
        missing_sources,
        ..
    } = &d.outcome
    else {
        panic!("{:?}", d.outcome)
    };
    assert_eq!(node, "Q8");
    assert!(missing_sources.contains(&"flux.helmrelease".to_string()));
}

#[tokio::test]
async fn an_uninstalled_kind_counts_as_none() {
    let mut fx = fixture("C5-");
    fx.cluster.as_mut().unwrap().certificates = None; // the server answers 404 for the kind
    let url = serve(fx.clone(), &[]).await;
    let ev = gather_live(&fx, &url).await;
    assert!(ev.has("cert.certificate"));
    assert_eq!(ev.lines_of("cert.certificate").count(), 0);
    let d = diagnose(builtin(), ev, &Placeholders::for_fqdn(&fx.fqdn));
    assert_eq!(d.leaf_id(), Some("C5"));
}

// ───────────────────────────── the commands ─────────────────────────────

fn sovtui(args: &[&str], config_home: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sovtui"))
        .args(args)
        .env("XDG_CONFIG_HOME", config_home)
        .env_remove("KUBECONFIG")
        .output()
        .expect("run sovtui")
}

#[test]
fn lint_command_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    let ok = sovtui(
        &[
            "troubleshoot",
            "lint",
            root()
                .join("src/core/provision/troubleshoot/tree.toml")
                .to_str()
                .unwrap(),
        ],
        home.path(),
    );
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad_path = root().join("fixtures/troubleshoot/broken/dangling-edge.toml");
    let bad = sovtui(
        &["troubleshoot", "lint", bad_path.to_str().unwrap()],
        home.path(),
    );
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("dangling-edge.toml:21:8: dangling edge"),
        "{stderr}"
    );
}

#[test]
fn a_broken_extension_file_stops_diagnose_with_file_and_line() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("sovtui/troubleshoot");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mine.toml"), "[[extend]]\nnode = \"Q99\"\n").unwrap();
    let out = sovtui(&["diagnose", "omantel.omani.works"], home.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("mine.toml:2:8: `extend` names unknown node `Q99`"),
        "{stderr}"
    );
}

#[test]
fn diagnose_over_kubeconfig_and_catalyst_api_prints_path_leaf_evidence_recovery() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fx = fixture("C11-");
    let url = rt.block_on(serve(fx.clone(), &[]));
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: {url}\ncontexts:\n- name: {fqdn}\n  context:\n    cluster: sim\n    user: nobody\nusers:\n- name: nobody\n  user: {{}}\ncurrent-context: {fqdn}\n",
            fqdn = fx.fqdn
        ),
    )
    .unwrap();
    let out = sovtui(
        &[
            "diagnose",
            &fx.fqdn,
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--deployment",
            "3f69f0482cd61002",
            "--api",
            &url,
            "--json",
        ],
        home.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["outcome"], "leaf");
    assert_eq!(doc["leaf"]["id"], "C11");
    assert_eq!(doc["fqdn"], "omantel.omani.works");
    let path: Vec<&str> = doc["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["node"].as_str().unwrap())
        .collect();
    assert_eq!(path, ["Start", "Q1", "Q3", "Q4", "Q7", "Q8"]);
    let last = doc["path"].as_array().unwrap().last().unwrap();
    assert_eq!(last["by"], "evidence");
    assert!(
        last["evidence"][0]["text"]
            .as_str()
            .unwrap()
            .contains("no matches for kind \"ServiceMonitor\"")
    );
    assert!(doc["leaf"]["recovery"].as_array().unwrap().iter().any(|s| {
        s["cmd"]
            .as_str()
            .is_some_and(|c| c.contains("observability"))
    }));
    // The failing HelmRelease named by the evidence is filled into the recovery commands.
    assert!(
        doc["leaf"]["recovery"].as_array().unwrap().iter().any(|s| {
            s["cmd"].as_str() == Some("flux reconcile helmrelease bp-cert-manager -n flux-system")
        }),
        "{}",
        doc["leaf"]
    );
    assert!(doc["evidence"]["lines"].as_array().unwrap().len() > 10);

    // Human output goes to stderr, with the deciding evidence line.
    let out = sovtui(
        &[
            "diagnose",
            &fx.fqdn,
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(
            "decided by: [flux.helmrelease] flux-system/bp-cert-manager Ready=False InstallFailed"
        ),
        "{text}"
    );
    assert!(text.contains("C11 — 7.3 — observability toggle"), "{text}");

    // Undecided: exit 1, and the question is named.
    let out = sovtui(
        &[
            "diagnose",
            &fx.fqdn,
            "--deployment",
            "3f69f0482cd61002",
            "--api",
            &url,
        ],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("Undecided at Q4"), "{text}");
    drop(rt);
}

#[tokio::test]
async fn an_envoy_403_probe_lands_on_the_gateway_policy_note() {
    use sovtui::provision::troubleshoot::gather::probe;
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::FORBIDDEN,
            [(axum::http::header::SERVER, "envoy")],
            "RBAC: access denied",
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut fx = fixture("DONE-");
    fx.lines.clear();
    let mut ev = fx.evidence();
    let http = probe::client().unwrap();
    probe::probe(&http, &[format!("http://{addr}/")], &mut ev).await;
    let d = diagnose(builtin(), ev, &Placeholders::for_fqdn(&fx.fqdn));
    assert_eq!(d.leaf_id(), Some("D2.9"), "{:#?}", d.path);
    assert_eq!(
        probe::public_urls("t1.omani.works"),
        [
            "https://console.t1.omani.works/",
            "https://api.t1.omani.works/healthz"
        ]
    );
}

// ───────────────────────────── views as data, snapshotted ─────────────────────────────

#[test]
fn diagnosis_text_snapshots() {
    let tree = builtin();
    for prefix in ["C3-", "C17-", "ask-Q4"] {
        let fx = fixture(prefix);
        let ph = Placeholders {
            fqdn: fx.fqdn.clone(),
            deployment: Some("3f69f0482cd61002".into()),
            api: Some("https://console.openova.io/sovereign".into()),
            ..Default::default()
        };
        let d = diagnose(tree.clone(), fx.evidence(), &ph);
        insta::assert_snapshot!(
            format!("diagnosis_{}", prefix.trim_end_matches('-')),
            d.to_text()
        );
    }
}

#[test]
fn answer_verdicts_explain_each_answer() {
    use sovtui::provision::troubleshoot::walk::answer_verdicts;
    let tree = builtin();
    let fx = fixture("C9-");
    let ev = fx.evidence();
    let v = answer_verdicts(tree.node("Q8").unwrap(), &ev);
    let summary: Vec<(&str, &str)> = v
        .iter()
        .map(|a| (a.label.as_str(), a.verdict.as_str()))
        .collect();
    insta::assert_debug_snapshot!("q8_verdicts_c9", summary);
    assert!(v[0].evidence[0].text.contains("ghcr-pull"));

    // Without the cluster, Q4's answers are unknown and name the missing sources.
    let fx = fixture("ask-Q4");
    let v = answer_verdicts(tree.node("Q4").unwrap(), &fx.evidence());
    assert!(v.iter().all(|a| a.verdict == "unknown"), "{v:?}");
    assert_eq!(v[0].missing, ["kube.pod"]);
}

#[test]
fn the_fleet_view_is_evidence_once_the_cluster_was_reached() {
    use sovtui::provision::fleet::model::{
        ComponentStatus, ConnectionState, FluxObjectStatus, SovereignStatus,
    };
    use sovtui::provision::flux::{ComponentState, ConditionView, derive_state};
    use sovtui::provision::troubleshoot::gather::fleet::add_sovereign_status;

    let fx = fixture("C9-");
    let cluster = fx.cluster.clone().unwrap();
    let mut s = SovereignStatus::new(fx.fqdn.clone(), vec![]);
    for hr in cluster.helmreleases.unwrap() {
        let conditions: Vec<ConditionView> =
            serde_json::from_value(hr["status"]["conditions"].clone()).unwrap();
        s.components.push(
            ComponentStatus {
                name: hr["metadata"]["name"].as_str().unwrap().into(),
                namespace: "flux-system".into(),
                state: derive_state(&conditions, false),
                message: String::new(),
                last_transition: None,
                depends_on: vec![],
                conditions,
            }
            .into(),
        );
    }
    assert_eq!(s.components[0].state, ComponentState::Failed);
    s.kustomizations.push(FluxObjectStatus {
        name: format!("{}-bootstrap-kit", fx.fqdn),
        namespace: "flux-system".into(),
        ready: Some(true),
        reason: "ReconciliationSucceeded".into(),
        message: "Applied revision: main@sha1:2022e1af".into(),
        revision: Some("main@sha1:2022e1af".into()),
        suspended: false,
    });

    // Never reached: nothing is evidence, the walk asks at once.
    let mut ev = Evidence::new();
    add_sovereign_status(&mut ev, &s);
    assert!(ev.gathered.is_empty() && !ev.errors.is_empty());
    assert_eq!(
        diagnose(builtin(), ev, &Placeholders::for_fqdn(&fx.fqdn)).leaf_id(),
        None
    );

    s.connection = ConnectionState::Live;
    let mut ev = Evidence::new();
    add_sovereign_status(&mut ev, &s);
    let d = diagnose(builtin(), ev, &Placeholders::for_fqdn(&fx.fqdn));
    assert_eq!(d.leaf_id(), Some("C9"), "{:#?}", d.path);
}

#[tokio::test]
async fn catalyst_api_log_from_the_mothership_decides_c15() {
    // A mothership apiserver with one Running catalyst-api pod and its log.
    let app = axum::Router::new()
        .route(
            "/api/v1/namespaces/catalyst/pods",
            axum::routing::get(|| async {
                axum::Json(json!({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[
                    {"metadata":{"name":"catalyst-api-5c6d7-old","namespace":"catalyst","labels":{"app.kubernetes.io/name":"catalyst-api"}},"status":{"phase":"Failed"}},
                    {"metadata":{"name":"catalyst-api-7d9c8b-xk2lp","namespace":"catalyst","labels":{"app.kubernetes.io/name":"catalyst-api"}},"status":{"phase":"Running"}}
                ]}))
            }),
        )
        .route(
            "/api/v1/namespaces/catalyst/pods/catalyst-api-7d9c8b-xk2lp/log",
            axum::routing::get(|| async {
                "level=info msg=\"GET /healthz\" status=200\nlevel=error msg=\"phase1 watch\" deployment=3f69f0482cd61002 err=\"failed to load Sovereign kubeconfig: connection refused\"\nlevel=info msg=\"GET /api/v1/deployments\"\n"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client =
        kube::Client::try_from(kube::Config::new(format!("http://{addr}").parse().unwrap()))
            .unwrap();

    // The C15 world, but the event stream says nothing about the kubeconfig: only the log does.
    let mut fx = fixture("C15-");
    let cat = fx.catalyst.as_mut().unwrap();
    cat.log = None;
    let events = cat.events.as_mut().unwrap()["events"]
        .as_array_mut()
        .unwrap();
    events.retain(|e| !e["message"].as_str().unwrap().contains("kubeconfig"));
    let mut ev = fx.evidence();
    let without_log = diagnose(builtin(), ev.clone(), &Placeholders::for_fqdn(&fx.fqdn));
    assert_eq!(
        without_log.leaf_id(),
        Some("C14"),
        "without the log it looks like the helmwatch gate"
    );

    catalyst::tail_logs(&client, "catalyst", 500, &mut ev).await;
    assert!(ev.errors.is_empty(), "{:?}", ev.errors);
    assert_eq!(
        ev.lines_of("catalyst.log").count(),
        1,
        "only warnings and errors are kept"
    );
    let d = diagnose(builtin(), ev, &Placeholders::for_fqdn(&fx.fqdn));
    assert_eq!(d.leaf_id(), Some("C15"), "{:#?}", d.path);
    let AnsweredBy::Evidence { evidence } = &d.path.last().unwrap().by else {
        panic!()
    };
    assert_eq!(
        evidence[0].origin.as_deref(),
        Some("catalyst/catalyst-api-7d9c8b-xk2lp log")
    );
}

#[test]
fn diagnose_with_only_the_api_checks_the_subdomain() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let home = tempfile::tempdir().unwrap();
    let fx = fixture("C18-pdm-check");
    let url = rt.block_on(serve(fx.clone(), &[]));
    let out = sovtui(
        &["diagnose", &fx.fqdn, "--api", &url, "--json"],
        home.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["leaf"]["id"], "C18");
    assert!(
        doc["leaf"]["recovery"][1]["cmd"]
            .as_str()
            .unwrap()
            .contains("/api/v1/pool/omani.works/release?sub=omantel")
    );

    // A free name decides nothing: the walk asks at Q1.
    let free = rt.block_on(serve(fixture("ask-Q4"), &[]));
    let out = sovtui(&["diagnose", &fx.fqdn, "--api", &free], home.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Undecided at Q1"));

    let out = sovtui(&["diagnose", &fx.fqdn, "--deployment", "x"], home.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn commands_name_the_flux_objects_the_cluster_has() {
    let tree = builtin();
    // [R] naming, as in the evidence set.
    let fx = fixture("M4-");
    let d = diagnose(
        tree.clone(),
        fx.evidence(),
        &Placeholders::for_fqdn(&fx.fqdn),
    );
    let Outcome::Leaf { leaf } = &d.outcome else {
        panic!("{d:?}")
    };
    assert!(leaf.commands().contains(
        &"flux reconcile kustomization omantel.omani.works-bootstrap-kit -n flux-system"
    ));
    assert!(
        leaf.commands()
            .contains(&"flux reconcile source git openova-public -n flux-system")
    );

    // [M] naming: `bootstrap-kit` and `openova`.
    let mut fx = fixture("M4-");
    let cluster = fx.cluster.as_mut().unwrap();
    cluster.kustomizations.as_mut().unwrap()[0]["metadata"]["name"] = json!("bootstrap-kit");
    cluster.gitrepositories.as_mut().unwrap()[0]["metadata"]["name"] = json!("openova");
    let d = diagnose(tree, fx.evidence(), &Placeholders::for_fqdn(&fx.fqdn));
    let Outcome::Leaf { leaf } = &d.outcome else {
        panic!("{d:?}")
    };
    assert_eq!(leaf.id, "M4");
    assert!(
        leaf.commands()
            .contains(&"flux reconcile kustomization bootstrap-kit -n flux-system")
    );
    assert!(
        leaf.commands()
            .contains(&"kubectl describe gitrepository -n flux-system openova")
    );
}

#[test]
fn malformed_external_data_is_reported_not_fatal() {
    use sovtui::provision::troubleshoot::gather::{CatalystSnapshot, ClusterSnapshot};
    let mut ev = Evidence::new();
    let snap = CatalystSnapshot {
        events: Some(
            json!({"state": "not an object", "events": [42, {"phase": "tofu"}, {"message": "x"}, null]}),
        ),
        subdomain_check: Some(json!({"available": "maybe"})),
        ..Default::default()
    };
    snap.add_to(&mut ev);
    let snap = ClusterSnapshot {
        helmreleases: Some(vec![
            json!({"metadata": {"name": "bp-x"}, "status": {"conditions": "nope"}}),
            json!(7),
        ]),
        pods: Some(vec![
            json!({}),
            json!({"status": {"containerStatuses": [{"state": {"waiting": {}}}]}}),
        ]),
        certificates: Some(vec![json!({"status": {"conditions": [{"type": "Ready"}]}})]),
        events: Some(vec![json!({"type": "Warning"}), json!("x")]),
        ..Default::default()
    };
    snap.add_to(&mut ev, "c");
    assert_eq!(ev.errors.len(), 3, "{:?}", ev.errors);
    assert!(
        ev.lines_of("flux.helmrelease")
            .any(|l| l.text == "bp-x Ready=absent")
    );
    assert!(ev.lines_of("kube.pod").any(|l| l.text == "? Unknown"));
    assert!(
        ev.lines_of("cert.certificate")
            .any(|l| l.text == "? Ready=Unknown")
    );
    // And the walk still runs to a question instead of guessing.
    let d = diagnose(builtin(), ev, &Placeholders::for_fqdn("x.omani.works"));
    let Outcome::Question { node, .. } = &d.outcome else {
        panic!("{:?}", d.outcome)
    };
    assert_eq!(node, "Q8", "{:#?}", d.path);
}
