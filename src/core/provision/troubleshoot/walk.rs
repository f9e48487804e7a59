//! The walk engine: where the operator is in the tree, how each question was answered (by
//! evidence, by the operator, or because the edge is unconditional), back, restart, jump.
//! No terminal code: the cockpit and `sovtui diagnose` both drive this.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::evidence::{Citation, Evidence, Verdict, eval, rule_sources};
use super::tree::{Leaf, Node, RecoveryStep, Tree};

/// Values filled into leaf texts and commands.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Placeholders {
    pub fqdn: String,
    pub deployment: Option<String>,
    pub api: Option<String>,
    /// `(namespace, name)` of the object the deciding evidence line is about (e.g. the failing
    /// HelmRelease), filling `{ns}` and `{object}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<(String, String)>,
    /// The bootstrap-kit Kustomization's name as the cluster has it (`{kit}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kit: Option<String>,
    /// The GitRepository's name as the cluster has it (`{gitrepo}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitrepo: Option<String>,
    /// pool-domain-manager's URL (`{pdm}`), for the PDM release of a whole recovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdm: Option<String>,
}

impl Placeholders {
    pub fn for_fqdn(fqdn: &str) -> Self {
        Placeholders {
            fqdn: fqdn.to_string(),
            ..Default::default()
        }
    }

    /// Take `{ns}`/`{object}` from the deciding citation when it names a cluster object
    /// (lines of the `flux.*`, `kube.*` and `cert.*` sources start with `<ns>/<name>`).
    pub fn with_object_from(mut self, evidence: &[Citation]) -> Self {
        let Some(c) = evidence.first() else {
            return self;
        };
        if !["flux.", "kube.", "cert."]
            .iter()
            .any(|p| c.source.starts_with(p))
        {
            return self;
        }
        let first = c.text.split_whitespace().next().unwrap_or("");
        let mut parts = first.split('/');
        if let (Some(ns), Some(name)) = (parts.next(), parts.next())
            && !ns.is_empty()
            && !name.is_empty()
        {
            // Events read `<ns>/<Kind>/<name>`: the object is the last segment.
            let name = parts.next_back().unwrap_or(name);
            self.object = Some((ns.to_string(), name.to_string()));
        }
        self
    }

    /// Take `{kit}` and `{gitrepo}` from the cluster's own objects, so commands name what is
    /// there whichever naming ([R] or [M]) the Sovereign uses.
    pub fn with_names_from(mut self, ev: &Evidence) -> Self {
        let name_of = |line: &str| -> Option<String> {
            let first = line.split_whitespace().next()?;
            Some(first.rsplit('/').next().unwrap_or(first).to_string())
        };
        if self.kit.is_none() {
            self.kit = ev
                .lines_of("flux.kustomization")
                .filter_map(|l| name_of(&l.text))
                .find(|n| n.ends_with("bootstrap-kit"));
        }
        if self.gitrepo.is_none() {
            let repos: Vec<String> = ev
                .lines_of("flux.gitrepository")
                .filter_map(|l| name_of(&l.text))
                .collect();
            self.gitrepo = repos
                .iter()
                .find(|n| n.starts_with("openova"))
                .or(repos.first())
                .cloned();
        }
        self
    }

    fn value(&self, key: &str) -> String {
        let (sub, pool) = self.fqdn.split_once('.').unwrap_or((&self.fqdn, ""));
        match key {
            "fqdn" => self.fqdn.clone(),
            "slug" => self.fqdn.replace('.', "-"),
            "sub" => sub.to_string(),
            "pool" => pool.to_string(),
            "deployment" => self
                .deployment
                .clone()
                .unwrap_or_else(|| "<deployment-id>".into()),
            "api" => self
                .api
                .clone()
                .map(|a| a.trim_end_matches('/').to_string())
                .unwrap_or_else(|| "<catalyst-api>".into()),
            "ns" => self
                .object
                .as_ref()
                .map(|o| o.0.clone())
                .unwrap_or_else(|| "<namespace>".into()),
            "object" => self
                .object
                .as_ref()
                .map(|o| o.1.clone())
                .unwrap_or_else(|| "<name>".into()),
            "kit" => self
                .kit
                .clone()
                .unwrap_or_else(|| format!("{}-bootstrap-kit", self.fqdn)),
            "gitrepo" => self
                .gitrepo
                .clone()
                .unwrap_or_else(|| "openova-public".into()),
            "pdm" => self
                .pdm
                .clone()
                .map(|a| a.trim_end_matches('/').to_string())
                .unwrap_or_else(|| "<pdm-url>".into()),
            // Where the dry run writes the plan the purge then executes (by id, nothing else).
            "plan" => format!("recover-{}.plan.json", self.fqdn.replace('.', "-")),
            "ghcr_pull_secret_cmd" => {
                crate::provision::hetzner::cloudinit::ghcr_pull_secret_command("<GHCR token>")
            }
            _ => format!("{{{key}}}"),
        }
    }

