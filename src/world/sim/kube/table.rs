//! Server-side printing (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`), which kubectl
//! asks for: the same columns `kubectl get` shows against a real cluster with the real CRDs.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::kinds::KindInfo;

#[derive(Debug, Clone, Copy)]
enum Cell {
    /// A JSON pointer into the object.
    Path(&'static str),
    /// `status` of the condition of this type.
    CondStatus(&'static str),
    /// `message` of the condition of this type.
    CondMessage(&'static str),
    Age,
    PodReady,
    PodRestarts,
    NodeStatus,
    NodeRoles,
}

#[derive(Debug, Clone, Copy)]
struct Column {
    name: &'static str,
    cell: Cell,
}

/// Printer columns per kind (after NAME), as the CRDs' additionalPrinterColumns declare them.
fn columns(kind: &str) -> &'static [Column] {
    use Cell::*;
    match kind {
        "HelmRelease" | "Kustomization" => &[
            Column {
                name: "Age",
                cell: Age,
            },
            Column {
                name: "Ready",
                cell: CondStatus("Ready"),
            },
            Column {
                name: "Status",
                cell: CondMessage("Ready"),
            },
        ],
        "GitRepository" | "HelmRepository" => &[
            Column {
                name: "URL",
                cell: Path("/spec/url"),
            },
            Column {
                name: "Age",
                cell: Age,
            },
            Column {
                name: "Ready",
                cell: CondStatus("Ready"),
            },
            Column {
                name: "Status",
                cell: CondMessage("Ready"),
            },
        ],
        "Certificate" => &[
            Column {
                name: "Ready",
                cell: CondStatus("Ready"),
            },
            Column {
                name: "Secret",
                cell: Path("/spec/secretName"),
            },
            Column {
                name: "Age",
                cell: Age,
            },
        ],
        "ClusterIssuer" => &[
            Column {
                name: "Ready",
                cell: CondStatus("Ready"),
            },
            Column {
                name: "Age",
                cell: Age,
            },
        ],
        "Continuum" => &[
            Column {
                name: "Application",
                cell: Path("/spec/applicationRef"),
            },
            Column {
                name: "Primary",
                cell: Path("/status/primaryRegion"),
            },
            Column {
                name: "Lease",
                cell: Path("/status/leaseHolder"),
            },
            Column {
                name: "Lag",
                cell: Path("/status/maxReplicationLag"),
            },
            Column {
                name: "RTO",
                cell: Path("/spec/rto"),
            },
            Column {
                name: "RPO",
                cell: Path("/spec/rpo"),
            },
            Column {
                name: "Phase",
                cell: Path("/status/phase"),
            },
            Column {
                name: "Age",
                cell: Age,
            },
        ],
        "CNPGPair" => &[
            Column {
                name: "Primary",
                cell: Path("/status/currentPrimaryRegion"),
            },
            Column {
                name: "Phase",
                cell: Path("/status/phase"),
            },
            Column {
                name: "Lag",
                cell: Path("/status/walLagSeconds"),
            },
            Column {
                name: "Age",
                cell: Age,
            },
        ],
        "Cluster" => &[
            Column {
                name: "Age",
                cell: Age,
            },
            Column {
                name: "Instances",
                cell: Path("/spec/instances"),
            },
            Column {
                name: "Ready",
                cell: Path("/status/readyInstances"),
            },
            Column {
                name: "Status",
                cell: Path("/status/phase"),
            },
            Column {
                name: "Primary",
                cell: Path("/status/currentPrimary"),
            },
        ],
        "Pod" => &[
            Column {
                name: "Ready",
                cell: PodReady,
            },
            Column {
                name: "Status",
                cell: Path("/status/phase"),
            },
            Column {
                name: "Restarts",
                cell: PodRestarts,
            },
            Column {
                name: "Age",
                cell: Age,
            },
        ],
        "Node" => &[
            Column {
                name: "Status",
                cell: NodeStatus,
            },
            Column {
                name: "Roles",
                cell: NodeRoles,
            },
            Column {
                name: "Age",
                cell: Age,
            },
            Column {
                name: "Version",
                cell: Path("/status/nodeInfo/kubeletVersion"),
            },
        ],
        "Namespace" => &[
            Column {
                name: "Status",
                cell: Path("/status/phase"),
            },
            Column {
                name: "Age",
                cell: Age,
            },
        ],
        "Event" => &[
            Column {
                name: "Type",
                cell: Path("/type"),
            },
            Column {
                name: "Reason",
                cell: Path("/reason"),
            },
            Column {
                name: "Object",
                cell: Path("/involvedObject/name"),
            },
            Column {
                name: "Message",
                cell: Path("/message"),
            },
        ],
        "Secret" => &[
            Column {
                name: "Type",
                cell: Path("/type"),
            },
            Column {
                name: "Age",
                cell: Age,
            },
        ],
        _ => &[Column {
            name: "Age",
            cell: Age,
        }],
    }
}

/// `HumanDuration` of the apimachinery: 45s, 3m12s, 17m, 5h3m, 3d4h, 120d.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{}m{}s", s / 60, s % 60),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 8 * 3600 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s if s < 8 * 86400 => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn scalar(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => json!(s),
        Some(Value::Number(n)) => json!(n.to_string()),
        Some(Value::Bool(b)) => json!(b.to_string()),
        _ => json!("<none>"),
    }
}

