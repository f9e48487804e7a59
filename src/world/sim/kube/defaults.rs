//! The apiserver's defaulting of built-in kinds: what a real server fills in on every write, so an
//! object read back has the fields every client expects (kubectl 1.20 sends a Secret without
//! `type`; the server answers with `type: Opaque`).

use serde_json::{Map, Value, json};

use super::kinds::KindInfo;

fn set(m: &mut Map<String, Value>, key: &str, v: Value) {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.to_string(), v);
    }
}

fn obj<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    set(m, key, json!({}));
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// `IfNotPresent`, or `Always` for an untagged or `:latest` image, as the apiserver decides.
fn pull_policy(image: &str) -> &'static str {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') {
        "IfNotPresent"
    } else {
        match last.split_once(':') {
            Some((_, "latest")) | None => "Always",
            Some(_) => "IfNotPresent",
        }
    }
}

fn container(c: &mut Value) {
    let Some(c) = c.as_object_mut() else {
        return;
    };
    let image = c
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    set(c, "imagePullPolicy", json!(pull_policy(&image)));
    set(c, "terminationMessagePath", json!("/dev/termination-log"));
    set(c, "terminationMessagePolicy", json!("File"));
    set(c, "resources", json!({}));
    if let Some(Value::Array(ports)) = c.get_mut("ports") {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            set(p, "protocol", json!("TCP"));
        }
    }
}

fn pod_spec(spec: &mut Map<String, Value>) {
    set(spec, "restartPolicy", json!("Always"));
    set(spec, "terminationGracePeriodSeconds", json!(30));
    set(spec, "dnsPolicy", json!("ClusterFirst"));
    set(spec, "securityContext", json!({}));
    set(spec, "schedulerName", json!("default-scheduler"));
    set(spec, "enableServiceLinks", json!(true));
    set(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    set(spec, "priority", json!(0));
    for list in ["initContainers", "containers"] {
        if let Some(Value::Array(cs)) = spec.get_mut(list) {
            cs.iter_mut().for_each(container);
        }
    }
}

fn template_spec(spec: &mut Map<String, Value>) {
    if let Some(t) = obj(spec, "template")
        && let Some(ps) = obj(t, "spec")
    {
        pod_spec(ps);
    }
}

/// Fill in the defaults of `info`'s kind, in place. Custom resources are left as they are.
pub fn apply(info: &KindInfo, o: &mut Value) {
    let Some(m) = o.as_object_mut() else {
        return;
    };
    match (info.group, info.kind) {
        ("", "Secret") => set(m, "type", json!("Opaque")),
        ("", "Namespace") => {
            if let Some(spec) = obj(m, "spec") {
                set(spec, "finalizers", json!(["kubernetes"]));
            }
            if let Some(status) = obj(m, "status") {
                set(status, "phase", json!("Active"));
            }
        }
        ("", "Pod") => {
            if let Some(spec) = obj(m, "spec") {
                pod_spec(spec);
            }
            if let Some(status) = obj(m, "status") {
                set(status, "phase", json!("Pending"));
                set(status, "qosClass", json!("BestEffort"));
            }
        }
        ("", "Service") => {
            if let Some(spec) = obj(m, "spec") {
                set(spec, "type", json!("ClusterIP"));
                set(spec, "sessionAffinity", json!("None"));
                set(spec, "ipFamilies", json!(["IPv4"]));
                set(spec, "ipFamilyPolicy", json!("SingleStack"));
                set(spec, "internalTrafficPolicy", json!("Cluster"));
                if let Some(Value::Array(ports)) = spec.get_mut("ports") {
                    for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                        set(p, "protocol", json!("TCP"));
                        if let Some(port) = p.get("port").cloned() {
                            set(p, "targetPort", port);
                        }
                    }
                }
            }
            if let Some(status) = obj(m, "status") {
                set(status, "loadBalancer", json!({}));
            }
        }
        ("apps", "Deployment") => {
            if let Some(spec) = obj(m, "spec") {
                set(spec, "replicas", json!(1));
                set(spec, "revisionHistoryLimit", json!(10));
                set(spec, "progressDeadlineSeconds", json!(600));
                set(
                    spec,
                    "strategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
                );
                template_spec(spec);
            }
        }
        ("apps", "StatefulSet") => {
            if let Some(spec) = obj(m, "spec") {
                set(spec, "replicas", json!(1));
                set(spec, "revisionHistoryLimit", json!(10));
                set(spec, "podManagementPolicy", json!("OrderedReady"));
                set(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                );
                template_spec(spec);
            }
        }
        ("apps", "DaemonSet") => {
            if let Some(spec) = obj(m, "spec") {
                set(spec, "revisionHistoryLimit", json!(10));
                set(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
                );
                template_spec(spec);
            }
        }
        ("apps", "ReplicaSet") => {
            if let Some(spec) = obj(m, "spec") {
                set(spec, "replicas", json!(1));
                template_spec(spec);
            }
        }
        ("", "PersistentVolumeClaim") => {
            if let Some(spec) = obj(m, "spec") {
                set(spec, "volumeMode", json!("Filesystem"));
            }
            if let Some(status) = obj(m, "status") {
                set(status, "phase", json!("Pending"));
            }
        }
        ("", "PersistentVolume") => {
            if let Some(spec) = obj(m, "spec") {
                set(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
                set(spec, "volumeMode", json!("Filesystem"));
            }
            if let Some(status) = obj(m, "status") {
                set(status, "phase", json!("Pending"));
            }
        }
        ("storage.k8s.io", "StorageClass") => {
            set(m, "reclaimPolicy", json!("Delete"));
            set(m, "volumeBindingMode", json!("Immediate"));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::kube::kinds;

    fn info(name: &str) -> &'static KindInfo {
        kinds::info(kinds::by_any_name(name).expect("kind"))
    }

    #[test]
    fn secrets_and_pods_get_the_servers_defaults() {
        let mut s = json!({"metadata": {"name": "x"}, "data": {}});
        apply(info("secret"), &mut s);
        assert_eq!(s["type"], "Opaque");
        let mut typed = json!({"type": "kubernetes.io/tls"});
        apply(info("secret"), &mut typed);
        assert_eq!(typed["type"], "kubernetes.io/tls", "a sent value wins");
        let mut pod = json!({"spec": {"containers": [{"name": "c", "image": "nginx"}, {"name": "d", "image": "ghcr.io/x/y:v1"}]}});
        apply(info("pod"), &mut pod);
        assert_eq!(pod["spec"]["restartPolicy"], "Always");
        assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(
            pod["spec"]["containers"][1]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(pod["status"]["phase"], "Pending");
        let mut hr = json!({"spec": {}});
        apply(info("hr"), &mut hr);
        assert_eq!(
            hr,
            json!({"spec": {}}),
            "custom resources are not defaulted"
        );
    }
}