    /// Replace `{fqdn}`-style placeholders; anything else in braces is left alone.
    pub fn fill(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) if super::tree::PLACEHOLDERS.contains(&&after[..close]) => {
                    out.push_str(&self.value(&after[..close]));
                    rest = &after[close + 1..];
                }
                _ => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// What a leaf view shows, with placeholders filled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeafView {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub symptom: String,
    pub cause: String,
    pub runbook: String,
    pub recovery: Vec<RecoveryStep>,
    /// Related cockpit actions: `recover`, `reconcile`, `refresh-watch`, `playbook:2.8`, …
    pub actions: Vec<String>,
}

impl LeafView {
    pub fn render(leaf: &Leaf, ph: &Placeholders) -> LeafView {
        LeafView {
            id: leaf.id.clone(),
            title: ph.fill(&leaf.title),
            kind: leaf.kind.clone(),
            symptom: ph.fill(&leaf.symptom),
            cause: ph.fill(&leaf.cause),
            runbook: leaf.runbook.clone(),
            recovery: leaf
                .recovery
                .iter()
                .map(|s| RecoveryStep {
                    text: ph.fill(&s.text),
                    cmd: s.cmd.as_deref().map(|c| ph.fill(c)),
                })
                .collect(),
            actions: leaf.actions.clone(),
        }
    }

    /// Every command of the recovery, in order (what "copy all" puts on the clipboard).
    pub fn commands(&self) -> Vec<&str> {
        self.recovery
            .iter()
            .filter_map(|s| s.cmd.as_deref())
            .collect()
    }
}

/// What the evidence says about one question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    pub answer: usize,
    pub label: String,
    /// The deciding line first, then supporting lines.
    pub evidence: Vec<Citation>,
}

/// Decide a node from evidence: the first answer (in file order) with a rule that holds.
pub fn suggest(node: &Node, ev: &Evidence) -> Option<Suggestion> {
    for (i, a) in node.answers.iter().enumerate() {
        for rule in &a.when {
            if let Verdict::Holds(evidence) = eval(rule, ev) {
                return Some(Suggestion {
                    answer: i,
                    label: a.label.clone(),
                    evidence,
                });
            }
        }
    }
    None
}

/// What the evidence says about one answer of a question, for views that show "why".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerVerdict {
    pub label: String,
    pub next: String,
    pub extra: bool,
    /// `holds`, `fails`, `unknown` (a needed source was not gathered) or `no-rule`.
    pub verdict: String,
    /// For `holds`: the citations; for `unknown`: nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Citation>,
    /// For `unknown`: the sources that were missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// Every answer of a node with its verdict (the first `holds` is the suggestion).
pub fn answer_verdicts(node: &Node, ev: &Evidence) -> Vec<AnswerVerdict> {
    node.answers
        .iter()
        .map(|a| {
            let mut out = AnswerVerdict {
                label: a.label.clone(),
                next: a.next.clone(),
                extra: a.extra,
                verdict: if a.when.is_empty() {
                    "no-rule"
                } else {
                    "fails"
                }
                .into(),
                evidence: Vec::new(),
                missing: Vec::new(),
            };
            for rule in &a.when {
                match eval(rule, ev) {
                    Verdict::Holds(c) => {
                        out.verdict = "holds".into();
                        out.evidence = c;
                        out.missing.clear();
                        break;
                    }
                    Verdict::Unknown(s) => {
                        out.verdict = "unknown".into();
                        if !out.missing.contains(&s) {
                            out.missing.push(s);
                        }
                    }
                    Verdict::Fails => {}
                }
            }
            out
        })
        .collect()
}

