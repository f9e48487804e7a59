//! How a fleet is arranged for display: grouped (by tag, by worst state), ordered, filtered and
//! folded. One home for these rules, so the cockpit's views and `sovtui fleet status --group-by`
//! show the same groups with the same counts.
//!
//! At 2,000 Sovereigns the cockpit must stay instant, so [`FleetIndex`] keeps what the rules
//! need incrementally instead of re-deriving it per keystroke:
//! * a key per Sovereign (lower-cased FQDN and tags, its [`Health`]) recomputed only for the
//!   Sovereign that changed;
//! * the whole fleet in display order (`base`), sorted once when the fleet, the grouping or the
//!   order changes — a change of one Sovereign that moves it to another group is a remove and a
//!   binary-search insert, not a re-sort;
//! * the filtered list for every prefix of the filter typed so far: a typed character narrows
//!   the last list (no sort: it is a subsequence of `base`), backspace takes the previous one;
//! * the rows (group headers and Sovereigns, folds applied), rebuilt in one linear pass.
//!
//! Ordering is stable: ties keep fleet-file order, and with grouping by worst state a row moves
//! only when its group changes (the order inside a group never depends on the state).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::model::{ConnectionState, SovereignStatus};
use crate::provision::flux::ComponentState;

/// Fleets larger than this open grouped by worst state (worst first), unless
/// `SOVTUI_WORST_FIRST_ABOVE` says otherwise.
pub const WORST_FIRST_ABOVE: usize = 50;

/// The fleet size above which the views open grouped by worst state: `SOVTUI_WORST_FIRST_ABOVE`
/// (a whole number), else [`WORST_FIRST_ABOVE`].
pub fn worst_first_above() -> usize {
    std::env::var("SOVTUI_WORST_FIRST_ABOVE")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(WORST_FIRST_ABOVE)
}

/// One Sovereign's overall state, for grouping and worst-first ordering: coarser than a
/// component state, so a change inside a bucket (installing → pending) moves no row.
/// Declared worst first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// The link to its apiserver is down (degraded, unreachable, forbidden, auth expired) or
    /// reconnecting after having been live: what is shown is stale.
    NotLive,
    Failed,
    Stalled,
    Degraded,
    /// Installing or pending.
    Progressing,
    /// Nothing read yet: unknown, never "ready".
    #[default]
    Unknown,
    Suspended,
    /// Read, and it has no HelmReleases.
    Empty,
    /// Every HelmRelease installed.
    Ready,
}

impl Health {
    pub const ALL: [Health; 9] = [
        Health::NotLive,
        Health::Failed,
        Health::Stalled,
        Health::Degraded,
        Health::Progressing,
        Health::Unknown,
        Health::Suspended,
        Health::Empty,
        Health::Ready,
    ];

    pub fn of(s: &SovereignStatus) -> Health {
        let live = s.connection.is_live();
        let connecting = matches!(s.connection, ConnectionState::Connecting);
        // Connecting for the first time is "no data yet", not a lost link.
        let first_connect = connecting && s.last_live.is_none();
        if !(live || first_connect) {
            return Health::NotLive;
        }
        if s.components.is_empty() {
            return if !live && s.last_live.is_none() {
                Health::Unknown
            } else {
                Health::Empty
            };
        }
        match s.worst().map(|c| c.state) {
            None => Health::Ready,
            Some(ComponentState::Failed) => Health::Failed,
            Some(ComponentState::Stalled) => Health::Stalled,
            Some(ComponentState::Degraded) => Health::Degraded,
            Some(ComponentState::Installing | ComponentState::Pending) => Health::Progressing,
            Some(ComponentState::Suspended) => Health::Suspended,
            Some(ComponentState::Installed) => Health::Ready,
        }
    }

    /// The word for it (group headers, summaries, `--json` keys).
    pub fn label(self) -> &'static str {
        match self {
            Health::NotLive => "not live",
            Health::Failed => "failed",
            Health::Stalled => "stalled",
            Health::Degraded => "degraded",
            Health::Progressing => "progressing",
            Health::Unknown => "no data",
            Health::Suspended => "suspended",
            Health::Empty => "empty",
            Health::Ready => "ready",
        }
    }

    /// The glyph that goes with the word (the component states' glyphs, so one symbol means one
    /// thing everywhere; `◑` is the connection glyph of a degraded link).
    pub fn symbol(self) -> &'static str {
        match self {
            Health::NotLive => "◑",
            Health::Failed => ComponentState::Failed.symbol(),
            Health::Stalled => ComponentState::Stalled.symbol(),
            Health::Degraded => ComponentState::Degraded.symbol(),
            Health::Progressing => ComponentState::Installing.symbol(),
            Health::Unknown => "?",
            Health::Suspended => ComponentState::Suspended.symbol(),
            Health::Empty => "·",
            Health::Ready => ComponentState::Installed.symbol(),
        }
    }

    /// Rank, worst first (0 is the worst).
    pub fn rank(self) -> usize {
        self as usize
    }

    /// Whether it needs an operator's eye (everything but ready, empty and suspended).
    pub fn is_problem(self) -> bool {
        !matches!(self, Health::Ready | Health::Empty | Health::Suspended)
    }
}

/// Sovereigns per [`Health`], worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HealthCounts(pub [usize; Health::ALL.len()]);

impl HealthCounts {
    pub fn add(&mut self, h: Health) {
        self.0[h.rank()] += 1;
    }

