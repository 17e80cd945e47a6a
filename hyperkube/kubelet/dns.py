"""Cluster DNS for process pods: what ``--cluster-dns`` and ``--cluster-domain`` give a pod.

A real kubelet bind-mounts a resolv.conf over each container's ``/etc/resolv.conf``. Process
pods share the host's mount namespace, so their libc resolver (``getaddrinfo``: curl, Python's
``socket``, most programs) keeps reading the host's ``/etc/resolv.conf`` and does **not** see
cluster names. What the kubelet does instead, for a pod whose DNS policy asks for cluster DNS:

- it writes ``<root-dir>/pods/<uid>/resolv.conf`` as the real kubelet would write it::

      nameserver <each --cluster-dns address>
      search <ns>.svc.<domain> svc.<domain> <domain>
      options ndots:5

  (plus the pod's ``dnsConfig``; resolv.conf has no port syntax, so a server on a port other
  than 53 is named in a comment and only in the variables below);
- it sets in every container (a variable the pod sets itself wins)::

      KUBERNETES_DNS_RESOLV_CONF   that file
      KUBERNETES_DNS_SERVER        the first nameserver's address
      KUBERNETES_DNS_SERVER_PORT   its port (53 unless --cluster-dns said IP:PORT)
      KUBERNETES_DNS_SEARCH        the search list, space-separated
      KUBERNETES_CLUSTER_DOMAIN    the cluster domain

so tools that take a server can use it (``dig @$KUBERNETES_DNS_SERVER -p
$KUBERNETES_DNS_SERVER_PORT web.default.svc.cluster.local``), and libraries that read a
resolv.conf from a path can load it (dnspython: ``dns.resolver.Resolver(filename=...)``, then
set ``.port``).

DNS policies, as Kubernetes reads them: ``ClusterFirst`` (the default) uses the cluster DNS,
except for ``hostNetwork`` pods, which get the host's (``Default``); ``ClusterFirstWithHostNet``
always uses it; ``Default`` gets nothing here (the host's resolver is what the pod has anyway);
``None`` uses only the pod's ``dnsConfig``. With no ``--cluster-dns``, ``ClusterFirst`` falls
back to ``Default``, as in Kubernetes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_SEARCH = 32  # what glibc >= 2.26 accepts; Kubernetes checks the same bound


@dataclass
class PodDNS:
    nameservers: list[tuple[str, int]]
    searches: list[str]
    options: list[tuple[str, str | None]]
    domain: str

    def resolv_conf(self) -> str:
        lines = ["# written by the hyperkube kubelet for this pod; process pods do not see it as "
                 "/etc/resolv.conf (see KUBERNETES_DNS_RESOLV_CONF)"]
        for host, port in self.nameservers:
            lines.append(f"nameserver {host}" + (f"  # port {port}: not expressible in resolv.conf" if port != 53
                                                  else ""))
        if self.searches:
            lines.append("search " + " ".join(self.searches))
        if self.options:
            lines.append("options " + " ".join(name if value is None else f"{name}:{value}"
                                               for name, value in self.options))
        return "\n".join(lines) + "\n"

    def env(self, path: str) -> dict[str, str]:
        env = {"KUBERNETES_DNS_RESOLV_CONF": path, "KUBERNETES_DNS_SEARCH": " ".join(self.searches)}
        if self.domain:
            env["KUBERNETES_CLUSTER_DOMAIN"] = self.domain
        if self.nameservers:
            env["KUBERNETES_DNS_SERVER"], port = self.nameservers[0]
            env["KUBERNETES_DNS_SERVER_PORT"] = str(port)
        return env


def pod_dns(pod: dict[str, Any], cluster_dns: list[tuple[str, int]], cluster_domain: str) -> PodDNS | None:
    """The pod's DNS settings, or None when it simply uses the host's resolver."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    config = spec.get("dnsConfig") or {}
    domain = cluster_domain.strip(".")
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and cluster_dns:
        namespace = (pod.get("metadata") or {}).get("namespace") or "default"
        base = PodDNS(list(cluster_dns), [f"{namespace}.svc.{domain}", f"svc.{domain}", domain] if domain else [],
                      [("ndots", "5")], domain)
    elif policy == "None":
        base = PodDNS([], [], [], domain)
    else:
        return None
    for server in config.get("nameservers") or []:
        if (server, 53) not in base.nameservers:
            base.nameservers.append((server, 53))
    for search in config.get("searches") or []:
        if search not in base.searches:
            base.searches.append(search)
    base.searches = base.searches[:MAX_SEARCH]
    for option in config.get("options") or []:
        name = option.get("name")
        if name:
            base.options = [o for o in base.options if o[0] != name] + [(name, option.get("value"))]
    return base


def write_resolv_conf(pod_dir: Path, text: str) -> str:
    """Write (atomically, and only when it changed) ``<pod_dir>/resolv.conf``; blocking: run it
    in a thread."""
    target = pod_dir / "resolv.conf"
    try:
        if target.read_text() == text:
            return str(target)
    except OSError:
        pod_dir.mkdir(parents=True, exist_ok=True)
    temporary = pod_dir / ".resolv.conf.tmp"
    temporary.write_text(text)
    os.replace(temporary, target)
    return str(target)
