//! Writes `generated.rs`: the JSON mapping of the k8s-pb messages the world serves.
//!
//! k8s-pb gives prost types without serde. Their JSON form is the Kubernetes one, so the mapping
//! is derived from two generated sources nobody here wrote: the prost field attributes of k8s-pb
//! (which field is bytes, which type a message field has) and k8s-openapi's serde field names
//! (`podIP`, not `podIp`). The test below regenerates the file and fails when it is stale;
//! `SOVTUI_REGENERATE=1 cargo test -p sovtui-world --lib generated_mapping_is_current` rewrites it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use regex::Regex;

/// The kinds whose messages (and lists) the world serves, as `module/path::Type`.
const ROOTS: &[&str] = &[
    "api/core/v1::Namespace",
    "api/core/v1::Node",
    "api/core/v1::Pod",
    "api/core/v1::Event",
    "api/core/v1::Secret",
    "api/core/v1::ConfigMap",
    "api/core/v1::Service",
    "api/core/v1::Endpoints",
    "api/core/v1::PersistentVolumeClaim",
    "api/core/v1::PersistentVolume",
    "api/core/v1::ServiceAccount",
    "api/apps/v1::Deployment",
    "api/apps/v1::StatefulSet",
    "api/apps/v1::DaemonSet",
    "api/apps/v1::ReplicaSet",
    "api/discovery/v1::EndpointSlice",
    "api/events/v1::Event",
    "api/storage/v1::StorageClass",
    "apimachinery/pkg/apis/meta/v1::Status",
];

/// Messages whose JSON form is not an object of their fields: hand-mapped in `json.rs`.
const SPECIAL: &[&str] = &[
    "apimachinery/pkg/apis/meta/v1::Time",
    "apimachinery/pkg/apis/meta/v1::MicroTime",
    "apimachinery/pkg/apis/meta/v1::Duration",
    "apimachinery/pkg/apis/meta/v1::FieldsV1",
    "apimachinery/pkg/api/resource::Quantity",
    "apimachinery/pkg/util/intstr::IntOrString",
    "apimachinery/pkg/runtime::RawExtension",
];

#[derive(Debug)]
struct Field {
    rust: String,
    json: String,
    bytes: Bytes,
    /// Go embeds the message with `json:",inline"`: its fields sit in this object.
    inline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Bytes {
    No,
    Single,
    Map,
    Repeated,
}

#[derive(Debug)]
struct Message {
    fields: Vec<Field>,
}

fn package_dir(name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Only this machine's platform: for all of them cargo would want the sources of crates no
    // build here ever downloaded (Android's, Windows'), and offline that fails on a fresh clone.
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host_triple()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    let manifest = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["manifest_path"].as_str())
        .unwrap_or_else(|| panic!("{name} in cargo metadata"));
    Path::new(manifest).parent().expect("dir").to_path_buf()
}

fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = std::process::Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc names its host")
        .to_string()
}

/// `super::super::core::v1::Pod` seen from `api/apps/v1` → `api/core/v1::Pod`.
fn resolve(module: &str, path: &str) -> String {
    let mut segs: Vec<&str> = module.split('/').collect();
    let mut rest: Vec<&str> = path.split("::").collect();
    let ty = rest.pop().unwrap_or_default();
    let mut rest = rest.as_slice();
    while let ["super", tail @ ..] = rest {
        segs.pop();
        rest = tail;
    }
    segs.extend(rest);
    format!("{}::{ty}", segs.join("/"))
}

/// Every message of k8s-pb: `module/path::Type` → fields (rust name, bytes kind) and the messages
/// its fields hold.
type PbField = (String, Bytes, Option<String>);

