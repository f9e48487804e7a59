//! Evidence: lines of text grouped by named source, and the evaluation of a tree's rules over
//! them. Which source was gathered at all is kept apart from what it held, so "no evidence"
//! (ask the operator) never reads as "evidence of absence".

use std::collections::{BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use super::tree::Rule;

/// Every evidence source the built-in gatherers produce, with what a line of it looks like.
pub const KNOWN_SOURCES: &[(&str, &str)] = &[
    (
        "catalyst.status",
        "deployment status: `failed`, `ready`, `phase1-watching`, …",
    ),
    ("catalyst.error", "the deployment's `error` text"),
    (
        "catalyst.phase",
        "one line per distinct event phase seen: `tofu-plan`, `flux-bootstrap`, …",
    ),
    (
        "catalyst.tofu",
        "OpenTofu output lines (events with phase `tofu`)",
    ),
    ("catalyst.component", "componentStates: `<id> <state>`"),
    ("catalyst.outcome", "result.phase1Outcome"),
    (
        "catalyst.watch",
        "Phase-1 watch diagnostics (component events without a component)",
    ),
    (
        "catalyst.event",
        "every event: `<phase> <level>[ <component>]: <message>`",
    ),
    (
        "catalyst.http",
        "catalyst-api answers that failed: `GET <path> <status> <body>`",
    ),
    (
        "catalyst.create",
        "a failed create: `<status> <error>: <detail>`",
    ),
    (
        "catalyst.stream",
        "SSE observations: `done status=<s> components=<n> after=<secs>s`",
    ),
    ("catalyst.log", "catalyst-api log lines"),
    (
        "pdm.check",
        "subdomain check: `available=<bool> reason=<reason>`",
    ),
    (
        "flux.helmrelease",
        "bp-* HelmReleases: `<ns>/<name> Ready=<status> <reason>: <message>`",
    ),
    (
        "flux.workload",
        "Ready HelmReleases: `<ns>/<name> Ready=True target=<ns> pods=<n>`",
    ),
    (
        "flux.kustomization",
        "Kustomizations: `<ns>/<name> Ready=<status> <reason>: <message>`",
    ),
    (
        "flux.gitrepository",
        "GitRepositories: `<ns>/<name> Ready=<status> <reason>: <message>`",
    ),
    (
        "kube.pod",
        "pods: `<ns>/<name> <phase>[ <reason>][: <message>]`",
    ),
    (
        "kube.event",
        "Warning events: `<ns>/<Kind>/<name> <reason>: <message>`",
    ),
    (
        "cert.certificate",
        "cert-manager Certificates: `<ns>/<name> Ready=<status> <reason>: <message>`",
    ),
    (
        "probe.http",
        "HTTP probes of public hosts: `GET <url> <status> <server>`",
    ),
    (
        "cilium.clustermesh",
        "ClusterMesh status / cilium-operator warnings",
    ),
];

pub fn is_known_source(name: &str) -> bool {
    KNOWN_SOURCES.iter().any(|(n, _)| *n == name)
}

/// One line of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceLine {
    pub source: String,
    pub text: String,
    /// Where it came from, e.g. `GET /api/v1/deployments/<id>/events` or `HelmRelease flux-system/bp-cilium`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// Everything gathered about one Sovereign or deployment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Evidence {
    /// Sources that were gathered (possibly holding no line).
    pub gathered: BTreeSet<String>,
    pub lines: Vec<EvidenceLine>,
    /// What could not be gathered and why (unreachable cluster, 403 on a kind, …).
    #[serde(default)]
    pub errors: Vec<String>,
    /// (source, text) pairs already held: a replayed event buffer can hold 10 000 lines.
    #[serde(skip)]
    seen: HashSet<(String, String)>,
}

impl PartialEq for Evidence {
    fn eq(&self, other: &Self) -> bool {
        self.gathered == other.gathered && self.lines == other.lines && self.errors == other.errors
    }
}

