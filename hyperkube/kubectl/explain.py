"""``kubectl explain``: a resource's (or one field's) documentation from ``/openapi/v3``.

The group version's OpenAPI v3 document names each schema's kind in
``x-kubernetes-group-version-kind``; the path after the resource (``pods.spec.containers``)
walks ``properties``, through ``$ref``/``allOf`` and array ``items``. Descriptions are
wrapped at 80 columns under a four-space indent, as kubectl's plaintext template does.
"""

from __future__ import annotations

import sys
import textwrap
from typing import Any

from hyperkube.kubectl.session import KubectlError, Session


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    while True:
        ref = schema.get("$ref") or next((s.get("$ref") for s in schema.get("allOf") or [] if "$ref" in s), None)
        if not ref:
            return schema
        schema = schemas.get(ref.rsplit("/", 1)[-1], {})


def _type(schema: dict[str, Any], schemas: dict[str, Any]) -> str:
    target = _resolve(schema, schemas)
    kind = target.get("type") or schema.get("type")
    if kind == "array":
        return f"[]{_type(target.get('items') or schema.get('items') or {}, schemas)}"
    if kind == "object" and "additionalProperties" in target:
        return f"map[string]{_type(target['additionalProperties'], schemas)}"
    ref = schema.get("$ref") or next((s.get("$ref") for s in schema.get("allOf") or [] if "$ref" in s), None)
    if ref:
        return ref.rsplit(".", 1)[-1]
    return kind or "Object"


def _wrap(text: str, indent: str) -> str:
    lines = []
    for paragraph in (text or "<empty>").split("\n"):
        lines += textwrap.wrap(paragraph, width=80 - len(indent), break_long_words=False,
                               break_on_hyphens=False) or [""]
    return "".join(f"{indent}{line}\n" for line in lines)


async def explain(session: Session, path: str, *, api_version: str | None, recursive: bool) -> int:
    name, *fields = path.split(".")
    resource = await session.discovery.resolve(name)
    group_version = api_version or resource.group_version
    index = await session.client.request("GET", "/openapi/v3")
    key = f"api/{group_version}" if "/" not in group_version else f"apis/{group_version}"
    entry = (index.get("paths") or {}).get(key)
    if entry is None:
        raise KubectlError(f"couldn't find resource for \"{group_version}\"")
    url = entry["serverRelativeURL"]
    location, _, query = url.partition("?")
    document = await session.client.request("GET", location, params=[tuple(query.split("=", 1))] if query else None)
    schemas = (document.get("components") or {}).get("schemas") or {}
    group = group_version.rpartition("/")[0]
    version = group_version.rpartition("/")[2]
    schema = next((s for s in schemas.values() for gvk in s.get("x-kubernetes-group-version-kind") or []
                   if (gvk.get("group", ""), gvk.get("version"), gvk.get("kind")) == (group, version, resource.kind)),
                  None)
    if schema is None:
        raise KubectlError(f"couldn't find resource for \"{resource.group_version}, Kind={resource.kind}\"")
    out = f"GROUP:      {group}\n" if group else ""
    out += f"KIND:       {resource.kind}\nVERSION:    {version}\n\n"
    current, field_schema = _resolve(schema, schemas), schema
    for index_, field in enumerate(fields):
        properties = current.get("properties") or {}
        if field not in properties:
            sys.stdout.write(out)  # kubectl prints the header before it notices
            raise KubectlError(f'field "{field}" does not exist')
        field_schema = properties[field]
        current = _resolve(field_schema, schemas)
        while current.get("type") == "array" and index_ < len(fields) - 1:
            current = _resolve(current.get("items") or {}, schemas)
    if fields:
        out += f"FIELD: {fields[-1]} <{_type(field_schema, schemas)}>\n\n\n"
        if current.get("type") == "array":
            current = _resolve(current.get("items") or {}, schemas)
    description = field_schema.get("description") or ""
    if fields and current.get("description") and current is not field_schema:
        description = f"{description}\n{current['description']}" if description else current["description"]
    elif not fields:
        description = current.get("description") or description
    out += "DESCRIPTION:\n" + _wrap(description, "    ") + "    \n"
    properties = current.get("properties") or {}
    if properties:
        required = set(current.get("required") or [])
        out += "FIELDS:\n"
        for prop in sorted(properties):
            marker = " -required-" if prop in required else ""
            out += f"  {prop}\t<{_type(properties[prop], schemas)}>{marker}\n"
            out += _wrap(properties[prop].get("description") or _resolve(properties[prop], schemas).get(
                "description", ""), "    ") + "\n"
    sys.stdout.write(out + "\n")
    return 0
