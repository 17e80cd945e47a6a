"""The cluster's certificates: one CA, serving and client certificates, the service account key.

Everything here is synchronous file and CPU work: from an event loop call it through
``asyncio.to_thread``. Nothing imports the rest of hyperkube.

**Keys are ECDSA P-256.** Generating one takes well under a millisecond (an RSA-2048 key takes
tens to hundreds), so a first start that issues a dozen certificates is instant; the
certificates are a third of the size; Go's crypto/tls (kubectl, client-go), Python's ssl and
OpenSSL all accept them, and k3s uses the same choice. The service account key is P-256 too
(JWTs signed ES256); verification also accepts RS256 keys a user brings.

**Identity in certificates** is Kubernetes': the subject's CommonName is the user name and each
Organization a group, e.g. ``CN=system:node:n1, O=system:nodes``.

**Files**: ``<name>.crt`` (mode 0644) and ``<name>.key`` (mode 0600), each replaced atomically
(write a temporary file, fsync, rename), so a reader never sees half a PEM and a key is never
readable by others, not even for an instant.

**Idempotent and self-healing**: :func:`ensure_cluster_pki` (and the smaller
:func:`ensure_ca`, :func:`ensure_certificate`, :func:`ensure_service_account_key`,
:func:`ensure_node_pki`) keep what is on disk when it is still good and re-issue a certificate
that is missing, unreadable, expiring within :data:`ROTATE_BEFORE` (30 days), not signed by
the current CA, or whose names no longer cover what is asked (a new node IP, a new SAN).
Layout of a cluster directory (``ClusterPKI`` holds the paths)::

    ca.crt ca.key                       the cluster CA (10 years); bring your own by putting them here
    apiserver.crt/.key                  serving: localhost, 127.0.0.1, kubernetes.default.svc..., the
                                        service IP, node names/IPs and extra SANs
    apiserver-kubelet-client.crt/.key   CN=kube-apiserver-kubelet-client, O=system:masters
    admin.crt/.key                      CN=kubernetes-admin, O=system:masters
    kube-scheduler, kube-controller-manager, kube-proxy .crt/.key
    kubelet-<node>-client.crt/.key      CN=system:node:<node>, O=system:nodes
    kubelet-<node>-serving.crt/.key     serving: <node>, its IPs, localhost, 127.0.0.1
    sa.key sa.pub                       the service account token signing key pair
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

CA_DAYS = 3650
LEAF_DAYS = 365
ROTATE_BEFORE = datetime.timedelta(days=30)
#: the names every API server certificate carries (the in-cluster names of the kubernetes Service)
APISERVER_DNS = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster", "kubernetes.default.svc.cluster.local")
LOOPBACK_IPS = ("127.0.0.1", "::1")

ADMIN = ("kubernetes-admin", ("system:masters",))
SCHEDULER = ("system:kube-scheduler", ())
CONTROLLER_MANAGER = ("system:kube-controller-manager", ())
PROXY = ("system:kube-proxy", ())
APISERVER_KUBELET_CLIENT = ("kube-apiserver-kubelet-client", ("system:masters",))
NODES_GROUP = "system:nodes"


def node_user(node_name: str) -> str:
    return f"system:node:{node_name}"


# -- keys and certificates -----------------------------------------------------------------------


def generate_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def create_ca(common_name: str = "hyperkube-ca", *, days: int = CA_DAYS,
              key: PrivateKey | None = None) -> tuple[x509.Certificate, PrivateKey]:
    """A self-signed CA certificate and its key."""
    key = key or generate_key()
    now = _now()
    subject = _name(common_name)
    public = key.public_key()
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def split_sans(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) of a mixed list such as ``--tls-san`` values; duplicates dropped."""
    dns: list[str] = []
    ips: list[str] = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        try:
            text = str(ipaddress.ip_address(name))
        except ValueError:
            if name not in dns:
                dns.append(name)
        else:
            if text not in ips:
                ips.append(text)
    return dns, ips