impl Eq for Evidence {}

impl Evidence {
    pub fn new() -> Self {
        Self::default()
    }

    /// Record that `source` was gathered, even if it yields no line.
    pub fn mark(&mut self, source: &str) {
        self.gathered.insert(source.to_string());
    }

    pub fn push(&mut self, source: &str, text: impl Into<String>, origin: Option<String>) {
        self.mark(source);
        let text: String = text.into();
        // One line per source and text is enough to decide and to cite.
        if self.seen.is_empty() && !self.lines.is_empty() {
            // Deserialized evidence: rebuild the index once.
            self.seen = self
                .lines
                .iter()
                .map(|l| (l.source.clone(), l.text.clone()))
                .collect();
        }
        if !self.seen.insert((source.to_string(), text.clone())) {
            return;
        }
        self.lines.push(EvidenceLine {
            source: source.to_string(),
            text,
            origin,
        });
    }

    pub fn error(&mut self, msg: impl Into<String>) {
        self.errors.push(msg.into());
    }

    pub fn has(&self, source: &str) -> bool {
        self.gathered.contains(source)
    }

    pub fn lines_of<'a>(&'a self, source: &'a str) -> impl Iterator<Item = &'a EvidenceLine> + 'a {
        self.lines.iter().filter(move |l| l.source == source)
    }

    pub fn merge(&mut self, other: Evidence) {
        self.gathered.extend(other.gathered);
        for l in other.lines {
            self.push(&l.source, l.text, l.origin);
        }
        self.errors.extend(other.errors);
    }
}

/// The evidence line that decided an answer (or supported the decision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    pub source: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The rule's pattern that matched.
    pub pattern: String,
    /// For `every` rules: how many lines all matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_of: Option<usize>,
}

impl std::fmt::Display for Citation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.source, self.text)?;
        if let Some(n) = self.all_of {
            write!(f, " (and all {n} lines like it)")?;
        }
        if let Some(o) = &self.origin {
            write!(f, " — {o}")?;
        }
        Ok(())
    }
}

/// The outcome of one rule over the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The rule holds; the first citation is the deciding line, the rest support it.
    Holds(Vec<Citation>),
    Fails,
    /// A source the rule needs was not gathered.
    Unknown(String),
}

fn eval_one(rule: &Rule, ev: &Evidence) -> Verdict {
    if !ev.has(&rule.source) {
        return Verdict::Unknown(rule.source.clone());
    }
    let lines: Vec<&EvidenceLine> = ev.lines_of(&rule.source).collect();
    let cite = |l: &EvidenceLine, all_of: Option<usize>| Citation {
        source: l.source.clone(),
        text: l.text.clone(),
        origin: l.origin.clone(),
        pattern: rule.pattern.clone(),
        all_of,
    };
    if rule.empty {
        return if lines.is_empty() {
            Verdict::Holds(vec![Citation {
                source: rule.source.clone(),
                text: "(no lines)".into(),
                origin: None,
                pattern: "empty".into(),
                all_of: None,
            }])
        } else {
            Verdict::Fails
        };
    }
    let Some(re) = &rule.regex else {
        return Verdict::Fails;
    };
    if rule.every {
        if !lines.is_empty() && lines.iter().all(|l| re.is_match(&l.text)) {
            Verdict::Holds(vec![cite(lines[0], Some(lines.len()))])
        } else {
            Verdict::Fails
        }
    } else {
        match lines.iter().find(|l| re.is_match(&l.text)) {
            Some(l) => Verdict::Holds(vec![cite(l, None)]),
            None => Verdict::Fails,
        }
    }
}