fn pb_messages(root: &Path) -> BTreeMap<String, (Vec<PbField>, Vec<String>)> {
    let src = root.join("src");
    let struct_re = Regex::new(r"(?s)pub struct (\w+) \{(.*?)\n\}").expect("re");
    let field_re =
        Regex::new(r"(?s)#\[prost\(([^\]]*)\)\]\s*pub ((?:r#)?\w+):\s*(.*?),\s*(?:#\[prost|$)")
            .expect("re");
    let ty_re = Regex::new(r"((?:super::)*(?:\w+::)*)([A-Z]\w*)").expect("re");
    let mut out = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.file_name().and_then(|n| n.to_str()) != Some("mod.rs") {
                continue;
            }
            let module = p
                .parent()
                .and_then(|d| d.strip_prefix(&src).ok())
                .map(|d| d.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            let text = std::fs::read_to_string(&p).expect("read");
            // Doc comments hold braces and `pub` words; drop them before matching.
            let text: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            for s in struct_re.captures_iter(&text) {
                let name = &s[1];
                let body = format!("{}\n", &s[2]);
                let mut fields = Vec::new();
                let mut refs = Vec::new();
                // The lookahead-free regex consumes the next `#[prost`; walk field by field.
                let mut rest = body.as_str();
                while let Some(at) = rest.find("#[prost(") {
                    let chunk_end = rest[at + 1..]
                        .find("#[prost(")
                        .map_or(rest.len(), |e| at + 1 + e);
                    let chunk = &rest[at..chunk_end];
                    if let Some(f) = field_re.captures(&format!("{chunk}#[prost")) {
                        let attr = &f[1];
                        let rust = f[2].to_string();
                        let ty = f[3].split_whitespace().collect::<Vec<_>>().join("");
                        let bytes = if attr.contains("bytes = \"vec\"") {
                            if attr.contains("repeated") {
                                Bytes::Repeated
                            } else {
                                Bytes::Single
                            }
                        } else if attr.contains("\"string, bytes\"") {
                            Bytes::Map
                        } else {
                            Bytes::No
                        };
                        let mut held = None;
                        if attr.starts_with("message") || attr.contains(", message\"") {
                            for t in ty_re.captures_iter(&ty) {
                                let name = &t[2];
                                if matches!(name, "Option" | "Vec" | "Box" | "BTreeMap" | "String")
                                {
                                    continue;
                                }
                                let r = resolve(&module, &format!("{}{name}", &t[1]));
                                refs.push(r.clone());
                                held = Some(r);
                            }
                        }
                        // Only a singular message can be embedded inline.
                        if !attr.contains("optional") {
                            held = None;
                        }
                        fields.push((rust, bytes, held));
                    }
                    rest = &rest[chunk_end..];
                }
                // Every prost field must have been understood, or a field would silently vanish.
                assert_eq!(
                    fields.len(),
                    body.matches("#[prost(").count(),
                    "{module}::{name}: a field the generator cannot read"
                );
                out.insert(format!("{module}::{name}"), (fields, refs));
            }
        }
    }
    out
}

