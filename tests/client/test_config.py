"""kubeconfig merging as kubectl does it, in-cluster config, and real TLS with client certificates."""

from __future__ import annotations

import base64
import ssl
import subprocess
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from hyperkube.client import (
    Client,
    ConfigError,
    KubeConfig,
    RetryPolicy,
    TransportError,
    in_cluster_config,
    load_config,
    load_kubeconfig,
    write_kubeconfig,
)


def write(path: Path, clusters=(), users=(), contexts=(), current: str | None = None) -> Path:
    document = {"apiVersion": "v1", "kind": "Config",
                "clusters": [{"name": n, "cluster": c} for n, c in clusters],
                "users": [{"name": n, "user": u} for n, u in users],
                "contexts": [{"name": n, "context": c} for n, c in contexts]}
    if current:
        document["current-context"] = current
    path.write_text(yaml.safe_dump(document))
    return path


def test_kubeconfig_env_merges_first_definition_wins(tmp_path):
    first = write(tmp_path / "a", clusters=[("dev", {"server": "http://127.0.0.1:1"})],
                  contexts=[("dev", {"cluster": "dev", "user": "dev", "namespace": "team"})])
    second = write(tmp_path / "b", clusters=[("dev", {"server": "http://ignored:2"}),
                                             ("prod", {"server": "https://prod:6443"})],
                   users=[("dev", {"token": "t0k"})],
                   contexts=[("dev", {"cluster": "prod"}), ("prod", {"cluster": "prod", "user": "dev"})],
                   current="dev")
    env = {"KUBECONFIG": f"{first}:{tmp_path / 'missing'}:{second}", "HOME": str(tmp_path)}
    merged = KubeConfig.load(env=env)
    assert merged.current_context == "dev"  # set only by the second file
    assert merged.origins[("clusters", "prod")] == str(second)
    config = merged.to_config()
    assert (config.server, config.namespace, config.token) == ("http://127.0.0.1:1", "team", "t0k")
    prod = load_kubeconfig(context="prod", env=env, namespace="ops")
    assert (prod.server, prod.namespace) == ("https://prod:6443", "ops")
    with pytest.raises(ConfigError, match='context "nope" does not exist'):
        load_kubeconfig(context="nope", env=env)


def test_explicit_kubeconfig_and_flag_overrides(tmp_path):
    (tmp_path / "certs").mkdir()
    path = write(tmp_path / "config", clusters=[("c", {"server": "https://h:6443",
                                                       "certificate-authority": "certs/ca.crt"})],
                 users=[("u", {"client-certificate-data": base64.b64encode(b"CERT").decode(),
                               "client-key": "certs/key.pem", "tokenFile": "/abs/token"})],
                 contexts=[("ctx", {"cluster": "c", "user": "u"})], current="ctx")
    env = {"KUBECONFIG": str(tmp_path / "other"), "HOME": str(tmp_path)}
    config = load_kubeconfig(path, env=env)
    assert config.ca_file == str(tmp_path / "certs" / "ca.crt")  # relative to the file
    assert config.key_file == str(tmp_path / "certs" / "key.pem")
    assert config.cert_data == b"CERT" and config.token_file == "/abs/token"
    assert config.namespace == "default" and config.context == "ctx"
    flagged = load_kubeconfig(path, env=env, server="https://other:1", token="flag",
                              insecure_skip_tls_verify=True)
    assert (flagged.server, flagged.bearer_token(), flagged.insecure_skip_tls_verify) == (
        "https://other:1", "flag", True)
    with pytest.raises(ConfigError, match="no such file"):
        load_kubeconfig(tmp_path / "absent", env=env)
    with pytest.raises(ConfigError, match="no configuration has been provided"):
        load_kubeconfig(env={"HOME": str(tmp_path / "nohome")})


