//! The runbook §7 decision tree as data, its validation, walks and evidence matching.
//!
//! * [`tree`] — the shipped `tree.toml` (plus extension files), validated with file:line problems.
//! * [`evidence`] — named evidence sources and the evaluation of the tree's rules over them.
//! * [`walk`] — the walk engine (answers, breadcrumbs, back, restart, jump) and leaf rendering.
//! * [`gather`] — catalyst-api and cluster gatherers producing [`Evidence`].
//! * [`fixture`] — the per-leaf evidence sets of `fixtures/troubleshoot/evidence/`.

pub mod evidence;
pub mod fixture;
pub mod gather;
pub mod tree;
pub mod walk;

pub use evidence::{Citation, Evidence, EvidenceLine};
pub use tree::{Leaf, Node, Problem, Tree, TreeErrors, lint_file};
pub use walk::{Diagnosis, LeafView, Outcome, Placeholders, Position, Walk, diagnose};