/// Evaluate a rule with its `and` and `unless` conditions.
pub fn eval(rule: &Rule, ev: &Evidence) -> Verdict {
    let mut cites = match eval_one(rule, ev) {
        Verdict::Holds(c) => c,
        other => return other,
    };
    for cond in &rule.and {
        match eval(cond, ev) {
            Verdict::Holds(c) => cites.extend(c),
            other => return other,
        }
    }
    for cond in &rule.unless {
        match eval(cond, ev) {
            Verdict::Holds(_) => return Verdict::Fails,
            // `unless` names counter-evidence; counter-evidence nobody gathered is not a reason
            // to doubt the evidence that did match.
            Verdict::Unknown(_) | Verdict::Fails => {}
        }
    }
    Verdict::Holds(cites)
}

/// Sources referenced by a rule tree.
pub fn rule_sources(rule: &Rule, out: &mut BTreeSet<String>) {
    out.insert(rule.source.clone());
    for r in rule.and.iter().chain(&rule.unless) {
        rule_sources(r, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::RegexBuilder;

    fn rule(source: &str, pattern: &str) -> Rule {
        Rule {
            source: source.into(),
            pattern: pattern.into(),
            regex: Some(
                RegexBuilder::new(pattern)
                    .case_insensitive(true)
                    .build()
                    .unwrap(),
            ),
            every: false,
            empty: false,
            and: vec![],
            unless: vec![],
        }
    }

    #[test]
    fn gathered_empty_is_evidence_ungathered_is_not() {
        let mut ev = Evidence::new();
        assert_eq!(
            eval(&rule("kube.pod", "."), &ev),
            Verdict::Unknown("kube.pod".into())
        );
        ev.mark("kube.pod");
        assert_eq!(eval(&rule("kube.pod", "."), &ev), Verdict::Fails);
        let mut empty = rule("kube.pod", "");
        empty.regex = None;
        empty.empty = true;
        assert!(matches!(eval(&empty, &ev), Verdict::Holds(_)));
        // `every` needs at least one line.
        let mut every = rule("kube.pod", "Running");
        every.every = true;
        assert_eq!(eval(&every, &ev), Verdict::Fails);
        ev.push("kube.pod", "a/b Running", None);
        ev.push("kube.pod", "a/c Running", None);
        match eval(&every, &ev) {
            Verdict::Holds(c) => assert_eq!(c[0].all_of, Some(2)),
            v => panic!("{v:?}"),
        }
        ev.push("kube.pod", "a/d Pending", None);
        assert_eq!(eval(&every, &ev), Verdict::Fails);
    }

    #[test]
    fn and_unless_and_case_insensitivity() {
        let mut ev = Evidence::new();
        ev.push("catalyst.status", "ready", None);
        ev.push("flux.helmrelease", "flux-system/bp-x READY=true", None);
        let mut r = rule("catalyst.status", "^ready$");
        r.and = vec![rule("flux.helmrelease", "Ready=True")];
        let Verdict::Holds(c) = eval(&r, &ev) else {
            panic!()
        };
        assert_eq!(c.len(), 2, "deciding line plus the supporting one");
        r.unless = vec![rule("catalyst.watch", "kubeconfig")];
        // Counter-evidence nobody gathered does not block what matched.
        assert!(matches!(eval(&r, &ev), Verdict::Holds(_)));
        ev.mark("catalyst.watch");
        assert!(matches!(eval(&r, &ev), Verdict::Holds(_)));
        ev.push(
            "catalyst.watch",
            "failed to load Sovereign kubeconfig",
            None,
        );
        assert_eq!(eval(&r, &ev), Verdict::Fails);
    }

    #[test]
    fn duplicate_lines_are_kept_once_even_after_a_round_trip() {
        let mut ev = Evidence::new();
        for _ in 0..3 {
            ev.push("catalyst.phase", "tofu", None);
        }
        assert_eq!(ev.lines.len(), 1);
        let mut back: Evidence =
            serde_json::from_str(&serde_json::to_string(&ev).unwrap()).unwrap();
        back.push("catalyst.phase", "tofu", None);
        back.push("catalyst.phase", "tofu-plan", None);
        assert_eq!(back.lines.len(), 2);
        assert_eq!(back.gathered, ev.gathered);
    }
}
