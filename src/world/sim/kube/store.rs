//! One cluster's objects and its watch history, with the apiserver's write semantics:
//! a single resourceVersion sequence, generation bumps on spec changes, status-subresource
//! separation, optimistic concurrency, and no new version for a write that changes nothing.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::defaults;
use super::kinds::{self, KindId, KindInfo};
use super::managed::{self, Actor};
use super::query::{FieldSelector, LabelSelector};
use super::status::ApiError;

/// Watch event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One entry of the watch history, with its watch line serialized once however many clients watch.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub rv: u64,
    pub kind: KindId,
    pub namespace: String,
    pub event_type: EventType,
    /// `{"metadata": {name, namespace, labels}}` of the object: enough for label selectors and the
    /// usual field selectors without keeping every old version's full tree in memory.
    pub meta_view: Value,
    /// `{"type": ..., "object": ...}` followed by a newline.
    pub line: bytes::Bytes,
}

fn meta_view(obj: &Value) -> Value {
    let meta = obj.get("metadata");
    let pick = |f: &str| meta.and_then(|m| m.get(f)).cloned().unwrap_or(Value::Null);
    json!({"metadata": {"name": pick("name"), "namespace": pick("namespace"), "labels": pick("labels")}})
}

impl StoredEvent {
    fn matches(&self, filter: &Filter) -> bool {
        if filter.fields.only_metadata() {
            return filter.matches(&self.namespace, &self.meta_view);
        }
        // Rare selectors on other fields (involvedObject.name, status.phase): decode the line.
        serde_json::from_slice::<Value>(&self.line)
            .ok()
            .and_then(|mut ev| ev.get_mut("object").map(Value::take))
            .is_some_and(|obj| filter.matches(&self.namespace, &obj))
    }
}

/// A watch event line: `{"type":T,"object":O}\n`.
pub fn event_line(event_type: &str, object: &Value) -> bytes::Bytes {
    let mut line =
        serde_json::to_vec(&json!({"type": event_type, "object": object})).unwrap_or_default();
    line.push(b'\n');
    bytes::Bytes::from(line)
}

/// Which parts of an incoming object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// A write to the main resource: for kinds with a status subresource, status is kept as stored.
    Main,
    /// A write to the `status` subresource: only status changes.
    Status,
    /// Everything is taken as sent (the Rust control surface, or a lenient cluster).
    All,
}

/// Whether a write records field ownership (`metadata.managedFields`).
#[derive(Debug, Clone, Copy)]
pub enum Owners<'a> {
    /// The world's own writes (its controllers, the Rust control surface): entries kept as they are.
    Untracked,
    /// A client's create, update or patch: `Update` by this manager.
    Update(&'a Actor),
    /// The object carries its entries already (server-side apply computed them).
    Precomputed,
}

/// How a patch body is to be applied.
#[derive(Debug, Clone)]
pub enum PatchBody {
    Merge(Value),
    Json(json_patch::Patch),
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<Arc<Value>>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<u64>,
}

/// Filters of a list or watch.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    pub fn matches(&self, namespace: &str, obj: &Value) -> bool {
        self.namespace.as_deref().is_none_or(|ns| ns == namespace)
            && self.labels.matches(obj)
            && self.fields.matches(obj)
    }
}

type Key = (String, String);

/// The objects and watch history of one cluster.
#[derive(Debug)]
pub struct Store {
    objects: BTreeMap<KindId, BTreeMap<Key, Arc<Value>>>,
    rv: u64,
    history: VecDeque<Arc<StoredEvent>>,
    history_limit: usize,
    /// Watches must start at or after this version; older ones are answered with 410 Expired.
    oldest_rv: u64,
    /// Bumped by a compaction: watches opened before it end with an in-stream 410.
    epoch: u64,
}

/// Default number of watch events kept per cluster (the real watch cache keeps a few thousand).
pub const DEFAULT_HISTORY_LIMIT: usize = 1024;