fn snake_to_camel(s: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A field name as both generators agree on it: prost's snake case of `podCIDRs` is
/// `pod_cid_rs`, k8s-openapi's `pod_cidrs`; without underscores and case they are one name.
fn norm(rust: &str) -> String {
    rust.trim_start_matches("r#")
        .trim_end_matches('_')
        .replace('_', "")
        .to_ascii_lowercase()
}

/// JSON names of k8s-openapi's types: `module/path::Type` → rust field → JSON name.
fn openapi_names(root: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let src = root.join("src");
    let newest = std::fs::read_dir(&src)
        .expect("read_dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("v1_"))
        .max_by_key(|n| n.trim_start_matches("v1_").parse::<u32>().unwrap_or(0))
        .expect("a version directory");
    let base = src.join(newest);
    let struct_re = Regex::new(r"pub struct (\w+) \{").expect("re");
    let key_re = Regex::new(r#""([^"]+)" => Field::Key_(\w+),"#).expect("re");
    let mut out = BTreeMap::new();
    let mut stack = vec![base.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let Some(ty) = struct_re.captures(&text).map(|c| c[1].to_string()) else {
                continue;
            };
            let module = p
                .parent()
                .and_then(|d| d.strip_prefix(&base).ok())
                .map(|d| d.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            let names = key_re
                .captures_iter(&text)
                .map(|c| (norm(&c[2]), c[1].to_string()))
                .collect();
            out.insert(format!("{module}::{ty}"), names);
        }
    }
    out
}

fn rust_path(key: &str) -> String {
    let (module, ty) = key.split_once("::").expect("module::Type");
    format!("k8s_pb::{}::{ty}", module.replace('/', "::"))
}

/// The generated source.
fn generate() -> String {
    let pb = pb_messages(&package_dir("k8s-pb"));
    let names = openapi_names(&package_dir("k8s-openapi"));
    // Every root with its List, then everything their fields hold.
    let mut queue: VecDeque<String> = ROOTS
        .iter()
        .flat_map(|r| [r.to_string(), format!("{r}List")])
        .filter(|k| pb.contains_key(k))
        .collect();
    let mut seen = BTreeSet::new();
    let mut messages = BTreeMap::new();
    while let Some(key) = queue.pop_front() {
        if !seen.insert(key.clone()) || SPECIAL.contains(&key.as_str()) {
            continue;
        }
        let (fields, refs) = pb
            .get(&key)
            .unwrap_or_else(|| panic!("{key} is not a k8s-pb message"));
        let json_names = names.get(&key);
        let fields = fields
            .iter()
            .map(|(rust, bytes, held)| {
                let named = json_names.and_then(|n| n.get(&norm(rust))).cloned();
                // A type k8s-openapi has must name every field (or embed it inline).
                let plain = rust.trim_start_matches("r#").trim_end_matches('_');
                // k8s-openapi flattens an embedded struct: a message field it has no name for,
                // whose own fields it does have, is inline (Probe's ProbeHandler, Volume's
                // VolumeSource).
                let inline = named.is_none()
                    && json_names.is_some_and(|n| {
                        held.as_ref()
                            .and_then(|h| pb.get(h))
                            .is_some_and(|(inner, _)| {
                                !inner.is_empty()
                                    && inner.iter().all(|(r, _, _)| n.contains_key(&norm(r)))
                            })
                    });
                // (k8s-pb may carry alpha fields k8s-openapi leaves out: those keep the camel
                // case of their prost name, which is right unless the name holds an acronym.)
                Field {
                    json: named.unwrap_or_else(|| snake_to_camel(plain)),
                    rust: rust.clone(),
                    bytes: *bytes,
                    inline,
                }
            })
            .collect();
        queue.extend(refs.iter().cloned());
        messages.insert(key, Message { fields });
    }
    let mut body = String::new();
    for (key, m) in &messages {
        let path = rust_path(key);
        body.push_str(&format!(
            "\nimpl Json for {path} {{\n    fn to_json(&self) -> Value {{\n"
        ));
        if m.fields.is_empty() {
            body.push_str("        Value::Object(Map::new())\n    }\n");
        } else {
            body.push_str("        let mut m = Map::new();\n");
            for f in &m.fields {
                let put = match f.bytes {
                    Bytes::No if f.inline => "put_inline",
                    Bytes::No => "put",
                    Bytes::Single => "put_bytes",
                    Bytes::Map => "put_bytes_map",
                    Bytes::Repeated => "put_bytes_list",
                };
                body.push_str(&format!(
                    "        {put}(&mut m, {:?}, &self.{});\n",
                    f.json, f.rust
                ));
            }
            body.push_str("        Value::Object(m)\n    }\n");
        }
        body.push_str("    fn from_json(v: &Value) -> Result<Self, JsonError> {\n");
        if m.fields.is_empty() {
            body.push_str("        object(v)?;\n        Ok(Self::default())\n    }\n}\n");
            continue;
        }
        body.push_str("        let m = object(v)?;\n        Ok(Self {\n");
        for f in &m.fields {
            let get = match f.bytes {
                Bytes::No if f.inline => "field_inline",
                Bytes::No => "field",
                Bytes::Single => "field_bytes",
                Bytes::Map => "field_bytes_map",
                Bytes::Repeated => "field_bytes_list",
            };
            body.push_str(&format!(
                "            {}: {get}(m, {:?})?,\n",
                f.rust, f.json
            ));
        }
        // A field a newer k8s-pb adds keeps its default until this file is regenerated.
        body.push_str("            ..Default::default()\n        })\n    }\n}\n");
    }
    // Import only the helpers the messages use, so the file compiles without warnings.
    let helpers: Vec<&str> = [
        "field",
        "field_bytes",
        "field_inline",
        "field_bytes_list",
        "field_bytes_map",
        "object",
        "put",
        "put_bytes",
        "put_bytes_list",
        "put_bytes_map",
        "put_inline",
    ]
    .into_iter()
    .filter(|h| body.contains(&format!("{h}(")))
    .collect();
    format!(
        "// @generated by src/world/sim/kube/proto/codegen.rs from the k8s-pb and k8s-openapi sources.\n\
         // Do not edit: `SOVTUI_REGENERATE=1 cargo test -p sovtui-world --lib generated_mapping_is_current`.\n\n\
         use serde_json::{{Map, Value}};\n\n\
         use super::json::{{Json, JsonError, {}}};\n{body}",
        helpers.join(", ")
    )
}

#[test]
fn generated_mapping_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sim/kube/proto/generated.rs");
    let fresh = generate();
    if std::env::var_os("SOVTUI_REGENERATE").is_some() {
        std::fs::write(&path, &fresh).expect("write generated.rs");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "src/world/sim/kube/proto/generated.rs is stale: run SOVTUI_REGENERATE=1 cargo test -p sovtui-world --lib generated_mapping_is_current"
    );
}

#[test]
fn json_names_come_from_k8s_openapi() {
    let names = openapi_names(&package_dir("k8s-openapi"));
    assert_eq!(names["api/core/v1::PodStatus"][&norm("pod_ip")], "podIP");
    assert_eq!(
        names["api/core/v1::NodeSpec"][&norm("pod_cid_rs")],
        "podCIDRs"
    );
    assert_eq!(
        resolve("api/apps/v1", "super::super::core::v1::PodTemplateSpec"),
        "api/core/v1::PodTemplateSpec"
    );
}
