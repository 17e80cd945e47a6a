"""What the server is: ``api-resources``, ``api-versions``, ``version``, ``cluster-info``."""

from __future__ import annotations

import json
import sys
from typing import Any

from hyperkube import KUBERNETES_GIT_VERSION, KUBERNETES_VERSION, __version__
from hyperkube.kubectl.printers import tabulate
from hyperkube.kubectl.session import KubectlError, Session
from hyperkube.kubectl.yamlout import to_yaml

CLIENT_VERSION = {"major": str(KUBERNETES_VERSION[0]), "minor": str(KUBERNETES_VERSION[1]),
                  "gitVersion": KUBERNETES_GIT_VERSION, "gitCommit": f"hyperkube-{__version__}",
                  "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                  "goVersion": f"python{sys.version.split()[0]}", "compiler": "cpython",
                  "platform": f"{sys.platform}/amd64"}


async def api_resources(session: Session, *, output: str = "", namespaced: bool | None = None,
                        api_group: str | None = None, verbs: tuple[str, ...] = (), no_headers: bool = False,
                        sort_by: str | None = None, cached: bool = False, categories: tuple[str, ...] = ()) -> int:
    if not cached:
        session.discovery.invalidate()
    resources = [r for r in await session.discovery.resources() if r.preferred]
    if namespaced is not None:
        resources = [r for r in resources if r.namespaced == namespaced]
    if api_group is not None:
        resources = [r for r in resources if r.group == api_group]
    if verbs:
        resources = [r for r in resources if all(v in r.verbs for v in verbs)]
    if categories:
        resources = [r for r in resources if all(c in r.categories for c in categories)]
    if sort_by == "name":
        resources.sort(key=lambda r: r.name)
    elif sort_by == "kind":
        resources.sort(key=lambda r: r.kind)
    elif sort_by:
        raise KubectlError(f'--sort-by accepts only name or kind, got "{sort_by}"')
    else:
        resources.sort(key=lambda r: r.group)  # stable: discovery order within a group
    if output == "name":
        for r in resources:
            print(f"{r.name}.{r.group}" if r.group else r.name)
        return 0
    if output not in ("", "wide"):
        raise KubectlError(f'--output {output} is not available')
    rows = [] if no_headers else [["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]]
    if output == "wide" and not no_headers:
        rows[0] += ["VERBS", "CATEGORIES"]
    for r in resources:
        row = [r.name, ",".join(r.short_names), r.group_version, "true" if r.namespaced else "false", r.kind]
        if output == "wide":
            row += [",".join(r.verbs), ",".join(r.categories)]
        rows.append(row)
    sys.stdout.write(tabulate(rows))
    return 0


async def api_versions(session: Session) -> int:
    session.discovery.invalidate()
    versions = await session.discovery.server_group_versions()
    sys.stdout.write("".join(f"{v}\n" for v in sorted(set(versions))))
    return 0


async def version(session: Session, *, client_only: bool, output: str) -> int:
    server: dict[str, Any] | None = None
    error: BaseException | None = None
    if not client_only:
        try:
            server = await session.client.request("GET", "/version")
        except Exception as failure:  # noqa: BLE001 - kubectl prints the client version anyway
            error = failure
    if output in ("json", "yaml"):
        document: dict[str, Any] = {"clientVersion": CLIENT_VERSION}
        if server is not None:
            document["serverVersion"] = server
        sys.stdout.write(json.dumps(document, indent=2) + "\n" if output == "json" else to_yaml(document))
    elif output:
        raise KubectlError("--output must be 'yaml' or 'json'")
    else:
        print(f"Client Version: {CLIENT_VERSION['gitVersion']}")
        if server is not None:
            print(f"Server Version: {server.get('gitVersion', '')}")
    if error is not None:
        raise error
    return 0


async def cluster_info(session: Session) -> int:
    server = session.config.server
    await session.client.request("GET", "/version")
    lines = [f"Kubernetes control plane is running at {server}"]
    try:
        services = await session.client.list("v1/services", namespace="kube-system",
                                             label_selector="kubernetes.io/cluster-service=true")
    except Exception:  # noqa: BLE001 - no permission to list services: just the control plane
        services = {}
    for service in services.get("items") or []:
        metadata = service.get("metadata") or {}
        name = (metadata.get("labels") or {}).get("kubernetes.io/name") or metadata.get("name", "")
        ports = (service.get("spec") or {}).get("ports") or [{}]
        port = ports[0].get("name") or ports[0].get("port", "")
        suffix = f":{port}" if port else ""
        lines.append(f"{name} is running at {server}/api/v1/namespaces/kube-system/services/"
                     f"{metadata.get('name')}{suffix}/proxy")
    print("\n".join(lines))
    print("\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.")
    return 0