fn timestamp(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Everything except metadata and status: a change here bumps `metadata.generation`.
fn spec_part(obj: &Value) -> Value {
    match obj {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
}

fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let map = obj.as_object_mut().expect("object ensured above");
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut().expect("object ensured above")
}

impl Default for Store {
    fn default() -> Self {
        Store::new(DEFAULT_HISTORY_LIMIT)
    }
}

impl Store {
    pub fn new(history_limit: usize) -> Store {
        Store {
            objects: BTreeMap::new(),
            rv: 1,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            oldest_rv: 1,
            epoch: 0,
        }
    }

    /// The current (latest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn oldest_rv(&self) -> u64 {
        self.oldest_rv
    }

    /// Drop the whole watch history: every open watch ends with an in-stream 410 and every
    /// watch from an older resourceVersion is refused until clients re-list.
    pub fn compact(&mut self) {
        self.history.clear();
        self.oldest_rv = self.rv;
        self.epoch += 1;
    }

    /// Number of objects of all kinds.
    pub fn object_count(&self) -> usize {
        self.objects.values().map(BTreeMap::len).sum()
    }

    fn record(&mut self, kind: KindId, namespace: &str, event_type: EventType, object: Arc<Value>) {
        self.history.push_back(Arc::new(StoredEvent {
            rv: self.rv,
            kind,
            namespace: namespace.to_string(),
            event_type,
            line: event_line(event_type.as_str(), &object),
            meta_view: meta_view(&object),
        }));
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.oldest_rv = old.rv;
            }
        }
    }

    /// History events of `kind` after `rv` that pass `filter`, or 410 if `rv` is older than the history.
    pub fn events_since(
        &self,
        kind: KindId,
        rv: u64,
        filter: &Filter,
    ) -> Result<Vec<Arc<StoredEvent>>, ApiError> {
        if rv < self.oldest_rv {
            return Err(ApiError::expired(rv, self.oldest_rv));
        }
        let start = self.history.partition_point(|e| e.rv <= rv);
        Ok(self
            .history
            .iter()
            .skip(start)
            .filter(|e| e.kind == kind && e.matches(filter))
            .cloned()
            .collect())
    }

    pub fn get(&self, kind: KindId, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.objects
            .get(&kind)
            .and_then(|m| m.get(&(namespace.to_string(), name.to_string())))
            .cloned()
    }

    fn namespace_exists(&self, ns: &str) -> bool {
        kinds::by_kind("Namespace", Some("v1")).is_some_and(|nk| self.get(nk, "", ns).is_some())
    }

    /// Every object of a kind passing the filter, in (namespace, name) order.
    pub fn list_all(&self, kind: KindId, filter: &Filter) -> Vec<Arc<Value>> {
        self.objects
            .get(&kind)
            .map(|m| {
                m.iter()
                    .filter(|((ns, _), o)| filter.matches(ns, o))
                    .map(|(_, o)| o.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A page of a list. The continue token names the last key served; later pages show the
    /// state at the time they are asked for (the real apiserver serves one snapshot).
    pub fn list(
        &self,
        kind: KindId,
        filter: &Filter,
        limit: Option<u64>,
        continue_token: Option<&str>,
    ) -> Result<ListPage, ApiError> {
        let after: Option<Key> = match continue_token {
            None => None,
            Some(tok) => Some(decode_continue(tok)?),
        };
        let empty = BTreeMap::new();
        let all = self.objects.get(&kind).unwrap_or(&empty);
        let matching = all
            .iter()
            .filter(|(k, _)| after.as_ref().is_none_or(|a| *k > a))
            .filter(|((ns, _), o)| filter.matches(ns, o));
        let mut items = Vec::new();
        let mut last_key = None;
        let mut remaining = 0u64;
        for (key, obj) in matching {
            match limit {
                Some(l) if l > 0 && items.len() as u64 >= l => remaining += 1,
                _ => {
                    items.push(obj.clone());
                    last_key = Some(key.clone());
                }
            }
        }
        let (continue_token, remaining) = if remaining > 0 {
            let key = last_key.unwrap_or_default();
            (Some(encode_continue(self.rv, &key)), Some(remaining))
        } else {
            (None, None)
        };
        Ok(ListPage {
            items,
            resource_version: self.rv,
            continue_token,
            remaining,
        })
    }

    fn check_namespace(
        &self,
        info: &KindInfo,
        namespace: &str,
        require_namespace: bool,
    ) -> Result<(), ApiError> {
        if info.namespaced {
            if namespace.is_empty() {
                return Err(ApiError::bad_request(
                    "an empty namespace may not be set during creation",
                ));
            }
            if require_namespace && !self.namespace_exists(namespace) {
                return Err(ApiError::namespace_not_found(namespace));
            }
        }
        Ok(())
    }

    /// Create an object. `namespace` is the request's (empty for cluster-scoped kinds).
    pub fn create(
        &mut self,
        kind: KindId,
        namespace: &str,
        obj: Value,
        mode: WriteMode,
        require_namespace: bool,
        now: DateTime<Utc>,
    ) -> Result<Arc<Value>, ApiError> {
        self.create_as(
            kind,
            namespace,
            obj,
            mode,
            require_namespace,
            now,
            Owners::Untracked,
        )
    }

    /// [`Store::create`], recording who wrote which fields in `metadata.managedFields`.
    #[allow(clippy::too_many_arguments)] // the request, taken apart
    pub fn create_as(
        &mut self,
        kind: KindId,
        namespace: &str,
        mut obj: Value,
        mode: WriteMode,
        require_namespace: bool,
        now: DateTime<Utc>,
        owners: Owners<'_>,
    ) -> Result<Arc<Value>, ApiError> {
        let info = kinds::info(kind);
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request is not a JSON object",
            ));
        }
        check_type(info, &obj)?;
        fold_string_data(info, &mut obj);
        let namespace = if info.namespaced {
            match meta_str(&obj, "namespace") {
                Some(ns) if !namespace.is_empty() && ns != namespace => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                Some(ns) if namespace.is_empty() => ns.to_string(),
                _ => namespace.to_string(),
            }
        } else {
            String::new()
        };
        self.check_namespace(info, &namespace, require_namespace)?;
        let name = match meta_str(&obj, "name").filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => match meta_str(&obj, "generateName").filter(|n| !n.is_empty()) {
                Some(prefix) => format!(
                    "{prefix}{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..5]
                ),
                None => {
                    return Err(ApiError::invalid(
                        info,
                        "",
                        "metadata.name: Required value: name or generateName is required",
                    ));
                }
            },
        };
        if self.get(kind, &namespace, &name).is_some() {
            return Err(ApiError::already_exists(info, &name));
        }
        if mode != WriteMode::All
            && info.status_subresource
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        self.rv += 1;
        let map = obj.as_object_mut().expect("checked object");
        map.insert("apiVersion".into(), json!(info.api_version()));
        map.insert("kind".into(), json!(info.kind));
        let meta = metadata_mut(&mut obj);
        meta.insert("name".into(), json!(name));
        if info.namespaced {
            meta.insert("namespace".into(), json!(namespace));
        } else {
            meta.remove("namespace");
        }
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("resourceVersion".into(), json!(self.rv.to_string()));
        meta.insert("creationTimestamp".into(), json!(timestamp(now)));
        if info.status_subresource && !info.group.is_empty() {
            meta.insert("generation".into(), json!(1));
        }
        defaults::apply(info, &mut obj);
        match owners {
            Owners::Untracked => {
                metadata_mut(&mut obj).remove("managedFields");
            }
            Owners::Update(actor) => {
                metadata_mut(&mut obj).remove("managedFields");
                managed::record_update(info, None, &mut obj, actor);
            }
            Owners::Precomputed => {}
        }
        let obj = Arc::new(obj);
        self.objects
            .entry(kind)
            .or_default()
            .insert((namespace.clone(), name), obj.clone());
        self.record(kind, &namespace, EventType::Added, obj.clone());
        Ok(obj)
    }

    /// Replace an object (PUT). A `metadata.resourceVersion` in the body must match the stored one.
    pub fn replace(
        &mut self,
        kind: KindId,
        namespace: &str,
        name: &str,
        obj: Value,
        mode: WriteMode,
    ) -> Result<Arc<Value>, ApiError> {
        self.replace_as(kind, namespace, name, obj, mode, Owners::Untracked)
    }

    /// [`Store::replace`], recording who wrote which fields in `metadata.managedFields`.
    pub fn replace_as(
        &mut self,
        kind: KindId,
        namespace: &str,
        name: &str,
        mut obj: Value,
        mode: WriteMode,
        owners: Owners<'_>,
    ) -> Result<Arc<Value>, ApiError> {
        let info = kinds::info(kind);
        let Some(old) = self.get(kind, namespace, name) else {
            return Err(ApiError::not_found(info, name));
        };
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request is not a JSON object",
            ));
        }
        check_type(info, &obj)?;
        fold_string_data(info, &mut obj);
        if let Some(body_name) = meta_str(&obj, "name")
            && body_name != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if let Some(rv) = meta_str(&obj, "resourceVersion").filter(|rv| !rv.is_empty())
            && Some(rv) != meta_str(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(info, name));
        }
        let mut new = match mode {
            WriteMode::Status => {
                let mut new = (*old).clone();
                if let Some(m) = new.as_object_mut() {
                    match obj.get("status") {
                        Some(s) => m.insert("status".into(), s.clone()),
                        None => m.remove("status"),
                    };
                }
                new
            }
            WriteMode::Main if info.status_subresource => {
                if let Some(m) = obj.as_object_mut() {
                    match old.get("status") {
                        Some(s) => m.insert("status".into(), s.clone()),
                        None => m.remove("status"),
                    };
                }
                obj
            }
            _ => obj,
        };
        defaults::apply(info, &mut new);
        // System-owned metadata survives every write.
        let old_meta = old.get("metadata").cloned().unwrap_or_else(|| json!({}));
        {
            let map = new.as_object_mut().expect("object");
            map.insert("apiVersion".into(), json!(info.api_version()));
            map.insert("kind".into(), json!(info.kind));
        }
        let meta = metadata_mut(&mut new);
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
            "resourceVersion",
            "managedFields",
        ] {
            if field == "managedFields" && matches!(owners, Owners::Precomputed) {
                continue;
            }
            match old_meta.get(field) {
                Some(v) => meta.insert(field.into(), v.clone()),
                None => meta.remove(field),
            };
        }
        if let Owners::Update(actor) = owners {
            managed::record_update(info, Some(&old), &mut new, actor);
        }
        if new == *old {
            return Ok(old);
        }
        if spec_part(&new) != spec_part(&old) {
            let generation = old_meta.get("generation").and_then(Value::as_i64);
            if let Some(g) = generation {
                metadata_mut(&mut new).insert("generation".into(), json!(g + 1));
            }
        }
        self.rv += 1;
        metadata_mut(&mut new).insert("resourceVersion".into(), json!(self.rv.to_string()));
        let new = Arc::new(new);
        self.objects
            .entry(kind)
            .or_default()
            .insert((namespace.to_string(), name.to_string()), new.clone());
        self.record(kind, namespace, EventType::Modified, new.clone());
        Ok(new)
    }

    /// Apply a merge or JSON patch, then store it like a replace.
    pub fn patch(
        &mut self,
        kind: KindId,
        namespace: &str,
        name: &str,
        patch: &PatchBody,
        mode: WriteMode,
    ) -> Result<Arc<Value>, ApiError> {
        self.patch_as(kind, namespace, name, patch, mode, Owners::Untracked)
    }

    /// Server-side apply of `config` by `actor`: create if missing (the bool says so), else merge
    /// it in with field ownership; 409 listing the conflicting managers and fields unless `force`.
    #[allow(clippy::too_many_arguments)] // the request, taken apart
    pub fn server_side_apply(
        &mut self,
        kind: KindId,
        namespace: &str,
        name: &str,
        config: Value,
        mode: WriteMode,
        actor: &Actor,
        force: bool,
        now: DateTime<Utc>,
    ) -> Result<(Arc<Value>, bool), ApiError> {
        let info = kinds::info(kind);
        if !config.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request is not a JSON object",
            ));
        }
        check_type(info, &config)?;
        if let Some(body_name) = meta_str(&config, "name")
            && body_name != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let mut config = config;
        fold_string_data(info, &mut config);
        let old = self.get(kind, namespace, name);
        let merged = managed::apply(info, old.as_deref(), &config, actor, force).map_err(|c| {
            ApiError::apply_conflict(info, name, &managed::conflict_message(&c), &c)
        })?;
        match old {
            None => {
                let mut merged = merged;
                metadata_mut(&mut merged).insert("name".into(), json!(name));
                let created = self.create_as(
                    kind,
                    namespace,
                    merged,
                    mode,
                    true,
                    now,
                    Owners::Precomputed,
                )?;
                Ok((created, true))
            }
            Some(_) => {
                let mut merged = merged;
                metadata_mut(&mut merged).remove("resourceVersion");
                let out =
                    self.replace_as(kind, namespace, name, merged, mode, Owners::Precomputed)?;
                Ok((out, false))
            }
        }
    }

    /// [`Store::patch`], recording who wrote which fields in `metadata.managedFields`.
    pub fn patch_as(
        &mut self,
        kind: KindId,
        namespace: &str,
        name: &str,
        patch: &PatchBody,
        mode: WriteMode,
        owners: Owners<'_>,
    ) -> Result<Arc<Value>, ApiError> {
        let info = kinds::info(kind);
        let Some(old) = self.get(kind, namespace, name) else {
            return Err(ApiError::not_found(info, name));
        };
        let mut doc = (*old).clone();
        apply_patch(&mut doc, patch)?;
        // A patch that names a resourceVersion is a precondition; one that does not never conflicts.
        let sent_rv = meta_str(&doc, "resourceVersion").map(str::to_string);
        if sent_rv.as_deref() == meta_str(&old, "resourceVersion") {
            metadata_mut(&mut doc).remove("resourceVersion");
        }
        self.replace_as(kind, namespace, name, doc, mode, owners)
    }

    /// Delete an object; deleting a Namespace removes what it contains too.
    pub fn delete(
        &mut self,
        kind: KindId,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        let info = kinds::info(kind);
        let key = (namespace.to_string(), name.to_string());
        let Some(old) = self.objects.get_mut(&kind).and_then(|m| m.remove(&key)) else {
            return Err(ApiError::not_found(info, name));
        };
        if info.kind == "Namespace" && info.group.is_empty() {
            let contained: Vec<(KindId, String)> = self
                .objects
                .iter()
                .flat_map(|(k, m)| {
                    m.keys()
                        .filter(|(ns, _)| ns == name)
                        .map(move |(_, n)| (*k, n.clone()))
                })
                .collect();
            for (k, n) in contained {
                let _ = self.delete(k, name, &n);
            }
        }
        self.rv += 1;
        let mut gone = (*old).clone();
        metadata_mut(&mut gone).insert("resourceVersion".into(), json!(self.rv.to_string()));
        let gone = Arc::new(gone);
        self.record(kind, namespace, EventType::Deleted, gone.clone());
        Ok(gone)
    }
}

