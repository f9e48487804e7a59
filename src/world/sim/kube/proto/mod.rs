//! The wire formats of the apiserver: content negotiation (JSON, YAML, protobuf, Table) and the
//! Kubernetes protobuf encoding of built-in kinds — the `k8s\0` magic followed by a
//! `runtime.Unknown` whose `raw` holds the message — with the generated k8s-pb types.
//!
//! The store keeps JSON. A protobuf body is decoded into its k8s-pb message and turned into the
//! same JSON a JSON client would have sent; a protobuf answer is the stored JSON read into the
//! message and encoded by prost. Custom resources have no protobuf form, as on a real apiserver.

#[cfg(test)]
mod codegen;
#[rustfmt::skip]
#[allow(clippy::all)]
mod generated;
pub mod json;

use k8s_pb::apimachinery::pkg::apis::meta::v1::WatchEvent;
use k8s_pb::apimachinery::pkg::runtime::{RawExtension, TypeMeta, Unknown};
use prost::Message;
use serde_json::Value;

use self::json::{Json, JsonError};

/// The protobuf media type; watches add `;stream=watch`.
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// The prefix of every protobuf-encoded object.
const MAGIC: &[u8; 4] = b"k8s\0";

/// How one message type converts: JSON → protobuf bytes and back.
struct Codec {
    api_version: &'static str,
    kind: &'static str,
    encode: fn(&Value) -> Result<Vec<u8>, JsonError>,
    decode: fn(&[u8]) -> Result<Value, String>,
}

fn encode_as<T: Json + Message>(v: &Value) -> Result<Vec<u8>, JsonError> {
    T::from_json(v).map(|m| m.encode_to_vec())
}

fn decode_as<T: Json + Message + Default>(b: &[u8]) -> Result<Value, String> {
    T::decode(b).map(|m| m.to_json()).map_err(|e| e.to_string())
}

macro_rules! codecs {
    ($($api_version:literal $kind:literal => $ty:ty),* $(,)?) => {
        static CODECS: &[Codec] = &[
            $(Codec {
                api_version: $api_version,
                kind: $kind,
                encode: encode_as::<$ty>,
                decode: decode_as::<$ty>,
            }),*
        ];
    };
}

use k8s_pb::api::{apps, core, discovery, events, storage};

codecs! {
    "v1" "Namespace" => core::v1::Namespace,
    "v1" "NamespaceList" => core::v1::NamespaceList,
    "v1" "Node" => core::v1::Node,
    "v1" "NodeList" => core::v1::NodeList,
    "v1" "Pod" => core::v1::Pod,
    "v1" "PodList" => core::v1::PodList,
    "v1" "Event" => core::v1::Event,
    "v1" "EventList" => core::v1::EventList,
    "v1" "Secret" => core::v1::Secret,
    "v1" "SecretList" => core::v1::SecretList,
    "v1" "ConfigMap" => core::v1::ConfigMap,
    "v1" "ConfigMapList" => core::v1::ConfigMapList,
    "v1" "Service" => core::v1::Service,
    "v1" "ServiceList" => core::v1::ServiceList,
    "v1" "Endpoints" => core::v1::Endpoints,
    "v1" "EndpointsList" => core::v1::EndpointsList,
    "v1" "PersistentVolumeClaim" => core::v1::PersistentVolumeClaim,
    "v1" "PersistentVolumeClaimList" => core::v1::PersistentVolumeClaimList,
    "v1" "PersistentVolume" => core::v1::PersistentVolume,
    "v1" "PersistentVolumeList" => core::v1::PersistentVolumeList,
    "v1" "ServiceAccount" => core::v1::ServiceAccount,
    "v1" "ServiceAccountList" => core::v1::ServiceAccountList,
    "apps/v1" "Deployment" => apps::v1::Deployment,
    "apps/v1" "DeploymentList" => apps::v1::DeploymentList,
    "apps/v1" "StatefulSet" => apps::v1::StatefulSet,
    "apps/v1" "StatefulSetList" => apps::v1::StatefulSetList,
    "apps/v1" "DaemonSet" => apps::v1::DaemonSet,
    "apps/v1" "DaemonSetList" => apps::v1::DaemonSetList,
    "apps/v1" "ReplicaSet" => apps::v1::ReplicaSet,
    "apps/v1" "ReplicaSetList" => apps::v1::ReplicaSetList,
    "discovery.k8s.io/v1" "EndpointSlice" => discovery::v1::EndpointSlice,
    "discovery.k8s.io/v1" "EndpointSliceList" => discovery::v1::EndpointSliceList,
    "events.k8s.io/v1" "Event" => events::v1::Event,
    "events.k8s.io/v1" "EventList" => events::v1::EventList,
    "storage.k8s.io/v1" "StorageClass" => storage::v1::StorageClass,
    "storage.k8s.io/v1" "StorageClassList" => storage::v1::StorageClassList,
    "v1" "Status" => k8s_pb::apimachinery::pkg::apis::meta::v1::Status,
}

