//! The decision tree as data: parsing the shipped `tree.toml` plus extension files, merging them,
//! and validating the result. Every problem names the file and the line it comes from.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::evidence::{KNOWN_SOURCES, is_known_source};

/// The shipped tree, versioned with sovtui.
pub const BUILTIN_TREE: &str = include_str!("tree.toml");
/// How the shipped tree is named in problems.
pub const BUILTIN_NAME: &str = "src/core/provision/troubleshoot/tree.toml";
/// The tree-file format this build understands.
pub const FORMAT: u32 = 1;

/// Placeholders a leaf text or command may use; filled in at render time.
pub const PLACEHOLDERS: &[&str] = &[
    "fqdn",
    "slug",
    "sub",
    "pool",
    "deployment",
    "api",
    "ns",
    "object",
    "kit",
    "gitrepo",
    "pdm",
    "plan",
    "ghcr_pull_secret_cmd",
];

/// Where a node, answer or leaf was defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl Origin {
    fn problem(&self, message: impl Into<String>) -> Problem {
        Problem {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }
}

/// One problem found while loading or linting a tree file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// All problems of a load, in file order.
#[derive(Debug, Clone, thiserror::Error)]
pub struct TreeErrors(pub Vec<Problem>);

impl fmt::Display for TreeErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// A pattern over one named evidence source, with optional further conditions.
#[derive(Debug, Clone)]
pub struct Rule {
    pub source: String,
    /// The regex as written in the file (empty when the rule only tests `empty`).
    pub pattern: String,
    pub regex: Option<Regex>,
    /// Every line of the source must match (and there must be at least one).
    pub every: bool,
    /// The source must have been gathered and hold no line.
    pub empty: bool,
    pub and: Vec<Rule>,
    pub unless: Vec<Rule>,
}

#[derive(Debug, Clone)]
pub struct Answer {
    pub label: String,
    pub next: String,
    /// The only answer of a node that needs no question (Start → Q1).
    pub always: bool,
    /// Not an edge of the runbook's flowchart: a matrix row or day-2 note attached here.
    pub extra: bool,
    /// Any one of these rules decides the answer.
    pub when: Vec<Rule>,
    pub origin: Origin,
    /// Where `next` is written, for edge problems.
    pub next_origin: Origin,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub question: String,
    pub help: Option<String>,
    pub runbook: Option<String>,
    pub answers: Vec<Answer>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryStep {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Leaf {
    pub id: String,
    pub title: String,
    /// `incident` (C1–C18), `matrix` (M1–M4), `day2`, `healthcheck`, `done`, or an extension's own.
    pub kind: String,
    pub symptom: String,
    pub cause: String,
    pub runbook: String,
    pub actions: Vec<String>,
    pub recovery: Vec<RecoveryStep>,
    pub origin: Origin,
}

/// A loaded, merged and validated tree.
#[derive(Debug, Clone)]
pub struct Tree {
    pub version: String,
    pub root: String,
    /// Nodes in definition order.
    pub nodes: Vec<Node>,
    pub leaves: Vec<Leaf>,
    /// Every file that contributed, builtin first.
    pub files: Vec<String>,
    node_index: HashMap<String, usize>,
    leaf_index: HashMap<String, usize>,
}

impl Tree {
    /// The shipped tree alone.
    pub fn builtin() -> Result<Tree, TreeErrors> {
        load_sources(&[(BUILTIN_NAME.to_string(), BUILTIN_TREE.to_string())])
    }

    /// The shipped tree extended by every `*.toml` in `dir` (sorted by name); a missing dir is fine.
    pub fn load_with_extensions(dir: &Path) -> Result<Tree, TreeErrors> {
        let mut sources = vec![(BUILTIN_NAME.to_string(), BUILTIN_TREE.to_string())];
        let mut problems = Vec::new();
        for path in extension_files(dir) {
            match std::fs::read_to_string(&path) {
                Ok(text) => sources.push((path.display().to_string(), text)),
                Err(e) => problems.push(Problem {
                    file: path.display().to_string(),
                    line: 0,
                    column: 0,
                    message: format!("cannot read: {e}"),
                }),
            }
        }
        if !problems.is_empty() {
            return Err(TreeErrors(problems));
        }
        load_sources(&sources)
    }

    /// The shipped tree extended from `$XDG_CONFIG_HOME/sovtui/troubleshoot/`.
    pub fn load_default() -> Result<Tree, TreeErrors> {
        Tree::load_with_extensions(&crate::config::paths::config_dir().join("troubleshoot"))
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.node_index.get(id).map(|&i| &self.nodes[i])
    }

    pub fn leaf(&self, id: &str) -> Option<&Leaf> {
        self.leaf_index.get(id).map(|&i| &self.leaves[i])
    }

    /// Edges of the runbook flowchart (answers not marked `extra`).
    pub fn flowchart_edges(&self) -> usize {
        self.nodes
            .iter()
            .flat_map(|n| &n.answers)
            .filter(|a| !a.extra)
            .count()
    }
}

/// `*.toml` files directly in `dir`, sorted by name.
pub fn extension_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    files
}

/// Lint one file: a full tree (it sets `root`) on its own, otherwise as an extension of the
/// shipped tree. Returns every problem found; empty means clean.
pub fn lint_file(path: &Path) -> Vec<Problem> {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return vec![Problem {
                file: name,
                line: 0,
                column: 0,
                message: format!("cannot read: {e}"),
            }];
        }
    };
    lint_text(&name, &text)
}

