"""PodSecurity: the baseline and restricted Pod Security Standards, enforced on pods in namespaces
labelled ``pod-security.kubernetes.io/enforce: baseline|restricted`` (``privileged`` or no label:
nothing). A pod that breaks them is refused with Kubernetes' message::

    pods "x" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false
    (container "c" must set securityContext.allowPrivilegeEscalation=false), ...

The checks (ordered by Kubernetes' check IDs, restricted ones overriding their baseline
counterparts): host namespaces, privileged containers, capabilities beyond the default set,
hostPath volumes, host ports; and for restricted: volume types, allowPrivilegeEscalation,
capabilities (drop ALL, add at most NET_BIND_SERVICE), runAsNonRoot, runAsUser=0 and the seccomp
profile. Only pods are enforced (workload templates are not: Kubernetes only warns about those);
the ``audit`` and ``warn`` labels and ``enforce-version`` are not read, every level is ``latest``.
AppArmor, SELinux, procMount, sysctls and Windows checks are not implemented.
"""

from __future__ import annotations

from typing import Any

from hyperkube.apiserver.admission import register
from hyperkube.apiserver.admission.common import Object, forbidden, is_pods, metadata
from hyperkube.apiserver.auth import AdmissionRequest
from hyperkube.machinery import errors

LABEL = "pod-security.kubernetes.io/enforce"
BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                         "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}


def _names(kind: str, names: list[str]) -> str:
    quoted = ", ".join(f'"{n}"' for n in names)
    return f"{kind} {quoted}" if len(names) == 1 else f"{kind}s {quoted}"


def _who(names: list[str], singular: str, plural: str) -> str:
    return singular if len(names) == 1 else plural


def _containers(spec: Object) -> list[Object]:
    return [c for group in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(group) or [] if isinstance(c, dict)]


def _context(container: Object) -> Object:
    found = container.get("securityContext")
    return found if isinstance(found, dict) else {}