fn codec(api_version: &str, kind: &str) -> Option<&'static Codec> {
    CODECS
        .iter()
        .find(|c| c.api_version == api_version && c.kind == kind)
}

/// Whether `apiVersion`/`kind` has a protobuf form (built-in kinds do, custom resources do not).
pub fn has_protobuf(api_version: &str, kind: &str) -> bool {
    codec(api_version, kind).is_some()
}

/// A JSON object (with `apiVersion` and `kind`) as the apiserver's protobuf bytes.
pub fn encode(obj: &Value) -> Result<Vec<u8>, String> {
    let api_version = obj["apiVersion"].as_str().unwrap_or("");
    let kind = obj["kind"].as_str().unwrap_or("");
    let c = codec(api_version, kind)
        .ok_or_else(|| format!("{api_version} {kind} has no protobuf encoding"))?;
    let raw = (c.encode)(obj).map_err(|e| format!("{kind}: {e}"))?;
    Ok(envelope(c.api_version, c.kind, raw))
}

fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.to_string()),
            kind: Some(kind.to_string()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    unknown.encode(&mut out).unwrap_or_default();
    out
}

/// Protobuf bytes (magic + Unknown) as the JSON object they encode, `apiVersion`/`kind` set.
pub fn decode(bytes: &[u8]) -> Result<Value, String> {
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or("the protobuf body does not start with the k8s magic number")?;
    let unknown = Unknown::decode(body).map_err(|e| format!("invalid protobuf envelope: {e}"))?;
    let tm = unknown.type_meta.unwrap_or_default();
    let api_version = tm.api_version.unwrap_or_default();
    let kind = tm.kind.unwrap_or_default();
    if unknown.content_encoding.is_some_and(|e| !e.is_empty()) {
        return Err("content encodings are not supported".into());
    }
    let c = codec(&api_version, &kind)
        .ok_or_else(|| format!("no kind {kind:?} is registered for version {api_version:?}"))?;
    let mut obj = (c.decode)(&unknown.raw.unwrap_or_default())?;
    if let Some(m) = obj.as_object_mut() {
        m.insert("apiVersion".into(), Value::String(api_version));
        m.insert("kind".into(), Value::String(kind));
    }
    Ok(obj)
}

/// One frame of a protobuf watch stream: a 4-byte big-endian length, then a `WatchEvent` whose
/// object is the protobuf-encoded object. `None` for an object without a protobuf form.
pub fn watch_frame(event_type: &str, obj: &Value) -> Option<Vec<u8>> {
    let object = encode(obj).ok()?;
    let ev = WatchEvent {
        r#type: Some(event_type.to_string()),
        object: Some(RawExtension { raw: Some(object) }),
    };
    let body = ev.encode_to_vec();
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend(body);
    Some(out)
}

/// What a response is written as, chosen from the request's `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    Protobuf,
    /// `application/json;as=Table;g=meta.k8s.io;v=v1` (kubectl's `get`).
    Table,
}

