//! Field ownership as the apiserver's field manager keeps it: `metadata.managedFields`, one entry
//! per (manager, operation, subresource) with its fields in the FieldsV1 format, server-side apply
//! (merge by list keys, conflicts with other owners unless forced, removal of fields the applier
//! stopped applying) and the `Update` entries of every other write.
//!
//! A field set is a set of paths; a path element is written as in FieldsV1: `f:name` (a field or
//! map key), `k:{"name":"x"}` (an item of a list keyed by its merge keys), `v:"x"` (an item of a
//! set of scalars). Which lists are keyed is the built-in kinds' schema knowledge below; lists of
//! custom resources are atomic, as in a CRD schema without `x-kubernetes-list-type`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::kinds::KindInfo;

/// A path into an object, in FieldsV1 elements.
pub type Path = Vec<String>;
/// A set of field paths.
pub type FieldSet = BTreeSet<Path>;

/// Who writes, and where: the `fieldManager` of a request, or one derived from its user agent.
#[derive(Debug, Clone)]
pub struct Actor {
    pub manager: String,
    /// `status` for a write to the status subresource.
    pub subresource: Option<&'static str>,
    /// RFC 3339, seconds: the entry's `time`.
    pub time: String,
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: Option<String>,
    fields: FieldSet,
}

impl Entry {
    fn same_owner(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), json!(self.manager));
        m.insert("operation".into(), json!(self.operation));
        m.insert("apiVersion".into(), json!(self.api_version));
        m.insert("time".into(), json!(self.time));
        m.insert("fieldsType".into(), json!("FieldsV1"));
        m.insert("fieldsV1".into(), fields_v1(&self.fields));
        if let Some(s) = &self.subresource {
            m.insert("subresource".into(), json!(s));
        }
        Value::Object(m)
    }
}

fn entries(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|e| {
            Some(Entry {
                manager: e.get("manager")?.as_str()?.to_string(),
                operation: e.get("operation")?.as_str()?.to_string(),
                api_version: e
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                time: e
                    .get("time")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                subresource: e
                    .get("subresource")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                fields: parse_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null)),
            })
        })
        .collect()
}

fn set_entries(obj: &mut Value, list: &[Entry]) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let kept: Vec<Value> = list
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(Entry::to_json)
        .collect();
    if kept.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(kept));
    }
}

/// A field set as FieldsV1 JSON: nested objects; `"."` marks a node that is itself a member.
pub fn fields_v1(set: &FieldSet) -> Value {
    #[derive(Default)]
    struct Node {
        member: bool,
        children: BTreeMap<String, Node>,
    }
    let mut root = Node::default();
    for path in set {
        let mut node = &mut root;
        for el in path {
            node = node.children.entry(el.clone()).or_default();
        }
        node.member = true;
    }
    fn render(n: &Node) -> Value {
        let mut m = Map::new();
        if n.member && !n.children.is_empty() {
            m.insert(".".into(), json!({}));
        }
        for (k, c) in &n.children {
            m.insert(k.clone(), render(c));
        }
        Value::Object(m)
    }
    render(&root)
}

/// FieldsV1 JSON back to a set (anything that is not an object is an empty set).
pub fn parse_fields_v1(v: &Value) -> FieldSet {
    fn walk(v: &Value, path: &mut Path, out: &mut FieldSet) {
        let Some(m) = v.as_object() else {
            return;
        };
        for (k, child) in m {
            if k == "." {
                out.insert(path.clone());
                continue;
            }
            path.push(k.clone());
            if child.as_object().is_some_and(Map::is_empty) {
                out.insert(path.clone());
            } else {
                walk(child, path, out);
            }
            path.pop();
        }
    }
    let mut out = FieldSet::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

/// How a list is merged and tracked.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ListType {
    Atomic,
    /// Scalars, each item owned on its own (`metadata.finalizers`).
    Set,
    /// Items identified by these fields.
    Map(&'static [&'static str]),
}