    pub fn get(&self, h: Health) -> usize {
        self.0[h.rank()]
    }

    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }

    /// The non-zero counts, worst first.
    pub fn nonzero(&self) -> impl Iterator<Item = (Health, usize)> + '_ {
        Health::ALL
            .into_iter()
            .map(|h| (h, self.get(h)))
            .filter(|(_, n)| *n > 0)
    }

    /// `failed 3 · progressing 12 · ready 1,985` (worst first, thousands separated).
    pub fn describe(&self) -> String {
        self.nonzero()
            .map(|(h, n)| format!("{} {}", h.label(), thousands(n)))
            .collect::<Vec<_>>()
            .join(" · ")
    }

    pub fn to_map(&self) -> BTreeMap<Health, usize> {
        self.nonzero().collect()
    }
}

/// What the rows are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    #[default]
    None,
    /// One group per tag (a Sovereign with several tags is in each of their groups; untagged
    /// ones in their own group, last).
    Tag,
    /// One group per [`Health`], worst first.
    Worst,
}

impl GroupBy {
    pub const ALL: [GroupBy; 3] = [GroupBy::None, GroupBy::Tag, GroupBy::Worst];

    pub fn next(self) -> GroupBy {
        match self {
            GroupBy::None => GroupBy::Tag,
            GroupBy::Tag => GroupBy::Worst,
            GroupBy::Worst => GroupBy::None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            GroupBy::None => "none",
            GroupBy::Tag => "tag",
            GroupBy::Worst => "worst",
        }
    }

    pub fn parse(s: &str) -> Option<GroupBy> {
        GroupBy::ALL.into_iter().find(|g| g.name() == s.trim())
    }

    /// The grouping a view opens with for a fleet of `len` Sovereigns.
    pub fn default_for(len: usize, worst_first_above: usize) -> GroupBy {
        if len > worst_first_above {
            GroupBy::Worst
        } else {
            GroupBy::None
        }
    }
}

/// The order of Sovereigns inside a group (or of the whole list when ungrouped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Fleet-file order.
    #[default]
    Natural,
    /// Worst [`Health`] first (ties in fleet-file order).
    Worst,
    /// By FQDN.
    Name,
}

impl Order {
    pub fn next(self) -> Order {
        match self {
            Order::Natural => Order::Worst,
            Order::Worst => Order::Name,
            Order::Name => Order::Natural,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Order::Natural => "fleet/DAG order",
            Order::Worst => "worst first",
            Order::Name => "by name",
        }
    }
}

/// A group of the arrangement.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "by", content = "name", rename_all = "snake_case")]
pub enum GroupKey {
    /// The one group of an ungrouped list.
    All,
    Tag(String),
    Untagged,
    Worst(Health),
}

impl GroupKey {
    pub fn label(&self) -> String {
        match self {
            GroupKey::All => "all".to_string(),
            GroupKey::Tag(t) => format!("tag {t}"),
            GroupKey::Untagged => "untagged".to_string(),
            GroupKey::Worst(h) => h.label().to_string(),
        }
    }
}

/// One group: its key, and what its members' health adds up to (filter applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub key: GroupKey,
    pub counts: HealthCounts,
    pub folded: bool,
}

/// One row of an arranged list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Row {
    /// The header of `groups[g]` (only when grouped).
    Header(u32),
    /// `fleet[index]`, shown in `groups[group]`.
    Sovereign { index: u32, group: u32 },
}

impl Row {
    pub fn sovereign(self) -> Option<usize> {
        match self {
            Row::Sovereign { index, .. } => Some(index as usize),
            Row::Header(_) => None,
        }
    }

    pub fn group(self) -> usize {
        match self {
            Row::Header(g) | Row::Sovereign { group: g, .. } => g as usize,
        }
    }
}

/// What the rules need of one Sovereign, kept so a keystroke never lower-cases 2,000 names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    fqdn: String,
    tags: Vec<String>,
    health: Health,
    connection: &'static str,
}

impl Key {
    fn of(s: &SovereignStatus) -> Key {
        Key {
            fqdn: s.fqdn.to_lowercase(),
            tags: s.tags.iter().map(|t| t.to_lowercase()).collect(),
            health: Health::of(s),
            connection: s.connection.label(),
        }
    }

    /// The filter rule: the needle (lower case) in the FQDN, a tag, the connection state or the
    /// health word. An empty needle matches everything.
    fn matches(&self, needle: &str) -> bool {
        needle.is_empty()
            || self.fqdn.contains(needle)
            || self.tags.iter().any(|t| t.contains(needle))
            || self.connection.contains(needle)
            || self.health.label().contains(needle)
    }
}

/// A member of the arrangement: Sovereign `index` in group `group` (a tagged Sovereign is a
/// member of each of its tags' groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Member {
    group: u32,
    index: u32,
}

/// The fleet's arrangement for one view, kept up to date incrementally (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct FleetIndex {
    keys: Vec<Key>,
    by_fqdn: HashMap<String, usize>,
    group_by: GroupBy,
    order: Order,
    groups: Vec<GroupKey>,
    /// Every member, in display order.
    base: Vec<Member>,
    /// `(filter, members matching it)` for each prefix of the filter typed so far, shortest
    /// first; the last is the current filter's.
    narrowing: Vec<(String, Vec<Member>)>,
    folded: BTreeSet<GroupKey>,
    rows: Vec<Row>,
    shown: Vec<Group>,
    /// Health of the whole fleet (no filter).
    totals: HealthCounts,
    /// The labels every FQDN of the fleet ends with (`.example.com`), for eliding.
    common_suffix: String,
}

