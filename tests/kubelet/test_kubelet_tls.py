"""The kubelet's HTTPS server: client certificates and bearer tokens authenticate callers, and the
API server's SubjectAccessReview decides what they may do (nodes/proxy, nodes/stats, ...);
anonymous callers and certificates of another CA are refused."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest

from hyperkube.apiserver.app import APIServer, APIServerConfig
from hyperkube.client import Client, Config
from hyperkube.kubelet.auth import KubeletAuthConfig
from hyperkube.kubelet.kubelet import Kubelet, KubeletConfig
from hyperkube.machinery import pki


def _context(ca: str, cert: tuple[bytes, bytes] | None, tmp: Path, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca)
    if cert is not None:
        (tmp / f"{name}.pem").write_bytes(cert[0] + cert[1])
        context.load_cert_chain(str(tmp / f"{name}.pem"))
    return context


def _pem(pair: tuple) -> tuple[bytes, bytes]:
    return pki.certificate_pem(pair[0]), pki.private_key_pem(pair[1])


async def test_kubelet_authenticates_and_asks_the_api_server(tmp_path) -> None:
    server = APIServer(APIServerConfig(port=None, secure_port=0, data_dir=str(tmp_path / "api"),
                                       authorization_mode="Node,RBAC"))
    await server.start()
    cluster = server.serving.cluster
    node = pki.ensure_node_pki(cluster.directory, "tls-node", ["127.0.0.1"])
    ca_cert, ca_key = pki.load_certificate(cluster.ca.cert), pki.load_private_key(cluster.ca.key)
    ca_pem = pki.certificate_pem(ca_cert)
    cert, key = node.client.read()
    client = Client(Config(server=server.secure_url, ca_data=ca_pem, cert_data=cert, key_data=key))
    admin_cert, admin_key = cluster.admin.read()
    admin = Client(Config(server=server.secure_url, ca_data=ca_pem, cert_data=admin_cert, key_data=admin_key))
    kubelet = Kubelet(client, KubeletConfig(
        node_name="tls-node", root_dir=str(tmp_path / "kubelet"), port=0, runtime="fake",
        auth=KubeletAuthConfig(tls_cert_file=node.serving.cert, tls_private_key_file=node.serving.key,
                               client_ca_file=cluster.ca.cert)))
    await kubelet.start()
    url = f"https://127.0.0.1:{kubelet.server.port}"
    try:
        async with aiohttp.ClientSession() as http:
            async def get(path: str, context: ssl.SSLContext, token: str | None = None) -> tuple[int, str]:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with http.get(url + path, ssl=context, headers=headers) as response:
                    return response.status, await response.text()

            anonymous = _context(cluster.ca.cert, None, tmp_path, "anonymous")
            assert (await get("/pods", anonymous))[0] == 401
            assert (await get("/exec/default/x/c?command=sh", anonymous))[0] == 401
            masters = _context(cluster.ca.cert, (admin_cert, admin_key), tmp_path, "admin")
            status, body = await get("/pods", masters)
            assert status == 200 and '"PodList"' in body
            eve = _context(cluster.ca.cert, _pem(pki.client_certificate(ca_cert, ca_key, "eve")), tmp_path, "eve")
            status, body = await get("/pods", eve)
            assert status == 403
            assert "Forbidden (user=eve, verb=get, resource=nodes, subresource=proxy)" in body
            foreign_ca, foreign_key = pki.create_ca("elsewhere")
            foreign = _context(cluster.ca.cert, _pem(pki.client_certificate(foreign_ca, foreign_key, "admin",
                                                                            ["system:masters"])), tmp_path, "foreign")
            with pytest.raises(aiohttp.ClientError):
                await get("/pods", foreign)

            # a service account token, checked by TokenReview, allowed stats but not proxy by RBAC
            await admin.create("v1/serviceaccounts", {"metadata": {"name": "scraper"}}, namespace="default")
            await admin.create("rbac.authorization.k8s.io/v1/clusterroles", {
                "metadata": {"name": "stats-reader"},
                "rules": [{"apiGroups": [""], "resources": ["nodes/stats"], "verbs": ["get"]}]})
            await admin.create("rbac.authorization.k8s.io/v1/clusterrolebindings", {
                "metadata": {"name": "scraper-stats"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "stats-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "scraper", "namespace": "default"}]})
            issued = await admin.request("POST", "/api/v1/namespaces/default/serviceaccounts/scraper/token",
                                         json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                               "spec": {}})
            token = issued["status"]["token"]
            assert (await get("/stats/summary", anonymous, token))[0] == 200
            status, body = await get("/pods", anonymous, token)
            assert status == 403 and "user=system:serviceaccount:default:scraper" in body
            assert (await get("/pods", anonymous, "not-a-token"))[0] == 401
    finally:
        await kubelet.stop()
        await client.close()
        await admin.close()
        await server.stop()