def issue_certificate(ca_cert: x509.Certificate, ca_key: PrivateKey, *, common_name: str,
                      organizations: Sequence[str] = (), dns_names: Sequence[str] = (),
                      ip_addresses: Sequence[str] = (), server: bool = False, client: bool = False,
                      days: int = LEAF_DAYS, key: PrivateKey | None = None) -> tuple[x509.Certificate, PrivateKey]:
    """A leaf certificate signed by the CA: ``server`` adds serverAuth (and needs SANs),
    ``client`` adds clientAuth; CN is the user, each organization a group."""
    key = key or generate_key()
    now = _now()
    public = key.public_key()
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
    builder = (x509.CertificateBuilder().subject_name(_name(common_name, organizations))
               .issuer_name(ca_cert.subject).public_key(public).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                                            content_commitment=False, data_encipherment=False, key_agreement=False,
                                            key_cert_sign=False, crl_sign=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def serving_certificate(ca_cert: x509.Certificate, ca_key: PrivateKey, common_name: str,
                        dns_names: Sequence[str], ip_addresses: Sequence[str]) -> tuple[x509.Certificate, PrivateKey]:
    return issue_certificate(ca_cert, ca_key, common_name=common_name, dns_names=dns_names,
                             ip_addresses=ip_addresses, server=True)


def client_certificate(ca_cert: x509.Certificate, ca_key: PrivateKey, user: str,
                       groups: Sequence[str] = ()) -> tuple[x509.Certificate, PrivateKey]:
    return issue_certificate(ca_cert, ca_key, common_name=user, organizations=groups, client=True)


# -- reading certificates ------------------------------------------------------------------------


def identity(cert: x509.Certificate) -> tuple[str, list[str]]:
    """(user, groups) a client certificate names: its CommonName and Organizations."""
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    groups = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return (str(common[0].value) if common else ""), groups


def subject_alternative_names(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses as text) of a certificate's SAN extension."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return list(sans.get_values_for_type(x509.DNSName)), [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]


def covers(cert: x509.Certificate, dns_names: Iterable[str] = (), ip_addresses: Iterable[str] = ()) -> bool:
    """Whether every wanted name is among the certificate's SANs."""
    have_dns, have_ips = subject_alternative_names(cert)
    have_ip_set = {ipaddress.ip_address(ip) for ip in have_ips}
    return set(dns_names) <= set(have_dns) and {ipaddress.ip_address(ip) for ip in ip_addresses} <= have_ip_set


def needs_rotation(cert: x509.Certificate, before: datetime.timedelta = ROTATE_BEFORE,
                   now: datetime.datetime | None = None) -> bool:
    """True when ``cert`` expires within ``before`` (or is not valid yet, or has expired)."""
    now = now or _now()
    return cert.not_valid_after_utc - before <= now or cert.not_valid_before_utc > now + datetime.timedelta(minutes=10)


def issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    """Whether the CA's key signed ``cert`` (so the certificate survives a replaced CA only if still true)."""
    if cert.issuer != ca_cert.subject:
        return False
    public = ca_cert.public_key()
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(public, rsa.RSAPublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        else:
            return False
    except (InvalidSignature, TypeError, ValueError):
        return False
    return True


# -- PEM files -----------------------------------------------------------------------------------


def certificate_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def private_key_pem(key: PrivateKey) -> bytes:
    """PKCS#8, unencrypted (what kubeconfigs and ``--tls-private-key-file`` hold)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_key_pem(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def write_file(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` atomically with ``data``; the file has ``mode`` from its first byte."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_certificate(path: str | os.PathLike[str], cert: x509.Certificate) -> None:
    write_file(path, certificate_pem(cert), 0o644)


def write_private_key(path: str | os.PathLike[str], key: PrivateKey) -> None:
    write_file(path, private_key_pem(key), 0o600)


def load_certificate(path: str | os.PathLike[str]) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def load_certificates(path: str | os.PathLike[str]) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle (a ``--client-ca-file`` may hold several)."""
    return x509.load_pem_x509_certificates(Path(path).read_bytes())


def load_private_key(path: str | os.PathLike[str]) -> PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"{path}: only ECDSA and RSA keys are supported")
    return key


def load_public_keys(path: str | os.PathLike[str]) -> list[PublicKey]:
    """The public keys in a PEM file: public keys, private keys (their public half) or
    certificates, as ``--service-account-key-file`` accepts."""
    data = Path(path).read_bytes()
    keys: list[PublicKey] = []
    for block in _pem_blocks(data):
        if b"CERTIFICATE" in block.split(b"\n", 1)[0]:
            public = x509.load_pem_x509_certificate(block).public_key()
        elif b"PRIVATE KEY" in block.split(b"\n", 1)[0]:
            public = serialization.load_pem_private_key(block, password=None).public_key()
        else:
            public = serialization.load_pem_public_key(block)
        if isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            keys.append(public)
    if not keys:
        raise ValueError(f"{path}: no ECDSA or RSA key found")
    return keys


def _pem_blocks(data: bytes) -> list[bytes]:
    blocks: list[bytes] = []
    for part in data.split(b"-----BEGIN ")[1:]:
        end = part.find(b"-----END ")
        stop = part.find(b"-----", end + 9)
        if end < 0 or stop < 0:
            continue
        blocks.append(b"-----BEGIN " + part[:stop + 5] + b"\n")
    return blocks


# -- a directory of certificates -----------------------------------------------------------------


@dataclass(frozen=True)
class CertKey:
    """Where one certificate and its key live."""

    cert: str
    key: str

    def read(self) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM), e.g. for a kubeconfig's ``client-certificate-data``."""
        return Path(self.cert).read_bytes(), Path(self.key).read_bytes()


