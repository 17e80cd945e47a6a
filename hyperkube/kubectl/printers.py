"""Printing what ``get`` (and friends) found, in kubectl's layouts.

Tables come from the server (``as=Table``): we only choose columns and lay them out. kubectl
lays them out with Go's ``text/tabwriter`` configured as (minwidth 6, tabwidth 4, padding 3,
padchar ' ', no flags): every cell but a line's last is padded to its column's width, which
is the widest cell plus 3, and at least 6; the last cell is written as it is.
:func:`tabulate` does the same.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from hyperkube.kubectl import jsonpath
from hyperkube.kubectl.gofmt import quote
from hyperkube.kubectl.session import KubectlError
from hyperkube.kubectl.yamlout import to_json, to_yaml

MIN_WIDTH, PADDING = 6, 3


def tabulate(rows: list[list[str]]) -> str:
    """Go tabwriter layout of rows of cells (all rows the same length)."""
    if not rows:
        return ""
    columns = max(len(r) for r in rows)
    widths = [MIN_WIDTH] * columns
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            width = len(cell) + PADDING
            if width > widths[i]:
                widths[i] = width
    lines = []
    for row in rows:
        parts = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        if row:
            parts.append(row[-1])
        lines.append("".join(parts))
    return "\n".join(lines) + "\n"


def cell_text(value: Any) -> str:
    """One Table cell as kubectl's table printer writes it."""
    if value is None:
        return ""
    if isinstance(value, str):
        for index, char in enumerate(value):
            if char in "\f\n\r":
                return value[:index] + "..."
        return value
    return jsonpath.format_value(value)


def labels_text(labels: dict[str, str] | None) -> str:
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def kind_prefix(kind: str, group: str) -> str:
    """``pod`` or ``deployment.apps``: how kubectl names a kind before ``/name``."""
    return f"{kind.lower()}.{group}" if group else kind.lower()


@dataclass
class TableOptions:
    wide: bool = False
    with_namespace: bool = False
    show_labels: bool = False
    label_columns: tuple[str, ...] = ()
    no_headers: bool = False
    with_kind: str = ""  # "deployment.apps": prefix names with it


def table_rows(table: dict[str, Any], options: TableOptions, *, header: bool = True) -> list[list[str]]:
    """The header and rows of a server Table with kubectl's optional columns added."""
    definitions = table.get("columnDefinitions") or []
    shown = [i for i, c in enumerate(definitions) if options.wide or not c.get("priority")]
    name_index = next((i for i, c in enumerate(definitions) if c.get("format") == "name"), 0)
    rows: list[list[str]] = []
    if header and not options.no_headers:
        heading = [definitions[i]["name"].upper() for i in shown]
        if options.with_namespace:
            heading.insert(0, "NAMESPACE")
        heading += [key.rsplit("/", 1)[-1].upper() for key in options.label_columns]
        if options.show_labels:
            heading.append("LABELS")
        rows.append(heading)
    for row in table.get("rows") or []:
        cells = row.get("cells") or []
        metadata = (row.get("object") or {}).get("metadata") or {}
        line = []
        for i in shown:
            text = cell_text(cells[i]) if i < len(cells) else ""
            if options.with_kind and i == name_index:
                text = f"{options.with_kind}/{text}"
            line.append(text)
        if options.with_namespace:
            line.insert(0, metadata.get("namespace") or "")
        labels = metadata.get("labels") or {}
        line += [labels.get(key, "") for key in options.label_columns]
        if options.show_labels:
            line.append(labels_text(labels))
        rows.append(line)
    return rows


def strip_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        obj = {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}
    return obj


def as_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def name_of(obj: dict[str, Any]) -> str:
    """``-o name``: ``pod/web``, ``deployment.apps/web``."""
    api_version = obj.get("apiVersion") or ""
    group = api_version.rpartition("/")[0]
    return f"{kind_prefix(obj.get('kind') or '', group)}/{(obj.get('metadata') or {}).get('name', '')}"


