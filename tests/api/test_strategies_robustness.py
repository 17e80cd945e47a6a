"""Every strategy survives any JSON body: wrong types and missing fields give causes, not exceptions.

The API server calls these hooks on client input (also with fieldValidation=Ignore), so an
exception here would be a 500.
"""

from __future__ import annotations

import copy
import random
import time

import pytest

from hyperkube.api.kinds import builtin_registry

JUNK = [None, 0, -1, 7, 3.5, True, "", "x", "Bad Name!", [], [1, "a", None], {}, {"a": 1}, {"name": 5},
        [{"name": None}], [{}], {"matchLabels": 3}, {"matchExpressions": [{"operator": "In"}]}]

ITERATIONS = 150

SEEDS = {
    "spec": {"containers": [{"name": "c", "image": "nginx",
                             "ports": [{"containerPort": 80, "name": "http", "hostPort": 80}],
                             "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}],
                             "volumeMounts": [{"name": "v", "mountPath": "/v"}],
                             "livenessProbe": {"httpGet": {"port": 80}}, "resources": {"limits": {"cpu": "1"}}}],
             "initContainers": [{"name": "i", "image": "x", "restartPolicy": "Always"}],
             "volumes": [{"name": "v", "configMap": {"name": "c"}}], "tolerations": [{"key": "k"}],
             "selector": {"matchLabels": {"a": "b"}},
             "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c"}]}},
             "ports": [{"port": 80}], "rules": [{"http": {"paths": [{"backend": {}}]}}],
             "jobTemplate": {"spec": {"template": {"spec": {}}}}, "metrics": [{"type": "Resource"}],
             "limits": [{"type": "Container", "max": {"cpu": "1"}}], "finalizers": ["kubernetes"],
             "strategy": {"rollingUpdate": {}}, "updateStrategy": {"rollingUpdate": {}},
             "persistentVolumeClaimRetentionPolicy": {}, "volumeClaimTemplates": [{"spec": {}}],
             "behavior": {"scaleUp": {}}, "podSelector": {}, "ingress": [{"ports": [{}]}],
             "egress": [{"ports": [{}]}], "hard": {"cpu": "1"}, "scaleTargetRef": {"kind": "D", "name": "x"},
             "sessionAffinity": "ClientIP", "type": "LoadBalancer"},
    "status": {"conditions": [{"type": "Ready", "status": "True"}],
               "containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "X"}}}],
               "initContainerStatuses": [{"name": "i", "state": {"terminated": {"exitCode": 1}}}]},
    "data": {"k": "v"}, "subsets": [{"addresses": [{"ip": "1.2.3.4"}], "ports": [{"port": 1}]}],
    "rules": [{"verbs": ["get"]}], "subjects": [{"kind": "User", "name": "u"}],
    "roleRef": {"kind": "Role", "name": "r", "apiGroup": "rbac.authorization.k8s.io"},
    "involvedObject": {"kind": "Pod", "name": "p"}, "endpoints": [{"addresses": ["1.1.1.1"]}],
    "ports": [{"port": 80}], "regarding": {"kind": "Pod"},
}


def _mutate(obj, rng: random.Random, depth: int = 0):
    if isinstance(obj, dict):
        for key in list(obj):
            roll = rng.random()
            if roll < 0.15:
                obj[key] = copy.deepcopy(rng.choice(JUNK))
            elif roll < 0.2:
                del obj[key]
            elif depth < 6:
                _mutate(obj[key], rng, depth + 1)
    elif isinstance(obj, list):
        for i in range(len(obj)):
            if rng.random() < 0.15:
                obj[i] = copy.deepcopy(rng.choice(JUNK))
            elif depth < 6:
                _mutate(obj[i], rng, depth + 1)
    return obj


def _exercise(strategy, obj, old, now):
    strategy.prepare_for_create(obj)
    strategy.validate(obj)
    strategy.prepare_for_update(copy.deepcopy(obj), old)
    strategy.validate_update(copy.deepcopy(obj), old)
    strategy.prepare_for_status_update(copy.deepcopy(obj), old)
    strategy.field_values(obj)
    cells = strategy.row(obj, now)
    assert len(cells) == len(strategy.columns())


@pytest.mark.parametrize("resource", list(builtin_registry()), ids=lambda r: f"{r.group or 'core'}/{r.plural}")
def test_random_bodies_never_raise(resource):
    strategy = resource.strategy
    rng = random.Random(resource.plural)
    now = time.time()
    base = {"apiVersion": resource.group_version, "kind": resource.kind, **SEEDS,
            "metadata": {"name": "x", "namespace": "default" if resource.namespaced else None,
                         "labels": {"a": "b"}, "annotations": {"k": "v"}, "finalizers": ["a/b"],
                         "ownerReferences": [{"controller": True}], "creationTimestamp": "2026-01-01T00:00:00Z"}}
    old = copy.deepcopy(base)
    strategy.prepare_for_create(old)
    for _ in range(ITERATIONS):
        _exercise(strategy, _mutate(copy.deepcopy(base), rng), copy.deepcopy(old), now)
    for junk in JUNK:
        body = {"metadata": {"name": "x"}, "spec": copy.deepcopy(junk), "status": copy.deepcopy(junk)}
        _exercise(strategy, body, copy.deepcopy(old), now)
        _exercise(strategy, {"metadata": copy.deepcopy(junk)}, copy.deepcopy(old), now)
