"""The API server's TLS: its serving certificate, the client CA, and its client to kubelets.

:func:`serving` (synchronous: run it in a thread) decides what the secure port presents:

- ``--tls-cert-file``/``--tls-private-key-file`` when given;
- otherwise the cluster PKI in ``--cert-dir`` (default ``<data-dir>/pki``), made on first start
  and renewed when expiring or missing a name (``hyperkube.machinery.pki.ensure_cluster_pki``):
  the CA, this server's certificate (localhost, loopback, the ``kubernetes`` Service IP and
  names, the bind address, the host name), client certificates for the admin and every
  component, and the service account key pair.

Client certificates are requested, not required (CERT_OPTIONAL), and verified against
``--client-ca-file``, else the generated CA; with neither (the user's own serving certificate
and no client CA) none are asked for. Without ``--service-account-signing-key-file`` the
generated ``sa.key`` signs tokens. The returned config has those generated paths filled in,
so authentication reads one set of flags whatever their origin.

:func:`kubelet_client`: https with the ``--kubelet-client-certificate``/``--kubelet-client-key``
when either is set, or ``--kubelet-certificate-authority`` is (then the kubelet's serving
certificate is verified against it; without it, as in Kubernetes, it is not verified);
plain http otherwise (kubelets that serve no TLS).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from typing import Any

from hyperkube.apiserver.proxy import KubeletClient
from hyperkube.machinery import pki

UNSPECIFIED = ("", "0.0.0.0", "::")


@dataclass
class Serving:
    context: ssl.SSLContext
    cert_file: str
    key_file: str
    client_ca_file: str
    cluster: pki.ClusterPKI | None  # the generated PKI, when the server made its own


def first_service_ip(cluster_ip_range: str) -> str:
    network = ipaddress.ip_network(cluster_ip_range, strict=False)
    return str(network[1]) if network.num_addresses > 2 else str(network[0])


def server_context(cert_file: str, key_file: str, client_ca_file: str = "") -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file:
        context.load_verify_locations(client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def serving(config: Any) -> tuple[Any, Serving]:
    """(config with generated paths filled in, what the secure port serves)."""
    cluster = None
    if config.tls_cert_file or config.tls_private_key_file:
        if not (config.tls_cert_file and config.tls_private_key_file):
            raise ValueError("--tls-cert-file and --tls-private-key-file go together")
        cert_file, key_file = config.tls_cert_file, config.tls_private_key_file
    else:
        directory = config.cert_dir or os.path.join(config.data_dir, "pki")
        node_ips = [] if config.bind_address in UNSPECIFIED else [config.bind_address]
        cluster = pki.ensure_cluster_pki(directory, node_ips=node_ips,
                                         service_ip=first_service_ip(config.service_cluster_ip_range),
                                         extra_sans=[socket.gethostname()])
        cert_file, key_file = cluster.apiserver.cert, cluster.apiserver.key
    client_ca = config.client_ca_file or (cluster.ca.cert if cluster else "")
    changes: dict[str, Any] = {"client_ca_file": client_ca}
    if cluster is not None and not config.service_account_signing_key_file:
        changes["service_account_signing_key_file"] = cluster.service_account.key
        changes["service_account_key_files"] = [*config.service_account_key_files, cluster.service_account.cert]
    context = server_context(cert_file, key_file, client_ca)
    return dataclasses.replace(config, **changes), Serving(context, cert_file, key_file, client_ca, cluster)


def kubelet_client(config: Any) -> KubeletClient:
    """How this API server calls kubelets (synchronous: reads files)."""
    cert, key, authority = (config.kubelet_client_certificate, config.kubelet_client_key,
                            config.kubelet_certificate_authority)
    if not (cert or key or authority):
        return KubeletClient()
    if bool(cert) != bool(key):
        raise ValueError("--kubelet-client-certificate and --kubelet-client-key go together")
    if authority:
        context = ssl.create_default_context(cafile=authority)
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(cert, key)
    return KubeletClient("https", context)