/// Content negotiation as the apiserver does it: the first acceptable entry of `Accept` wins;
/// protobuf only for kinds that have it; nothing acceptable is a 406.
pub fn negotiate(accept: Option<&str>, protobuf_ok: bool) -> Option<Format> {
    let accept = accept.unwrap_or("").trim();
    if accept.is_empty() {
        return Some(Format::Json);
    }
    for entry in accept.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let params: Vec<(String, String)> = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let param = |k: &str| {
            params
                .iter()
                .find(|(pk, _)| pk == k)
                .map(|(_, v)| v.as_str())
        };
        let as_kind = param("as");
        let format = match (media.as_str(), as_kind) {
            ("application/json", Some("Table"))
                if param("g") == Some("meta.k8s.io")
                    && matches!(param("v"), Some("v1" | "v1beta1")) =>
            {
                Some(Format::Table)
            }
            // Other transformations (PartialObjectMetadata) are not served: the client
            // falls back to the next entry.
            (_, Some(_)) => None,
            ("application/json", None) => Some(Format::Json),
            ("application/yaml", None) => Some(Format::Yaml),
            (PROTOBUF, None) if protobuf_ok => Some(Format::Protobuf),
            ("*/*" | "application/*", None) => Some(Format::Json),
            _ => None,
        };
        if format.is_some() {
            return format;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_round_trips_through_protobuf() {
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "ghcr-pull", "namespace": "flux-system", "resourceVersion": "7",
                          "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"a": "b"}},
            "data": {"token": "YWJj"},
            "type": "Opaque",
        });
        let bytes = encode(&secret).expect("encode");
        assert_eq!(&bytes[..4], b"k8s\0");
        assert_eq!(decode(&bytes).expect("decode"), secret);
    }

    #[test]
    fn pod_with_nested_messages_round_trips() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "n", "ownerReferences": [{"apiVersion": "apps/v1",
                "kind": "ReplicaSet", "name": "rs", "uid": "u", "controller": true}]},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                     "resources": {"limits": {"cpu": "500m"}},
                     "readinessProbe": {"httpGet": {"path": "/", "port": "http"}}}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}],
                       "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
        });
        assert_eq!(decode(&encode(&pod).expect("encode")).expect("decode"), pod);
    }

    #[test]
    fn custom_resources_and_garbage_have_no_protobuf() {
        assert!(!has_protobuf("helm.toolkit.fluxcd.io/v2", "HelmRelease"));
        assert!(
            encode(&json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease"}))
                .is_err()
        );
        assert!(decode(b"not protobuf").is_err());
        assert!(decode(b"k8s\0\xff\xff\xff").is_err());
        let wrong = json!({"apiVersion": "v1", "kind": "Secret", "metadata": "x"});
        assert!(encode(&wrong).expect_err("shape").contains("metadata"));
    }

    #[test]
    fn errors_and_watch_frames_in_protobuf() {
        let kind = crate::sim::kube::kinds::by_any_name("secret").expect("secret");
        let status =
            crate::sim::kube::ApiError::not_found(crate::sim::kube::kinds::info(kind), "gone")
                .to_status();
        let bytes = encode(&status).expect("a Status encodes");
        assert_eq!(decode(&bytes).expect("decode")["reason"], "NotFound");
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
        let frame = watch_frame("ADDED", &obj).expect("frame");
        let len = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        assert_eq!(len, frame.len() - 4);
        let ev = WatchEvent::decode(&frame[4..]).expect("WatchEvent");
        assert_eq!(ev.r#type.as_deref(), Some("ADDED"));
        let inner = ev.object.and_then(|o| o.raw).expect("raw");
        assert_eq!(decode(&inner).expect("object"), obj);
        assert!(watch_frame("ADDED", &json!({"apiVersion": "x/v1", "kind": "Thing"})).is_none());
    }

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(None, true), Some(Format::Json));
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf, */*"), true),
            Some(Format::Protobuf)
        );
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf, */*"), false),
            Some(Format::Json)
        );
        assert_eq!(
            negotiate(
                Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
                false
            ),
            Some(Format::Table)
        );
        assert_eq!(
            negotiate(
                Some("application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"),
                true
            ),
            None
        );
        assert_eq!(
            negotiate(Some("application/yaml"), true),
            Some(Format::Yaml)
        );
        assert_eq!(negotiate(Some("text/html"), true), None);
    }
}