/// As [`lint_file`], on text already in memory.
pub fn lint_text(name: &str, text: &str) -> Vec<Problem> {
    let standalone = toml::from_str::<toml::Table>(text)
        .map(|t| t.contains_key("root"))
        .unwrap_or(true);
    let mut sources = Vec::new();
    if !standalone {
        sources.push((BUILTIN_NAME.to_string(), BUILTIN_TREE.to_string()));
    }
    sources.push((name.to_string(), text.to_string()));
    match load_sources(&sources) {
        Ok(_) => Vec::new(),
        Err(TreeErrors(p)) => p,
    }
}

// ───────────────────────────── raw file shapes ─────────────────────────────

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    format: Option<Spanned<u32>>,
    version: Option<Spanned<String>>,
    root: Option<Spanned<String>>,
    /// Evidence sources an extension's gatherers produce beyond the built-in ones.
    #[serde(default)]
    sources: Vec<Spanned<String>>,
    #[serde(default)]
    node: Vec<RawNode>,
    #[serde(default)]
    leaf: Vec<RawLeaf>,
    #[serde(default)]
    extend: Vec<RawExtend>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    id: Spanned<String>,
    question: Spanned<String>,
    help: Option<String>,
    runbook: Option<String>,
    #[serde(default)]
    answer: Vec<RawAnswer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnswer {
    label: Spanned<String>,
    next: Spanned<String>,
    #[serde(default)]
    always: bool,
    #[serde(default)]
    extra: bool,
    #[serde(default)]
    when: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    source: Spanned<String>,
    #[serde(rename = "match")]
    pattern: Option<Spanned<String>>,
    #[serde(default)]
    every: bool,
    #[serde(default)]
    empty: bool,
    #[serde(default)]
    and: Vec<RawRule>,
    #[serde(default)]
    unless: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLeaf {
    id: Spanned<String>,
    title: Spanned<String>,
    kind: Option<String>,
    symptom: Spanned<String>,
    cause: Spanned<String>,
    runbook: Spanned<String>,
    #[serde(default)]
    actions: Vec<String>,
    #[serde(default)]
    recovery: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    text: Spanned<String>,
    cmd: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExtend {
    node: Spanned<String>,
    /// Insert the new answers before the answer with this label (default: append).
    before: Option<Spanned<String>>,
    #[serde(default)]
    answer: Vec<RawAnswer>,
}

// ───────────────────────────── loading ─────────────────────────────

/// Maps byte offsets of one file onto 1-based line and column.
struct SourceMap<'a> {
    name: &'a str,
    text: &'a str,
}

impl SourceMap<'_> {
    fn pos(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    fn problem(&self, span: Range<usize>, message: impl Into<String>) -> Problem {
        let (line, column) = self.pos(span.start);
        Problem {
            file: self.name.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    fn origin(&self, span: Range<usize>) -> Origin {
        let (line, column) = self.pos(span.start);
        Origin {
            file: self.name.to_string(),
            line,
            column,
        }
    }
}

struct Builder<'a> {
    maps: Vec<SourceMap<'a>>,
    problems: Vec<Problem>,
    version: Option<String>,
    root: Option<(String, Origin)>,
    extra_sources: BTreeSet<String>,
    nodes: Vec<Node>,
    leaves: Vec<Leaf>,
    /// id → where defined (nodes and leaves share one namespace).
    ids: BTreeMap<String, Origin>,
}

impl Builder<'_> {
    fn at(&self, file: usize, span: Range<usize>) -> Origin {
        self.maps[file].origin(span)
    }

    fn report(&mut self, at: &Origin, message: impl Into<String>) {
        self.problems.push(at.problem(message));
    }

    fn rule(&mut self, file: usize, raw: RawRule) -> Rule {
        let source_at = self.at(file, raw.source.span());
        let source = raw.source.into_inner();
        if !is_known_source(&source) && !self.extra_sources.contains(&source) {
            self.report(
                &source_at,
                format!(
                    "unknown evidence source `{source}` (known: {}; an extension may declare more in `sources`)",
                    KNOWN_SOURCES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        if raw.every && raw.empty {
            self.report(&source_at, "a rule cannot be both `every` and `empty`");
        }
        let (pattern, regex) = match raw.pattern {
            Some(p) => {
                let at = self.at(file, p.span());
                let pattern = p.into_inner();
                let regex = match RegexBuilder::new(&pattern).case_insensitive(true).build() {
                    Ok(r) => Some(r),
                    Err(e) => {
                        let why = e
                            .to_string()
                            .lines()
                            .last()
                            .unwrap_or("")
                            .trim()
                            .to_string();
                        self.report(&at, format!("invalid pattern `{pattern}`: {why}"));
                        None
                    }
                };
                (pattern, regex)
            }
            None => {
                if !raw.empty {
                    self.report(
                        &source_at,
                        "a rule needs `match = \"<regex>\"` (or `empty = true`)",
                    );
                }
                (String::new(), None)
            }
        };
        let and = raw.and.into_iter().map(|r| self.rule(file, r)).collect();
        let unless = raw.unless.into_iter().map(|r| self.rule(file, r)).collect();
        Rule {
            source,
            pattern,
            regex,
            every: raw.every,
            empty: raw.empty,
            and,
            unless,
        }
    }

    fn answer(&mut self, file: usize, raw: RawAnswer) -> Answer {
        let origin = self.at(file, raw.label.span());
        let next_origin = self.at(file, raw.next.span());
        if raw.always && !raw.when.is_empty() {
            self.report(&origin, "an `always` answer takes no `when` rules");
        }
        let when = raw.when.into_iter().map(|r| self.rule(file, r)).collect();
        Answer {
            label: raw.label.into_inner(),
            next: raw.next.into_inner(),
            always: raw.always,
            extra: raw.extra,
            when,
            origin,
            next_origin,
        }
    }

    fn claim_id(&mut self, id: &Spanned<String>, file: usize) -> bool {
        let at = self.at(file, id.span());
        let name = id.get_ref().clone();
        if name.trim().is_empty() {
            self.report(&at, "empty id");
            return false;
        }
        if let Some(prev) = self.ids.get(&name).cloned() {
            self.report(
                &at,
                format!(
                    "duplicate id `{name}` (first defined at {}:{})",
                    prev.file, prev.line
                ),
            );
            return false;
        }
        self.ids.insert(name, at);
        true
    }

    fn check_placeholders(&mut self, file: usize, s: &Spanned<String>) {
        let text = s.get_ref();
        let mut rest = text.as_str();
        let mut unknown = Vec::new();
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            if let Some(close) = after.find('}') {
                let word = &after[..close];
                if !word.is_empty()
                    && word.chars().all(|c| c.is_ascii_lowercase())
                    && !PLACEHOLDERS.contains(&word)
                {
                    unknown.push(word.to_string());
                }
            }
            rest = after;
        }
        for word in unknown {
            let at = self.at(file, s.span());
            self.report(
                &at,
                format!(
                    "unknown placeholder `{{{word}}}` (known: {})",
                    PLACEHOLDERS
                        .iter()
                        .map(|p| format!("{{{p}}}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            );
        }
    }

    fn file(&mut self, file: usize, raw: RawFile) {
        if let Some(f) = &raw.format
            && *f.get_ref() != FORMAT
        {
            let at = self.at(file, f.span());
            self.report(
                &at,
                format!(
                    "tree format {} is not supported (this sovtui reads format {FORMAT})",
                    f.get_ref()
                ),
            );
        }
        if let Some(v) = raw.version
            && self.version.is_none()
        {
            self.version = Some(v.into_inner());
        }
        if let Some(r) = raw.root {
            let at = self.at(file, r.span());
            if let Some((_, prev)) = self.root.clone() {
                self.report(
                    &at,
                    format!(
                        "`root` is already set at {}:{}; an extension cannot move it",
                        prev.file, prev.line
                    ),
                );
            } else {
                self.root = Some((r.into_inner(), at));
            }
        }
        for rn in raw.node {
            let ok = self.claim_id(&rn.id, file);
            let origin = self.at(file, rn.id.span());
            let id = rn.id.get_ref().clone();
            if rn.answer.is_empty() {
                self.report(&origin, format!("node `{id}` has no answers"));
            }
            let answers = rn
                .answer
                .into_iter()
                .map(|a| self.answer(file, a))
                .collect();
            if ok {
                self.nodes.push(Node {
                    id,
                    question: rn.question.into_inner(),
                    help: rn.help,
                    runbook: rn.runbook,
                    answers,
                    origin,
                });
            }
        }
        for rl in raw.leaf {
            let ok = self.claim_id(&rl.id, file);
            for s in [&rl.title, &rl.symptom, &rl.cause] {
                self.check_placeholders(file, s);
            }
            for st in &rl.recovery {
                self.check_placeholders(file, &st.text);
                if let Some(c) = &st.cmd {
                    self.check_placeholders(file, c);
                }
            }
            if ok {
                self.leaves.push(Leaf {
                    origin: self.at(file, rl.id.span()),
                    id: rl.id.into_inner(),
                    title: rl.title.into_inner(),
                    kind: rl.kind.unwrap_or_else(|| "incident".into()),
                    symptom: rl.symptom.into_inner(),
                    cause: rl.cause.into_inner(),
                    runbook: rl.runbook.into_inner(),
                    actions: rl.actions,
                    recovery: rl
                        .recovery
                        .into_iter()
                        .map(|s| RecoveryStep {
                            text: s.text.into_inner(),
                            cmd: s.cmd.map(Spanned::into_inner),
                        })
                        .collect(),
                });
            }
        }
    }

    fn extensions(&mut self, file: usize, extends: Vec<RawExtend>) {
        for ext in extends {
            let at = self.at(file, ext.node.span());
            let target = ext.node.into_inner();
            let Some(ni) = self.nodes.iter().position(|n| n.id == target) else {
                self.report(&at, format!("`extend` names unknown node `{target}`"));
                continue;
            };
            let mut insert_at = self.nodes[ni].answers.len();
            if let Some(b) = ext.before {
                let bat = self.at(file, b.span());
                match self.nodes[ni]
                    .answers
                    .iter()
                    .position(|a| a.label == *b.get_ref())
                {
                    Some(i) => insert_at = i,
                    None => self.report(
                        &bat,
                        format!("node `{target}` has no answer `{}`", b.get_ref()),
                    ),
                }
            }
            let new: Vec<Answer> = ext
                .answer
                .into_iter()
                .map(|a| self.answer(file, a))
                .collect();
            for (k, a) in new.into_iter().enumerate() {
                self.nodes[ni].answers.insert(insert_at + k, a);
            }
        }
    }

    fn validate(&mut self) {
        let Some((root, root_at)) = self.root.clone() else {
            self.problems.push(Problem {
                file: self
                    .maps
                    .first()
                    .map(|m| m.name.to_string())
                    .unwrap_or_default(),
                line: 1,
                column: 1,
                message: "no `root` node is set".into(),
            });
            return;
        };
        let node_ids: HashMap<String, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.clone(), i))
            .collect();
        let leaf_ids: BTreeSet<String> = self.leaves.iter().map(|l| l.id.clone()).collect();
        if !node_ids.contains_key(&root) {
            self.report(&root_at, format!("root `{root}` is not a node"));
            return;
        }
        let mut found = Vec::new();
        for n in &self.nodes {
            for a in &n.answers {
                if !node_ids.contains_key(&a.next) && !leaf_ids.contains(&a.next) {
                    found.push(a.next_origin.problem(format!(
                        "dangling edge `{}` —{}→ `{}`: no node or leaf has that id",
                        n.id, a.label, a.next
                    )));
                }
            }
        }
        // Cycles: iterative DFS with colours; an edge into a node still on the trail closes one.
        let mut colour = vec![0u8; self.nodes.len()];
        for start in 0..self.nodes.len() {
            if colour[start] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            colour[start] = 1;
            while let Some(top) = stack.last_mut() {
                let (n, ai) = *top;
                let answers = &self.nodes[n].answers;
                if ai >= answers.len() {
                    colour[n] = 2;
                    stack.pop();
                    continue;
                }
                top.1 += 1;
                let Some(&m) = node_ids.get(&answers[ai].next) else {
                    continue;
                };
                match colour[m] {
                    0 => {
                        colour[m] = 1;
                        stack.push((m, 0));
                    }
                    1 => {
                        let from = stack.iter().position(|&(t, _)| t == m).unwrap_or(0);
                        let mut names: Vec<&str> = stack[from..]
                            .iter()
                            .map(|&(t, _)| self.nodes[t].id.as_str())
                            .collect();
                        names.push(self.nodes[m].id.as_str());
                        found.push(
                            answers[ai]
                                .next_origin
                                .problem(format!("cycle: {}", names.join(" → "))),
                        );
                    }
                    _ => {}
                }
            }
        }
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut queue = vec![root.as_str()];
        while let Some(id) = queue.pop() {
            if !seen.insert(id) {
                continue;
            }
            if let Some(&i) = node_ids.get(id) {
                queue.extend(self.nodes[i].answers.iter().map(|a| a.next.as_str()));
            }
        }
        for n in &self.nodes {
            if !seen.contains(n.id.as_str()) {
                found.push(
                    n.origin
                        .problem(format!("node `{}` is not reachable from `{root}`", n.id)),
                );
            }
        }
        for l in &self.leaves {
            if !seen.contains(l.id.as_str()) {
                found.push(
                    l.origin
                        .problem(format!("leaf `{}` is not reachable from `{root}`", l.id)),
                );
            }
        }
        self.problems.extend(found);
    }
}

/// Parse, merge and validate `(name, text)` sources; the first is the base tree.
pub fn load_sources(sources: &[(String, String)]) -> Result<Tree, TreeErrors> {
    let mut b = Builder {
        maps: sources
            .iter()
            .map(|(n, t)| SourceMap { name: n, text: t })
            .collect(),
        problems: Vec::new(),
        version: None,
        root: None,
        extra_sources: BTreeSet::new(),
        nodes: Vec::new(),
        leaves: Vec::new(),
        ids: BTreeMap::new(),
    };
    let mut parsed = Vec::new();
    for (i, (_, text)) in sources.iter().enumerate() {
        match toml::from_str::<RawFile>(text) {
            Ok(raw) => parsed.push((i, raw)),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let p = b.maps[i].problem(span, e.message().trim().to_string());
                b.problems.push(p);
            }
        }
    }
    // Declared sources first, so a rule in any file may use any file's declarations.
    for (_, raw) in &parsed {
        for s in &raw.sources {
            b.extra_sources.insert(s.get_ref().clone());
        }
    }
    let mut extends = Vec::new();
    for (i, mut raw) in parsed {
        extends.push((i, std::mem::take(&mut raw.extend)));
        b.file(i, raw);
    }
    for (i, ext) in extends {
        b.extensions(i, ext);
    }
    if b.problems.is_empty() {
        b.validate();
    }
    if !b.problems.is_empty() {
        let order: HashMap<&str, usize> = sources
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.as_str(), i))
            .collect();
        let mut p = b.problems;
        p.sort_by_key(|x| (order.get(x.file.as_str()).copied(), x.line, x.column));
        p.dedup();
        return Err(TreeErrors(p));
    }
    let node_index = b
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.clone(), i))
        .collect();
    let leaf_index = b
        .leaves
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.clone(), i))
        .collect();
    Ok(Tree {
        version: b.version.unwrap_or_else(|| "unversioned".into()),
        root: b.root.map(|(r, _)| r).unwrap_or_default(),
        nodes: b.nodes,
        leaves: b.leaves,
        files: sources.iter().map(|(n, _)| n.clone()).collect(),
        node_index,
        leaf_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tree_loads() {
        let t = Tree::builtin().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.flowchart_edges(), 29);
    }
}