/// A merge or JSON patch applied to a document.
pub fn apply_patch(doc: &mut Value, patch: &PatchBody) -> Result<(), ApiError> {
    match patch {
        PatchBody::Merge(p) => json_patch::merge(doc, p),
        PatchBody::Json(p) => json_patch::patch(doc, p).map_err(|e| {
            ApiError::new(
                422,
                "Invalid",
                format!("the server rejected our request due to an error in our request: {e}"),
            )
        })?,
    }
    Ok(())
}

/// What the apiserver does to a Secret on every write: `stringData` is folded into base64 `data`.
fn fold_string_data(info: &KindInfo, obj: &mut Value) {
    if info.kind != "Secret" || !info.group.is_empty() {
        return;
    }
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    let Some(Value::Object(string_data)) = map.remove("stringData") else {
        return;
    };
    let data = map.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    if let Some(data) = data.as_object_mut() {
        for (k, v) in string_data {
            let text = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            data.insert(
                k,
                json!(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
}

pub(crate) fn check_type(info: &KindInfo, obj: &Value) -> Result<(), ApiError> {
    let kind = obj.get("kind").and_then(Value::as_str);
    let api_version = obj.get("apiVersion").and_then(Value::as_str);
    if kind.is_some_and(|k| k != info.kind) || api_version.is_some_and(|v| v != info.api_version())
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({})",
            api_version.unwrap_or(""),
            info.api_version()
        )));
    }
    Ok(())
}