fn cell(obj: &Value, cell: Cell, now: DateTime<Utc>) -> Value {
    match cell {
        Cell::Path(p) => scalar(obj.pointer(p)),
        Cell::CondStatus(t) => scalar(condition(obj, t).and_then(|c| c.get("status"))),
        Cell::CondMessage(t) => scalar(condition(obj, t).and_then(|c| c.get("message"))),
        Cell::Age => {
            let created = obj
                .pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
            match created {
                Some(t) => json!(human_duration((now - t.with_timezone(&Utc)).num_seconds())),
                None => json!("<unknown>"),
            }
        }
        Cell::PodReady => {
            let statuses = obj
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let total = obj
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(statuses.len(), Vec::len);
            let ready = statuses.iter().filter(|s| s["ready"] == true).count();
            json!(format!("{ready}/{total}"))
        }
        Cell::PodRestarts => {
            let n: i64 = obj
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .map(|ss| ss.iter().filter_map(|s| s["restartCount"].as_i64()).sum())
                .unwrap_or(0);
            json!(n)
        }
        Cell::NodeStatus => {
            let ready = condition(obj, "Ready").and_then(|c| c["status"].as_str()) == Some("True");
            json!(if ready { "Ready" } else { "NotReady" })
        }
        Cell::NodeRoles => {
            let roles: Vec<&str> = obj
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.keys()
                        .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                        .collect()
                })
                .unwrap_or_default();
            json!(if roles.is_empty() {
                "<none>".to_string()
            } else {
                roles.join(",")
            })
        }
    }
}

fn column_definitions(info: &KindInfo) -> Value {
    let mut defs = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    for c in columns(info.kind) {
        let typ = if c.name == "Restarts" {
            "integer"
        } else {
            "string"
        };
        defs.push(
            json!({"name": c.name, "type": typ, "format": "", "description": "", "priority": 0}),
        );
    }
    Value::Array(defs)
}

fn row(info: &KindInfo, obj: &Value, now: DateTime<Utc>) -> Value {
    let mut cells = vec![obj.pointer("/metadata/name").cloned().unwrap_or(json!(""))];
    cells.extend(columns(info.kind).iter().map(|c| cell(obj, c.cell, now)));
    let metadata = obj.get("metadata").cloned().unwrap_or(json!({}));
    json!({
        "cells": cells,
        "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata},
    })
}

/// A Table of `items`, as a list answer.
pub fn table(
    info: &KindInfo,
    items: &[&Value],
    rv: u64,
    cont: Option<&str>,
    now: DateTime<Utc>,
) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": column_definitions(info),
        "rows": items.iter().map(|o| row(info, o, now)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_kubectl() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(192), "3m12s");
        assert_eq!(human_duration(1020), "17m");
        assert_eq!(human_duration(5 * 3600 + 180), "5h3m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(3 * 86400 + 4 * 3600), "3d4h");
        assert_eq!(human_duration(120 * 86400), "120d");
    }

    #[test]
    fn helmrelease_rows() {
        let info = super::super::kinds::info(super::super::kinds::by_any_name("hr").expect("hr"));
        let obj = json!({"metadata": {"name": "bp-x", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"conditions": [{"type": "Ready", "status": "True", "message": "ok"}]}});
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:01:00Z")
            .expect("t")
            .with_timezone(&Utc);
        let t = table(info, &[&obj], 5, None, now);
        assert_eq!(t["rows"][0]["cells"], json!(["bp-x", "60s", "True", "ok"]));
        assert_eq!(t["columnDefinitions"][2]["name"], "Ready");
    }
}