impl FleetIndex {
    pub fn new(fleet: &[SovereignStatus], group_by: GroupBy, order: Order) -> FleetIndex {
        let mut ix = FleetIndex {
            group_by,
            order,
            ..FleetIndex::default()
        };
        ix.rebuild(fleet);
        ix
    }

    pub fn group_by(&self) -> GroupBy {
        self.group_by
    }

    pub fn order(&self) -> Order {
        self.order
    }

    /// The filter in force (lower case).
    pub fn filter(&self) -> &str {
        self.narrowing.last().map(|(f, _)| f.as_str()).unwrap_or("")
    }

    /// The rows to show: group headers (when grouped) and Sovereigns, folds applied.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The groups `Row::Header` and `Row::Sovereign::group` point into.
    pub fn groups(&self) -> &[Group] {
        &self.shown
    }

    /// The whole fleet's health counts (no filter, no folds).
    pub fn totals(&self) -> &HealthCounts {
        &self.totals
    }

    /// How many Sovereigns match the filter (each counted once, folded or not).
    pub fn matching(&self) -> usize {
        match self.narrowing.last() {
            None => self.keys.len(),
            Some(_) if self.group_by != GroupBy::Tag => self.current().len(),
            Some(_) => {
                let mut seen = vec![false; self.keys.len()];
                self.current()
                    .iter()
                    .filter(|m| !std::mem::replace(&mut seen[m.index as usize], true))
                    .count()
            }
        }
    }

    /// `.example.com` when every FQDN ends so (empty otherwise, or for a fleet of one).
    pub fn common_suffix(&self) -> &str {
        &self.common_suffix
    }

    pub fn position(&self, fqdn: &str) -> Option<usize> {
        self.by_fqdn.get(fqdn).copied()
    }

    pub fn health(&self, index: usize) -> Option<Health> {
        self.keys.get(index).map(|k| k.health)
    }

    /// Recompute everything from `fleet` (a snapshot, a Sovereign added or removed, a reload).
    pub fn rebuild(&mut self, fleet: &[SovereignStatus]) {
        self.keys = fleet.iter().map(Key::of).collect();
        self.by_fqdn = fleet
            .iter()
            .enumerate()
            .map(|(i, s)| (s.fqdn.clone(), i))
            .collect();
        self.common_suffix = common_suffix(fleet.iter().map(|s| s.fqdn.as_str()));
        self.rearrange();
    }

    /// Change the grouping (folds are per grouping: they are forgotten).
    pub fn set_group_by(&mut self, group_by: GroupBy) {
        if group_by != self.group_by {
            self.group_by = group_by;
            self.folded.clear();
            self.rearrange();
        }
    }

    pub fn set_order(&mut self, order: Order) {
        if order != self.order {
            self.order = order;
            self.rearrange();
        }
    }

    /// `fleet[index]` changed (same FQDN). Returns whether the rows changed. Only a change of
    /// its group (or of its place under worst-first order) or of whether it matches the filter
    /// moves rows; anything else at most changes a header's counts.
    pub fn update(&mut self, fleet: &[SovereignStatus], index: usize) -> bool {
        let Some(s) = fleet.get(index) else {
            return false;
        };
        if self.keys.len() != fleet.len() || self.keys[index].fqdn != s.fqdn.to_lowercase() {
            self.rebuild(fleet);
            return true;
        }
        let new = Key::of(s);
        if new == self.keys[index] {
            return false;
        }
        let old = std::mem::replace(&mut self.keys[index], new);
        if old.tags != self.keys[index].tags {
            // A tag change can add or remove whole groups: start over.
            self.rearrange();
            return true;
        }
        let health = self.keys[index].health;
        self.totals.0[old.health.rank()] -= 1;
        self.totals.add(health);
        // The narrowing lists for shorter prefixes are caches: dropped here, rebuilt from
        // `base` should backspace need them.
        let current = self.narrowing.pop();
        self.narrowing.clear();
        let moves =
            old.health != health && (self.group_by == GroupBy::Worst || self.order == Order::Worst);
        if moves {
            // Out of its old places, into its new ones (binary search): the lists stay sorted.
            // By tag it keeps its groups (one member per tag) and only moves inside them.
            let groups: Vec<u32> = match self.group_by {
                GroupBy::Tag => self
                    .base
                    .iter()
                    .filter(|m| m.index as usize == index)
                    .map(|m| m.group)
                    .collect(),
                GroupBy::None | GroupBy::Worst => vec![self.group_index(&self.keys[index])],
            };
            let members: Vec<Member> = groups
                .into_iter()
                .map(|group| Member {
                    group,
                    index: index as u32,
                })
                .collect();
            let mut base = std::mem::take(&mut self.base);
            base.retain(|m| m.index as usize != index);
            for member in &members {
                let at = self.insertion_point(&base, member);
                base.insert(at, *member);
            }
            self.base = base;
            if let Some((needle, mut list)) = current {
                list.retain(|m| m.index as usize != index);
                if self.keys[index].matches(&needle) {
                    for member in &members {
                        let at = self.insertion_point(&list, member);
                        list.insert(at, *member);
                    }
                }
                self.narrowing.push((needle, list));
            }
        } else if let Some((needle, list)) = current {
            let list = if old.matches(&needle) != self.keys[index].matches(&needle) {
                self.filtered_from(&self.base, &needle)
            } else {
                list
            };
            self.narrowing.push((needle, list));
        }
        self.build_rows();
        true
    }

