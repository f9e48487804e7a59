"""Reads every kind a simulated cluster serves through the python `kubernetes` client.

Built-in kinds go through the typed APIs, whose models check required fields when they are built
(client_side_validation), so an object missing a field the real API always sends fails here; custom
resources go through CustomObjectsApi. Every object of a built-in kind is also read by name.
Prints `OK <plural> <count>` or `FAIL <plural> <error>` per kind; argv: URL then group/version/plural
triples for the custom resources.
"""
import sys

from kubernetes import client

cfg = client.Configuration()
cfg.host = sys.argv[1]
cfg.client_side_validation = True
api = client.ApiClient(cfg)
core = client.CoreV1Api(api)
apps = client.AppsV1Api(api)

# plural: (list every object, read one by (namespace, name))
typed = {
    "namespaces": (core.list_namespace, lambda ns, n: core.read_namespace(n)),
    "nodes": (core.list_node, lambda ns, n: core.read_node(n)),
    "pods": (core.list_pod_for_all_namespaces, lambda ns, n: core.read_namespaced_pod(n, ns)),
    "events": (core.list_event_for_all_namespaces, lambda ns, n: core.read_namespaced_event(n, ns)),
    "secrets": (core.list_secret_for_all_namespaces, lambda ns, n: core.read_namespaced_secret(n, ns)),
    "configmaps": (core.list_config_map_for_all_namespaces, lambda ns, n: core.read_namespaced_config_map(n, ns)),
    "services": (core.list_service_for_all_namespaces, lambda ns, n: core.read_namespaced_service(n, ns)),
    "endpoints": (core.list_endpoints_for_all_namespaces, lambda ns, n: core.read_namespaced_endpoints(n, ns)),
    "serviceaccounts": (core.list_service_account_for_all_namespaces,
                        lambda ns, n: core.read_namespaced_service_account(n, ns)),
    "persistentvolumeclaims": (core.list_persistent_volume_claim_for_all_namespaces,
                               lambda ns, n: core.read_namespaced_persistent_volume_claim(n, ns)),
    "persistentvolumes": (core.list_persistent_volume, lambda ns, n: core.read_persistent_volume(n)),
    "deployments": (apps.list_deployment_for_all_namespaces, lambda ns, n: apps.read_namespaced_deployment(n, ns)),
    "statefulsets": (apps.list_stateful_set_for_all_namespaces, lambda ns, n: apps.read_namespaced_stateful_set(n, ns)),
    "daemonsets": (apps.list_daemon_set_for_all_namespaces, lambda ns, n: apps.read_namespaced_daemon_set(n, ns)),
    "replicasets": (apps.list_replica_set_for_all_namespaces, lambda ns, n: apps.read_namespaced_replica_set(n, ns)),
}
if hasattr(client, "DiscoveryV1Api"):
    disc = client.DiscoveryV1Api(api)
    typed["endpointslices"] = (disc.list_endpoint_slice_for_all_namespaces,
                               lambda ns, n: disc.read_namespaced_endpoint_slice(n, ns))
if hasattr(client, "EventsV1Api"):
    ev1 = client.EventsV1Api(api)
    typed["events.events.k8s.io"] = (ev1.list_event_for_all_namespaces,
                                     lambda ns, n: ev1.read_namespaced_event(n, ns))
if hasattr(client, "StorageV1Api"):
    st = client.StorageV1Api(api)
    typed["storageclasses"] = (st.list_storage_class, lambda ns, n: st.read_storage_class(n))

for plural, (lister, reader) in typed.items():
    try:
        items = lister().items
        for it in items:
            reader(it.metadata.namespace, it.metadata.name)
        print("OK %s %d" % (plural, len(items)), flush=True)
    except Exception as e:  # report and go on: one line per kind
        print("FAIL %s %s" % (plural, str(e).replace("\n", " ")[:600]), flush=True)

custom = client.CustomObjectsApi(api)
for triple in sys.argv[2:]:
    group, version, plural = triple.split("/")
    try:
        lst = custom.list_cluster_custom_object(group, version, plural)
        for it in lst["items"]:
            md = it["metadata"]
            if md.get("namespace"):
                custom.get_namespaced_custom_object(group, version, md["namespace"], plural, md["name"])
            else:
                custom.get_cluster_custom_object(group, version, plural, md["name"])
        print("OK %s %d" % (plural, len(lst["items"])), flush=True)
    except Exception as e:
        print("FAIL %s %s" % (plural, str(e).replace("\n", " ")[:600]), flush=True)
