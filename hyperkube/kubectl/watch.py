"""``kubectl get -w``: the list, then every change as it happens.

For the human formats the list and the watch are both asked for as Tables, so each event
is a one-row Table printed with the same columns; kubectl flushes its tabwriter after each
event, so a row is aligned only with itself, and we do the same. The watch starts at the
list's resourceVersion, so nothing is missed or printed twice. When the server ends the
stream, kubectl exits 0; a 410 (the version was compacted) is printed as an error.
"""

from __future__ import annotations

import sys
from typing import Any

from hyperkube.kubectl.get import (
    TABLE_ACCEPT,
    GetOptions,
    Request,
    _list_objects,
    _list_table,
    _namespace,
    _no_resources,
)
from hyperkube.kubectl.printers import ObjectPrinter, TableOptions, table_rows, tabulate
from hyperkube.kubectl.session import Session


async def watch(session: Session, request: Request, options: GetOptions) -> int:
    namespace = _namespace(session, request.resource, options)
    field_selector = options.field_selector
    if request.names:
        if len(request.names) > 1:
            from hyperkube.kubectl.session import KubectlError

            raise KubectlError("watch is only supported on individual resources and resource collections, "
                               "but a list of resources is found")
        by_name = f"metadata.name={request.names[0]}"
        field_selector = f"{field_selector},{by_name}" if field_selector else by_name
    listing = GetOptions(**{**vars(options), "field_selector": field_selector})
    listing_request = Request(request.resource)
    human = options.output in ("", "wide")
    table_options = TableOptions(wide=options.output == "wide",
                                 with_namespace=options.all_namespaces and request.resource.namespaced,
                                 show_labels=options.show_labels, label_columns=options.label_columns,
                                 no_headers=options.no_headers)
    printer = None if human else ObjectPrinter(options.output, no_headers=options.no_headers,
                                               show_managed_fields=options.show_managed_fields)
    header_printed = False
    first = True
    if human:
        table = await _list_table(session, listing_request, namespace, listing)
        version = (table.get("metadata") or {}).get("resourceVersion", "")
        if not options.watch_only:
            if table.get("rows"):
                _write(tabulate(table_rows(table, table_options)))
                header_printed = True
            elif not request.names:
                _no_resources(session, [request], options)
    else:
        objects, version, _ = await _list_objects(session, listing_request, namespace, listing)
        if not options.watch_only:
            for obj in objects:
                assert printer is not None
                _write(printer.render_one(obj, first=first))
                first = False
    stream = session.client.watch(request.resource, namespace=namespace, label_selector=options.selector,
                                  field_selector=field_selector, resource_version=version or None,
                                  allow_bookmarks=False, accept=TABLE_ACCEPT if human else "application/json")
    async with stream:
        async for event in stream:
            obj: dict[str, Any] = event.object
            if human:
                if obj.get("kind") != "Table":
                    continue
                _write(tabulate(table_rows(obj, table_options, header=not header_printed)))
                header_printed = True
            else:
                assert printer is not None
                if "kind" not in obj:
                    obj = {"apiVersion": request.resource.group_version, "kind": request.resource.kind, **obj}
                _write(printer.render_one(obj, first=first))
                first = False
    return 0


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
