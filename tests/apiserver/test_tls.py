"""The secure port: HTTPS with the generated CA or the user's own certificates, client
certificates as identities, the plain port only when asked, and TLS to kubelets."""

from __future__ import annotations

import asyncio
import os
import ssl
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from hyperkube.machinery import pki
from tests.apiserver import _kubelet, _secure
from tests.apiserver._secure import client_context, https_client, secure_server, whoami
from tests.apiserver._server import pod

secure, admin = _secure.secure, _secure.admin  # fixtures


async def test_https_with_the_generated_ca_and_a_client_certificate(secure, admin):
    status, body = await admin.get("/api/v1/namespaces/default")
    assert status == 200 and body["metadata"]["name"] == "default"
    assert await whoami(admin) == (201, {"username": "kubernetes-admin",
                                         "groups": ["system:masters", "system:authenticated"]})
    assert secure.secure_url.startswith("https://127.0.0.1:")
    assert secure.url == secure.secure_url  # no plain port
    cluster = secure.serving.cluster
    assert cluster.directory == os.path.join(secure.config.data_dir, "pki")
    # the kubernetes Service points at the secure port
    status, service = await admin.get("/api/v1/namespaces/default/services/kubernetes")
    assert service["spec"]["ports"][0]["targetPort"] == secure.secure_port


async def test_every_component_certificate_names_its_user(secure):
    cluster = secure.serving.cluster
    for pair, user, groups in ((cluster.scheduler, "system:kube-scheduler", []),
                               (cluster.controller_manager, "system:kube-controller-manager", []),
                               (cluster.proxy, "system:kube-proxy", [])):
        async with https_client(secure, pair) as client:
            assert await whoami(client) == (201, {"username": user, "groups": [*groups, "system:authenticated"]})


async def test_no_credentials_is_anonymous(secure):
    async with https_client(secure) as client:
        assert await whoami(client) == (201, {"username": "system:anonymous", "groups": ["system:unauthenticated"]})


async def test_a_certificate_from_another_ca_is_refused(secure, tmp_path):
    other = pki.ensure_cluster_pki(tmp_path / "other")
    context = client_context(secure.serving.cluster.ca.cert, other.admin)
    with pytest.raises(aiohttp.ClientError):
        async with https_client(secure, context=context) as client:
            await client.get("/api/v1/namespaces")


async def test_an_untrusting_client_refuses_the_server(secure, tmp_path):
    other = pki.ensure_cluster_pki(tmp_path / "other")
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        async with https_client(secure, context=client_context(other.ca.cert)) as client:
            await client.get("/version")


async def test_the_server_certificate_carries_the_in_cluster_names(secure):
    cert = pki.load_certificate(secure.serving.cert_file)
    dns, ips = pki.subject_alternative_names(cert)
    assert "kubernetes.default.svc.cluster.local" in dns and "127.64.0.1" in ips and "127.0.0.1" in ips


async def test_a_restart_keeps_the_pki_and_plain_http_serves_only_when_asked(tmp_path):
    async with secure_server(tmp_path, port=0) as first:
        assert first.url.startswith("http://127.0.0.1:") and first.port != first.secure_port
        async with aiohttp.ClientSession() as session, session.get(first.url + "/version") as response:
            assert response.status == 200
        ca = await asyncio.to_thread(Path(first.serving.cluster.ca.cert).read_bytes)
    async with secure_server(tmp_path) as second:
        assert await asyncio.to_thread(Path(second.serving.cluster.ca.cert).read_bytes) == ca
        async with https_client(second, second.serving.cluster.admin) as client:
            assert (await client.get("/api/v1/namespaces/default"))[0] == 200


async def test_the_users_own_certificates(tmp_path):
    mine = pki.ensure_cluster_pki(tmp_path / "mine")
    async with secure_server(tmp_path, tls_cert_file=mine.apiserver.cert, tls_private_key_file=mine.apiserver.key,
                             client_ca_file=mine.ca.cert) as server:
        assert server.serving.cluster is None
        assert not await asyncio.to_thread((tmp_path / "pki").exists)
        async with https_client(server, mine.admin) as client:
            assert (await whoami(client))[1]["username"] == "kubernetes-admin"


