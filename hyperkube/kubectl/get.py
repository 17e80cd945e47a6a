"""``kubectl get``: server-side Tables for people, whole objects for ``-o``, and ``-w``.

Arguments name resources the kubectl way: ``pods``, ``pods web db``, ``deploy,svc``,
``pod/web svc/db``, ``all`` (the resources of the "all" category). For the human formats
(default and ``-o wide``) each list is requested as a ``meta.k8s.io/v1`` Table and its
cells are printed verbatim; kubectl's own columns (NAMESPACE with ``-A``, ``-L``, LABELS)
come from each row's object metadata. Names are prefixed with their kind when more than
one resource type answered, as kubectl does.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from hyperkube.kubectl import jsonpath
from hyperkube.kubectl.printers import ObjectPrinter, TableOptions, kind_prefix, table_rows, tabulate
from hyperkube.kubectl.session import KubectlError, Session

TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
                "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")


@dataclass
class GetOptions:
    output: str = ""
    selector: str | None = None
    field_selector: str | None = None
    all_namespaces: bool = False
    show_labels: bool = False
    label_columns: tuple[str, ...] = ()
    sort_by: str | None = None
    watch: bool = False
    watch_only: bool = False
    no_headers: bool = False
    show_kind: bool = False
    ignore_not_found: bool = False
    show_managed_fields: bool = False
    chunk_size: int = 500
    template: str | None = None
    filenames: tuple[str, ...] = ()
    recursive: bool = False


@dataclass
class Request:
    """One resource type and the names asked for (none: the whole list)."""

    resource: Any
    names: list[str] = field(default_factory=list)


async def resolve_requests(session: Session, args: list[str]) -> list[Request]:
    """Turn ``pods web``, ``deploy,svc``, ``pod/web svc/db`` or ``all`` into requests."""
    if not args:
        raise KubectlError(
            "You must specify the type of resource to get. Use \"kubectl api-resources\" for a complete "
            "list of supported resources.", raw=False)
    discovery = session.discovery
    requests: list[Request] = []
    if "/" in args[0]:
        by_type: dict[str, Request] = {}
        for arg in args:
            kind, sep, name = arg.partition("/")
            if not sep or not name:
                raise KubectlError("there is no need to specify a resource type as a separate argument "
                                   "when passing arguments in resource/name form (e.g. 'kubectl get "
                                   "resource/<resource_name>' instead of 'kubectl get resource "
                                   "resource/<resource_name>'")
            resource = await discovery.resolve(kind)
            key = f"{resource.group}/{resource.name}"
            if key not in by_type:
                by_type[key] = Request(resource)
                requests.append(by_type[key])
            by_type[key].names.append(name)
        return requests
    names = args[1:]
    for kind in args[0].split(","):
        if not kind:
            continue
        if kind == "all" and not names:
            requests += [Request(r) for r in await discovery.by_category("all")]
            continue
        requests.append(Request(await discovery.resolve(kind), list(names)))
    return requests


def _namespace(session: Session, resource: Any, options: GetOptions) -> str | None:
    if not resource.namespaced or options.all_namespaces:
        return None
    return session.namespace


def sort_key(value: Any) -> tuple[Any, ...]:
    """kubectl's order for --sort-by: numbers by value, strings by their bytes, missing first."""
    if value is None:
        return (0,)
    if isinstance(value, bool | int | float):
        return (1, float(value))
    text = value if isinstance(value, str) else jsonpath.format_value(value)
    return (2, text.encode())


def _sorter(expression: str) -> Any:
    try:
        steps = jsonpath.relaxed(expression)
    except ValueError as error:
        raise KubectlError(f"error parsing sort-by expression {expression}: {error}") from error

    def key(obj: dict[str, Any]) -> tuple[Any, ...]:
        values = jsonpath.find(obj, steps)
        return sort_key(values[0] if values else None)
    return key


async def _list_table(session: Session, request: Request, namespace: str | None,
                      options: GetOptions) -> dict[str, Any]:
    """The Table for a request: one list (followed across pages), or one GET per name."""
    client = session.client
    extra = {"includeObject": "Object"} if options.sort_by else {}
    if request.names:
        table: dict[str, Any] = {}
        rows: list[Any] = []
        for name in request.names:
            try:
                one = await client.get(request.resource, name, namespace=namespace, accept=TABLE_ACCEPT, **extra)
            except Exception as error:  # noqa: BLE001 - kubectl reports each name and goes on
                if not (options.ignore_not_found and _is_not_found(error)):
                    session.report(error)
                continue
            table = table or one
            rows += one.get("rows") or []
        return {**table, "rows": rows} if table else {}
    params: list[tuple[str, str]] = []
    if options.selector:
        params.append(("labelSelector", options.selector))
    if options.field_selector:
        params.append(("fieldSelector", options.field_selector))
    if options.chunk_size:
        params.append(("limit", str(options.chunk_size)))
    params += list(extra.items())
    path = request.resource.gvr.path(namespace)
    table = {}
    rows = []
    token = None
    while True:
        page = await client.request("GET", path, params=params + ([("continue", token)] if token else []),
                                    accept=TABLE_ACCEPT)
        table = table or page
        rows += page.get("rows") or []
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            break
    return {**table, "rows": rows}


