"""Validates every object a simulated cluster serves against the published schemas, strictly.

Built-in kinds: the Kubernetes OpenAPI of the release the world reports, as the PyPI package
kubernetes-validate ships it in its "strict" form (required fields, types, and no property the
schema does not name). Flux kinds: the openAPIV3Schema of the CRDs in flux-crd-schemas.json (the
fixture names its source), made strict the same way (an object schema with properties and neither
additionalProperties nor x-kubernetes-preserve-unknown-fields admits no other property), with the
metadata of custom resources checked as ObjectMeta. Every object is read by name as JSON.
argv: URL, Kubernetes version (1.33.0), fixture path, then group/version/plural/Kind/namespaced
per served kind. Prints `OK <plural> <count>`, `NOSCHEMA <plural>` or `FAIL <plural> <object>: <error>`.
"""
import json
import sys
import urllib.request

import jsonschema
import kubernetes_validate

url, k8s_version, fixture = sys.argv[1], sys.argv[2], sys.argv[3]
crds = {(c["apiVersion"], c["kind"]): c["openAPIV3Schema"] for c in json.load(open(fixture))["crds"]}


def strict(schema):
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if ("properties" in out and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    return schema


def get(path):
    req = urllib.request.Request(url + path, headers={"Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def errors(obj):
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key in crds:
        v = jsonschema.Draft7Validator(strict(crds[key]))
        found = ["%s: %s" % ("/".join(str(p) for p in e.absolute_path), e.message) for e in v.iter_errors(obj)]
        # CRD schemas say only `type: object` of metadata; the apiserver holds it to ObjectMeta.
        meta = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata", {})}
        try:
            kubernetes_validate.validate(meta, k8s_version, strict=True)
        except kubernetes_validate.ValidationError as e:
            found.append("metadata/%s: %s" % ("/".join(str(p) for p in e.absolute_path), e.message))
        return found
    try:
        kubernetes_validate.validate(obj, k8s_version, strict=True)
        return []
    except kubernetes_validate.ValidationError as e:
        return ["%s: %s" % ("/".join(str(p) for p in e.absolute_path), e.message)]


for spec in sys.argv[4:]:
    group, version, plural, kind, namespaced = spec.split("/")
    api_version = "%s/%s" % (group, version) if group else version
    base = "/apis/%s/%s" % (group, version) if group else "/api/%s" % version
    builtin_schema = True
    try:
        kubernetes_validate.validate({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}},
                                     k8s_version, strict=False)
    except kubernetes_validate.SchemaNotFoundError:
        builtin_schema = False
    except kubernetes_validate.ValidationError:
        pass
    if not builtin_schema and (api_version, kind) not in crds:
        print("NOSCHEMA %s" % plural, flush=True)
        continue
    try:
        items = get("%s/%s" % (base, plural))["items"]
        bad = 0
        for it in items:
            md = it["metadata"]
            path = ("%s/namespaces/%s/%s/%s" % (base, md["namespace"], plural, md["name"]) if namespaced == "true"
                    else "%s/%s/%s" % (base, plural, md["name"]))
            obj = get(path)
            for err in errors(obj):
                bad += 1
                print("FAIL %s %s/%s: %s" % (plural, md.get("namespace", ""), md["name"], err[:400]), flush=True)
        if not bad:
            print("OK %s %d" % (plural, len(items)), flush=True)
    except Exception as e:  # report and go on: one line per kind
        print("FAIL %s %s" % (plural, str(e).replace("\n", " ")[:600]), flush=True)
