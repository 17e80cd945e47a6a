"""The cluster PKI: what is generated, file modes, idempotence, and re-issue on expiry, on new
names and on a replaced CA; plus the JWT signer/verifier service account tokens use."""

from __future__ import annotations

import datetime
import os
import ssl
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from hyperkube.machinery import jwt, pki


def snapshot(directory) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in sorted(os.listdir(directory))}


def test_cluster_pki_has_every_identity_with_private_keys_0600(tmp_path):
    cluster = pki.ensure_cluster_pki(tmp_path / "pki", node_names=["n1"], node_ips=["10.1.2.3"],
                                     service_ip="127.64.0.1", extra_sans=["api.example.com", "192.0.2.7"])
    assert stat.S_IMODE(os.stat(cluster.directory).st_mode) == 0o700
    expected = {
        cluster.admin: ("kubernetes-admin", ["system:masters"]),
        cluster.scheduler: ("system:kube-scheduler", []),
        cluster.controller_manager: ("system:kube-controller-manager", []),
        cluster.proxy: ("system:kube-proxy", []),
        cluster.apiserver_kubelet_client: ("kube-apiserver-kubelet-client", ["system:masters"]),
        cluster.nodes["n1"].client: ("system:node:n1", ["system:nodes"]),
    }
    ca = pki.load_certificate(cluster.ca.cert)
    for pair, who in expected.items():
        cert = pki.load_certificate(pair.cert)
        assert pki.identity(cert) == who
        assert pki.issued_by(cert, ca)
        assert stat.S_IMODE(os.stat(pair.key).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(pair.cert).st_mode) == 0o644
    for key in (cluster.ca.key, cluster.apiserver.key, cluster.service_account.key, cluster.nodes["n1"].serving.key):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    dns, ips = pki.subject_alternative_names(pki.load_certificate(cluster.apiserver.cert))
    assert {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local", "api.example.com", "n1"} <= set(dns)
    assert {"127.0.0.1", "::1", "127.64.0.1", "10.1.2.3", "192.0.2.7"} <= set(ips)
    dns, ips = pki.subject_alternative_names(pki.load_certificate(cluster.nodes["n1"].serving.cert))
    assert "n1" in dns and "10.1.2.3" in ips
    assert not any(name.startswith(".") for name in os.listdir(cluster.directory))  # no temporary left


def test_the_generated_files_make_a_working_tls_pair(tmp_path):
    cluster = pki.ensure_cluster_pki(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cluster.apiserver.cert, cluster.apiserver.key)
    server.load_verify_locations(cluster.ca.cert)
    server.verify_mode = ssl.CERT_REQUIRED
    client = ssl.create_default_context(cafile=cluster.ca.cert)
    client.load_cert_chain(cluster.admin.cert, cluster.admin.key)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    back_in, back_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_side = client.wrap_bio(incoming, outgoing, server_hostname="kubernetes.default.svc")
    server_side = server.wrap_bio(back_in, back_out, server_side=True)
    for _ in range(10):  # pump the handshake between the two in-memory ends
        for side in (client_side, server_side):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
        back_in.write(outgoing.read())
        incoming.write(back_out.read())
    client_side.do_handshake()
    assert pki.identity(x509.load_der_x509_certificate(server_side.getpeercert(binary_form=True))) == \
        ("kubernetes-admin", ["system:masters"])


def test_a_second_call_changes_nothing(tmp_path):
    pki.ensure_cluster_pki(tmp_path, node_names=["n1"], service_ip="127.64.0.1")
    before = snapshot(tmp_path)
    pki.ensure_cluster_pki(tmp_path, node_names=["n1"], service_ip="127.64.0.1")
    assert snapshot(tmp_path) == before


def test_new_names_reissue_only_the_certificates_that_carry_them(tmp_path):
    cluster = pki.ensure_cluster_pki(tmp_path, node_names=["n1"])
    before = snapshot(tmp_path)
    pki.ensure_cluster_pki(tmp_path, node_names=["n1"], extra_sans=["203.0.113.9"])
    after = snapshot(tmp_path)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {"apiserver.crt", "apiserver.key"}
    assert pki.covers(pki.load_certificate(cluster.apiserver.cert), ip_addresses=["203.0.113.9"])
    # a caller asking for fewer names (the API server on its own) keeps what is there
    pki.ensure_cluster_pki(tmp_path, extra_sans=["api.example.com"])
    assert pki.covers(pki.load_certificate(cluster.apiserver.cert), ["n1", "api.example.com"], ["203.0.113.9"])
    settled = snapshot(tmp_path)
    pki.ensure_cluster_pki(tmp_path, node_names=["n1"], extra_sans=["203.0.113.9"])
    assert snapshot(tmp_path) == settled


def test_certificates_near_expiry_are_reissued(tmp_path):
    cluster = pki.ensure_cluster_pki(tmp_path)
    ca_cert, ca_key = pki.load_certificate(cluster.ca.cert), pki.load_private_key(cluster.ca.key)
    short, key = pki.issue_certificate(ca_cert, ca_key, common_name="kubernetes-admin",
                                       organizations=["system:masters"], client=True, days=10)
    pki.write_certificate(cluster.admin.cert, short)
    pki.write_private_key(cluster.admin.key, key)
    assert pki.needs_rotation(short)
    assert not pki.needs_rotation(short, before=datetime.timedelta(days=5))
    pki.ensure_cluster_pki(tmp_path)
    renewed = pki.load_certificate(cluster.admin.cert)
    assert renewed.serial_number != short.serial_number
    assert not pki.needs_rotation(renewed)
    assert pki.identity(renewed) == ("kubernetes-admin", ["system:masters"])


def test_a_replaced_ca_reissues_every_leaf_but_keeps_the_service_account_key(tmp_path):
    cluster = pki.ensure_cluster_pki(tmp_path)
    before = snapshot(tmp_path)
    os.unlink(cluster.ca.key)
    pki.ensure_cluster_pki(tmp_path)
    after = snapshot(tmp_path)
    assert after["sa.key"] == before["sa.key"]
    ca = pki.load_certificate(cluster.ca.cert)
    for name in after:
        if name.endswith(".crt"):
            assert after[name] != before[name], name
            assert name == "ca.crt" or pki.issued_by(pki.load_certificate(tmp_path / name), ca)


def test_a_foreign_certificate_is_not_issued_by_the_ca(tmp_path):
    ours = pki.ensure_cluster_pki(tmp_path / "a")
    theirs = pki.ensure_cluster_pki(tmp_path / "b")
    assert not pki.issued_by(pki.load_certificate(theirs.admin.cert), pki.load_certificate(ours.ca.cert))


def test_public_keys_load_from_public_private_and_certificate_pems(tmp_path):
    key = pki.generate_key()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca, _ = pki.create_ca(key=key)
    pki.write_file(tmp_path / "bundle.pem", pki.public_key_pem(rsa_key.public_key()) + pki.certificate_pem(ca))
    pki.write_private_key(tmp_path / "private.pem", rsa_key)
    bundle = pki.load_public_keys(tmp_path / "bundle.pem")
    assert [jwt.key_id(k) for k in bundle] == [jwt.key_id(rsa_key), jwt.key_id(key)]
    assert [jwt.key_id(k) for k in pki.load_public_keys(tmp_path / "private.pem")] == [jwt.key_id(rsa_key)]
    (tmp_path / "empty.pem").write_text("nothing")
    with pytest.raises(ValueError):
        pki.load_public_keys(tmp_path / "empty.pem")


def test_split_sans():
    assert pki.split_sans(["a.example", "10.0.0.1", " ", "a.example", "::1"]) == (["a.example"], ["10.0.0.1", "::1"])


# -- jwt -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("make_key", [pki.generate_key,
                                      lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)])
def test_jwt_round_trip(make_key):
    key = make_key()
    token = jwt.sign({"sub": "me", "n": 1}, key)
    header, claims = jwt.unverified_parts(token)
    assert header == {"alg": jwt.algorithm(key), "kid": jwt.key_id(key)}
    assert jwt.verify(token, [pki.generate_key().public_key(), key.public_key()]) == {"sub": "me", "n": 1}


def test_jwt_forgeries_fail():
    key = pki.generate_key()
    token = jwt.sign({"sub": "me"}, key)
    head, claims, signature = token.split(".")
    other = jwt.sign({"sub": "admin"}, pki.generate_key())
    admin, none, hmac = (jwt.b64url(text.encode()) for text in ('{"sub":"admin"}', '{"alg":"none"}',
                                                                 '{"alg":"HS256"}'))
    tampered = f"{head}.{admin}.{signature}"
    unsigned = f"{none}.{claims}."
    hs256 = f"{hmac}.{claims}.{signature}"
    for forged in (other, tampered, unsigned, hs256, "not.a.jwt", token + "x"):
        with pytest.raises(jwt.InvalidToken):
            jwt.verify(forged, [key.public_key()])