def test_in_cluster_config(tmp_path):
    (tmp_path / "token").write_text("sa-token-1\n")
    (tmp_path / "namespace").write_text("kube-system")
    (tmp_path / "ca.crt").write_text("CA")
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    config = in_cluster_config(env=env, service_account_dir=tmp_path)
    assert config.server == "https://[fd00::1]:443"
    assert (config.namespace, config.ca_file) == ("kube-system", str(tmp_path / "ca.crt"))
    assert config.bearer_token() == "sa-token-1"
    (tmp_path / "token").write_text("sa-token-2")  # the kubelet rotated it
    assert config.bearer_token() == "sa-token-1"  # cached for up to a minute
    config._token_cache = (config._token_cache[0], config._token_cache[1] - 61)
    assert config.bearer_token() == "sa-token-2"
    with pytest.raises(ConfigError, match="KUBERNETES_SERVICE_HOST"):
        in_cluster_config(env={}, service_account_dir=tmp_path)
    # a component with no kubeconfig inside a pod uses the service account
    assert load_config(env={**env, "HOME": str(tmp_path)}, service_account_dir=tmp_path).server == "https://[fd00::1]:443"


# -- TLS ------------------------------------------------------------------------------------------


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "1", "-subj", "/CN=test-ca", cwd=d)
    for name, subject, ext in (("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"),
                               ("client", "/CN=alice/O=devs", "extendedKeyUsage=clientAuth")):
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", subject, cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.crt", "-days", "1", "-extfile", f"{name}.ext", cwd=d)
    return d


@pytest.fixture
async def tls_server(pki):
    """An https app that requires a client certificate and echoes who the caller is."""

    async def whoami(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        subject = dict(x[0] for x in peer["subject"]) if peer else {}
        return web.json_response({"kind": "Status", "cn": subject.get("commonName"),
                                  "auth": request.headers.get("Authorization")})

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "server.crt"), str(pki / "server.key"))
    context.verify_mode = ssl.CERT_OPTIONAL
    app = web.Application()
    app.router.add_get("/whoami", whoami)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    yield f"https://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_tls_with_ca_data_and_client_certificate_data(pki, tls_server, tmp_path):
    b64 = lambda name: base64.b64encode((pki / name).read_bytes()).decode()  # noqa: E731
    path = write(tmp_path / "config", clusters=[("c", {"server": tls_server, "certificate-authority-data": b64("ca.crt")})],
                 users=[("u", {"client-certificate-data": b64("client.crt"), "client-key-data": b64("client.key")})],
                 contexts=[("x", {"cluster": "c", "user": "u"})], current="x")
    async with Client(load_kubeconfig(path, env={})) as client:
        assert (await client.request("GET", "/whoami"))["cn"] == "alice"


async def test_tls_with_files_token_and_insecure(pki, tls_server, tmp_path):
    config = load_kubeconfig(write(
        tmp_path / "config", clusters=[("c", {"server": tls_server, "certificate-authority": str(pki / "ca.crt")})],
        users=[("u", {"client-certificate": str(pki / "client.crt"), "client-key": str(pki / "client.key"),
                      "token": "abc"})],
        contexts=[("x", {"cluster": "c", "user": "u"})], current="x"), env={})
    async with Client(config) as client:
        answer = await client.request("GET", "/whoami")
        assert (answer["cn"], answer["auth"]) == ("alice", "Bearer abc")
    unverified = config.with_overrides(ca_file="", cert_file="", key_file="")
    unverified.ca_file = unverified.cert_file = unverified.key_file = None
    async with Client(unverified, retry=RetryPolicy(max_retries=0)) as client:
        with pytest.raises(TransportError):  # the test CA is not trusted by default
            await client.request("GET", "/whoami")
    unverified.insecure_skip_tls_verify = True
    async with Client(unverified) as client:
        assert (await client.request("GET", "/whoami"))["cn"] is None


def test_written_kubeconfig_loads_back(tmp_path):
    path = write_kubeconfig(tmp_path / "kube" / "config", "https://127.0.0.1:6443", token="admin-token",
                            ca_data=b"PEM", namespace="kube-system")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    config = load_kubeconfig(env={"KUBECONFIG": str(path)})
    assert (config.server, config.token, config.ca_data, config.namespace, config.context) == (
        "https://127.0.0.1:6443", "admin-token", b"PEM", "kube-system", "hyperkube")