/// Sources the node's rules would look at but that were not gathered.
pub fn missing_sources(node: &Node, ev: &Evidence) -> Vec<String> {
    let mut all = BTreeSet::new();
    for a in &node.answers {
        for r in &a.when {
            rule_sources(r, &mut all);
        }
    }
    all.into_iter().filter(|s| !ev.has(s)).collect()
}

/// How an answer was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum AnsweredBy {
    /// The edge has no question (Start → Q1).
    Always,
    Evidence {
        evidence: Vec<Citation>,
    },
    /// The operator chose; `overrode` is the evidence-suggested answer they rejected, if any.
    Operator {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        overrode: Option<String>,
    },
}

/// One step of the path taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crumb {
    pub node: String,
    pub question: String,
    /// The answer label, or `jump` for a direct jump to a leaf.
    pub answer: String,
    pub next: String,
    #[serde(flatten)]
    pub by: AnsweredBy,
}

/// Where the walk stands.
#[derive(Debug, Clone)]
pub enum Position<'a> {
    Question {
        node: &'a Node,
        suggestion: Option<Suggestion>,
        missing: Vec<String>,
    },
    Leaf(&'a Leaf),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    #[error("the walk is at leaf `{0}`; there is no question to answer")]
    AtLeaf(String),
    #[error("node `{node}` has no answer {answer}")]
    NoSuchAnswer { node: String, answer: String },
    #[error("the evidence does not decide `{0}`; choose an answer")]
    Undecided(String),
    #[error("no leaf `{0}`")]
    NoSuchLeaf(String),
    #[error("no node `{0}`")]
    NoSuchNode(String),
}

/// A walk through a tree, answered from evidence where it decides and by the operator elsewhere.
#[derive(Debug, Clone)]
pub struct Walk {
    tree: Arc<Tree>,
    evidence: Evidence,
    /// Answers the operator fixed in advance (node id → answer index); they win over evidence.
    overrides: BTreeMap<String, usize>,
    path: Vec<Crumb>,
    at: String,
}

impl Walk {
    pub fn new(tree: Arc<Tree>, evidence: Evidence) -> Walk {
        let at = tree.root.clone();
        Walk {
            tree,
            evidence,
            overrides: BTreeMap::new(),
            path: Vec::new(),
            at,
        }
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    pub fn evidence(&self) -> &Evidence {
        &self.evidence
    }

    /// Swap in fresher evidence; the path taken so far stays.
    pub fn set_evidence(&mut self, evidence: Evidence) {
        self.evidence = evidence;
    }

    pub fn breadcrumbs(&self) -> &[Crumb] {
        &self.path
    }

    /// Id of the current node or leaf.
    pub fn at(&self) -> &str {
        &self.at
    }

    pub fn position(&self) -> Position<'_> {
        if let Some(leaf) = self.tree.leaf(&self.at) {
            return Position::Leaf(leaf);
        }
        match self.tree.node(&self.at) {
            Some(node) => Position::Question {
                node,
                suggestion: suggest(node, &self.evidence),
                missing: missing_sources(node, &self.evidence),
            },
            // Unreachable for a validated tree; treat as the root to stay usable.
            None => Position::Question {
                node: &self.tree.nodes[0],
                suggestion: None,
                missing: Vec::new(),
            },
        }
    }

    /// The leaf view at the current position, with `{ns}`/`{object}` taken from the evidence
    /// that decided the last question.
    pub fn leaf_view(&self, ph: &Placeholders) -> Option<LeafView> {
        let leaf = self.tree.leaf(&self.at)?;
        Some(LeafView::render(leaf, &self.placeholders(ph)))
    }

    /// `ph` completed from the walk: `{kit}`/`{gitrepo}` from the evidence, `{ns}`/`{object}`
    /// from the evidence that decided the last question (what a leaf's actions act on).
    pub fn placeholders(&self, ph: &Placeholders) -> Placeholders {
        let mut ph = ph.clone().with_names_from(&self.evidence);
        if ph.object.is_none()
            && let Some(Crumb {
                by: AnsweredBy::Evidence { evidence },
                ..
            }) = self.path.last()
        {
            ph = ph.with_object_from(evidence);
        }
        ph
    }

    /// The leaf the walk landed on, if any.
    pub fn leaf(&self) -> Option<&Leaf> {
        self.tree.leaf(&self.at)
    }

