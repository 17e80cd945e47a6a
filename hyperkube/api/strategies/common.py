"""Helpers several kinds share: label selectors, quantities, and Table cell formatting.

Table cells follow kube-apiserver's printers: missing values print as ``<none>``, lists
join with ``,``, ages go through ``machinery.durations``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from hyperkube.machinery import validation as v
from hyperkube.machinery.durations import human_duration, parse_rfc3339

NONE = "<none>"

# -- tolerant access: request bodies may hold any JSON where a kind expects an object or list --


def text(value: Any) -> str:
    """``value`` if it is a string, else "" (for cells and set members)."""
    return value if isinstance(value, str) else ""


def mapping(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (bodies may hold any JSON)."""
    return value if isinstance(value, dict) else {}


def seq(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def dicts(value: Any) -> list[dict[str, Any]]:
    """The JSON objects in a list (anything else is skipped)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def get_map(obj: Any, *path: str | int) -> dict[str, Any]:
    return mapping(get(obj, *path))


def get_dicts(obj: Any, *path: str | int) -> list[dict[str, Any]]:
    return dicts(get(obj, *path))


def ensure_map(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """parent[key], created as {} when missing; a detached {} when it holds something else,
    so defaulting never overwrites a malformed value (validation reports it instead)."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else {}


def ensure_list(parent: dict[str, Any], key: str) -> list[Any]:
    value = parent.get(key)
    if value is None:
        value = parent[key] = []
    return value if isinstance(value, list) else []


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """A nested value, or ``default`` when any step is missing or of the wrong type."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(obj, list) or step >= len(obj):
                return default
        elif not isinstance(obj, dict) or step not in obj:
            return default
        obj = obj[step]
    return default if obj is None else obj


# -- label selectors (metav1.LabelSelector) -----------------------------------------------------


def selector_matches(selector: Any, labels: dict[str, str] | None) -> bool:
    """Does a LabelSelector match these labels? A missing selector matches nothing; {} all."""
    if not isinstance(selector, dict):
        return False
    labels = labels if isinstance(labels, dict) else {}
    for key, value in mapping(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expr in dicts(selector.get("matchExpressions")):
        key, op, values = expr.get("key"), expr.get("operator"), seq(expr.get("values"))
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def selector_is_empty(selector: Any) -> bool:
    return not isinstance(selector, dict) or (not selector.get("matchLabels") and not selector.get("matchExpressions"))


def selector_string(selector: Any) -> str:
    """A LabelSelector the way ``labels.Selector.String()`` prints it: sorted by key."""
    if not isinstance(selector, dict):
        return NONE
    terms: list[tuple[str, str]] = []
    for key, value in mapping(selector.get("matchLabels")).items():
        terms.append((key, f"{key}={value}"))
    for expr in dicts(selector.get("matchExpressions")):
        key, op = expr.get("key", ""), expr.get("operator")
        values = ",".join(sorted(str(x) for x in seq(expr.get("values"))))
        text = {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                "Exists": key, "DoesNotExist": f"!{key}"}.get(op, key)
        terms.append((key, text))
    terms.sort(key=lambda t: t[0])
    return ",".join(t for _, t in terms)


def format_label_selector(selector: Any) -> str:
    """``metav1.FormatLabelSelector``: the selector string, ``<none>`` when it selects nothing or all."""
    return NONE if selector_is_empty(selector) else selector_string(selector)


def map_selector_string(selector: Any) -> str:
    """A plain map selector (Service, RC, nodeSelector) as ``k=v,...``; ``<none>`` when empty."""
    if not isinstance(selector, dict) or not selector:
        return NONE
    return ",".join(f"{k}={selector[k]}" for k in sorted(selector))


def validate_label_selector(selector: Any, field: str) -> list[dict[str, str]]:
    if selector is None:
        return []
    if not isinstance(selector, dict):
        return [v.invalid(field, selector, "must be a label selector")]
    out = v.validate_labels(selector.get("matchLabels"), f"{field}.matchLabels")
    for i, expr in enumerate(dicts(selector.get("matchExpressions"))):
        path = f"{field}.matchExpressions[{i}]"
        op, values = expr.get("operator"), seq(expr.get("values"))
        out += v.checked(f"{path}.key", expr.get("key", ""), v.qualified_name)
        if op in ("In", "NotIn"):
            if not values:
                out.append(v.required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                out.append(v.forbidden(f"{path}.values",
                                       "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            out.append(v.not_supported(f"{path}.operator", op, ("In", "NotIn", "Exists", "DoesNotExist")))
        for j, value in enumerate(values):
            out += [v.invalid(f"{path}.values[{j}]", value, m) for m in v.label_value(str(value))]
    return out


# -- quantities --------------------------------------------------------------------------------

_SUFFIX = {"": 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": 10**3, "M": 10**6,
           "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30,
           "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def parse_quantity(value: Any) -> Decimal | None:
    """A resource.Quantity as a number (``500m`` -> 0.5, ``1Gi`` -> 1073741824); None if malformed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.match(str(value).strip())
    if not match or match.group(2) not in _SUFFIX:
        return None
    try:
        return Decimal(match.group(1)) * Decimal(_SUFFIX[match.group(2)])
    except InvalidOperation:
        return None


def validate_resource_list(resources: Any, field: str) -> list[dict[str, str]]:
    out = []
    for name, qty in (resources or {}).items() if isinstance(resources, dict) else []:
        number = parse_quantity(qty)
        if number is None:
            out.append(v.invalid(f"{field}[{name}]", qty, "quantities must match the regular expression "
                                 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"))
        elif number < 0:
            out.append(v.invalid(f"{field}[{name}]", qty, "must be greater than or equal to 0"))
    return out


# -- table cells ---------------------------------------------------------------------------------


def since(timestamp: Any, now: float) -> str:
    """``translateTimestampSince``: a human age, or ``<unknown>`` for a missing time."""
    if not timestamp or not isinstance(timestamp, str):
        return "<unknown>"
    try:
        return human_duration(now - parse_rfc3339(timestamp))
    except (ValueError, OverflowError):
        return "<unknown>"


def age(obj: Any, now: float) -> str:
    """The AGE cell (time since metadata.creationTimestamp), tolerant of malformed objects."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return since(meta.get("creationTimestamp") if isinstance(meta, dict) else None, now)


def name_of(obj: Any) -> str:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else ""


def template_containers(template_spec: Any) -> list[dict[str, Any]]:
    return dicts(mapping(template_spec).get("containers"))


def containers_cell(template_spec: Any) -> str:
    return ",".join(text(c.get("name")) for c in template_containers(template_spec))


def images_cell(template_spec: Any) -> str:
    return ",".join(text(c.get("image")) for c in template_containers(template_spec))


def int_cell(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def more_list(items: list[str], limit: int = 3, empty: str = "<unset>") -> str:
    """``a,b,c + 2 more...``: how printers cut long lists."""
    shown = ",".join(str(item) for item in items[:limit])
    if len(items) > limit:
        return f"{shown} + {len(items) - limit} more..."
    return shown or empty