def check(level: str, pod: Object) -> list[str]:
    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
    pod_context = spec.get("securityContext") if isinstance(spec.get("securityContext"), dict) else {}
    containers = _containers(spec)
    volumes = [v for v in spec.get("volumes") or [] if isinstance(v, dict)]
    restricted = level == "restricted"
    found: dict[str, str] = {}

    def names(test: Any) -> list[str]:
        return [c.get("name", "") for c in containers if test(c)]

    if restricted:
        bad = names(lambda c: _context(c).get("allowPrivilegeEscalation") is not False)
        if bad:
            found["allowPrivilegeEscalation"] = (f"allowPrivilegeEscalation != false ({_names('container', bad)} must "
                                                 "set securityContext.allowPrivilegeEscalation=false)")
    added = {c.get("name", ""): list((_context(c).get("capabilities") or {}).get("add") or []) for c in containers}
    if not restricted:
        extra = sorted({a for caps in added.values() for a in caps if a not in BASELINE_CAPABILITIES})
        bad = [n for n, caps in added.items() if set(caps) - BASELINE_CAPABILITIES]
        if bad:
            listed = ", ".join(f'"{a}"' for a in extra)
            found["capabilities_baseline"] = (f"non-default capabilities ({_names('container', bad)} must not "
                                              f"include {listed} in securityContext.capabilities.add)")
    else:
        details = []
        no_drop = names(lambda c: "ALL" not in ((_context(c).get("capabilities") or {}).get("drop") or []))
        if no_drop:
            details.append(f'{_names("container", no_drop)} must set securityContext.capabilities.drop=["ALL"]')
        extra = sorted({a for caps in added.values() for a in caps if a != "NET_BIND_SERVICE"})
        adding = [n for n, caps in added.items() if set(caps) - {"NET_BIND_SERVICE"}]
        if adding:
            listed = ", ".join(f'"{a}"' for a in extra)
            details.append(f"{_names('container', adding)} must not include {listed} in "
                           "securityContext.capabilities.add")
        if details:
            found["capabilities_restricted"] = f"unrestricted capabilities ({'; '.join(details)})"
    hosts = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k) is True]
    if hosts:
        found["hostNamespaces"] = f"host namespaces ({', '.join(hosts)})"
    host_paths = [v.get("name", "") for v in volumes if "hostPath" in v]
    if host_paths and not restricted:
        found["hostPathVolumes"] = f"hostPath volumes ({_names('volume', host_paths)})"
    ports = {c.get("name", ""): [p.get("hostPort") for p in c.get("ports") or [] if isinstance(p, dict)
                                 and p.get("hostPort")] for c in containers}
    with_ports = [n for n, p in ports.items() if p]
    if with_ports:
        numbers = ", ".join(str(p) for n in with_ports for p in ports[n])
        verb = _who(with_ports, "uses", "use")
        noun = "hostPort" if sum(len(ports[n]) for n in with_ports) == 1 else "hostPorts"
        found["hostPorts"] = f"hostPort ({_names('container', with_ports)} {verb} {noun} {numbers})"
    privileged = names(lambda c: _context(c).get("privileged") is True)
    if privileged:
        found["privileged"] = (f"privileged ({_names('container', privileged)} must not set "
                               "securityContext.privileged=true)")
    if restricted:
        odd = [(v.get("name", ""), next((k for k in v if k != "name"), "")) for v in volumes
               if not any(k in RESTRICTED_VOLUMES for k in v if k != "name")]
        if odd:
            if len(odd) == 1:
                detail = f'volume "{odd[0][0]}" uses restricted volume type "{odd[0][1]}"'
            else:
                kinds = ", ".join(f'"{k}"' for k in sorted({k for _, k in odd}))
                detail = f"{_names('volume', [n for n, _ in odd])} use restricted volume types {kinds}"
            found["restrictedVolumes"] = f"restricted volume types ({detail})"
        pod_non_root = pod_context.get("runAsNonRoot")
        explicit_false = names(lambda c: _context(c).get("runAsNonRoot") is False)
        unset = names(lambda c: _context(c).get("runAsNonRoot") is None) if pod_non_root is not True else []
        if explicit_false or unset:
            parts = []
            if explicit_false:
                parts.append(f"{_names('container', explicit_false)} must not set securityContext.runAsNonRoot=false")
            if unset:
                parts.append(f"pod or {_names('container', unset)} must set securityContext.runAsNonRoot=true")
            found["runAsNonRoot"] = f"runAsNonRoot != true ({'; '.join(parts)})"
        root = names(lambda c: _context(c).get("runAsUser") == 0)
        if pod_context.get("runAsUser") == 0 or root:
            parts = (["pod must not set runAsUser=0"] if pod_context.get("runAsUser") == 0 else []) + \
                ([f"{_names('container', root)} must not set runAsUser=0"] if root else [])
            found["runAsUser"] = f"runAsUser=0 ({'; '.join(parts)})"
        allowed = ("RuntimeDefault", "Localhost")
        pod_profile = (pod_context.get("seccompProfile") or {}).get("type")
        bad = names(lambda c: (_context(c).get("seccompProfile") or {}).get("type") not in allowed
                    and (pod_profile not in allowed or "seccompProfile" in _context(c)))
        if bad:
            found["seccompProfile_restricted"] = (f"seccompProfile (pod or {_names('container', bad)} must set "
                                                  'securityContext.seccompProfile.type to "RuntimeDefault" or '
                                                  '"Localhost")')
    return [found[key] for key in sorted(found)]


@register("PodSecurity")
class PodSecurity:
    name = "PodSecurity"

    def __init__(self, config: Any, objects: Any) -> None:
        self.objects = objects

    def wants(self, resource: Any, subresource: str, operation: str) -> bool:
        return is_pods(resource) and not subresource and operation in ("CREATE", "UPDATE")

    async def validate(self, request: AdmissionRequest) -> None:
        if request.operation == "UPDATE" and request.old is not None and \
                (request.obj or {}).get("spec") == request.old.get("spec"):
            return  # metadata and status changes are not re-checked
        level = await self._level(request.namespace)
        if level not in ("baseline", "restricted"):
            return
        problems = check(level, request.obj or {})
        if problems:
            raise forbidden(request, f'violates PodSecurity "{level}:latest": {", ".join(problems)}')

    async def _level(self, namespace: str) -> str:
        resource = self.objects.registry.get("", "v1", "namespaces")
        try:
            kv = await self.objects.read(resource, "", namespace, cached=True)
        except errors.NotFound:
            return ""
        obj = self.objects.decode_shared(resource, kv)
        return str((metadata(obj).get("labels") or {}).get(LABEL, ""))