def ensure_ca(directory: str | os.PathLike[str], common_name: str = "hyperkube-ca",
              *, before: datetime.timedelta = ROTATE_BEFORE) -> tuple[CertKey, x509.Certificate, PrivateKey]:
    """``ca.crt``/``ca.key`` in ``directory``: kept if readable, matching and not expiring, else
    made anew (then every leaf is re-issued, since :func:`issued_by` no longer holds)."""
    paths = CertKey(os.path.join(directory, "ca.crt"), os.path.join(directory, "ca.key"))
    try:
        cert, key = load_certificate(paths.cert), load_private_key(paths.key)
        if public_key_pem(cert.public_key()) == public_key_pem(key.public_key()) and not needs_rotation(cert, before):
            return paths, cert, key
    except (OSError, ValueError):
        pass
    cert, key = create_ca(common_name)
    write_private_key(paths.key, key)
    write_certificate(paths.cert, cert)
    return paths, cert, key


def ensure_certificate(directory: str | os.PathLike[str], name: str, ca_cert: x509.Certificate,
                       ca_key: PrivateKey, *, common_name: str, organizations: Sequence[str] = (),
                       dns_names: Sequence[str] = (), ip_addresses: Sequence[str] = (), server: bool = False,
                       client: bool = False, before: datetime.timedelta = ROTATE_BEFORE) -> CertKey:
    """``<name>.crt``/``<name>.key`` in ``directory``, issued (again) unless the ones there are
    signed by this CA, name the same subject, cover the SANs and are not expiring. A re-issued
    certificate keeps the SANs the old one had besides the new ones (SANs only accumulate)."""
    paths = CertKey(os.path.join(directory, f"{name}.crt"), os.path.join(directory, f"{name}.key"))
    try:
        cert, key = load_certificate(paths.cert), load_private_key(paths.key)
        same = (public_key_pem(cert.public_key()) == public_key_pem(key.public_key())
                and issued_by(cert, ca_cert) and identity(cert) == (common_name, list(organizations)))
        if same and not needs_rotation(cert, before) and covers(cert, dns_names, ip_addresses):
            return paths
        if same:  # keep the names it had: two callers asking for different names do not flip-flop
            had_dns, had_ips = subject_alternative_names(cert)
            dns_names, ip_addresses = split_sans([*had_dns, *dns_names, *had_ips, *ip_addresses])
    except (OSError, ValueError):
        pass
    cert, key = issue_certificate(ca_cert, ca_key, common_name=common_name, organizations=organizations,
                                  dns_names=dns_names, ip_addresses=ip_addresses, server=server, client=client)
    write_private_key(paths.key, key)
    write_certificate(paths.cert, cert)
    return paths


