"""Where the cluster is and who we are: kubeconfig files and in-cluster service accounts.

Kubeconfig loading follows kubectl's clientcmd rules:

- ``--kubeconfig PATH`` names exactly one file, which must exist.
- Otherwise ``KUBECONFIG`` lists files separated by ``os.pathsep``; missing files are skipped
  and the rest are merged: the *first* file to define a named cluster, user or context wins,
  and the first file to set ``current-context`` (or a ``preferences`` value) wins.
- Otherwise ``~/.kube/config`` (a missing file means an empty config).

Relative paths inside a file (``certificate-authority``, ``client-certificate``,
``client-key``, ``tokenFile``) are relative to that file's directory, as in kubectl.
Flags (``--context``, ``--cluster``, ``--user``, ``--server``, ``--token``,
``--namespace``, ``--insecure-skip-tls-verify``) override what the file says.

The result is a :class:`Config`: the flat, resolved settings one client needs. Loading is
synchronous on purpose: it happens once at start-up, before the event loop does any work.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: a token file is re-read at most once a minute (client-go does the same): rotation is
#: noticed quickly, and the event loop does not read a file on every request
TOKEN_FILE_TTL = 60.0


class ConfigError(Exception):
    """The kubeconfig (or the in-cluster environment) does not describe a usable cluster."""


@dataclass
class Config:
    """Everything one client needs to reach one API server as one user."""

    server: str
    namespace: str = "default"
    token: str | None = None
    #: re-read on every request batch: service-account tokens are rotated by the kubelet
    token_file: str | None = None
    username: str | None = None
    password: str | None = None
    #: a kubeconfig ``user.exec`` credential plugin (command, args, env, apiVersion)
    exec_plugin: dict[str, Any] | None = None
    ca_data: bytes | None = None  # PEM
    ca_file: str | None = None
    cert_data: bytes | None = None  # PEM
    cert_file: str | None = None
    key_data: bytes | None = None  # PEM
    key_file: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    context: str | None = None
    user_agent: str = "hyperkube/0.1.0"
    extra_headers: dict[str, str] = field(default_factory=dict)
    #: (token, monotonic time read) for token_file; re-read after TOKEN_FILE_TTL seconds
    _token_cache: tuple[str | None, float] | None = field(default=None, repr=False, compare=False)

    def with_overrides(self, **changes: Any) -> Config:
        """A copy with the given fields replaced; ``None`` values are ignored (unset flags)."""
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in changes.items() if v is not None and k in known})

    @property
    def is_tls(self) -> bool:
        return self.server.startswith("https://")

    def bearer_token(self) -> str | None:
        if self.token:
            return self.token
        if self.token_file:
            now = time.monotonic()
            if self._token_cache is None or now - self._token_cache[1] > TOKEN_FILE_TTL:
                try:
                    token = Path(self.token_file).read_text().strip() or None
                except OSError:
                    token = self._token_cache[0] if self._token_cache else None
                self._token_cache = (token, now)
            return self._token_cache[0]
        return None

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for https servers (None for http). Client certificate data is
        written to a private temporary file only long enough for OpenSSL to load it."""
        if not self.is_tls:
            return None
        if self.insecure_skip_tls_verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context = ssl.create_default_context(
                cafile=self.ca_file, cadata=self.ca_data.decode() if self.ca_data else None)
        if self.cert_data or self.cert_file:
            _load_client_certificate(context, self)
        return context


def _load_client_certificate(context: ssl.SSLContext, config: Config) -> None:
    if config.cert_file and not config.cert_data and (config.key_file or not config.key_data):
        context.load_cert_chain(config.cert_file, config.key_file)
        return
    cert = config.cert_data or Path(config.cert_file or "").read_bytes()
    key = config.key_data or (Path(config.key_file).read_bytes() if config.key_file else b"")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "client.pem"
        path.touch(mode=0o600)
        path.write_bytes(cert.rstrip(b"\n") + b"\n" + key)
        context.load_cert_chain(str(path))


# ---------------------------------------------------------------------------------------------
# kubeconfig files