/// The list type of the field at `path` (FieldsV1 elements) of an object of `info`'s kind.
fn list_type(info: &KindInfo, path: &[String]) -> ListType {
    let field = path.last().map(String::as_str).unwrap_or("");
    let in_metadata = path.len() == 2 && path[0] == "f:metadata";
    if in_metadata {
        return match field {
            "f:finalizers" => ListType::Set,
            "f:ownerReferences" => ListType::Map(&["uid"]),
            _ => ListType::Atomic,
        };
    }
    let builtin = matches!(
        info.group,
        "" | "apps" | "discovery.k8s.io" | "storage.k8s.io" | "events.k8s.io"
    );
    if !builtin {
        return ListType::Atomic;
    }
    let in_container = path.len() >= 3
        && path[path.len() - 2].starts_with("k:")
        && matches!(
            path[path.len() - 3].as_str(),
            "f:containers" | "f:initContainers" | "f:ephemeralContainers"
        );
    match field {
        "f:containers"
        | "f:initContainers"
        | "f:ephemeralContainers"
        | "f:volumes"
        | "f:imagePullSecrets" => ListType::Map(&["name"]),
        "f:env" if in_container => ListType::Map(&["name"]),
        "f:volumeMounts" if in_container => ListType::Map(&["mountPath"]),
        "f:ports" if in_container => ListType::Map(&["containerPort", "protocol"]),
        "f:ports" if info.kind == "Service" => ListType::Map(&["port", "protocol"]),
        "f:conditions" => ListType::Map(&["type"]),
        "f:addresses" if info.kind == "Node" => ListType::Map(&["type"]),
        _ => ListType::Atomic,
    }
}

/// The value of a list item's key field, with the defaults the apiserver fills in for keys.
fn key_value(item: &Value, key: &str) -> Option<Value> {
    match item.get(key) {
        Some(v) if !v.is_null() => Some(v.clone()),
        _ if key == "protocol" => Some(json!("TCP")),
        _ => None,
    }
}

/// The `k:` element of a keyed list's item, or None when the item lacks a key.
fn item_key(item: &Value, keys: &[&str]) -> Option<String> {
    let mut m = Map::new();
    for k in keys {
        m.insert((*k).to_string(), key_value(item, k)?);
    }
    Some(format!("k:{}", Value::Object(m)))
}

/// Fields outside any manager's set: identity and system metadata, and `status` or everything
/// but `status` depending on the subresource written.
fn trimmed(info: &KindInfo, obj: &Value, subresource: Option<&str>) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("apiVersion");
        m.remove("kind");
        if subresource == Some("status") {
            m.retain(|k, _| k == "status");
        } else if info.status_subresource {
            m.remove("status");
        }
        if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            for f in [
                "name",
                "namespace",
                "uid",
                "resourceVersion",
                "generation",
                "creationTimestamp",
                "managedFields",
                "selfLink",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ] {
                meta.remove(f);
            }
            if meta.is_empty() {
                m.remove("metadata");
            }
        }
    }
    o
}