    /// Set the filter. Typing a character narrows the last list; deleting one goes back to
    /// the list of that prefix; anything else filters `base` afresh. Never sorts.
    pub fn set_filter(&mut self, filter: &str) {
        let needle = filter.to_lowercase();
        if needle == self.filter() {
            return;
        }
        while let Some((f, _)) = self.narrowing.last() {
            if needle.starts_with(f.as_str()) {
                break;
            }
            self.narrowing.pop();
        }
        if !needle.is_empty() {
            let from = self
                .narrowing
                .last()
                .map(|(_, l)| l.as_slice())
                .unwrap_or(&self.base);
            let from_same = self.narrowing.last().is_some_and(|(f, _)| *f == needle);
            if !from_same {
                let list = self.filtered_from(from, &needle);
                self.narrowing.push((needle, list));
            }
        }
        self.build_rows();
    }

    /// Fold or unfold the group of `row`; returns the row of that group's header afterwards.
    pub fn toggle_fold(&mut self, row: usize) -> Option<usize> {
        let g = self.rows.get(row)?.group();
        let key = self.shown.get(g)?.key.clone();
        if self.group_by == GroupBy::None {
            return None;
        }
        if !self.folded.remove(&key) {
            self.folded.insert(key.clone());
        }
        self.build_rows();
        self.rows
            .iter()
            .position(|r| matches!(r, Row::Header(h) if self.shown[*h as usize].key == key))
    }

    /// Fold every group (`true`) or none.
    pub fn fold_all(&mut self, fold: bool) {
        if self.group_by == GroupBy::None {
            return;
        }
        self.folded = if fold {
            self.shown.iter().map(|g| g.key.clone()).collect()
        } else {
            BTreeSet::new()
        };
        self.build_rows();
    }

    /// The first row showing a Sovereign whose FQDN contains `needle` (case-insensitive); a
    /// match inside a folded group unfolds that group. Linear over the matching list, no
    /// allocation per Sovereign.
    pub fn jump(&mut self, needle: &str) -> Option<usize> {
        let needle = needle.to_lowercase();
        let hit = self
            .current()
            .iter()
            .find(|m| self.keys[m.index as usize].fqdn.contains(&needle))
            .copied()?;
        let key = self.groups.get(hit.group as usize)?.clone();
        if self.folded.remove(&key) {
            self.build_rows();
        }
        self.rows
            .iter()
            .position(|r| r.sovereign() == Some(hit.index as usize))
    }

    /// The row showing `row_before` after a change: the same Sovereign (in the same group if it
    /// is still there) or the same header, so a selection follows what it was on.
    pub fn find_row(&self, wanted: Row, group_key: Option<&GroupKey>) -> Option<usize> {
        match wanted {
            Row::Sovereign { index, .. } => {
                let same_group = |r: &Row| {
                    group_key.is_none_or(|k| self.shown.get(r.group()).is_some_and(|g| &g.key == k))
                };
                self.rows
                    .iter()
                    .position(|r| r.sovereign() == Some(index as usize) && same_group(r))
                    .or_else(|| {
                        self.rows
                            .iter()
                            .position(|r| r.sovereign() == Some(index as usize))
                    })
            }
            Row::Header(_) => {
                let key = group_key?;
                self.rows.iter().position(
                    |r| matches!(r, Row::Header(h) if &self.shown[*h as usize].key == key),
                )
            }
        }
    }

    // ---- internals ----------------------------------------------------------------------

    fn current(&self) -> &[Member] {
        self.narrowing
            .last()
            .map(|(_, l)| l.as_slice())
            .unwrap_or(&self.base)
    }

    fn filtered_from(&self, from: &[Member], needle: &str) -> Vec<Member> {
        from.iter()
            .filter(|m| self.keys[m.index as usize].matches(needle))
            .copied()
            .collect()
    }

    /// The group of a Sovereign whose group does not depend on its tags (ungrouped, worst).
    fn group_index(&self, key: &Key) -> u32 {
        match self.group_by {
            GroupBy::Worst => key.health.rank() as u32,
            GroupBy::None | GroupBy::Tag => 0,
        }
    }

    fn sort_key(&self, m: &Member) -> (u32, usize, usize) {
        self.sort_key_with(m, &self.keys[m.index as usize])
    }

    /// Group, then the order's key (health rank under worst-first), then fleet-file order.
    /// `Order::Name` is handled by `cmp_members` (it compares strings).
    fn sort_key_with(&self, m: &Member, key: &Key) -> (u32, usize, usize) {
        let within = match self.order {
            Order::Worst => key.health.rank(),
            Order::Natural | Order::Name => 0,
        };
        (m.group, within, m.index as usize)
    }

    fn cmp_members(&self, a: &Member, b: &Member) -> Ordering {
        let (ga, wa, ia) = self.sort_key(a);
        let (gb, wb, ib) = self.sort_key(b);
        ga.cmp(&gb).then(wa.cmp(&wb)).then_with(|| {
            if self.order == Order::Name {
                self.keys[ia]
                    .fqdn
                    .cmp(&self.keys[ib].fqdn)
                    .then(ia.cmp(&ib))
            } else {
                ia.cmp(&ib)
            }
        })
    }