    fn current_node(&self) -> Result<&Node, WalkError> {
        if self.tree.leaf(&self.at).is_some() {
            return Err(WalkError::AtLeaf(self.at.clone()));
        }
        self.tree
            .node(&self.at)
            .ok_or_else(|| WalkError::NoSuchNode(self.at.clone()))
    }

    fn take(&mut self, index: usize, by: AnsweredBy) -> Result<(), WalkError> {
        let node = self.current_node()?;
        let answer = node
            .answers
            .get(index)
            .ok_or_else(|| WalkError::NoSuchAnswer {
                node: node.id.clone(),
                answer: index.to_string(),
            })?;
        let crumb = Crumb {
            node: node.id.clone(),
            question: node.question.clone(),
            answer: answer.label.clone(),
            next: answer.next.clone(),
            by,
        };
        self.at = crumb.next.clone();
        self.path.push(crumb);
        Ok(())
    }

    /// The operator answers the current question by index.
    pub fn answer(&mut self, index: usize) -> Result<(), WalkError> {
        let node = self.current_node()?;
        let suggested = suggest(node, &self.evidence);
        let overrode = suggested.filter(|s| s.answer != index).map(|s| s.label);
        self.take(index, AnsweredBy::Operator { overrode })
    }

    /// The operator answers by label (case-insensitive).
    pub fn answer_label(&mut self, label: &str) -> Result<(), WalkError> {
        let node = self.current_node()?;
        let i = node
            .answers
            .iter()
            .position(|a| a.label.eq_ignore_ascii_case(label))
            .ok_or_else(|| WalkError::NoSuchAnswer {
                node: node.id.clone(),
                answer: label.to_string(),
            })?;
        self.answer(i)
    }

    /// Take the answer the evidence (or an unconditional edge) gives.
    pub fn accept(&mut self) -> Result<(), WalkError> {
        let node = self.current_node()?;
        if let Some(i) = node.answers.iter().position(|a| a.always) {
            return self.take(i, AnsweredBy::Always);
        }
        match suggest(node, &self.evidence) {
            Some(s) => self.take(
                s.answer,
                AnsweredBy::Evidence {
                    evidence: s.evidence,
                },
            ),
            None => Err(WalkError::Undecided(node.id.clone())),
        }
    }

    /// Fix an answer for a node before walking (a pre-set operator override).
    pub fn set_override(&mut self, node: &str, label: &str) -> Result<(), WalkError> {
        let n = self
            .tree
            .node(node)
            .ok_or_else(|| WalkError::NoSuchNode(node.to_string()))?;
        let i = n
            .answers
            .iter()
            .position(|a| a.label.eq_ignore_ascii_case(label))
            .ok_or_else(|| WalkError::NoSuchAnswer {
                node: node.to_string(),
                answer: label.to_string(),
            })?;
        self.overrides.insert(node.to_string(), i);
        Ok(())
    }

    /// Follow overrides, unconditional edges and evidence until a leaf or an undecided
    /// question. Returns true when it stopped at a leaf.
    pub fn advance(&mut self) -> bool {
        // A validated tree has no cycle, so this ends within the number of nodes.
        for _ in 0..=self.tree.nodes.len() {
            if self.tree.leaf(&self.at).is_some() {
                return true;
            }
            if let Some(&i) = self.overrides.get(&self.at) {
                if self.answer(i).is_err() {
                    return false;
                }
                continue;
            }
            if self.accept().is_err() {
                return false;
            }
        }
        self.tree.leaf(&self.at).is_some()
    }

    /// Step back to the question answered last.
    pub fn back(&mut self) -> bool {
        match self.path.pop() {
            Some(c) => {
                self.at = c.node;
                true
            }
            None => false,
        }
    }

    pub fn restart(&mut self) {
        self.path.clear();
        self.at = self.tree.root.clone();
    }

    /// Go straight to a leaf (e.g. from a search); `back` returns to where the jump started.
    pub fn jump(&mut self, leaf: &str) -> Result<(), WalkError> {
        if self.tree.leaf(leaf).is_none() {
            return Err(WalkError::NoSuchLeaf(leaf.to_string()));
        }
        let question = self
            .tree
            .node(&self.at)
            .map(|n| n.question.clone())
            .unwrap_or_default();
        self.path.push(Crumb {
            node: self.at.clone(),
            question,
            answer: "jump".into(),
            next: leaf.to_string(),
            by: AnsweredBy::Operator { overrode: None },
        });
        self.at = leaf.to_string();
        Ok(())
    }
}

