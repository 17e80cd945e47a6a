"""Who is who in ``hyperkube up``: the cluster PKI in ``<data-dir>/pki`` and one client identity
per component.

:func:`ensure_up_pki` (synchronous file and CPU work: run it in a thread) calls
:func:`hyperkube.machinery.pki.ensure_cluster_pki` with every process node's name and IP and
the ``kubernetes`` Service IP, which gives the CA, the API server's serving certificate and its
client towards kubelets, the admin, scheduler, controller-manager and proxy identities, and a
client and a serving certificate per node. ``up`` adds three client certificates of its own,
signed by the same CA:

=====================  =====================================  ===========================================
file                   subject (CN / O)                       what it may do (bootstrap policy)
=====================  =====================================  ===========================================
``kube-dns``           ``system:kube-dns``                    ClusterRole ``system:kube-dns``: list and
                                                              watch Services, Endpoints, EndpointSlices
``addon-manager``      ``system:hyperkube:addon-manager`` /   everything (``system:masters``): it applies
                       ``system:masters``                     whatever manifests the add-ons dir holds, as
                                                              Kubernetes' addon manager runs as admin; up
                                                              also publishes the kube-dns Service with it
``hollow-nodes``       ``system:hyperkube:hollow-nodes``      ClusterRole ``system:node`` through the
                                                              binding :data:`HOLLOW_BINDING`
=====================  =====================================  ===========================================

The hollow nodes share one identity because they share one client (one connection pool and
one pod watch for all of them is what keeps a hundred fake kubelets within the RSS budget). A
``system:node:<name>`` certificate would be refused by the Node authorizer for every node but
its own, so the shared user is no node user at all (and not in ``system:nodes``, which node
admission would treat as a node without a name): it is bound to the ``system:node`` ClusterRole,
the static kubelet rules, for every node, which is what Kubernetes granted all kubelets before
the Node authorizer existed. Fake kubelets run nothing, so nothing in them can abuse it.

A restart on the same data dir finds every file in place and reuses it (a new node name or
IP re-issues only what must now cover it; see the pki module).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from hyperkube.machinery import pki
from hyperkube.machinery.pki import CertKey, ClusterPKI

DNS_USER = ("system:kube-dns", ())
ADDON_MANAGER_USER = ("system:hyperkube:addon-manager", ("system:masters",))
HOLLOW_USER = ("system:hyperkube:hollow-nodes", ())
RBAC_GROUP = "rbac.authorization.k8s.io"
HOLLOW_BINDING: dict[str, Any] = {
    "apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding",
    "metadata": {"name": "hyperkube:hollow-nodes", "labels": {"app.kubernetes.io/managed-by": "hyperkube-up"}},
    "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "system:node"},
    "subjects": [{"kind": "User", "apiGroup": RBAC_GROUP, "name": HOLLOW_USER[0]}],
}


@dataclass(frozen=True)
class UpPKI:
    cluster: ClusterPKI
    dns: CertKey
    addon_manager: CertKey
    hollow: CertKey

    @property
    def ca_file(self) -> str:
        return self.cluster.ca.cert


def node_ip(index: int) -> str:
    """The IP of process node ``index`` (0: the first node): 127.0.0.1, 127.0.0.2, ..."""
    return f"127.0.0.{index + 1}"


def ensure_up_pki(directory: str | os.PathLike[str], node_names: list[str], service_ip: str) -> UpPKI:
    """Every certificate ``up`` needs in ``directory``: made on the first start, reused after."""
    ips = [node_ip(i) for i in range(len(node_names))]
    cluster = pki.ensure_cluster_pki(directory, node_names=node_names, node_ips=ips, service_ip=service_ip,
                                     extra_sans=[socket.gethostname()])
    _paths, ca_cert, ca_key = pki.ensure_ca(directory)

    def client(name: str, who: tuple[str, tuple[str, ...]]) -> CertKey:
        return pki.ensure_certificate(directory, name, ca_cert, ca_key, common_name=who[0], organizations=who[1],
                                      client=True)

    return UpPKI(cluster, dns=client("kube-dns", DNS_USER), addon_manager=client("addon-manager", ADDON_MANAGER_USER),
                 hollow=client("hollow-nodes", HOLLOW_USER))