    fn insertion_point(&self, list: &[Member], m: &Member) -> usize {
        list.partition_point(|x| self.cmp_members(x, m) == Ordering::Less)
    }

    /// Groups and `base` from the keys, then the filter lists and rows (the one place that
    /// sorts: the fleet, the grouping or the order changed).
    fn rearrange(&mut self) {
        self.totals = HealthCounts::default();
        for k in &self.keys {
            self.totals.add(k.health);
        }
        self.groups = match self.group_by {
            GroupBy::None => vec![GroupKey::All],
            GroupBy::Worst => Health::ALL.into_iter().map(GroupKey::Worst).collect(),
            GroupBy::Tag => {
                let tags: BTreeSet<&String> = self.keys.iter().flat_map(|k| &k.tags).collect();
                let mut groups: Vec<GroupKey> =
                    tags.into_iter().map(|t| GroupKey::Tag(t.clone())).collect();
                groups.push(GroupKey::Untagged);
                groups
            }
        };
        let tag_group: HashMap<&str, u32> = self
            .groups
            .iter()
            .enumerate()
            .filter_map(|(g, k)| match k {
                GroupKey::Tag(t) => Some((t.as_str(), g as u32)),
                _ => None,
            })
            .collect();
        let untagged = self.groups.len().saturating_sub(1) as u32;
        let mut base = Vec::with_capacity(self.keys.len());
        for (i, k) in self.keys.iter().enumerate() {
            let index = i as u32;
            match self.group_by {
                GroupBy::Tag if k.tags.is_empty() => base.push(Member {
                    group: untagged,
                    index,
                }),
                GroupBy::Tag => {
                    let mut seen = BTreeSet::new();
                    for t in &k.tags {
                        if let Some(&group) = tag_group.get(t.as_str())
                            && seen.insert(group)
                        {
                            base.push(Member { group, index });
                        }
                    }
                }
                GroupBy::None | GroupBy::Worst => base.push(Member {
                    group: self.group_index(k),
                    index,
                }),
            }
        }
        base.sort_by(|a, b| self.cmp_members(a, b));
        self.base = base;
        // Keep the filter, recomputed once from the new base.
        let needle = self.filter().to_string();
        self.narrowing.clear();
        if !needle.is_empty() {
            let list = self.filtered_from(&self.base, &needle);
            self.narrowing.push((needle, list));
        }
        self.build_rows();
    }

    /// Rows and group counts from the current list in one pass: only non-empty groups show.
    fn build_rows(&mut self) {
        let grouped = self.group_by != GroupBy::None;
        let mut counts = vec![HealthCounts::default(); self.groups.len()];
        for m in self.current() {
            counts[m.group as usize].add(self.keys[m.index as usize].health);
        }
        // Shown groups: the non-empty ones, in group order.
        let mut shown_of = vec![u32::MAX; self.groups.len()];
        let mut shown = Vec::new();
        for (g, key) in self.groups.iter().enumerate() {
            if counts[g].total() > 0 || (!grouped && g == 0) {
                shown_of[g] = shown.len() as u32;
                shown.push(Group {
                    key: key.clone(),
                    counts: counts[g],
                    folded: grouped && self.folded.contains(key),
                });
            }
        }
        let mut rows = Vec::with_capacity(self.current().len() + shown.len());
        let mut last_group = u32::MAX;
        for m in self.current() {
            let g = shown_of[m.group as usize];
            if grouped && g != last_group {
                rows.push(Row::Header(g));
                last_group = g;
            }
            if !shown[g as usize].folded {
                rows.push(Row::Sovereign {
                    index: m.index,
                    group: g,
                });
            }
        }
        self.rows = rows;
        self.shown = shown;
    }
}

/// `1,985`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1.9k`, `12k`, `2.0M`: a count in at most four characters.
pub fn abbreviated(n: usize) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=9_949 => format!("{:.1}k", n as f64 / 1e3),
        9_950..=999_499 => format!("{}k", (n + 500) / 1000),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// The fleet's one-line summary in at most `width` characters, never wrapped: the total, then
/// every non-zero health count worst first, each as glyph, number and word. When that is too
/// long the words go, then numbers are abbreviated (`1.9k`), then the healthiest counts are
/// replaced by `+N more`; the total and the worst count are what survive longest.
pub fn summary_line(counts: &HealthCounts, width: usize) -> String {
    let total = counts.total();
    let parts: Vec<(Health, usize)> = counts.nonzero().collect();
    let noun = if total == 1 {
        "Sovereign"
    } else {
        "Sovereigns"
    };
    let render = |words: bool, abbrev: bool, keep: usize| -> String {
        let num = |n: usize| if abbrev { abbreviated(n) } else { thousands(n) };
        let mut out = if words {
            format!("{} {noun}", num(total))
        } else {
            format!("{} Sov", num(total))
        };
        for (h, n) in parts.iter().take(keep) {
            out.push_str(if words { " · " } else { " " });
            out.push_str(h.symbol());
            if words {
                out.push_str(&format!(" {} {}", num(*n), h.label()));
            } else {
                out.push_str(&num(*n));
            }
        }
        if keep < parts.len() {
            out.push_str(&format!(" +{} more", parts.len() - keep));
        }
        out
    };
    let fits = |s: &String| s.chars().count() <= width;
    for (words, abbrev) in [(true, false), (false, false), (false, true)] {
        let s = render(words, abbrev, parts.len());
        if fits(&s) {
            return s;
        }
    }
    for keep in (0..parts.len()).rev() {
        let s = render(false, true, keep);
        if fits(&s) {
            return s;
        }
    }
    render(false, true, 0).chars().take(width).collect()
}

