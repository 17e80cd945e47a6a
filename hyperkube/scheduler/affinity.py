"""Matching rules shared by filters and scores: node selector terms, taints and tolerations,
pod (anti-)affinity terms. Pure functions over API dicts, compiled once per pod."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hyperkube.machinery.errors import BadRequest
from hyperkube.machinery.selectors import NOTHING, LabelSelector, label_selector_from_dict

Labels = Mapping[str, str]
NodeMatcher = Callable[[Labels, str], bool]  # (node labels, node name) -> matches


def _requirement(expression: Mapping[str, Any]) -> Callable[[Callable[[str], str | None]], bool]:
    key = expression.get("key") or ""
    operator = expression.get("operator") or ""
    values = [str(v) for v in expression.get("values") or ()]
    value_set = frozenset(values)
    if operator == "In":
        return lambda get: get(key) in value_set
    if operator == "NotIn":
        return lambda get: get(key) not in value_set
    if operator == "Exists":
        return lambda get: get(key) is not None
    if operator == "DoesNotExist":
        return lambda get: get(key) is None
    if operator in ("Gt", "Lt"):
        try:
            bound = int(values[0]) if len(values) == 1 else None
        except ValueError:
            bound = None
        if bound is None:
            return lambda get: False

        def compare(get: Callable[[str], str | None]) -> bool:
            try:
                number = int(get(key) or "")
            except ValueError:
                return False
            return number > bound if operator == "Gt" else number < bound

        return compare
    return lambda get: False  # an operator the API would have rejected matches nothing


def node_selector_term(term: Mapping[str, Any]) -> NodeMatcher:
    """One NodeSelectorTerm: matchExpressions on labels and matchFields (metadata.name), ANDed.
    A term with no requirements at all matches nothing, as Kubernetes has it."""
    label_checks = [_requirement(e) for e in term.get("matchExpressions") or ()]
    field_checks = [_requirement(e) for e in term.get("matchFields") or ()
                    if e.get("key") == "metadata.name"]
    if not label_checks and not field_checks:
        return lambda labels, name: False

    def matches(labels: Labels, name: str) -> bool:
        get = labels.get
        if not all(check(get) for check in label_checks):
            return False
        fields = {"metadata.name": name}.get
        return all(check(fields) for check in field_checks)

    return matches


def node_selector(selector: Mapping[str, Any] | None) -> NodeMatcher | None:
    """A NodeSelector (terms ORed); None when there is none."""
    if not selector:
        return None
    terms = [node_selector_term(t) for t in selector.get("nodeSelectorTerms") or ()]
    return lambda labels, name: any(term(labels, name) for term in terms)


def required_node_matcher(pod: Mapping[str, Any]) -> NodeMatcher | None:
    """spec.nodeSelector AND the required node affinity; None when the pod has neither."""
    spec = pod.get("spec") or {}
    plain = tuple((str(k), str(v)) for k, v in (spec.get("nodeSelector") or {}).items())
    affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {})
    required = node_selector(affinity.get("requiredDuringSchedulingIgnoredDuringExecution"))
    if not plain and required is None:
        return None

    def matches(labels: Labels, name: str) -> bool:
        for key, value in plain:
            if labels.get(key) != value:
                return False
        return required is None or required(labels, name)

    return matches


def preferred_node_terms(pod: Mapping[str, Any]) -> list[tuple[int, NodeMatcher]]:
    affinity = (((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
    terms = []
    for item in affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or ():
        weight = int(item.get("weight") or 0)
        if weight:
            terms.append((weight, node_selector_term(item.get("preference") or {})))
    return terms


# ---- taints and tolerations --------------------------------------------------------------------

def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if not key:
        return operator == "Exists"  # an empty key with Exists tolerates everything
    if key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    return (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated(taints: list[Mapping[str, Any]], tolerations: list[Mapping[str, Any]],
                effects: frozenset[str]) -> Mapping[str, Any] | None:
    """The first taint with one of ``effects`` that no toleration tolerates."""
    for taint in taints:
        if taint.get("effect") in effects and not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


# ---- pod (anti-)affinity terms -----------------------------------------------------------------

@dataclass(slots=True)
class PodAffinityTerm:
    """A compiled PodAffinityTerm: which pods (namespaces + selector) and the topology key."""

    selector: LabelSelector
    namespaces: frozenset[str] | None  # None: every namespace (an empty namespaceSelector)
    topology_key: str
    weight: int = 0

    def matches(self, namespace: str, labels: Labels) -> bool:
        if self.namespaces is not None and namespace not in self.namespaces:
            return False
        return self.selector.matches(labels)


def _compile_term(term: Mapping[str, Any], own_namespace: str, weight: int = 0) -> PodAffinityTerm | None:
    topology_key = term.get("topologyKey") or ""
    if not topology_key:
        return None
    try:
        selector = label_selector_from_dict(term.get("labelSelector")) if term.get("labelSelector") \
            else NOTHING
    except BadRequest:
        selector = NOTHING
    namespaces: frozenset[str] | None = frozenset(term.get("namespaces") or ()) or None
    if namespaces is None:
        namespace_selector = term.get("namespaceSelector")
        # an empty namespaceSelector ({}) means every namespace; label-selected namespaces
        # would need a namespace informer: treated as the pod's own namespace
        namespaces = None if namespace_selector == {} else frozenset({own_namespace})
    return PodAffinityTerm(selector, namespaces, topology_key, weight)


def pod_affinity_terms(pod: Mapping[str, Any], kind: str, required: bool) -> list[PodAffinityTerm]:
    """``kind`` is ``podAffinity`` or ``podAntiAffinity``."""
    spec = pod.get("spec") or {}
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    section = (spec.get("affinity") or {}).get(kind) or {}
    compiled: list[PodAffinityTerm] = []
    if required:
        for term in section.get("requiredDuringSchedulingIgnoredDuringExecution") or ():
            item = _compile_term(term, namespace)
            if item is not None:
                compiled.append(item)
    else:
        for weighted in section.get("preferredDuringSchedulingIgnoredDuringExecution") or ():
            item = _compile_term(weighted.get("podAffinityTerm") or {}, namespace, int(weighted.get("weight") or 0))
            if item is not None and item.weight:
                compiled.append(item)
    return compiled
