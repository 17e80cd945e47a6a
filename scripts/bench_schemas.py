#!/usr/bin/env python3
"""Hot-path costs of the API machinery: schema validation of a typical pod, JSON decoding with
duplicate detection, label and field selector matching, and building /openapi/v3 documents.

Run: .venv/bin/python scripts/bench_schemas.py
Final line: ``schemas: validate_pod_us=X decode_us=Y label_match_ns=Z field_match_ns=W openapi_build_ms=V``
"""

from __future__ import annotations

import copy
import json
import time

import orjson

from hyperkube.api import openapi, schemas
from hyperkube.api.registry import Registry, Resource
from hyperkube.machinery.selectors import parse_field_selector, parse_label_selector

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-7d4b9c", "namespace": "default", "labels": {"app": "web", "tier": "frontend"},
                 "annotations": {"note": "x"}},
    "spec": {"containers": [{
        "name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "env": [{"name": "MODE", "value": "prod"}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5},
    }], "restartPolicy": "Always"},
}


def per_call(fn, n: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    schemas.warm_up()
    body = orjson.dumps(POD)
    copies = [copy.deepcopy(POD) for _ in range(20000)]
    it = iter(copies)
    validate_s = per_call(lambda: schemas.validate("", "v1", "Pod", next(it)), 19000)
    decode_s = per_call(lambda: schemas.decode_json(body), 20000)
    orjson_s = per_call(lambda: orjson.loads(body), 20000)
    labels = {"app": "web", "tier": "frontend", "pod-template-hash": "7d4b9c"}
    selector = parse_label_selector("app=web,tier in (frontend,backend),!canary")
    label_s = per_call(lambda: selector.matches(labels), 200000)
    fields = {"metadata.name": "web", "metadata.namespace": "default", "spec.nodeName": "n1"}
    field_selector = parse_field_selector("spec.nodeName=n1,metadata.namespace!=kube-system")
    field_s = per_call(lambda: field_selector.matches(fields), 200000)
    registry = Registry()
    for group, version, kind, plural in [("", "v1", "Pod", "pods"), ("", "v1", "Service", "services"),
                                         ("apps", "v1", "Deployment", "deployments")]:
        registry.add(Resource(group, version, kind, plural, kind.lower(), True))
    start = time.perf_counter()
    openapi.openapi_v3_root(registry)
    build_ms = (time.perf_counter() - start) * 1000
    print(json.dumps({"validate_pod_us": validate_s * 1e6, "decode_json_us": decode_s * 1e6,
                      "orjson_loads_us": orjson_s * 1e6}, indent=1))
    print(f"schemas: validate_pod_us={validate_s * 1e6:.1f} decode_us={decode_s * 1e6:.1f} "
          f"label_match_ns={label_s * 1e9:.0f} field_match_ns={field_s * 1e9:.0f} openapi_build_ms={build_ms:.0f}")


if __name__ == "__main__":
    main()