async def test_without_a_client_ca_no_certificate_is_asked_for(tmp_path):
    mine = pki.ensure_cluster_pki(tmp_path / "mine")
    async with secure_server(tmp_path, tls_cert_file=mine.apiserver.cert,
                             tls_private_key_file=mine.apiserver.key) as server:
        async with https_client(server, context=client_context(mine.ca.cert, mine.admin)) as client:
            assert (await whoami(client))[1]["username"] == "system:anonymous"


# -- the API server calling a kubelet over TLS ----------------------------------------------------


@pytest.fixture
async def tls_kubelet(tmp_path):
    """The fake kubelet on HTTPS with a serving certificate of the cluster CA, requiring a
    client certificate of that CA; it records who called."""
    cluster = pki.ensure_cluster_pki(tmp_path / "cluster", node_names=["n1"], node_ips=["127.0.0.1"])
    callers: list[tuple[str, list[str]]] = []

    @web.middleware
    async def record(request, handler):
        der = request.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
        from cryptography import x509

        callers.append(pki.identity(x509.load_der_x509_certificate(der)))
        return await handler(request)

    application = _kubelet.app()
    application.middlewares.append(record)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cluster.nodes["n1"].serving.cert, cluster.nodes["n1"].serving.key)
    context.load_verify_locations(cluster.ca.cert)
    context.verify_mode = ssl.CERT_REQUIRED
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    try:
        yield cluster, site._server.sockets[0].getsockname()[1], callers
    finally:
        await runner.cleanup()


async def _pod_on_node(client, port: int) -> None:
    status, out = await client.post("/api/v1/nodes", _kubelet.node("n1", port))
    assert status == 201, out
    body = pod("web")
    body["spec"]["nodeName"] = "n1"
    status, out = await client.post("/api/v1/namespaces/default/pods", body)
    assert status == 201, out


async def test_logs_come_from_a_tls_kubelet_with_the_kubelet_client_certificate(tmp_path, tls_kubelet):
    cluster, port, callers = tls_kubelet
    async with secure_server(tmp_path / "api", port=0, kubelet_client_certificate=cluster.apiserver_kubelet_client.cert,
                             kubelet_client_key=cluster.apiserver_kubelet_client.key,
                             kubelet_certificate_authority=cluster.ca.cert) as server:
        async with aiohttp.ClientSession() as session:
            from tests.apiserver._server import Client

            client = Client(session, server.url)
            await _pod_on_node(client, port)
            status, text = await client.get("/api/v1/namespaces/default/pods/web/log")
            assert status == 200 and text.startswith("log of default/web/c")
            status, text = await client.get("/api/v1/nodes/n1/proxy/healthz")
            assert status == 200 and text == "ok"
            # another port of the node is reached without the kubelet client certificate: the
            # TLS kubelet's port named explicitly as "other" gets a plain request and no identity
            plain = _kubelet.app()
            runner = web.AppRunner(plain)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            try:
                other = site._server.sockets[0].getsockname()[1]
                status, text = await client.get(f"/api/v1/nodes/n1:{other}/proxy/healthz")
                assert status == 200 and text == "ok"  # plain http: no certificate could be sent
            finally:
                await runner.cleanup()
    assert callers == [("kube-apiserver-kubelet-client", ["system:masters"])] * 2


async def test_a_kubelet_certificate_from_another_ca_is_not_trusted(tmp_path, tls_kubelet):
    cluster, port, callers = tls_kubelet
    other = pki.ensure_cluster_pki(tmp_path / "other")
    async with secure_server(tmp_path / "api", port=0, kubelet_client_certificate=cluster.apiserver_kubelet_client.cert,
                             kubelet_client_key=cluster.apiserver_kubelet_client.key,
                             kubelet_certificate_authority=other.ca.cert) as server:
        async with aiohttp.ClientSession() as session:
            from tests.apiserver._server import Client

            client = Client(session, server.url)
            await _pod_on_node(client, port)
            status, body = await client.get("/api/v1/namespaces/default/pods/web/log")
            assert status == 503 and "certificate verify failed" in body["message"]
    assert callers == []