@dataclass
class KubeConfig:
    """The merged contents of one or more kubeconfig files, as kubectl sees them.

    ``clusters``, ``users`` and ``contexts`` map names to their bodies (the inner
    ``cluster:``/``user:``/``context:`` mapping); ``origins`` says which file each named
    entry came from (so ``kubectl config set-*`` can write it back there).
    """

    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    current_context: str = ""
    preferences: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def load(cls, kubeconfig: str | os.PathLike[str] | None = None,
             env: dict[str, str] | None = None) -> KubeConfig:
        """Load and merge kubeconfig files following the precedence described above."""
        env = os.environ if env is None else env
        if kubeconfig:
            path = Path(kubeconfig)
            if not path.exists():
                raise ConfigError(f"stat {path}: no such file or directory")
            return cls.merge([path])
        if env.get("KUBECONFIG"):
            paths = [Path(p) for p in env["KUBECONFIG"].split(os.pathsep) if p]
            return cls.merge([p for p in paths if p.exists()])
        home = Path(env.get("HOME") or Path.home())
        default = home / ".kube" / "config"
        return cls.merge([default] if default.exists() else [])

    @classmethod
    def merge(cls, paths: list[Path]) -> KubeConfig:
        merged = cls(files=[str(p) for p in paths])
        for path in paths:
            try:
                document = yaml.safe_load(path.read_text()) or {}
            except yaml.YAMLError as error:
                raise ConfigError(f"error loading config file {str(path)!r}: {error}") from error
            if not isinstance(document, dict):
                raise ConfigError(f"error loading config file {str(path)!r}: not a mapping")
            base = path.parent
            for section, inner, target in (("clusters", "cluster", merged.clusters),
                                           ("users", "user", merged.users),
                                           ("contexts", "context", merged.contexts)):
                for entry in document.get(section) or []:
                    name = entry.get("name")
                    if not name or name in target:
                        continue  # the first file to define a name wins
                    target[name] = _resolve_paths(dict(entry.get(inner) or {}), base)
                    merged.origins[(section, name)] = str(path)
            if not merged.current_context and document.get("current-context"):
                merged.current_context = document["current-context"]
            for key, value in (document.get("preferences") or {}).items():
                merged.preferences.setdefault(key, value)
        return merged

    def to_config(self, context: str | None = None, *, cluster: str | None = None,
                  user: str | None = None, server: str | None = None, token: str | None = None,
                  namespace: str | None = None, insecure_skip_tls_verify: bool | None = None) -> Config:
        """Resolve one context (default: current-context) into a :class:`Config`, with flag overrides."""
        context_name = context or self.current_context
        if context and context not in self.contexts:
            raise ConfigError(f'context "{context}" does not exist')
        ctx = self.contexts.get(context_name, {}) if context_name else {}
        cluster_name = cluster or ctx.get("cluster", "")
        user_name = user or ctx.get("user", "")
        if cluster and cluster not in self.clusters:
            raise ConfigError(f'cluster "{cluster}" does not exist')
        cluster_body = self.clusters.get(cluster_name, {})
        user_body = self.users.get(user_name, {})
        resolved_server = server or cluster_body.get("server")
        if not resolved_server:
            raise ConfigError("invalid configuration: no configuration has been provided, "
                              "try setting KUBERNETES_MASTER environment variable")
        config = Config(
            server=_normalise_server(resolved_server),
            namespace=namespace or ctx.get("namespace") or "default",
            context=context_name or None,
            ca_data=_b64(cluster_body.get("certificate-authority-data")),
            ca_file=cluster_body.get("certificate-authority"),
            insecure_skip_tls_verify=bool(cluster_body.get("insecure-skip-tls-verify", False)),
            tls_server_name=cluster_body.get("tls-server-name"),
            token=token or user_body.get("token"),
            token_file=None if token else user_body.get("tokenFile"),
            username=user_body.get("username"),
            exec_plugin=None if token else user_body.get("exec"),
            password=user_body.get("password"),
            cert_data=_b64(user_body.get("client-certificate-data")),
            cert_file=user_body.get("client-certificate"),
            key_data=_b64(user_body.get("client-key-data")),
            key_file=user_body.get("client-key"),
        )
        if insecure_skip_tls_verify is not None:
            config.insecure_skip_tls_verify = insecure_skip_tls_verify
        if config.insecure_skip_tls_verify:
            config.ca_data = config.ca_file = None  # kubectl refuses both; the flag wins here
        return config


