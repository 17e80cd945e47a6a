"""Which objects a list or watch wants: namespace, label selector, field selector.

A :class:`Filter` is built once per request. It answers cheaply from the store key alone
when it can (namespace, ``metadata.name``), and decodes the object only when a label or a
kind-specific field is asked for, so an unfiltered watch of 100 clients never decodes.
"""

from __future__ import annotations

from typing import Any

from hyperkube.api.registry import Resource
from hyperkube.machinery import selectors

BUILTIN_FIELDS = ("metadata.name", "metadata.namespace")


class Filter:
    __slots__ = ("resource", "namespace", "labels", "fields", "name", "needs_object", "_field_namespace")

    def __init__(self, resource: Resource, namespace: str, label_selector: str | None,
                 field_selector: str | None) -> None:
        self.resource = resource
        self.namespace = namespace
        self.labels = selectors.parse_label_selector(label_selector)
        self.fields = selectors.parse_field_selector(field_selector)
        selectors.check_field_labels(self.fields, resource.strategy.field_labels)
        self.name = self.fields.requires_exact("metadata.name")
        self._field_namespace = self.fields.requires_exact("metadata.namespace")
        # terms other than metadata.name= and metadata.namespace= need the decoded object
        simple = all(eq and name in BUILTIN_FIELDS for name, _value, eq in self.fields.terms)
        self.needs_object = not self.labels.empty or not simple

    @property
    def everything(self) -> bool:
        return not self.needs_object and self.name is None and self._field_namespace is None

    def matches_key(self, namespace: str, name: str) -> bool:
        if self.namespace and namespace != self.namespace:
            return False
        if self.name is not None and name != self.name:
            return False
        return self._field_namespace is None or namespace == self._field_namespace

    def matches(self, obj: dict[str, Any] | None) -> bool:
        """The full check on a decoded object (call only when :attr:`needs_object`)."""
        if not isinstance(obj, dict):
            return False
        metadata = obj.get("metadata") or {}
        if not self.labels.empty and not self.labels.matches(metadata.get("labels") or {}):
            return False
        if self.fields.empty:
            return True
        values = field_values(self.resource, obj)
        return self.fields.matches(values)


def field_values(resource: Resource, obj: dict[str, Any]) -> dict[str, str]:
    metadata = obj.get("metadata") or {}
    values = {"metadata.name": str(metadata.get("name", "")),
              "metadata.namespace": str(metadata.get("namespace", ""))}
    if resource.strategy.field_labels:
        try:
            values.update(resource.strategy.field_values(obj))
        except (AttributeError, TypeError, KeyError, ValueError):
            pass  # a malformed stored object simply matches nothing kind-specific
    return values


def split_key(key: str, prefix: str, namespaced: bool) -> tuple[str, str]:
    """(namespace, name) of a store key under ``prefix`` (the resource's key prefix)."""
    rest = key[len(prefix):]
    if namespaced:
        namespace, _, name = rest.partition("/")
        return namespace, name
    return "", rest
