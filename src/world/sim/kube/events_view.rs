//! `events.k8s.io/v1` Events: the core Events seen through the newer API, as the apiserver serves
//! one store in both shapes. Reads convert core → v1 (`message` is `note`, `involvedObject` is
//! `regarding`, `source`/`firstTimestamp`/`lastTimestamp`/`count` are the `deprecated*` fields);
//! writes convert back, after the strict validation a create through the new API gets.

use serde_json::{Map, Value, json};

use super::kinds::KindInfo;
use super::status::ApiError;

/// (core field, events.k8s.io/v1 field) pairs that are renamed; every other field is shared.
const RENAMED: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

/// Fields both shapes carry under the same name.
const SHARED: &[&str] = &[
    "metadata",
    "eventTime",
    "series",
    "reportingInstance",
    "action",
    "reason",
    "related",
    "type",
];

fn convert(
    from: &Value,
    pairs: impl Iterator<Item = (&'static str, &'static str)>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(m) = from.as_object() else {
        return out;
    };
    for (src, dst) in pairs.chain(SHARED.iter().map(|f| (*f, *f))) {
        if let Some(v) = m.get(src).filter(|v| !v.is_null()) {
            out.insert(dst.to_string(), v.clone());
        }
    }
    out
}

/// A stored core Event as an `events.k8s.io/v1` Event.
pub fn to_v1(core: &Value, info: &KindInfo) -> Value {
    let mut out = convert(core, RENAMED.iter().copied());
    out.insert("apiVersion".into(), json!(info.api_version()));
    out.insert("kind".into(), json!("Event"));
    // eventTime is not optional in the v1 type: a legacy event shows it as null.
    out.entry("eventTime").or_insert(Value::Null);
    Value::Object(out)
}

/// An `events.k8s.io/v1` Event as the core Event the store keeps.
pub fn to_core(v1: &Value) -> Value {
    let mut out = convert(v1, RENAMED.iter().map(|(c, v)| (*v, *c)));
    out.insert("apiVersion".into(), json!("v1"));
    out.insert("kind".into(), json!("Event"));
    Value::Object(out)
}

/// A v1 list, watch or field selector names v1 fields; the store's objects have core ones.
pub fn core_field_selector(selector: &str) -> String {
    selector
        .split(',')
        .map(|term| {
            let mut t = term.to_string();
            for (core, v1) in RENAMED {
                if let Some(rest) = t.strip_prefix(v1) {
                    t = format!("{core}{rest}");
                    break;
                }
            }
            t
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// What the apiserver requires of an Event created through `events.k8s.io/v1`.
pub fn validate_create(v1: &Value, info: &KindInfo) -> Result<(), ApiError> {
    let s = |f: &str| v1.get(f).and_then(Value::as_str).unwrap_or("");
    let mut errs = Vec::new();
    if v1.get("eventTime").is_none_or(Value::is_null) {
        errs.push("eventTime: Required value".to_string());
    }
    for f in [
        "reportingController",
        "reportingInstance",
        "action",
        "reason",
    ] {
        if s(f).is_empty() {
            errs.push(format!("{f}: Required value"));
        }
    }
    if !matches!(s("type"), "Normal" | "Warning") {
        errs.push(format!(
            "type: Invalid value: \"{}\": has invalid value",
            s("type")
        ));
    }
    if s("note").len() > 1024 {
        errs.push("note: Too long: may not be more than 1024 bytes".to_string());
    }
    for f in [
        "deprecatedSource",
        "deprecatedFirstTimestamp",
        "deprecatedLastTimestamp",
        "deprecatedCount",
    ] {
        let set = match v1.get(f) {
            None | Some(Value::Null) => false,
            Some(Value::Object(m)) => !m.is_empty(),
            Some(Value::Number(n)) => n.as_i64() != Some(0),
            Some(_) => true,
        };
        if set {
            errs.push(format!("{f}: Invalid value: \"\": needs to be unset"));
        }
    }
    if errs.is_empty() {
        return Ok(());
    }
    let name = v1
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    // One cause per field, as the apiserver lists them (kubectl prints these).
    let causes: Vec<Value> = errs
        .iter()
        .map(|e| {
            let (field, message) = e.split_once(": ").unwrap_or(("", e));
            let reason = if message.starts_with("Required") {
                "FieldValueRequired"
            } else if message.starts_with("Too long") {
                "FieldValueTooLong"
            } else {
                "FieldValueInvalid"
            };
            json!({"reason": reason, "message": message, "field": field})
        })
        .collect();
    let msg = if errs.len() == 1 {
        errs.remove(0)
    } else {
        format!("[{}]", errs.join(", "))
    };
    let mut e = ApiError::invalid(info, name, msg);
    e.message = format!(
        "{}.{} {}",
        info.kind,
        info.group,
        e.message.trim_start_matches(info.kind).trim_start()
    );
    e.details["causes"] = Value::Array(causes);
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::kube::kinds;

    fn v1_info() -> &'static KindInfo {
        kinds::info(kinds::by_plural("events.k8s.io", "v1", "events").expect("served"))
    }

    #[test]
    fn both_shapes_carry_the_same_event() {
        let core = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "bp-a.1", "namespace": "flux-system"},
            "involvedObject": {"kind": "HelmRelease", "name": "bp-a"}, "message": "done",
            "reason": "InstallSucceeded", "type": "Normal", "source": {"component": "helm-controller"},
            "reportingComponent": "helm-controller", "count": 1, "firstTimestamp": "2026-01-01T00:00:00Z"});
        let v1 = to_v1(&core, v1_info());
        assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
        assert_eq!(v1["note"], "done");
        assert_eq!(v1["regarding"]["name"], "bp-a");
        assert_eq!(v1["reportingController"], "helm-controller");
        assert_eq!(v1["deprecatedCount"], 1);
        assert_eq!(v1["eventTime"], Value::Null);
        assert_eq!(to_core(&v1), core);
        assert_eq!(
            core_field_selector("regarding.name=bp-a,reason=X"),
            "involvedObject.name=bp-a,reason=X"
        );
    }

    #[test]
    fn creates_through_v1_are_validated_strictly() {
        let ok = json!({"metadata": {"name": "e"}, "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "sovtui.io/test", "reportingInstance": "t-1", "action": "Check",
            "reason": "Checked", "type": "Normal", "note": "n"});
        assert!(validate_create(&ok, v1_info()).is_ok());
        let mut bad = ok.clone();
        bad["eventTime"] = Value::Null;
        bad["deprecatedCount"] = json!(3);
        let e = validate_create(&bad, v1_info()).expect_err("invalid");
        assert_eq!(e.code, 422);
        assert!(
            e.message.contains("eventTime: Required value"),
            "{}",
            e.message
        );
        assert!(e.message.contains("deprecatedCount"), "{}", e.message);
    }
}