class ObjectPrinter:
    """``-o json|yaml|name|jsonpath=...|custom-columns=...|go-template`` over whole objects."""

    def __init__(self, output: str, *, no_headers: bool = False, show_managed_fields: bool = False,
                 template: str | None = None) -> None:
        self.format, _, self.argument = output.partition("=")
        if self.format in ("jsonpath", "jsonpath-as-json") and not self.argument and template:
            self.argument = template
        self.no_headers = no_headers
        self.show_managed_fields = show_managed_fields
        if self.format in ("template", "templatefile"):
            self.format = "go-template" if self.format == "template" else "go-template-file"
        if self.format in ("go-template", "go-template-file"):
            self.template = _go_template(self.format, self.argument or template or "")
        elif self.format not in ("json", "yaml", "name", "jsonpath", "jsonpath-as-json", "custom-columns"):
            raise KubectlError(
                f'unable to match a printer suitable for the output format "{output}", allowed formats are: '
                "custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,"
                "jsonpath-as-json,jsonpath-file,name,template,templatefile,wide,yaml")
        if self.format.startswith("jsonpath"):
            if not self.argument:
                raise KubectlError("template format specified but no template given")
            self.nodes = _parse_or_fail(self.argument)
        if self.format == "custom-columns":
            self.columns = custom_columns(self.argument)

    def render(self, objects: list[dict[str, Any]], *, single: bool) -> str:
        """All objects at once: one object, or a List when ``single`` is false."""
        if not self.show_managed_fields and not self.format.startswith("go-template"):
            objects = [strip_managed_fields(o) for o in objects]  # kubectl keeps them for templates
        if self.format == "name":
            return "".join(name_of(o) + "\n" for o in objects)
        if self.format == "custom-columns":
            return self.render_columns(objects, header=not self.no_headers)
        target = objects[0] if single and len(objects) == 1 else as_list(objects)
        if self.format == "json":
            return to_json(target)
        if self.format == "yaml":
            return to_yaml(target)
        if self.format.startswith("go-template"):
            from hyperkube.kubectl.gotemplate import execute
            from hyperkube.kubectl.gotemplate_funcs import TemplateError

            try:
                return execute(self.template, _as_go(target))
            except TemplateError as error:
                sys.stdout.write(getattr(error, "partial", ""))
                raise KubectlError(f'error executing template {quote(self.argument)}: template: output: '
                                   f'executing "output": {error}') from error
        if self.format == "jsonpath-as-json":
            return to_json([v for n in self.nodes if n.kind == "path" for v in jsonpath.find(target, n.value)])
        try:
            return jsonpath.execute(self.nodes, target)
        except (TypeError, ValueError) as error:
            raise KubectlError(f"error executing jsonpath {self.argument!r}: {error}") from error

    def render_one(self, obj: dict[str, Any], *, first: bool) -> str:
        """One object of a stream (``get -w``)."""
        if not self.show_managed_fields and not self.format.startswith("go-template"):
            obj = strip_managed_fields(obj)
        if self.format == "yaml":
            return ("" if first else "---\n") + to_yaml(obj)
        if self.format == "custom-columns":
            return self.render_columns([obj], header=first and not self.no_headers)
        return self.render([obj], single=True)

    def render_columns(self, objects: list[dict[str, Any]], *, header: bool) -> str:
        rows = [[title for title, _ in self.columns]] if header else []
        for obj in objects:
            row = []
            for _, steps in self.columns:
                values = jsonpath.find(obj, steps)
                row.append(",".join(jsonpath.format_value(v) for v in values) if values else "<none>")
            rows.append(row)
        return tabulate(rows)


def _go_template(fmt: str, argument: str) -> list[Any]:
    from hyperkube.kubectl.gotemplate import parse
    from hyperkube.kubectl.gotemplate_funcs import TemplateError

    if not argument:
        raise KubectlError("template format specified but no template given")
    text = argument
    if fmt == "go-template-file":
        try:
            with open(argument, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise KubectlError(f"error reading --template {argument}, {error}") from error
    try:
        return parse(text)
    except TemplateError as error:
        raise KubectlError(f"error parsing template {text}, template: output:{error}") from error


def _as_go(value: Any) -> Any:
    """What a Go template sees of unstructured JSON: whole numbers are int64s."""
    from hyperkube.kubectl.gofmt import Int64

    if isinstance(value, dict):
        return {k: _as_go(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_go(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return Int64(value)
    return value


def _parse_or_fail(template: str) -> list[Any]:
    try:
        return jsonpath.parse_template(template)
    except ValueError as error:
        raise KubectlError(f"error parsing jsonpath {template}, {error}") from error


def custom_columns(spec: str) -> list[tuple[str, list[jsonpath.Step]]]:
    if not spec:
        raise KubectlError("custom-columns format specified but no custom columns given")
    columns = []
    for part in spec.split(","):
        title, sep, expression = part.partition(":")
        if not sep:
            raise KubectlError(f'unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>')
        try:
            columns.append((title, jsonpath.relaxed(expression)))
        except ValueError as error:
            raise KubectlError(str(error)) from error
    return columns


def tabwrite(text: str, *, min_width: int = 0, padding: int = 2) -> str:
    """Go's ``text/tabwriter`` over ``\\t``-separated text (``describe`` writes through one
    with minwidth 0, padding 2). A column block is a run of consecutive lines that have that
    column; the text after a line's last tab is not part of any column."""
    lines = [line.split("\t") for line in text.split("\n")]
    trailing = text.endswith("\n")
    if trailing:
        lines.pop()
    out: list[str] = []
    widths: list[int] = []

    def write(start: int, stop: int) -> None:
        for cells in lines[start:stop]:
            parts = []
            for j, cell in enumerate(cells):
                if j < len(cells) - 1 and j < len(widths):
                    parts.append(cell.ljust(widths[j]))
                else:
                    parts.append(cell)
            out.append("".join(parts))

    def fmt(start: int, stop: int) -> int:
        column = len(widths)
        line = start
        while line < stop:
            if column >= len(lines[line]) - 1:
                line += 1
                continue
            write(start, line)
            start = line
            width = min_width
            while line < stop and column < len(lines[line]) - 1:
                width = max(width, len(lines[line][column]) + padding)
                line += 1
            widths.append(width)
            fmt(start, line)
            widths.pop()
            start = line
        write(start, stop)
        return stop

    fmt(0, len(lines))
    return "\n".join(out) + ("\n" if trailing else "")