def _resolve_paths(body: dict[str, Any], base: Path) -> dict[str, Any]:
    for key in ("certificate-authority", "client-certificate", "client-key", "tokenFile"):
        value = body.get(key)
        if value and not os.path.isabs(value):
            body[key] = str(base / value)
    plugin = body.get("exec")
    if isinstance(plugin, dict):
        command = plugin.get("command") or ""
        if os.sep in command and not os.path.isabs(command):  # ./plugin: next to the file; bare names: $PATH
            body["exec"] = {**plugin, "command": str(base / command)}
    return body


def _b64(value: str | None) -> bytes | None:
    return base64.b64decode(value) if value else None


def _normalise_server(server: str) -> str:
    if "://" not in server:
        server = "https://" + server
    return server.rstrip("/")


def write_kubeconfig(path: str | os.PathLike[str], server: str, *, name: str = "hyperkube",
                     namespace: str = "default", token: str | None = None, ca_data: bytes | None = None,
                     cert_data: bytes | None = None, key_data: bytes | None = None,
                     insecure_skip_tls_verify: bool = False) -> Path:
    """Write a one-cluster kubeconfig (what ``hyperkube up`` hands to kubectl), mode 0600,
    replacing the file atomically. Call it from a thread when an event loop is running."""
    cluster: dict[str, Any] = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(ca_data).decode()
    if insecure_skip_tls_verify:
        cluster["insecure-skip-tls-verify"] = True
    user: dict[str, Any] = {}
    if token:
        user["token"] = token
    if cert_data and key_data:
        user["client-certificate-data"] = base64.b64encode(cert_data).decode()
        user["client-key-data"] = base64.b64encode(key_data).decode()
    document = {"apiVersion": "v1", "kind": "Config", "preferences": {},
                "clusters": [{"name": name, "cluster": cluster}],
                "users": [{"name": name, "user": user}],
                "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}],
                "current-context": name}
    from hyperkube.machinery.pki import write_file

    write_file(path, yaml.safe_dump(document, sort_keys=False).encode(), 0o600)  # 0600 from the first byte
    return Path(path)


def load_kubeconfig(kubeconfig: str | os.PathLike[str] | None = None, context: str | None = None, *,
                    env: dict[str, str] | None = None, **overrides: Any) -> Config:
    """kubectl's way to find a cluster: files (see the module docstring) then flag overrides."""
    return KubeConfig.load(kubeconfig, env).to_config(context, **overrides)


def in_cluster_config(*, env: dict[str, str] | None = None,
                      service_account_dir: str | os.PathLike[str] = SERVICE_ACCOUNT_DIR) -> Config:
    """The config of a pod: the API server from ``KUBERNETES_SERVICE_HOST``/``_PORT``, the
    token, CA and namespace from the mounted service account (the token is re-read, since
    the kubelet rotates it)."""
    env = os.environ if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise ConfigError("unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
                          "KUBERNETES_SERVICE_PORT must be defined")
    directory = Path(service_account_dir)
    token_file = directory / "token"
    if not token_file.exists():
        raise ConfigError(f"open {token_file}: no such file or directory")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    scheme = env.get("KUBERNETES_SERVICE_SCHEME", "https")
    ca_file = directory / "ca.crt"
    namespace_file = directory / "namespace"
    namespace = namespace_file.read_text().strip() if namespace_file.exists() else "default"
    return Config(server=f"{scheme}://{host}:{port}", token_file=str(token_file),
                  ca_file=str(ca_file) if ca_file.exists() else None, namespace=namespace or "default")


def load_config(kubeconfig: str | os.PathLike[str] | None = None, context: str | None = None, *,
                env: dict[str, str] | None = None,
                service_account_dir: str | os.PathLike[str] = SERVICE_ACCOUNT_DIR, **overrides: Any) -> Config:
    """What a component does at start-up: an explicit ``--kubeconfig`` wins; otherwise the
    in-cluster service account when running in a pod; otherwise the kubeconfig files."""
    env = os.environ if env is None else env
    if not kubeconfig and not env.get("KUBECONFIG") and env.get("KUBERNETES_SERVICE_HOST"):
        try:
            return in_cluster_config(env=env, service_account_dir=service_account_dir).with_overrides(**overrides)
        except ConfigError:
            pass
    return load_kubeconfig(kubeconfig, context, env=env, **overrides)