/// Every path of `v` with the value at leaves (`None` for maps and list items): what an update
/// is compared by.
fn nodes(info: &KindInfo, v: &Value) -> BTreeMap<Path, Option<Value>> {
    fn walk(info: &KindInfo, v: &Value, path: &mut Path, out: &mut BTreeMap<Path, Option<Value>>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                if !path.is_empty() {
                    out.insert(path.clone(), None);
                }
                for (k, child) in m {
                    path.push(format!("f:{k}"));
                    walk(info, child, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => match list_type(info, path) {
                ListType::Map(keys) if items.iter().all(|i| item_key(i, keys).is_some()) => {
                    out.insert(path.clone(), None);
                    for item in items {
                        let Some(k) = item_key(item, keys) else {
                            continue;
                        };
                        path.push(k);
                        out.insert(path.clone(), None);
                        if let Some(m) = item.as_object() {
                            for (f, child) in m {
                                path.push(format!("f:{f}"));
                                walk(info, child, path, out);
                                path.pop();
                            }
                        }
                        path.pop();
                    }
                }
                ListType::Set if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
                    out.insert(path.clone(), None);
                    for item in items {
                        path.push(format!("v:{item}"));
                        out.insert(path.clone(), Some(item.clone()));
                        path.pop();
                    }
                }
                _ => {
                    out.insert(path.clone(), Some(v.clone()));
                }
            },
            other => {
                out.insert(path.clone(), Some(other.clone()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(info, v, &mut Vec::new(), &mut out);
    out.remove(&Vec::new());
    out
}

/// The set an applied configuration claims: its leaves and list items (not the maps above them).
fn applied_set(info: &KindInfo, config: &Value) -> FieldSet {
    let all = nodes(info, config);
    all.iter()
        .filter(|(p, leaf)| {
            leaf.is_some()
                || p.last().is_some_and(|e| e.starts_with("k:"))
                // An empty map applied is a leaf too.
                || !all.keys().any(|q| q.len() > p.len() && q.starts_with(p))
        })
        .map(|(p, _)| p.clone())
        .collect()
}

struct Diff {
    /// Added or changed.
    changed: FieldSet,
    removed: FieldSet,
}

fn diff(old: &BTreeMap<Path, Option<Value>>, new: &BTreeMap<Path, Option<Value>>) -> Diff {
    let changed = new
        .iter()
        .filter(|(p, v)| old.get(*p) != Some(*v))
        .map(|(p, _)| p.clone())
        .collect();
    let removed = old
        .keys()
        .filter(|p| !new.contains_key(*p))
        .cloned()
        .collect();
    Diff { changed, removed }
}

/// Record a write that is not an apply: `actor` (operation `Update`) takes the fields it added or
/// changed from everyone; removed fields leave every set. `old` is None for a create. The result
/// is written into `new`'s `metadata.managedFields`.
pub fn record_update(info: &KindInfo, old: Option<&Value>, new: &mut Value, actor: &Actor) {
    let mut list = old.map(entries).unwrap_or_default();
    let sub = actor.subresource;
    let before = old.map(|o| nodes(info, &trimmed(info, o, sub)));
    let after = nodes(info, &trimmed(info, new, sub));
    let d = diff(&before.unwrap_or_default(), &after);
    if d.changed.is_empty() && d.removed.is_empty() {
        set_entries(new, &list);
        return;
    }
    for e in list.iter_mut() {
        e.fields
            .retain(|p| !d.changed.contains(p) && !d.removed.contains(p));
    }
    let api_version = new
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match list
        .iter_mut()
        .find(|e| e.same_owner(&actor.manager, "Update", sub))
    {
        Some(e) => {
            e.fields.extend(d.changed);
            e.time = actor.time.clone();
            e.api_version = api_version;
        }
        None => list.push(Entry {
            manager: actor.manager.clone(),
            operation: "Update".into(),
            api_version,
            time: actor.time.clone(),
            subresource: sub.map(str::to_string),
            fields: d.changed,
        }),
    }
    set_entries(new, &list);
}

/// Fields another manager owns that an apply would change.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub manager: String,
    pub api_version: String,
    /// `.spec.interval`, `.spec.containers[name="x"].image`.
    pub field: String,
}

/// A path as the apiserver prints it in a conflict.
pub fn path_text(path: &[String]) -> String {
    let mut out = String::new();
    for el in path {
        if let Some(f) = el.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = el.strip_prefix("k:") {
            let keys: Vec<String> = serde_json::from_str::<Map<String, Value>>(k)
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default();
            out.push_str(&format!("[{}]", keys.join(",")));
        } else if let Some(v) = el.strip_prefix("v:") {
            out.push_str(&format!("[={v}]"));
        }
    }
    out
}

/// Merge an applied configuration into the live object: maps field by field, keyed lists item by
/// item, anything else replaced.
fn merge(info: &KindInfo, live: &Value, config: &Value, path: &mut Path) -> Value {
    match (live, config) {
        (Value::Object(l), Value::Object(c)) => {
            let mut out = l.clone();
            for (k, cv) in c {
                path.push(format!("f:{k}"));
                let merged = match l.get(k) {
                    Some(lv) => merge(info, lv, cv, path),
                    None => cv.clone(),
                };
                path.pop();
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(c)) => match list_type(info, path) {
            ListType::Map(keys) if l.iter().chain(c).all(|i| item_key(i, keys).is_some()) => {
                let mut out = l.clone();
                for ci in c {
                    let key = item_key(ci, keys);
                    path.push(key.clone().unwrap_or_default());
                    match out.iter_mut().find(|li| item_key(li, keys) == key) {
                        Some(li) => *li = merge(info, li, ci, path),
                        None => out.push(ci.clone()),
                    }
                    path.pop();
                }
                Value::Array(out)
            }
            ListType::Set => {
                let mut out = l.clone();
                for ci in c {
                    if !out.contains(ci) {
                        out.push(ci.clone());
                    }
                }
                Value::Array(out)
            }
            _ => config.clone(),
        },
        _ => config.clone(),
    }
}

/// Remove the field at `path` from `v` (nothing if it is not there).
fn remove_path(info: &KindInfo, v: &mut Value, path: &[String], prefix: &mut Path) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if let Some(f) = first.strip_prefix("f:") {
        let Some(m) = v.as_object_mut() else {
            return;
        };
        if rest.is_empty() {
            m.remove(f);
        } else if let Some(child) = m.get_mut(f) {
            prefix.push(first.clone());
            remove_path(info, child, rest, prefix);
            prefix.pop();
        }
        return;
    }
    let Some(items) = v.as_array_mut() else {
        return;
    };
    let pos = if first.starts_with("k:") {
        let ListType::Map(keys) = list_type(info, prefix) else {
            return;
        };
        items
            .iter()
            .position(|i| item_key(i, keys).as_deref() == Some(first.as_str()))
    } else if let Some(raw) = first.strip_prefix("v:") {
        let want: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
        items.iter().position(|i| *i == want)
    } else {
        None
    };
    let Some(pos) = pos else {
        return;
    };
    if rest.is_empty() {
        items.remove(pos);
    } else {
        prefix.push(first.clone());
        remove_path(info, &mut items[pos], rest, prefix);
        prefix.pop();
    }
}

/// Server-side apply of `config` by `actor` onto `live` (None: the object does not exist yet).
/// Returns the object to store, its `managedFields` set; or the conflicts when `force` is false
/// and another manager owns a field whose value the apply would change.
pub fn apply(
    info: &KindInfo,
    live: Option<&Value>,
    config: &Value,
    actor: &Actor,
    force: bool,
) -> Result<Value, Vec<Conflict>> {
    let sub = actor.subresource;
    // What a main-resource apply says about status is not owned (the store keeps the stored
    // status on such a write, as the apiserver resets it).
    let claimed = applied_set(info, &trimmed(info, config, sub));
    let api_version = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut list = live.map(entries).unwrap_or_default();
    let mut out = match live {
        None => config.clone(),
        Some(live) => {
            let merged = merge(info, live, config, &mut Vec::new());
            let before = nodes(info, &trimmed(info, live, sub));
            let after = nodes(info, &trimmed(info, &merged, sub));
            let d = diff(&before, &after);
            let mut conflicts = Vec::new();
            for e in list.iter_mut() {
                if e.same_owner(&actor.manager, "Apply", sub) || e.subresource.as_deref() != sub {
                    continue;
                }
                let taken: Vec<Path> = e
                    .fields
                    .iter()
                    .filter(|p| d.changed.contains(*p))
                    .cloned()
                    .collect();
                if force {
                    e.fields.retain(|p| !taken.contains(p));
                } else {
                    conflicts.extend(taken.iter().map(|p| Conflict {
                        manager: e.manager.clone(),
                        api_version: e.api_version.clone(),
                        field: path_text(p),
                    }));
                }
            }
            if !conflicts.is_empty() {
                return Err(conflicts);
            }
            merged
        }
    };
    // Fields this manager applied before and no longer applies, owned by nobody else, go.
    let previous = list
        .iter()
        .find(|e| e.same_owner(&actor.manager, "Apply", sub))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let others: FieldSet = list
        .iter()
        .filter(|e| !e.same_owner(&actor.manager, "Apply", sub))
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    for p in previous.difference(&claimed) {
        let kept_below = claimed
            .iter()
            .chain(&others)
            .any(|q| q.len() >= p.len() && q.starts_with(p));
        if !kept_below {
            remove_path(info, &mut out, p, &mut Vec::new());
        }
    }
    // Shared ownership: an applied field keeps its other owners when the value is the same.
    match list
        .iter_mut()
        .find(|e| e.same_owner(&actor.manager, "Apply", sub))
    {
        Some(e) => {
            e.fields = claimed;
            e.time = actor.time.clone();
            e.api_version = api_version;
        }
        None => list.push(Entry {
            manager: actor.manager.clone(),
            operation: "Apply".into(),
            api_version,
            time: actor.time.clone(),
            subresource: sub.map(str::to_string),
            fields: claimed,
        }),
    }
    set_entries(&mut out, &list);
    Ok(out)
}

/// The 409 message of a failed apply, worded as the apiserver words it.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    let n = conflicts.len();
    let head = format!(
        "Apply failed with {n} conflict{}:",
        if n == 1 { "" } else { "s" }
    );
    let mut by_manager: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for c in conflicts {
        by_manager
            .entry((&c.manager, &c.api_version))
            .or_default()
            .push(&c.field);
    }
    let mut parts = Vec::new();
    for ((m, v), fields) in by_manager {
        if fields.len() == 1 {
            parts.push(format!(" conflict with \"{m}\" using {v}: {}", fields[0]));
        } else {
            let list: Vec<String> = fields.iter().map(|f| format!("\n- {f}")).collect();
            parts.push(format!(
                " conflicts with \"{m}\" using {v}:{}",
                list.concat()
            ));
        }
    }
    format!("{head}{}", parts.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::kube::kinds;

    fn cm() -> &'static KindInfo {
        kinds::info(kinds::by_any_name("cm").expect("cm"))
    }

    fn actor(m: &str) -> Actor {
        Actor {
            manager: m.into(),
            subresource: None,
            time: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn cfg(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "c", "namespace": "n"}, "data": data})
    }

    #[test]
    fn fields_v1_round_trip_with_dot() {
        let mut s = FieldSet::new();
        s.insert(vec!["f:data".into()]);
        s.insert(vec!["f:data".into(), "f:a".into()]);
        s.insert(vec![
            "f:spec".into(),
            "f:containers".into(),
            r#"k:{"name":"x"}"#.into(),
        ]);
        let v = fields_v1(&s);
        assert_eq!(
            v,
            json!({"f:data": {".": {}, "f:a": {}}, "f:spec": {"f:containers": {"k:{\"name\":\"x\"}": {}}}})
        );
        assert_eq!(parse_fields_v1(&v), s);
    }

    #[test]
    fn apply_conflicts_force_and_removal() {
        let info = cm();
        let created = apply(
            info,
            None,
            &cfg(json!({"a": "1", "b": "2"})),
            &actor("one"),
            false,
        )
        .expect("create");
        assert_eq!(
            created["metadata"]["managedFields"][0]["fieldsV1"],
            json!({"f:data": {"f:a": {}, "f:b": {}}})
        );
        // Same value: shared, no conflict. Different value: conflict naming the owner and field.
        let shared = apply(
            info,
            Some(&created),
            &cfg(json!({"a": "1"})),
            &actor("two"),
            false,
        )
        .expect("shared");
        let err = apply(
            info,
            Some(&shared),
            &cfg(json!({"a": "9"})),
            &actor("two"),
            false,
        )
        .expect_err("conflict");
        assert_eq!(err.len(), 1);
        assert_eq!(
            (err[0].manager.as_str(), err[0].field.as_str()),
            ("one", ".data.a")
        );
        assert!(conflict_message(&err).contains(r#"conflict with "one" using v1: .data.a"#));
        let forced = apply(
            info,
            Some(&shared),
            &cfg(json!({"a": "9"})),
            &actor("two"),
            true,
        )
        .expect("forced");
        assert_eq!(forced["data"]["a"], "9");
        let one = &forced["metadata"]["managedFields"][0];
        assert_eq!(
            (one["manager"].clone(), one["fieldsV1"].clone()),
            (json!("one"), json!({"f:data": {"f:b": {}}}))
        );
        // "one" stops applying b: nobody else owns it, so it goes.
        let pruned =
            apply(info, Some(&forced), &cfg(json!({})), &actor("one"), false).expect("prune");
        assert!(pruned["data"].get("b").is_none(), "{pruned}");
        assert_eq!(pruned["data"]["a"], "9");
    }

    #[test]
    fn updates_take_changed_fields() {
        let info = cm();
        let created = apply(
            info,
            None,
            &cfg(json!({"a": "1"})),
            &actor("applier"),
            false,
        )
        .expect("create");
        let mut edited = created.clone();
        edited["data"]["a"] = json!("2");
        edited["data"]["c"] = json!("3");
        record_update(info, Some(&created), &mut edited, &actor("kubectl-edit"));
        let mf = edited["metadata"]["managedFields"].as_array().expect("mf");
        assert_eq!(mf.len(), 1, "the applier lost its only field: {mf:?}");
        assert_eq!(mf[0]["operation"], "Update");
        assert_eq!(mf[0]["fieldsV1"], json!({"f:data": {"f:a": {}, "f:c": {}}}));
    }

    #[test]
    fn keyed_lists_merge_by_key() {
        let info = kinds::info(kinds::by_any_name("deploy").expect("deploy"));
        let live = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}}}});
        let config = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "b", "image": "b:2"}]}}}});
        let out = merge(info, &live, &config, &mut Vec::new());
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs.as_array().map(Vec::len), Some(2));
        assert_eq!(cs[1]["image"], "b:2");
        let set = applied_set(info, &config);
        assert!(
            set.iter()
                .any(|p| path_text(p) == r#".spec.template.spec.containers[name="b"].image"#)
        );
    }
}
