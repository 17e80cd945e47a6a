"""Kubeconfigs with embedded credentials for a cluster's PKI (``hyperkube.machinery.pki``).

:func:`write_cluster_kubeconfigs` writes one kubeconfig per identity of a
:class:`~hyperkube.machinery.pki.ClusterPKI` into its directory, each with the CA, the client
certificate and key embedded (mode 0600, replaced atomically by ``client.write_kubeconfig``):
``admin.kubeconfig`` (kubernetes-admin, system:masters), ``kube-scheduler.kubeconfig``,
``kube-controller-manager.kubeconfig``, ``kube-proxy.kubeconfig`` and
``kubelet-<node>.kubeconfig`` for every node. Synchronous file work: call it in a thread from
an event loop. Kubeconfigs live in the CLI layer because only it may join machinery (the PKI)
and client (the kubeconfig format).
"""

from __future__ import annotations

import os
from pathlib import Path

from hyperkube.client import write_kubeconfig
from hyperkube.machinery.pki import CertKey, ClusterPKI


def write_identity_kubeconfig(path: str | os.PathLike[str], server: str, ca_file: str, identity: CertKey, *,
                              name: str = "hyperkube", namespace: str = "default") -> Path:
    """A kubeconfig for ``server`` that trusts ``ca_file`` and presents ``identity``."""
    cert, key = identity.read()
    return write_kubeconfig(path, server, name=name, namespace=namespace, ca_data=Path(ca_file).read_bytes(),
                            cert_data=cert, key_data=key)


def write_cluster_kubeconfigs(cluster: ClusterPKI, server: str, directory: str | os.PathLike[str] | None = None,
                              *, name: str = "hyperkube") -> dict[str, Path]:
    """Every component's kubeconfig; returns {"admin": path, "kube-scheduler": path, ...,
    "kubelet-<node>": path}."""
    where = Path(directory or cluster.directory)
    identities = {"admin": cluster.admin, "kube-scheduler": cluster.scheduler,
                  "kube-controller-manager": cluster.controller_manager, "kube-proxy": cluster.proxy}
    identities.update({f"kubelet-{node}": pair.client for node, pair in cluster.nodes.items()})
    return {who: write_identity_kubeconfig(where / f"{who}.kubeconfig", server, cluster.ca.cert, pair, name=name)
            for who, pair in identities.items()}
