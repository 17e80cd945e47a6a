"""``kubectl describe``: a person-readable page per object, then its Events.

Pods, Deployments, ConfigMaps and Namespaces get kubectl's own layouts (the sections, the
labels one per line, containers with image, ports, state, environment and mounts); any
other kind gets kubectl's generic layout, every field under a Title Case heading. The text
is written with tabs and laid out by :func:`~hyperkube.kubectl.printers.tabwrite` exactly
as kubectl's describe writer does (padding 2), and the events list is read with the
``involvedObject`` field selector, oldest first.
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any

from hyperkube.kubectl.printers import tabwrite
from hyperkube.kubectl.session import KubectlError, Session
from hyperkube.machinery.durations import human_duration, parse_rfc3339

L1, L2, L3 = "  ", "    ", "      "
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def rfc1123(timestamp: str | None) -> str:
    if not timestamp:
        return "<unset>"
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(parse_rfc3339(timestamp)))


def multiline(title: str, values: dict[str, str] | None, separator: str = "=", skip: tuple[str, ...] = ()) -> str:
    items = sorted((k, v) for k, v in (values or {}).items() if k not in skip)
    if not items:
        return f"{title}:\t<none>\n"
    lines = []
    for i, (key, value) in enumerate(items):
        if separator == ": " and len(value) > 140:
            value = value[:140] + "..."
        lines.append(f"{title + ':' if i == 0 else ''}\t{key}{separator}{value}\n")
    return "".join(lines)


def tolerations(title: str, items: list[dict[str, Any]] | None) -> str:
    if not items:
        return f"{title}:\t<none>\n"
    out = []
    for i, t in enumerate(items):
        text = t.get("key", "")
        if t.get("value"):
            text += f"={t['value']}"
        if t.get("effect"):
            text += f":{t['effect']}"
        if t.get("operator") == "Exists" and not t.get("value"):
            text += " op=Exists" if (t.get("key") or t.get("effect")) else "op=Exists"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        out.append(f"{title + ':' if i == 0 else ''}\t{text}\n")
    return "".join(out)


def _ports(ports: list[dict[str, Any]] | None, field: str) -> str:
    values = [f"{p.get(field, 0)}/{p.get('protocol', 'TCP')}" for p in ports or []]
    return ", ".join(values) if values else "<none>"


def _state(title: str, state: dict[str, Any]) -> str:
    if "running" in state:
        return f"{L2}{title}:\tRunning\n{L2}  Started:\t{rfc1123(state['running'].get('startedAt'))}\n"
    if "terminated" in state:
        t = state["terminated"]
        out = f"{L2}{title}:\tTerminated\n"
        if t.get("reason"):
            out += f"{L2}  Reason:\t{t['reason']}\n"
        if t.get("message"):
            out += f"{L2}  Message:\t{t['message']}\n"
        out += f"{L2}  Exit Code:\t{t.get('exitCode', 0)}\n"
        out += f"{L2}  Started:\t{rfc1123(t.get('startedAt'))}\n{L2}  Finished:\t{rfc1123(t.get('finishedAt'))}\n"
        return out
    out = f"{L2}{title}:\tWaiting\n"
    reason = (state.get("waiting") or {}).get("reason")
    if reason:
        out += f"{L2}  Reason:\t{reason}\n"
    return out


def containers(label: str, items: list[dict[str, Any]], statuses: list[dict[str, Any]] | None, space: str = "") -> str:
    by_name = {s.get("name"): s for s in statuses or []}
    out = f"{space}{label}:\n"
    for c in items:
        status = by_name.get(c.get("name"))
        out += f"{L1}{' ' if space else ''}{c.get('name')}:\n"
        if status is not None:
            out += f"{L2}Container ID:\t{status.get('containerID', '')}\n"
        out += f"{L2}Image:\t{c.get('image', '')}\n"
        if status is not None:
            out += f"{L2}Image ID:\t{status.get('imageID', '')}\n"
        ports = _ports(c.get("ports"), "containerPort")
        out += f"{L2}{'Ports' if ',' in ports else 'Port'}:\t{ports}\n"
        host = _ports(c.get("ports"), "hostPort")
        out += f"{L2}{'Host Ports' if ',' in host else 'Host Port'}:\t{host}\n"
        for field in ("command", "args"):
            if c.get(field):
                out += f"{L2}{field.capitalize()}:\n" + "".join(f"{L3}{part}\n" for part in c[field])
        if status is not None:
            out += _state("State", status.get("state") or {})
            if (status.get("lastState") or {}).get("terminated"):
                out += _state("Last State", status["lastState"])
            out += f"{L2}Ready:\t{'True' if status.get('ready') else 'False'}\n"
            out += f"{L2}Restart Count:\t{status.get('restartCount', 0)}\n"
        resources = c.get("resources") or {}
        for field in ("limits", "requests"):
            if resources.get(field):
                out += f"{L2}{field.capitalize()}:\n" + "".join(
                    f"{L3}{k}:\t{v}\n" for k, v in sorted(resources[field].items()))
        env = c.get("env") or []
        if not env:
            out += f"{L2}Environment:\t<none>\n"
        else:
            out += f"{L2}Environment:\n"
            for e in env:
                value = e.get("value", "")
                source = e.get("valueFrom") or {}
                if "fieldRef" in source:
                    value = f"({source['fieldRef'].get('apiVersion', 'v1')}:{source['fieldRef'].get('fieldPath')})"
                elif "configMapKeyRef" in source:
                    ref = source["configMapKeyRef"]
                    value = f"<set to the key '{ref.get('key')}' of config map '{ref.get('name')}'>"
                elif "secretKeyRef" in source:
                    ref = source["secretKeyRef"]
                    value = f"<set to the key '{ref.get('key')}' in secret '{ref.get('name')}'>"
                out += f"{L2}  {e.get('name')}:\t{value}\n"
        mounts = c.get("volumeMounts") or []
        if not mounts:
            out += f"{L2}Mounts:\t<none>\n"
        else:
            out += f"{L2}Mounts:\n"
            for m in sorted(mounts, key=lambda m: m.get("mountPath", "")):
                flags = "ro" if m.get("readOnly") else "rw"
                sub = f",path=\"{m['subPath']}\"" if m.get("subPath") else ""
                out += f"{L2}  {m.get('mountPath')} from {m.get('name')} ({flags}{sub})\n"
    return out


_VOLUME_TYPES = {
    "emptyDir": "EmptyDir (a temporary directory that shares a pod's lifetime)",
    "configMap": "ConfigMap (a volume populated by a ConfigMap)",
    "secret": "Secret (a volume populated by a Secret)",
    "hostPath": "HostPath (bare host directory volume)",
    "persistentVolumeClaim": "PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)",
    "projected": "Projected (a volume that contains injected data from multiple sources)",
    "downwardAPI": "DownwardAPI (a volume populated by information about the pod)",
}


def volumes(items: list[dict[str, Any]] | None, space: str = "") -> str:
    if not items:
        return f"{space}Volumes:\t<none>\n"
    out = f"{space}Volumes:\n"
    for v in items:
        out += f"{space}{L1}{v.get('name')}:\n"
        kind = next((k for k in _VOLUME_TYPES if k in v), None)
        if kind is None:
            out += f"{space}{L2}<unknown>\n"
            continue
        out += f"{space}{L2}Type:\t{_VOLUME_TYPES[kind]}\n"
        body = v[kind] or {}
        for key, title in (("name", "Name"), ("secretName", "SecretName"), ("path", "Path"),
                           ("claimName", "ClaimName"), ("medium", "Medium"), ("optional", "Optional")):
            if key in body:
                value = body[key]
                out += f"{space}{L2}{title}:\t{str(value).lower() if isinstance(value, bool) else value}\n"
    return out


def qos_class(pod: dict[str, Any]) -> str:
    status = (pod.get("status") or {}).get("qosClass")
    if status:
        return status
    found_any = False
    guaranteed = True
    for c in (pod.get("spec") or {}).get("containers") or []:
        resources = c.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        if requests or limits:
            found_any = True
        for name in ("cpu", "memory"):
            if name not in limits or requests.get(name, limits[name]) != limits[name]:
                guaranteed = False
    if not found_any:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def describe_pod(pod: dict[str, Any]) -> str:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    out = f"Name:\t{meta.get('name')}\nNamespace:\t{meta.get('namespace')}\n"
    if spec.get("priority") is not None:
        out += f"Priority:\t{spec['priority']}\n"
    if spec.get("priorityClassName"):
        out += f"Priority Class Name:\t{spec['priorityClassName']}\n"
    if spec.get("serviceAccountName"):
        out += f"Service Account:\t{spec['serviceAccountName']}\n"
    node = spec.get("nodeName")
    out += f"Node:\t{node + '/' + status.get('hostIP', '') if node else '<none>'}\n"
    if status.get("startTime"):
        out += f"Start Time:\t{rfc1123(status['startTime'])}\n"
    out += multiline("Labels", meta.get("labels"))
    out += multiline("Annotations", meta.get("annotations"), ": ", (LAST_APPLIED,))
    if meta.get("deletionTimestamp"):
        left = human_duration(parse_rfc3339(meta["deletionTimestamp"]) - time.time())
        out += f"Status:\tTerminating (lasts {left})\n"
        out += f"Termination Grace Period:\t{meta.get('deletionGracePeriodSeconds', 0)}s\n"
    else:
        out += f"Status:\t{status.get('phase', '')}\n"
    for field in ("reason", "message"):
        if status.get(field):
            out += f"{field.capitalize()}:\t{status[field]}\n"
    out += f"IP:\t{status.get('podIP', '')}\n"
    ips = status.get("podIPs") or []
    out += "IPs:\t<none>\n" if not ips else "IPs:\n" + "".join(f"  IP:\t{i.get('ip')}\n" for i in ips)
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if owner:
        out += f"Controlled By:\t{owner.get('kind')}/{owner.get('name')}\n"
    if spec.get("initContainers"):
        out += containers("Init Containers", spec["initContainers"], status.get("initContainerStatuses"))
    out += containers("Containers", spec.get("containers") or [], status.get("containerStatuses"))
    if status.get("conditions"):
        out += "Conditions:\n  Type\tStatus\n"
        out += "".join(f"  {c.get('type')} \t{c.get('status')} \n" for c in status["conditions"])
    out += volumes(spec.get("volumes"))
    out += f"QoS Class:\t{qos_class(pod)}\n"
    out += multiline("Node-Selectors", spec.get("nodeSelector"))
    out += tolerations("Tolerations", spec.get("tolerations"))
    return out


def pod_template(template: dict[str, Any]) -> str:
    meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    out = "Pod Template:\n" + multiline("  Labels", meta.get("labels"))
    if meta.get("annotations"):
        out += multiline("  Annotations", meta["annotations"], ": ")
    if spec.get("serviceAccountName"):
        out += f"  Service Account:\t{spec['serviceAccountName']}\n"
    if spec.get("initContainers"):
        out += containers("Init Containers", spec["initContainers"], None, "  ")
    out += containers("Containers", spec.get("containers") or [], None, "  ")
    out += volumes(spec.get("volumes"), "  ")
    out += multiline("  Node-Selectors", spec.get("nodeSelector"))
    out += tolerations("  Tolerations", spec.get("tolerations"))
    if spec.get("priorityClassName"):
        out += f"  Priority Class Name:\t{spec['priorityClassName']}\n"
    return out


def selector_text(selector: dict[str, Any] | None) -> str:
    if not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
        if op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            parts.append(f"{key} {op.lower()} ({','.join(sorted(values))})")
    return ",".join(parts)


async def describe_deployment(session: Session, d: dict[str, Any]) -> str:
    meta, spec, status = d.get("metadata") or {}, d.get("spec") or {}, d.get("status") or {}
    out = f"Name:\t{meta.get('name')}\nNamespace:\t{meta.get('namespace')}\n"
    out += f"CreationTimestamp:\t{rfc1123(meta.get('creationTimestamp'))}\n"
    out += multiline("Labels", meta.get("labels"))
    out += multiline("Annotations", meta.get("annotations"), ": ", (LAST_APPLIED,))
    out += f"Selector:\t{selector_text(spec.get('selector'))}\n"
    out += (f"Replicas:\t{spec.get('replicas', 1)} desired | {status.get('updatedReplicas', 0)} updated | "
            f"{status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available | "
            f"{status.get('unavailableReplicas', 0)} unavailable\n")
    strategy = spec.get("strategy") or {}
    out += f"StrategyType:\t{strategy.get('type', 'RollingUpdate')}\n"
    out += f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}\n"
    rolling = strategy.get("rollingUpdate")
    if rolling is not None or strategy.get("type", "RollingUpdate") == "RollingUpdate":
        rolling = rolling or {}
        out += (f"RollingUpdateStrategy:\t{rolling.get('maxUnavailable', '25%')} max unavailable, "
                f"{rolling.get('maxSurge', '25%')} max surge\n")
    out += pod_template(spec.get("template") or {})
    if status.get("conditions"):
        out += "Conditions:\n  Type\tStatus\tReason\n  ----\t------\t------\n"
        out += "".join(f"  {c.get('type')} \t{c.get('status')}\t{c.get('reason', '')}\n" for c in status["conditions"])
        sets = await session.client.list("apps/v1/replicasets", namespace=meta.get("namespace"),
                                         label_selector=selector_text(spec.get("selector")))
        owned = [rs for rs in sets.get("items") or []
                 if any(o.get("uid") == meta.get("uid") for o in (rs.get("metadata") or {}).get("ownerReferences") or [])]
        revision = (meta.get("annotations") or {}).get("deployment.kubernetes.io/revision")
        new = [rs for rs in owned if ((rs.get("metadata") or {}).get("annotations") or {}).get(
            "deployment.kubernetes.io/revision") == revision]
        old = [rs for rs in owned if rs not in new and ((rs.get("spec") or {}).get("replicas") or 0) > 0]

        def names(items: list[dict[str, Any]]) -> str:
            if not items:
                return "<none>"
            return ", ".join(f"{rs['metadata']['name']} ({(rs.get('status') or {}).get('replicas', 0)}/"
                             f"{(rs.get('spec') or {}).get('replicas', 0)} replicas created)" for rs in items)
        out += f"OldReplicaSets:\t{names(old)}\nNewReplicaSet:\t{names(new)}\n"
    return out


def describe_configmap(cm: dict[str, Any]) -> str:
    meta = cm.get("metadata") or {}
    out = f"Name:\t{meta.get('name')}\nNamespace:\t{meta.get('namespace')}\n"
    out += multiline("Labels", meta.get("labels"))
    out += multiline("Annotations", meta.get("annotations"), ": ", (LAST_APPLIED,))
    out += "\nData\n====\n"
    for key, value in sorted((cm.get("data") or {}).items()):
        out += f"{key}:\n----\n{value}\n\n"
    out += "\nBinaryData\n====\n"
    for key, value in sorted((cm.get("binaryData") or {}).items()):
        out += f"{key}: {len(value) * 3 // 4} bytes\n"
    out += "\n"
    return out


async def describe_service(session: Session, svc: dict[str, Any]) -> str:
    meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
    out = f"Name:\t{meta.get('name')}\nNamespace:\t{meta.get('namespace')}\n"
    out += multiline("Labels", meta.get("labels"))
    out += multiline("Annotations", meta.get("annotations"), ": ", (LAST_APPLIED,))
    selector = spec.get("selector") or {}
    out += f"Selector:\t{','.join(f'{k}={v}' for k, v in sorted(selector.items())) or '<none>'}\n"
    out += f"Type:\t{spec.get('type', 'ClusterIP')}\n"
    if spec.get("ipFamilyPolicy"):
        out += f"IP Family Policy:\t{spec['ipFamilyPolicy']}\n"
    if spec.get("ipFamilies"):
        out += f"IP Families:\t{','.join(spec['ipFamilies'])}\n"
    out += f"IP:\t{spec.get('clusterIP', '')}\n"
    if spec.get("clusterIPs"):
        out += f"IPs:\t{','.join(spec['clusterIPs'])}\n"
    if spec.get("externalIPs"):
        out += f"External IPs:\t{','.join(spec['externalIPs'])}\n"
    if spec.get("externalName"):
        out += f"External Name:\t{spec['externalName']}\n"
    try:
        slices = (await session.client.list("discovery.k8s.io/v1/endpointslices", namespace=meta.get("namespace"),
                                            label_selector=f"kubernetes.io/service-name={meta.get('name')}"))
    except Exception:  # noqa: BLE001
        slices = {}
    for port in spec.get("ports") or []:
        name = port.get("name") or "<unset>"
        protocol = port.get("protocol", "TCP")
        out += f"Port:\t{name}\t{port.get('port')}/{protocol}\n"
        out += f"TargetPort:\t{port.get('targetPort', port.get('port'))}/{protocol}\n"
        if port.get("nodePort"):
            out += f"NodePort:\t{name}\t{port['nodePort']}/{protocol}\n"
        addresses = []
        for item in slices.get("items") or []:
            numbers = [p.get("port") for p in item.get("ports") or [] if (p.get("name") or "") == (port.get("name") or "")]
            for endpoint in item.get("endpoints") or []:
                if (endpoint.get("conditions") or {}).get("ready") is False:
                    continue
                addresses += [f"{a}:{n}" for a in endpoint.get("addresses") or [] for n in numbers]
        shown = ",".join(addresses[:3]) + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")
        out += f"Endpoints:\t{shown or '<none>'}\n"
    out += f"Session Affinity:\t{spec.get('sessionAffinity', 'None')}\n"
    if spec.get("externalTrafficPolicy") and spec.get("type") in ("NodePort", "LoadBalancer"):
        out += f"External Traffic Policy:\t{spec['externalTrafficPolicy']}\n"
    if spec.get("internalTrafficPolicy"):
        out += f"Internal Traffic Policy:\t{spec['internalTrafficPolicy']}\n"
    return out


def _title(key: str) -> str:
    """``creationTimestamp`` -> ``Creation Timestamp`` (kubectl's generic describer)."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return words[:1].upper() + words[1:]


def _generic_fields(value: Any, indent: str) -> str:
    out = ""
    if isinstance(value, dict):
        for key in sorted(value):
            child = value[key]
            if isinstance(child, dict | list) and child:
                out += f"{indent}{_title(key)}:\n" + _generic_fields(child, indent + "  ")
            else:
                out += f"{indent}{_title(key)}:\t{_scalar(child)}\n"
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                out += _generic_fields(item, indent)
            else:
                out += f"{indent}{_scalar(item)}\n"
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or value == {} or value == []:
        return ""
    return str(value)


def describe_generic(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    out = f"Name:\t{meta.get('name')}\n"
    if meta.get("namespace"):
        out += f"Namespace:\t{meta['namespace']}\n"
    out += multiline("Labels", meta.get("labels"))
    out += multiline("Annotations", meta.get("annotations"), ": ", (LAST_APPLIED,))
    if obj.get("kind") == "Namespace":
        return out + f"Status:\t{(obj.get('status') or {}).get('phase', '')}\n\nNo resource quota.\n\n" \
                     "No LimitRange resource.\n"
    out += f"API Version:\t{obj.get('apiVersion', '')}\nKind:\t{obj.get('kind', '')}\n"
    rest = {k: v for k, v in meta.items() if k not in ("name", "namespace", "labels", "annotations", "managedFields")}
    if rest:
        out += "Metadata:\n" + _generic_fields(rest, "  ")
    for key in sorted(obj):
        if key in ("apiVersion", "kind", "metadata"):
            continue
        value = obj[key]
        if isinstance(value, dict | list) and value:
            out += f"{_title(key)}:\n" + _generic_fields(value, "  ")
        else:
            out += f"{_title(key)}:\t{_scalar(value)}\n"
    return out


async def events_for(session: Session, obj: dict[str, Any], *, listing: bool = False) -> str:
    meta = obj.get("metadata") or {}
    selector = f"involvedObject.name={meta.get('name')},involvedObject.uid={meta.get('uid')}"
    if meta.get("namespace"):
        selector = f"involvedObject.name={meta.get('name')},involvedObject.namespace={meta['namespace']}," \
                   f"involvedObject.uid={meta.get('uid')}"
    try:
        listed = await session.client.list("v1/events", namespace=meta.get("namespace"), field_selector=selector)
    except Exception:  # noqa: BLE001 - no access to events: describe without them
        listed = {}
    items = listed.get("items") or []
    if not items:
        return "" if listing else "Events:\t<none>\n"  # kubectl leaves it out when describing a list
    now = time.time()

    def since(value: str | None) -> str:
        return human_duration(now - parse_rfc3339(value)) if value else "<unknown>"

    def last(e: dict[str, Any]) -> str:
        return e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp") or ""
    items.sort(key=last)
    rows = "  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n"
    for e in items:
        first = since(e.get("firstTimestamp") or e.get("eventTime"))
        count = e.get("count") or 1
        interval = f"{since(e.get('lastTimestamp'))} (x{count} over {first})" if count > 1 else first
        source = (e.get("source") or {}).get("component") or e.get("reportingComponent") or ""
        rows += f"  {e.get('type', '')}\t{e.get('reason', '')}\t{interval}\t{source}\t{(e.get('message') or '').strip()}\n"
    return "\f" + "Events:\n" + rows


async def describe(session: Session, args: list[str], *, selector: str | None, all_namespaces: bool,
                   show_events: bool = True) -> int:
    from hyperkube.kubectl.get import resolve_requests

    if not args:
        raise KubectlError("You must specify the type of resource to describe. Use \"kubectl api-resources\" for "
                           "a complete list of supported resources.")
    requests = await resolve_requests(session, args)
    pages: list[str] = []
    client = session.client
    for request in requests:
        resource = request.resource
        namespace = None if not resource.namespaced or all_namespaces else session.namespace
        objects: list[dict[str, Any]] = []
        if request.names:
            for name in request.names:
                try:
                    objects.append(await client.get(resource, name, namespace=namespace))
                except Exception as error:  # noqa: BLE001
                    session.report(error)
        else:
            listed = await client.list_all(resource, namespace=namespace, label_selector=selector)
            objects = [{"apiVersion": resource.group_version, "kind": resource.kind, **o}
                       for o in listed.get("items") or []]
        for obj in objects:
            obj.setdefault("kind", resource.kind)
            obj.setdefault("apiVersion", resource.group_version)
            kind = obj["kind"]
            if kind == "Pod":
                text = describe_pod(obj)
            elif kind == "Deployment":
                text = await describe_deployment(session, obj)
            elif kind == "ConfigMap":
                text = describe_configmap(obj)
            elif kind == "Service":
                text = await describe_service(session, obj)
            else:
                text = describe_generic(obj)
            if show_events and kind != "Namespace":
                text += await events_for(session, obj, listing=not request.names and kind == "Pod")
            pages.append("".join(tabwrite(part) for part in text.split("\f")))
    if not pages and not any(r.names for r in requests):
        print(f"No resources found in {session.namespace} namespace.", file=sys.stderr)
    sys.stdout.write("\n\n".join(pages))
    return 0


async def events(session: Session, *, all_namespaces: bool, for_object: str | None, types: tuple[str, ...],
                 output: str, no_headers: bool) -> int:
    """``kubectl events``: the events table, oldest first (``--for TYPE/NAME``, ``--types``)."""
    from hyperkube.kubectl.printers import ObjectPrinter, tabulate

    namespace = None if all_namespaces else session.namespace
    selector = None
    if for_object:
        kind, _, name = for_object.partition("/")
        resource = await session.discovery.resolve(kind)
        selector = f"involvedObject.kind={resource.kind},involvedObject.name={name}"
    listed = await session.client.list_all("v1/events", namespace=namespace, field_selector=selector)
    items = [e for e in listed.get("items") or [] if not types or e.get("type") in types]

    def last(e: dict[str, Any]) -> str:
        return e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp") or ""
    items.sort(key=last)
    if output:
        objects = [{"apiVersion": "v1", "kind": "Event", **e} for e in items]
        sys.stdout.write(ObjectPrinter(output).render(objects, single=False))
        return 0
    if not items:
        where = "" if all_namespaces else f" in {session.namespace} namespace"
        print(f"No events found{where}.", file=sys.stderr)
        return 0
    now = time.time()

    def since(value: str | None) -> str:
        return human_duration(now - parse_rfc3339(value)) if value else "<unknown>"
    rows = [] if no_headers else [(["NAMESPACE"] if all_namespaces else []) +
                                  ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]]
    for e in items:
        count = e.get("count") or 1
        seen = since(last(e))
        if count > 1:
            seen = f"{seen} (x{count} over {since(e.get('firstTimestamp') or e.get('eventTime'))})"
        involved = e.get("involvedObject") or {}
        row = [(e.get("metadata") or {}).get("namespace", "")] if all_namespaces else []
        rows.append(row + [seen, e.get("type", ""), e.get("reason", ""),
                           f"{involved.get('kind', '')}/{involved.get('name', '')}", (e.get("message") or "").strip()])
    sys.stdout.write(tabulate(rows))
    return 0
