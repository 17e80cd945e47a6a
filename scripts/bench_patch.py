#!/usr/bin/env python3
"""Costs of the patch engines on a typical Deployment: a JSON patch, a merge patch, a strategic
merge patch (kubectl set image), kubectl's three-way patch creation, managedFields for an
ordinary write, and a server-side apply.

Run: .venv/bin/python scripts/bench_patch.py
Final line: ``patch: json_us=A merge_us=B strategic_us=C three_way_us=D record_update_us=E apply_us=F``
"""

from __future__ import annotations

import copy
import time

from hyperkube.api import schemas
from hyperkube.api.apply import apply, record_update, shape_for
from hyperkube.api.strategicpatch import apply_strategic_patch, create_three_way_patch, lookup_for
from hyperkube.machinery.jsonpatch import apply_json_patch
from hyperkube.machinery.mergepatch import apply_merge_patch

CONTAINER = {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80, "protocol": "TCP"}],
             "env": [{"name": f"VAR{i}", "value": str(i)} for i in range(8)],
             "volumeMounts": [{"name": "data", "mountPath": "/data"}],
             "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}
DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "resourceVersion": "42"},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
             "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [CONTAINER, {**CONTAINER, "name": "sidecar"}],
                                   "volumes": [{"name": "data", "emptyDir": {}}]}}},
}


def timed(label: str, function, rounds: int = 2000) -> float:
    function()
    started = time.perf_counter()
    for _ in range(rounds):
        function()
    micros = (time.perf_counter() - started) / rounds * 1e6
    print(f"{label:<16} {micros:9.1f} us")
    return micros


def main() -> None:
    schemas.warm_up()
    lookup = lookup_for("apps", "v1", "Deployment")
    shape = shape_for("apps", "v1", "Deployment")
    changed = copy.deepcopy(DEPLOYMENT)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    owned = apply(None, DEPLOYMENT, "kubectl", api_version="apps/v1", shape=shape, now="t")
    results = {
        "json": timed("json patch", lambda: apply_json_patch(DEPLOYMENT, [
            {"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
            {"op": "replace", "path": "/spec/replicas", "value": 4}])),
        "merge": timed("merge patch", lambda: apply_merge_patch(DEPLOYMENT, {"metadata": {"labels": {"x": "y"}}})),
        "strategic": timed("strategic", lambda: apply_strategic_patch(DEPLOYMENT, {"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
            "containers": [{"name": "web", "image": "nginx:1.28"}]}}}}, "apps", "v1", "Deployment")),
        "three_way": timed("three-way", lambda: create_three_way_patch(DEPLOYMENT, changed, DEPLOYMENT, lookup)),
        "record_update": timed("record_update", lambda: record_update(
            owned, changed, "kubectl-set", api_version="apps/v1", shape=shape, now="t"), rounds=500),
        "apply": timed("apply", lambda: apply(owned, changed, "kubectl", api_version="apps/v1", shape=shape,
                                              now="t"), rounds=500),
    }
    print("patch: " + " ".join(f"{name}_us={value:.0f}" for name, value in results.items()))


if __name__ == "__main__":
    main()