def ensure_service_account_key(directory: str | os.PathLike[str]) -> CertKey:
    """``sa.key`` (private, 0600) and ``sa.pub`` in ``directory``; kept once made (rotating it
    would invalidate every token in use). ``cert`` names sa.pub here."""
    paths = CertKey(os.path.join(directory, "sa.pub"), os.path.join(directory, "sa.key"))
    try:
        key = load_private_key(paths.key)
        if Path(paths.cert).read_bytes() == public_key_pem(key.public_key()):
            return paths
    except (OSError, ValueError):
        key = generate_key()
        write_private_key(paths.key, key)
    write_file(paths.cert, public_key_pem(key.public_key()))
    return paths


@dataclass(frozen=True)
class NodePKI:
    client: CertKey  # CN=system:node:<name>, O=system:nodes: the kubelet's identity at the API server
    serving: CertKey  # the kubelet's own HTTPS endpoint (10250)


@dataclass(frozen=True)
class ClusterPKI:
    """Paths of every file :func:`ensure_cluster_pki` keeps."""

    directory: str
    ca: CertKey
    apiserver: CertKey
    apiserver_kubelet_client: CertKey
    admin: CertKey
    scheduler: CertKey
    controller_manager: CertKey
    proxy: CertKey
    service_account: CertKey  # .cert = sa.pub, .key = sa.key
    nodes: dict[str, NodePKI] = field(default_factory=dict)


def apiserver_names(node_names: Sequence[str] = (), node_ips: Sequence[str] = (), service_ip: str | None = None,
                    extra_sans: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(DNS, IPs) the API server's serving certificate must carry."""
    return split_sans([*APISERVER_DNS, *node_names, *LOOPBACK_IPS, *([service_ip] if service_ip else []),
                       *node_ips, *extra_sans])


def ensure_node_pki(directory: str | os.PathLike[str], node_name: str, node_ips: Sequence[str] = (),
                    ca: tuple[x509.Certificate, PrivateKey] | None = None) -> NodePKI:
    """The kubelet client and serving certificates of one node, signed by the directory's CA."""
    if ca is None:
        _paths, ca_cert, ca_key = ensure_ca(directory)
    else:
        ca_cert, ca_key = ca
    dns, ips = split_sans([node_name, "localhost", *LOOPBACK_IPS, *node_ips])
    client = ensure_certificate(directory, f"kubelet-{node_name}-client", ca_cert, ca_key,
                                common_name=node_user(node_name), organizations=(NODES_GROUP,), client=True)
    serving = ensure_certificate(directory, f"kubelet-{node_name}-serving", ca_cert, ca_key,
                                 common_name=node_user(node_name), organizations=(NODES_GROUP,),
                                 dns_names=dns, ip_addresses=ips, server=True)
    return NodePKI(client, serving)


def ensure_cluster_pki(directory: str | os.PathLike[str], *, node_names: Sequence[str] = (),
                       node_ips: Sequence[str] = (), service_ip: str | None = None,
                       extra_sans: Sequence[str] = ()) -> ClusterPKI:
    """Every certificate of a cluster in ``directory`` (created with mode 0700), made on first
    call and re-issued when expiring, mis-signed or missing names; cheap when all is in place.
    ``node_ips`` go into the API server's and every kubelet's serving certificate."""
    directory = str(directory)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    ca_paths, ca_cert, ca_key = ensure_ca(directory)
    dns, ips = apiserver_names(node_names, node_ips, service_ip, extra_sans)

    def client(name: str, who: tuple[str, tuple[str, ...]]) -> CertKey:
        return ensure_certificate(directory, name, ca_cert, ca_key, common_name=who[0], organizations=who[1],
                                  client=True)

    return ClusterPKI(
        directory=directory, ca=ca_paths,
        apiserver=ensure_certificate(directory, "apiserver", ca_cert, ca_key, common_name="kube-apiserver",
                                     dns_names=dns, ip_addresses=ips, server=True),
        apiserver_kubelet_client=client("apiserver-kubelet-client", APISERVER_KUBELET_CLIENT),
        admin=client("admin", ADMIN),
        scheduler=client("kube-scheduler", SCHEDULER),
        controller_manager=client("kube-controller-manager", CONTROLLER_MANAGER),
        proxy=client("kube-proxy", PROXY),
        service_account=ensure_service_account_key(directory),
        nodes={name: ensure_node_pki(directory, name, node_ips, (ca_cert, ca_key)) for name in node_names},
    )
