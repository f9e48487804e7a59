"""kubectl exec's counterpart in the Python client: stream(connect_get_namespaced_pod_exec) over
the websocket channel protocol. Prints one line per check; the Rust test compares them."""
import json
import sys

from kubernetes import client
from kubernetes.stream import stream

cfg = client.Configuration()
cfg.host = sys.argv[1]
api = client.CoreV1Api(client.ApiClient(cfg))
ns, pod = "openova-system", "pool-domain-manager-6d4f9-x2x7q"

out = stream(api.connect_get_namespaced_pod_exec, pod, ns,
             command=["cat", "/etc/pdm/zones"], stderr=True, stdin=False, stdout=True, tty=False)
print("OUT " + json.dumps(out))

resp = stream(api.connect_get_namespaced_pod_exec, pod, ns,
              command=["sh", "-c", "echo out; echo err >&2; exit 3"],
              stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
resp.run_forever(timeout=30)
print("STDOUT " + json.dumps(resp.read_stdout()))
print("STDERR " + json.dumps(resp.read_stderr()))
print("CODE " + str(resp.returncode))
resp.close()