/// The labels every name ends with, with its leading dot (`.bench.example`), when there are
/// at least two names and each has something before it.
pub fn common_suffix<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut names = names.into_iter();
    let Some(first) = names.next() else {
        return String::new();
    };
    let mut labels: Vec<&str> = first.split('.').skip(1).collect();
    let mut count = 1;
    for name in names {
        count += 1;
        let theirs: Vec<&str> = name.split('.').skip(1).collect();
        let same = labels
            .iter()
            .rev()
            .zip(theirs.iter().rev())
            .take_while(|(a, b)| a.eq_ignore_ascii_case(b))
            .count();
        labels.drain(..labels.len() - same);
        if labels.is_empty() {
            break;
        }
    }
    if count < 2 || labels.is_empty() {
        return String::new();
    }
    format!(".{}", labels.join("."))
}

/// A name in at most `width` characters, elided in the middle rather than cut: what tells it
/// apart from the rest of the fleet (the part before `common_suffix`) stays whole as long as it
/// fits, the shared suffix gives way first (`sov-0042.eu…example`); a distinguishing part that
/// is itself too long keeps its head and its tail (`customer-…-0042`).
pub fn elide_middle(name: &str, common_suffix: &str, width: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= width {
        return name.to_string();
    }
    if width <= 1 {
        return "…".chars().take(width).collect();
    }
    let first_label = chars.iter().position(|c| *c == '.').unwrap_or(chars.len());
    let distinct = if !common_suffix.is_empty()
        && name.len() > common_suffix.len()
        && name
            .get(name.len() - common_suffix.len()..)
            .is_some_and(|s| s.eq_ignore_ascii_case(common_suffix))
    {
        chars.len() - common_suffix.chars().count()
    } else {
        // Without a shared suffix the first label tells Sovereigns apart.
        first_label
    };
    let text = |r: std::ops::Range<usize>| -> String { chars[r].iter().collect() };
    // Whole, then `…`, then as much of what follows it (up to `end`) as is left.
    let keep = |part: usize, end: usize| -> String {
        let rest = width - part - 1;
        format!(
            "{}…{}",
            text(0..part),
            text(end - rest.min(end - part)..end)
        )
    };
    if distinct < width {
        return keep(distinct, chars.len());
    }
    if first_label < width {
        return keep(first_label, distinct);
    }
    // Head and tail of the first label (its end often numbers the Sovereign).
    let back = (width - 1) / 2;
    let front = width - 1 - back;
    format!(
        "{}…{}",
        text(0..front),
        text(first_label - back..first_label)
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::provision::fleet::model::ComponentStatus;

    fn sov(name: &str, tags: &[&str], worst: Option<ComponentState>) -> SovereignStatus {
        let mut s = SovereignStatus::new(name, tags.iter().map(|t| t.to_string()).collect());
        s.connection = ConnectionState::Live;
        s.last_live = Some(chrono::Utc::now());
        s.components = vec![
            ComponentStatus {
                name: "bp-cilium".into(),
                namespace: "flux-system".into(),
                state: worst.unwrap_or(ComponentState::Installed),
                message: String::new(),
                last_transition: None,
                depends_on: vec![],
                conditions: vec![],
            }
            .into(),
        ];
        s
    }

    fn names(ix: &FleetIndex, fleet: &[SovereignStatus]) -> Vec<String> {
        ix.rows()
            .iter()
            .map(|r| match r {
                Row::Header(g) => format!("# {}", ix.groups()[*g as usize].key.label()),
                Row::Sovereign { index, .. } => fleet[*index as usize].fqdn.clone(),
            })
            .collect()
    }

    fn fleet() -> Vec<SovereignStatus> {
        vec![
            sov("a.x", &["prod"], None),
            sov("b.x", &[], Some(ComponentState::Failed)),
            sov("c.x", &["prod", "eu"], Some(ComponentState::Installing)),
            sov("d.x", &["eu"], None),
            sov("e.x", &[], Some(ComponentState::Pending)),
        ]
    }

    #[test]
    fn health_is_coarse_worst_first_and_never_ready_without_data() {
        let mut s = SovereignStatus::new("n.x", vec![]);
        assert_eq!(Health::of(&s), Health::Unknown);
        s.connection = ConnectionState::Unreachable {
            since: chrono::Utc::now(),
            error: "x".into(),
        };
        assert_eq!(Health::of(&s), Health::NotLive);
        let mut f = sov("f.x", &[], Some(ComponentState::Installing));
        assert_eq!(Health::of(&f), Health::Progressing);
        Arc::make_mut(&mut f.components[0]).state = ComponentState::Pending;
        assert_eq!(Health::of(&f), Health::Progressing);
        f.components.clear();
        assert_eq!(Health::of(&f), Health::Empty);
        // Reconnecting after having been live: the data is stale.
        let mut r = sov("r.x", &[], None);
        r.connection = ConnectionState::Connecting;
        assert_eq!(Health::of(&r), Health::NotLive);
        let mut sorted = Health::ALL.to_vec();
        sorted.sort();
        assert_eq!(sorted, Health::ALL, "declared worst first");
    }

    #[test]
    fn grouping_by_worst_counts_each_group_and_keeps_fleet_order_inside() {
        let f = fleet();
        let ix = FleetIndex::new(&f, GroupBy::Worst, Order::Natural);
        assert_eq!(
            names(&ix, &f),
            [
                "# failed",
                "b.x",
                "# progressing",
                "c.x",
                "e.x",
                "# ready",
                "a.x",
                "d.x"
            ]
        );
        assert_eq!(ix.groups()[1].counts.describe(), "progressing 2");
        assert_eq!(ix.totals().describe(), "failed 1 · progressing 2 · ready 2");
    }

    #[test]
    fn grouping_by_tag_puts_a_sovereign_in_each_of_its_tags_and_untagged_last() {
        let f = fleet();
        let ix = FleetIndex::new(&f, GroupBy::Tag, Order::Worst);
        assert_eq!(
            names(&ix, &f),
            [
                "# tag eu",
                "c.x",
                "d.x",
                "# tag prod",
                "c.x",
                "a.x",
                "# untagged",
                "b.x",
                "e.x"
            ]
        );
        assert_eq!(ix.groups()[1].counts.describe(), "progressing 1 · ready 1");
        // Counted once in the filter's total.
        assert_eq!(ix.matching(), 5);
    }

    #[test]
    fn ungrouped_orders_by_name_or_worst_stably() {
        let f = fleet();
        let mut ix = FleetIndex::new(&f, GroupBy::None, Order::Worst);
        assert_eq!(names(&ix, &f), ["b.x", "c.x", "e.x", "a.x", "d.x"]);
        ix.set_order(Order::Name);
        assert_eq!(names(&ix, &f), ["a.x", "b.x", "c.x", "d.x", "e.x"]);
        ix.set_order(Order::Natural);
        assert_eq!(names(&ix, &f), ["a.x", "b.x", "c.x", "d.x", "e.x"]);
    }

    #[test]
    fn a_change_inside_a_group_moves_no_row_and_a_group_change_moves_only_that_row() {
        let mut f = fleet();
        let mut ix = FleetIndex::new(&f, GroupBy::Worst, Order::Natural);
        let before = names(&ix, &f);
        // installing → pending: still progressing.
        Arc::make_mut(&mut f[2].components[0]).state = ComponentState::Pending;
        ix.update(&f, 2);
        assert_eq!(names(&ix, &f), before);
        // d.x fails: it leaves "ready" for "failed", after b.x (fleet order inside).
        Arc::make_mut(&mut f[3].components[0]).state = ComponentState::Failed;
        assert!(ix.update(&f, 3));
        assert_eq!(
            names(&ix, &f),
            [
                "# failed",
                "b.x",
                "d.x",
                "# progressing",
                "c.x",
                "e.x",
                "# ready",
                "a.x"
            ]
        );
        assert_eq!(ix.totals().describe(), "failed 2 · progressing 2 · ready 1");
        // The incremental result is what a rebuild gives.
        let fresh = FleetIndex::new(&f, GroupBy::Worst, Order::Natural);
        assert_eq!(names(&fresh, &f), names(&ix, &f));
    }

    #[test]
    fn incremental_updates_match_a_rebuild_in_every_grouping_and_order() {
        let states = [
            ComponentState::Failed,
            ComponentState::Installed,
            ComponentState::Pending,
            ComponentState::Stalled,
        ];
        for group_by in GroupBy::ALL {
            for order in [Order::Natural, Order::Worst, Order::Name] {
                let mut f = fleet();
                let mut ix = FleetIndex::new(&f, group_by, order);
                ix.set_filter("x");
                for step in 0..12 {
                    let i = (step * 3) % f.len();
                    Arc::make_mut(&mut f[i].components[0]).state = states[step % states.len()];
                    ix.update(&f, i);
                    let mut fresh = FleetIndex::new(&f, group_by, order);
                    fresh.set_filter("x");
                    assert_eq!(
                        names(&ix, &f),
                        names(&fresh, &f),
                        "{group_by:?} {order:?} step {step}"
                    );
                    assert_eq!(ix.totals(), fresh.totals());
                }
            }
        }
    }

    #[test]
    fn filtering_narrows_and_backspace_restores_without_resorting() {
        let mut f = fleet();
        let mut ix = FleetIndex::new(&f, GroupBy::Worst, Order::Natural);
        ix.set_filter("e");
        // "e" matches e.x, the tag eu (c.x, d.x), "degraded"/"ready"? — words count too.
        let e = names(&ix, &f);
        ix.set_filter("eu");
        assert_eq!(names(&ix, &f), ["# progressing", "c.x", "# ready", "d.x"]);
        assert_eq!(ix.matching(), 2);
        ix.set_filter("e");
        assert_eq!(names(&ix, &f), e);
        ix.set_filter("failed");
        assert_eq!(names(&ix, &f), ["# failed", "b.x"]);
        ix.set_filter("");
        assert_eq!(ix.rows().len(), 8);
        // A change under a filter: d.x fails and so starts matching "failed".
        ix.set_filter("failed");
        Arc::make_mut(&mut f[3].components[0]).state = ComponentState::Failed;
        ix.update(&f, 3);
        assert_eq!(names(&ix, &f), ["# failed", "b.x", "d.x"]);
        // Under a filter by name a state change keeps membership.
        ix.set_filter("d.");
        Arc::make_mut(&mut f[3].components[0]).state = ComponentState::Installed;
        ix.update(&f, 3);
        assert_eq!(names(&ix, &f), ["# ready", "d.x"]);
    }

    #[test]
    fn folds_hide_members_keep_headers_and_jump_unfolds() {
        let f = fleet();
        let mut ix = FleetIndex::new(&f, GroupBy::Worst, Order::Natural);
        // Fold "ready" from one of its members: the cursor lands on its header.
        let row = ix.rows().iter().position(|r| r.sovereign() == Some(3));
        let header = ix.toggle_fold(row.expect("d.x shown"));
        assert_eq!(header, Some(5));
        assert_eq!(
            names(&ix, &f),
            ["# failed", "b.x", "# progressing", "c.x", "e.x", "# ready"]
        );
        assert!(ix.groups()[2].folded);
        assert_eq!(ix.groups()[2].counts.get(Health::Ready), 2);
        // Jump into the folded group unfolds it.
        assert_eq!(ix.jump("D.X"), Some(7));
        assert!(!ix.groups()[2].folded);
        assert_eq!(ix.jump("nothere"), None);
        ix.fold_all(true);
        assert_eq!(names(&ix, &f), ["# failed", "# progressing", "# ready"]);
        ix.fold_all(false);
        assert_eq!(ix.rows().len(), 8);
        // Switching the grouping forgets folds.
        ix.toggle_fold(0);
        ix.set_group_by(GroupBy::Tag);
        assert!(ix.groups().iter().all(|g| !g.folded));
    }

    #[test]
    fn the_default_grouping_is_worst_first_above_the_threshold() {
        assert_eq!(GroupBy::default_for(50, 50), GroupBy::None);
        assert_eq!(GroupBy::default_for(51, 50), GroupBy::Worst);
        assert_eq!(GroupBy::parse("tag"), Some(GroupBy::Tag));
        assert_eq!(GroupBy::parse("x"), None);
    }

    #[test]
    fn counts_are_separated_and_abbreviated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(985), "985");
        assert_eq!(thousands(1985), "1,985");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(abbreviated(999), "999");
        assert_eq!(abbreviated(1985), "2.0k");
        assert_eq!(abbreviated(1949), "1.9k");
        assert_eq!(abbreviated(12_400), "12k");
        assert_eq!(abbreviated(2_000_000), "2.0M");
    }

    #[test]
    fn the_summary_fits_its_width_and_keeps_the_worst() {
        let mut c = HealthCounts::default();
        for (h, n) in [
            (Health::NotLive, 7),
            (Health::Failed, 3),
            (Health::Stalled, 2),
            (Health::Degraded, 4),
            (Health::Progressing, 12),
            (Health::Unknown, 1),
            (Health::Suspended, 5),
            (Health::Ready, 1966),
        ] {
            c.0[h.rank()] = n;
        }
        let wide = summary_line(&c, 200);
        assert_eq!(
            wide,
            "2,000 Sovereigns · ◑ 7 not live · ✖ 3 failed · ‼ 2 stalled · ▲ 4 degraded · ◐ 12 progressing · ? 1 no data · ‖ 5 suspended · ✔ 1,966 ready"
        );
        let eighty = summary_line(&c, 80);
        assert_eq!(eighty, "2,000 Sov ◑7 ✖3 ‼2 ▲4 ◐12 ?1 ‖5 ✔1,966");
        for w in [0, 5, 20, 30, 40, 54, 78] {
            let s = summary_line(&c, w);
            assert!(s.chars().count() <= w, "{w}: {s}");
        }
        assert_eq!(summary_line(&c, 25), "2.0k Sov ◑7 ✖3 ‼2 +5 more");
        let mut one = HealthCounts::default();
        one.add(Health::Ready);
        assert_eq!(summary_line(&one, 80), "1 Sovereign · ✔ 1 ready");
    }

    #[test]
    fn long_names_are_elided_in_the_middle_keeping_what_tells_them_apart() {
        let names = [
            "sov-0042.eu-central.bench.example",
            "sov-0043.us-east.bench.example",
        ];
        let suffix = common_suffix(names);
        assert_eq!(suffix, ".bench.example");
        assert_eq!(elide_middle(names[0], &suffix, 40), names[0]);
        assert_eq!(
            elide_middle(names[0], &suffix, 24),
            "sov-0042.eu-central…mple"
        );
        assert_eq!(elide_middle(names[0], &suffix, 20), "sov-0042.eu-central…");
        assert_eq!(elide_middle(names[0], &suffix, 19), "sov-0042…eu-central");
        assert_eq!(elide_middle(names[0], &suffix, 12), "sov-0042…ral");
        assert_eq!(elide_middle(names[0], &suffix, 5), "so…42");
        assert_eq!(elide_middle(names[0], &suffix, 1), "…");
        assert_eq!(elide_middle(names[0], &suffix, 0), "");
        // No shared suffix: the first label is kept.
        assert_eq!(
            elide_middle("customer-one.a.example", "", 16),
            "customer-one…ple"
        );
        for w in 0..40 {
            assert!(elide_middle(names[1], &suffix, w).chars().count() <= w);
        }
        assert_eq!(common_suffix(["a.b.c"]), "");
        assert_eq!(common_suffix(["a.b.c", "d.e.f"]), "");
        assert_eq!(common_suffix(["a.b.c", "d.B.c"]), ".b.c");
    }
}