def _is_not_found(error: BaseException) -> bool:
    from hyperkube.client import NotFound

    return isinstance(error, NotFound)


async def _list_objects(session: Session, request: Request, namespace: str | None,
                        options: GetOptions) -> tuple[list[dict[str, Any]], str, bool]:
    """Whole objects (kind and apiVersion filled in), the list's resourceVersion, found-any."""
    client = session.client
    resource = request.resource
    api_version = resource.group_version
    if request.names:
        found = []
        for name in request.names:
            try:
                found.append(await client.get(resource, name, namespace=namespace))
            except Exception as error:  # noqa: BLE001
                if not (options.ignore_not_found and _is_not_found(error)):
                    session.report(error)
        return found, "", bool(found)
    listed = await client.list_all(resource, namespace=namespace, label_selector=options.selector,
                                   field_selector=options.field_selector, page_size=options.chunk_size)
    items = [{"apiVersion": api_version, "kind": resource.kind, **item} for item in listed.get("items") or []]
    return items, (listed.get("metadata") or {}).get("resourceVersion", ""), True


async def get(session: Session, args: list[str], options: GetOptions) -> int:
    output = options.output
    if options.filenames:
        from hyperkube.kubectl.manifests import requests_from_files

        requests = await requests_from_files(session, options.filenames, options.recursive)
    else:
        requests = await resolve_requests(session, args)
    human = output in ("", "wide")
    if options.watch or options.watch_only:
        if len(requests) != 1:
            raise KubectlError("you may only specify a single resource type")
        from hyperkube.kubectl.watch import watch

        return await watch(session, requests[0], options)
    if human:
        await _print_tables(session, requests, options)
    else:
        await _print_objects(session, requests, options)
    return 0


async def _print_tables(session: Session, requests: list[Request], options: GetOptions) -> None:
    tables = []
    for request in requests:
        namespace = _namespace(session, request.resource, options)
        table = await _list_table(session, request, namespace, options)
        if table:
            tables.append((request, table))
    with_kind = options.show_kind or len(tables) > 1
    out: list[str] = []
    printed = 0
    for request, table in tables:
        rows = table.get("rows") or []
        if not rows:
            continue
        if options.sort_by:
            key = _sorter(options.sort_by)
            rows = sorted(rows, key=lambda row: key(row.get("object") or {}))
        resource = request.resource
        table_options = TableOptions(
            wide=options.output == "wide", with_namespace=options.all_namespaces and resource.namespaced,
            show_labels=options.show_labels, label_columns=options.label_columns, no_headers=options.no_headers,
            with_kind=kind_prefix(resource.kind, resource.group) if with_kind else "")
        if printed and not options.no_headers:
            out.append("\n")
        out.append(tabulate(table_rows({**table, "rows": rows}, table_options)))
        printed += 1
    sys.stdout.write("".join(out))
    if not printed and not any(r.names for r in requests):
        _no_resources(session, requests, options)


def _no_resources(session: Session, requests: list[Request], options: GetOptions) -> None:
    sys.stdout.flush()
    if options.all_namespaces or not any(r.resource.namespaced for r in requests):
        print("No resources found", file=sys.stderr)
    else:
        print(f"No resources found in {session.namespace} namespace.", file=sys.stderr)


async def _print_objects(session: Session, requests: list[Request], options: GetOptions) -> None:
    printer = ObjectPrinter(options.output, no_headers=options.no_headers,
                            show_managed_fields=options.show_managed_fields, template=options.template)
    objects: list[dict[str, Any]] = []
    for request in requests:
        namespace = _namespace(session, request.resource, options)
        found, _, _ = await _list_objects(session, request, namespace, options)
        objects += found
    if options.sort_by:
        objects.sort(key=_sorter(options.sort_by))
    single = len(requests) == 1 and len(requests[0].names) == 1
    if not objects and single:
        return
    sys.stdout.write(printer.render(objects, single=single))