fn encode_continue(rv: u64, key: &Key) -> String {
    let raw = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{}/{}", key.0, key.1)});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.to_string())
}

fn decode_continue(token: &str) -> Result<Key, ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(bad)?;
    let (ns, name) = start.split_once('/').ok_or_else(bad)?;
    Ok((ns.to_string(), name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hr() -> KindId {
        kinds::by_any_name("hr").expect("hr")
    }

    fn ns_kind() -> KindId {
        kinds::by_any_name("namespace").expect("ns")
    }

    fn store_with_ns() -> Store {
        let mut s = Store::default();
        s.create(
            ns_kind(),
            "",
            json!({"metadata": {"name": "flux-system"}}),
            WriteMode::All,
            true,
            Utc::now(),
        )
        .expect("ns");
        s
    }

    #[test]
    fn create_requires_namespace_and_rejects_duplicates() {
        let mut s = Store::default();
        let err = s
            .create(
                hr(),
                "flux-system",
                json!({"metadata": {"name": "a"}}),
                WriteMode::Main,
                true,
                Utc::now(),
            )
            .expect_err("no namespace");
        assert_eq!(err.code, 404);
        let mut s = store_with_ns();
        let o = s
            .create(
                hr(),
                "flux-system",
                json!({"metadata": {"name": "a"}, "spec": {"x": 1}, "status": {"y": 1}}),
                WriteMode::Main,
                true,
                Utc::now(),
            )
            .expect("create");
        assert_eq!(o["kind"], "HelmRelease");
        assert_eq!(o["metadata"]["generation"], 1);
        assert!(o.get("status").is_none(), "status dropped on create");
        let err = s
            .create(
                hr(),
                "flux-system",
                json!({"metadata": {"name": "a"}}),
                WriteMode::Main,
                true,
                Utc::now(),
            )
            .expect_err("dup");
        assert_eq!((err.code, err.reason), (409, "AlreadyExists"));
    }

    #[test]
    fn status_and_spec_writes_are_separated() {
        let mut s = store_with_ns();
        s.create(
            hr(),
            "flux-system",
            json!({"metadata": {"name": "a"}, "spec": {"x": 1}}),
            WriteMode::Main,
            true,
            Utc::now(),
        )
        .expect("create");
        let rv0 = s.resource_version();
        let o = s
            .patch(
                hr(),
                "flux-system",
                "a",
                &PatchBody::Merge(json!({"status": {"ok": true}})),
                WriteMode::Main,
            )
            .expect("patch");
        assert!(o.get("status").is_none());
        assert_eq!(s.resource_version(), rv0, "no-op write keeps the version");
        let o = s
            .patch(
                hr(),
                "flux-system",
                "a",
                &PatchBody::Merge(json!({"status": {"ok": true}, "spec": {"x": 2}})),
                WriteMode::Status,
            )
            .expect("status");
        assert_eq!(o["status"]["ok"], true);
        assert_eq!(o["spec"]["x"], 1);
        assert_eq!(o["metadata"]["generation"], 1);
        let o = s
            .patch(
                hr(),
                "flux-system",
                "a",
                &PatchBody::Merge(json!({"spec": {"x": 2}})),
                WriteMode::Main,
            )
            .expect("spec");
        assert_eq!(o["metadata"]["generation"], 2);
        assert_eq!(o["status"]["ok"], true);
    }

    #[test]
    fn paging_and_history() {
        let mut s = store_with_ns();
        let start = s.resource_version();
        for i in 0..5 {
            s.create(
                hr(),
                "flux-system",
                json!({"metadata": {"name": format!("r{i}")}}),
                WriteMode::Main,
                true,
                Utc::now(),
            )
            .expect("create");
        }
        let f = Filter::default();
        let p1 = s.list(hr(), &f, Some(2), None).expect("p1");
        assert_eq!(p1.items.len(), 2);
        assert_eq!(p1.remaining, Some(3));
        let p2 = s
            .list(hr(), &f, Some(2), p1.continue_token.as_deref())
            .expect("p2");
        assert_eq!(p2.items[0]["metadata"]["name"], "r2");
        let p3 = s
            .list(hr(), &f, Some(2), p2.continue_token.as_deref())
            .expect("p3");
        assert_eq!(p3.items.len(), 1);
        assert!(p3.continue_token.is_none());
        assert_eq!(s.events_since(hr(), start, &f).expect("events").len(), 5);
        s.compact();
        assert_eq!(
            s.events_since(hr(), start, &f).expect_err("expired").code,
            410
        );
        assert!(
            s.events_since(hr(), s.resource_version(), &f)
                .expect("fresh")
                .is_empty()
        );
    }

    #[test]
    fn history_honours_field_selectors_beyond_metadata() {
        let mut s = store_with_ns();
        let ev = kinds::by_any_name("event").expect("event");
        let start = s.resource_version();
        for (n, obj) in [("e1", "bp-a"), ("e2", "bp-b")] {
            s.create(
                ev,
                "flux-system",
                json!({"metadata": {"name": n}, "involvedObject": {"name": obj}}),
                WriteMode::All,
                true,
                Utc::now(),
            )
            .expect("event");
        }
        let filter = Filter {
            fields: FieldSelector::parse("involvedObject.name=bp-b").expect("selector"),
            ..Filter::default()
        };
        let got = s.events_since(ev, start, &filter).expect("events");
        assert_eq!(got.len(), 1);
        assert!(String::from_utf8_lossy(&got[0].line).contains("\"e2\""));
        let by_name = Filter {
            fields: FieldSelector::parse("metadata.name=e1").expect("selector"),
            ..Filter::default()
        };
        assert_eq!(
            s.events_since(ev, start, &by_name).expect("events").len(),
            1
        );
    }

    #[test]
    fn secrets_fold_string_data() {
        let mut s = store_with_ns();
        let secret = kinds::by_any_name("secret").expect("secret");
        let o = s
            .create(
                secret,
                "flux-system",
                json!({"metadata": {"name": "ghcr-pull"}, "stringData": {"token": "abc"}}),
                WriteMode::Main,
                true,
                Utc::now(),
            )
            .expect("create");
        assert_eq!(o["data"]["token"], "YWJj");
        assert!(o.get("stringData").is_none());
    }

    #[test]
    fn conflicts_and_json_patch() {
        let mut s = store_with_ns();
        s.create(
            hr(),
            "flux-system",
            json!({"metadata": {"name": "a"}, "spec": {"suspend": false}}),
            WriteMode::Main,
            true,
            Utc::now(),
        )
        .expect("create");
        let err = s
            .replace(
                hr(),
                "flux-system",
                "a",
                json!({"metadata": {"name": "a", "resourceVersion": "1"}}),
                WriteMode::Main,
            )
            .expect_err("conflict");
        assert_eq!(err.code, 409);
        let p: json_patch::Patch = serde_json::from_value(
            json!([{"op": "replace", "path": "/spec/suspend", "value": true}]),
        )
        .expect("patch");
        let o = s
            .patch(
                hr(),
                "flux-system",
                "a",
                &PatchBody::Json(p),
                WriteMode::Main,
            )
            .expect("json patch");
        assert_eq!(o["spec"]["suspend"], true);
        let gone = s.delete(ns_kind(), "", "flux-system").expect("delete ns");
        assert_eq!(gone["metadata"]["name"], "flux-system");
        assert!(s.get(hr(), "flux-system", "a").is_none(), "cascade");
    }
}
