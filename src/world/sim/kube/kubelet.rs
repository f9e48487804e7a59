//! What a node's kubelet reports: the Node's status (system info, addresses, capacity, daemon
//! endpoint) and each running container's identity (image ID, container ID). The world's nodes and
//! pods come from the reconciler and from scenario files; both pass through here, so every one has
//! the fields a real cluster always sends (clients with strict models refuse a Node without
//! `nodeInfo.architecture` or a container status without `imageID`).

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The Kubernetes release the world's nodes run (k3s), as the kubelet and `/version` report it.
pub const K3S_VERSION: &str = "v1.33.5+k3s1";

fn digest(seed: &str) -> String {
    let mut h = Sha256::new();
    h.update(seed.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn set(m: &mut Map<String, Value>, key: &str, v: Value) {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.to_string(), v);
    }
}

fn child<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    set(m, key, json!({}));
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// A stable private address for a node (10.0.1.2–10.0.1.250), from its name.
fn node_ip(name: &str) -> String {
    let d = digest(name);
    let n = u8::from_str_radix(&d[..2], 16).unwrap_or(0) % 249 + 2;
    format!("10.0.1.{n}")
}

/// Complete a Node's status as its kubelet reports it; values already there are kept.
pub fn complete_node(node: &mut Value) {
    let name = node["metadata"]["name"]
        .as_str()
        .unwrap_or("node")
        .to_string();
    let ts = node["metadata"]["creationTimestamp"]
        .as_str()
        .map(str::to_string);
    let Some(m) = node.as_object_mut() else {
        return;
    };
    let id = digest(&name);
    if let Some(spec) = child(m, "spec") {
        set(spec, "podCIDR", json!("10.42.0.0/24"));
        set(spec, "podCIDRs", json!(["10.42.0.0/24"]));
        set(
            spec,
            "providerID",
            json!(format!(
                "hcloud://{}",
                u32::from_str_radix(&id[..6], 16).unwrap_or(1)
            )),
        );
    }
    let Some(status) = child(m, "status") else {
        return;
    };
    let resources = json!({"cpu": "4", "ephemeral-storage": "157197328Ki", "hugepages-1Gi": "0",
                           "hugepages-2Mi": "0", "memory": "16372032Ki", "pods": "110"});
    set(status, "capacity", resources.clone());
    set(status, "allocatable", resources);
    set(
        status,
        "addresses",
        json!([{"type": "InternalIP", "address": node_ip(&name)}, {"type": "Hostname", "address": name}]),
    );
    set(
        status,
        "daemonEndpoints",
        json!({"kubeletEndpoint": {"Port": 10250}}),
    );
    if let Some(info) = child(status, "nodeInfo") {
        set(info, "architecture", json!("amd64"));
        set(info, "bootID", json!(uuid_like(&id[8..])));
        set(
            info,
            "containerRuntimeVersion",
            json!("containerd://2.0.5-k3s1"),
        );
        set(info, "kernelVersion", json!("6.8.0-60-generic"));
        set(info, "kubeProxyVersion", json!(K3S_VERSION));
        set(info, "kubeletVersion", json!(K3S_VERSION));
        set(info, "machineID", json!(&id[..32]));
        set(info, "operatingSystem", json!("linux"));
        set(info, "osImage", json!("Ubuntu 24.04.2 LTS"));
        set(info, "systemUUID", json!(uuid_like(&id[16..])));
    }
    if let Some(Value::Array(conds)) = status.get_mut("conditions") {
        for c in conds.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(t) = c
                .get("lastTransitionTime")
                .cloned()
                .or_else(|| ts.clone().map(Value::String))
            {
                set(c, "lastHeartbeatTime", t);
            }
        }
    }
}

/// 32+ hex digits as `8-4-4-4-12`.
fn uuid_like(hex: &str) -> String {
    let h: String = hex.chars().chain(std::iter::repeat('0')).take(32).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Complete a Pod's container statuses (image ID, container ID) as its kubelet reports them.
pub fn complete_pod(pod: &mut Value) {
    let uid_seed = format!(
        "{}/{}",
        pod["metadata"]["namespace"].as_str().unwrap_or(""),
        pod["metadata"]["name"].as_str().unwrap_or("")
    );
    let Some(status) = pod.get_mut("status").and_then(Value::as_object_mut) else {
        return;
    };
    for list in ["initContainerStatuses", "containerStatuses"] {
        let Some(Value::Array(cs)) = status.get_mut(list) else {
            continue;
        };
        for c in cs.iter_mut().filter_map(Value::as_object_mut) {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let image = c
                .get("image")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let repo = image
                .rsplit_once(':')
                .map_or(image.as_str(), |(r, _)| r)
                .to_string();
            set(c, "image", json!(image));
            set(
                c,
                "imageID",
                json!(format!("{repo}@sha256:{}", digest(&image))),
            );
            set(
                c,
                "containerID",
                json!(format!(
                    "containerd://{}",
                    digest(&format!("{uid_seed}/{name}"))
                )),
            );
            set(c, "ready", json!(false));
            set(c, "restartCount", json!(0));
        }
    }
}

/// Complete whatever a kubelet reports about `obj` (Nodes and Pods; others are left alone).
pub fn complete(obj: &mut Value) {
    if obj["apiVersion"] != "v1" {
        return;
    }
    match obj["kind"].as_str() {
        Some("Node") => complete_node(obj),
        Some("Pod") => complete_pod(obj),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_and_pods_report_what_a_kubelet_does() {
        let mut node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cp1"},
                              "status": {"nodeInfo": {"osImage": "Custom"}}});
        complete(&mut node);
        let info = &node["status"]["nodeInfo"];
        assert_eq!(info["osImage"], "Custom", "reported values are kept");
        for f in [
            "architecture",
            "bootID",
            "containerRuntimeVersion",
            "kernelVersion",
            "kubeProxyVersion",
            "kubeletVersion",
            "machineID",
            "operatingSystem",
            "systemUUID",
        ] {
            assert!(info[f].is_string(), "{f}");
        }
        assert_eq!(node["status"]["addresses"][0]["type"], "InternalIP");
        let mut again = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cp1"}});
        complete(&mut again);
        assert_eq!(
            again["status"]["addresses"], node["status"]["addresses"],
            "stable per name"
        );

        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"},
                             "status": {"containerStatuses": [{"name": "c", "image": "ghcr.io/x/y:v1", "ready": true}]}});
        complete(&mut pod);
        let cs = &pod["status"]["containerStatuses"][0];
        assert!(
            cs["imageID"]
                .as_str()
                .is_some_and(|i| i.starts_with("ghcr.io/x/y@sha256:"))
        );
        assert_eq!(cs["ready"], true);
        assert_eq!(cs["restartCount"], 0);
    }
}