/// Where a headless diagnosis ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Leaf {
        leaf: LeafView,
    },
    /// The evidence did not decide this question: the walk asks.
    Question {
        node: String,
        question: String,
        answers: Vec<String>,
        /// Sources whose absence left it undecided.
        missing_sources: Vec<String>,
    },
}

/// The result of `sovtui diagnose`: path, landing point, evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub fqdn: String,
    pub tree_version: String,
    pub path: Vec<Crumb>,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub evidence: Evidence,
}

impl Diagnosis {
    pub fn leaf_id(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Leaf { leaf } => Some(&leaf.id),
            Outcome::Question { .. } => None,
        }
    }
}

impl Diagnosis {
    /// Plain-text rendering: path with the deciding evidence, landing point, recovery.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Diagnosis of {} (tree {})\n\nPath:",
            self.fqdn, self.tree_version
        );
        for c in &self.path {
            let _ = writeln!(
                out,
                "  {} {} → {} ({})",
                c.node, c.question, c.answer, c.next
            );
            match &c.by {
                AnsweredBy::Evidence { evidence } => {
                    for (i, e) in evidence.iter().enumerate() {
                        let tag = if i == 0 { "decided by" } else { "with" };
                        let _ = writeln!(out, "      {tag}: {e}");
                    }
                }
                AnsweredBy::Operator { overrode } => {
                    out.push_str("      answered by the operator");
                    if let Some(o) = overrode {
                        let _ = write!(out, " (evidence suggested {o})");
                    }
                    out.push('\n');
                }
                AnsweredBy::Always => {}
            }
        }
        match &self.outcome {
            Outcome::Leaf { leaf } => {
                let _ = writeln!(
                    out,
                    "\n{} — {}   [runbook §{}]\n  Symptom: {}\n  Cause:   {}\n  Recovery:",
                    leaf.id, leaf.title, leaf.runbook, leaf.symptom, leaf.cause
                );
                for (i, s) in leaf.recovery.iter().enumerate() {
                    let _ = writeln!(out, "    {}. {}", i + 1, s.text);
                    if let Some(cmd) = &s.cmd {
                        let _ = writeln!(out, "       $ {cmd}");
                    }
                }
                if !leaf.actions.is_empty() {
                    let _ = writeln!(out, "  Actions: {}", leaf.actions.join(", "));
                }
            }
            Outcome::Question {
                node,
                question,
                answers,
                missing_sources,
            } => {
                let _ = writeln!(
                    out,
                    "\nUndecided at {node}: {question}\n  Answers: {}",
                    answers.join(" | ")
                );
                if !missing_sources.is_empty() {
                    let _ = writeln!(
                        out,
                        "  Evidence not gathered: {}",
                        missing_sources.join(", ")
                    );
                }
            }
        }
        if !self.evidence.errors.is_empty() {
            out.push_str("\nGathering problems:\n");
            for e in &self.evidence.errors {
                let _ = writeln!(out, "  {e}");
            }
        }
        out
    }
}

/// Walk as far as evidence (and any pre-set overrides) go.
pub fn diagnose_walk(mut walk: Walk, ph: &Placeholders) -> Diagnosis {
    walk.advance();
    let outcome = match (walk.leaf_view(ph), walk.position()) {
        (Some(leaf), _) => Outcome::Leaf { leaf },
        (None, Position::Leaf(leaf)) => Outcome::Leaf {
            leaf: LeafView::render(leaf, ph),
        },
        (None, Position::Question { node, missing, .. }) => Outcome::Question {
            node: node.id.clone(),
            question: node.question.clone(),
            answers: node.answers.iter().map(|a| a.label.clone()).collect(),
            missing_sources: missing,
        },
    };
    Diagnosis {
        fqdn: ph.fqdn.clone(),
        tree_version: walk.tree().version.clone(),
        path: walk.breadcrumbs().to_vec(),
        outcome,
        evidence: walk.evidence().clone(),
    }
}

/// Diagnose from evidence alone.
pub fn diagnose(tree: Arc<Tree>, evidence: Evidence, ph: &Placeholders) -> Diagnosis {
    diagnose_walk(Walk::new(tree, evidence), ph)
}
