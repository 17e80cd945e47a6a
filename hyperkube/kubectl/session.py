"""One kubectl invocation: the connection flags, the client they resolve to, and failure.

Every verb gets a :class:`Session` and runs as one coroutine through :func:`run`, which
turns errors into kubectl's wording and exit code 1:

- a Status from the server: ``Error from server (NotFound): pods "x" not found``, and
  ``The Pod "x" is invalid: ...`` for 422;
- no connection: ``The connection to the server HOST was refused - did you specify ...``;
- our own usage and lookup errors (:class:`KubectlError`): ``error: ...``.

Verbs that process several objects keep going after a failure, print each error as it
happens (:meth:`Session.report`), and exit 1 at the end, as kubectl does.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from hyperkube.client import Client, Config, KubeConfig
    from hyperkube.kubectl.discovery import CachedDiscovery


class KubectlError(Exception):
    """A failure printed as ``error: <message>`` (or verbatim when ``raw``), exit ``code``."""

    def __init__(self, message: str, code: int = 1, *, raw: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.raw = raw

    def text(self) -> str:
        message = str(self)
        return message if self.raw or message.startswith("error: ") else f"error: {message}"


@dataclass
class Flags:
    """kubectl's global connection flags (None: not given)."""

    kubeconfig: str | None = None
    context: str | None = None
    cluster: str | None = None
    user: str | None = None
    namespace: str | None = None
    server: str | None = None
    token: str | None = None
    insecure_skip_tls_verify: bool | None = None
    request_timeout: float | None = None

    def merged(self, other: Flags) -> Flags:
        """These flags, with every flag ``other`` sets taking precedence."""
        values = {k: v for k, v in vars(other).items() if v is not None}
        return Flags(**{**vars(self), **values})


def parse_timeout(text: str | None) -> float | None:
    """``--request-timeout``: ``0`` (none), ``30``, ``30s``, ``1m``, ``2h``."""
    if text is None or text in ("", "0"):
        return None
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


class Session:
    def __init__(self, flags: Flags) -> None:
        self.flags = flags
        self._kubeconfig: KubeConfig | None = None
        self._config: Config | None = None
        self._client: Client | None = None
        self._discovery: CachedDiscovery | None = None
        self.errors: list[str] = []

    # -- configuration ------------------------------------------------------------------------

    @property
    def kubeconfig(self) -> KubeConfig:
        if self._kubeconfig is None:
            from hyperkube.client import KubeConfig

            self._kubeconfig = KubeConfig.load(self.flags.kubeconfig)
        return self._kubeconfig

    @property
    def config(self) -> Config:
        if self._config is None:
            from hyperkube.client import ConfigError

            f = self.flags
            try:
                self._config = self.kubeconfig.to_config(
                    f.context, cluster=f.cluster, user=f.user, server=f.server, token=f.token,
                    namespace=f.namespace, insecure_skip_tls_verify=f.insecure_skip_tls_verify)
            except ConfigError as error:
                if "no configuration has been provided" in str(error):
                    # kubectl's fallback when nothing names a server
                    self._config = self.kubeconfig.to_config(None, server="http://localhost:8080",
                                                             namespace=f.namespace)
                else:
                    raise KubectlError(str(error)) from error
            self._config.user_agent = "kubectl/v1.37.1 (hyperkube)"
        return self._config

    @property
    def namespace(self) -> str:
        return self.flags.namespace or self.config.namespace or "default"

    @property
    def namespace_given(self) -> bool:
        return bool(self.flags.namespace)

    @property
    def client(self) -> Client:
        if self._client is None:
            from hyperkube.client import Client, RetryPolicy

            self._client = Client(self.config, timeout=self.flags.request_timeout or 300.0,
                                  retry=RetryPolicy(max_retries=1, backoff_base=0.1))
        return self._client

    @property
    def discovery(self) -> CachedDiscovery:
        if self._discovery is None:
            from hyperkube.kubectl.discovery import CachedDiscovery

            self._discovery = CachedDiscovery(self.client, cache_dir(self.config.server))
        return self._discovery

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    # -- output ---------------------------------------------------------------------------------

    def report(self, error: BaseException) -> None:
        """Remember an error for the end (kubectl prints them after the output) and exit 1."""
        self.errors.append(error_text(error, self))


def cache_dir(server: str) -> str:
    """kubectl's discovery cache directory for this server (``KUBECACHEDIR`` overrides)."""
    base = os.environ.get("KUBECACHEDIR") or os.path.join(os.path.expanduser("~"), ".kube", "cache")
    host = urlsplit(server).netloc.replace(":", "_") or "default"
    return os.path.join(base, "discovery", host)


def error_text(error: BaseException, session: Session | None = None) -> str:
    """What kubectl prints on stderr for ``error``."""
    from hyperkube.client import APIError, ConnectError, ResourceNotFound, TransportError

    if isinstance(error, KubectlError):
        return error.text()
    if isinstance(error, APIError):
        return _status_text(error.status if hasattr(error, "status") else {}, error)
    if isinstance(error, ResourceNotFound):
        return f"error: {error}"
    if isinstance(error, ConnectError):
        host = urlsplit(session.config.server).netloc if session else "the server"
        return f"The connection to the server {host} was refused - did you specify the right host or port?"
    if isinstance(error, TransportError):
        return f"Unable to connect to the server: {error}"
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        return "error: timed out waiting for the condition"
    text = str(error) or type(error).__name__
    return text if text.startswith("error: ") else f"error: {text}"


def _status_text(status: dict[str, Any], error: BaseException) -> str:
    reason = status.get("reason") or ""
    message = status.get("message") or str(error)
    details = status.get("details") or {}
    if reason == "Invalid":
        head = "The request is invalid"
        if details.get("kind") or details.get("name"):
            head = f'The {details.get("kind", "")} "{details.get("name", "")}" is invalid'
        causes = details.get("causes") or []
        if not causes:
            return f"{head}: {message}" if message else head
        lines = [f"{c.get('field')}: {c.get('message')}" if c.get("field") else c.get("message", "")
                 for c in causes]
        if len(lines) == 1:
            return f"{head}: {lines[0]}"
        return f"{head}: \n" + "\n".join(f"* {line}" for line in lines)
    if reason == "Unauthorized":
        return f"error: You must be logged in to the server ({message})"
    if reason and reason != "Unknown":
        return f"Error from server ({reason}): {message}"
    return f"Error from server: {message}"


def import_client_quickly() -> None:
    """Import the client (and aiohttp) without aiohttp's import-time TLS set-up.

    Importing ``aiohttp.connector`` builds two default SSL contexts, and loading the system
    CA store into one costs ~50 ms: a third of a ``get`` against a local server. kubectl
    never uses those contexts: :meth:`Config.ssl_context` builds its own for https and http
    needs none, and URL manifests go through urllib. So the CA store is not loaded while
    aiohttp is imported (its unused default contexts are left without CAs, which can only
    fail verification, never skip it); every context made afterwards is the normal one."""
    if "aiohttp.connector" in sys.modules:
        return
    import ssl

    # both of aiohttp's contexts end in this call (create_default_context via load_default_certs)
    ssl.SSLContext.set_default_verify_paths = lambda self: None  # type: ignore[method-assign]
    try:
        import hyperkube.client  # noqa: F401 - imported here for the side effect above
    finally:
        del ssl.SSLContext.set_default_verify_paths  # the C method of _ssl._SSLContext again


def run(flags: Flags, action: Callable[[Session], Awaitable[int | None]]) -> None:
    """Run one verb to completion and exit with kubectl's code."""
    import_client_quickly()
    session = Session(flags)

    async def main() -> int:
        try:
            return await action(session) or 0
        finally:
            await session.close()

    try:
        code = asyncio.run(main())
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        sys.stderr.close()
        code = 0
    except Exception as error:  # noqa: BLE001 - every failure becomes kubectl's one-line error
        if os.environ.get("HYPERKUBE_KUBECTL_TRACEBACK"):
            raise
        session.errors.append(error_text(error, session))
        code = error.code if isinstance(error, KubectlError) else 1
    sys.stdout.flush()
    if session.errors:
        print("\n".join(session.errors), file=sys.stderr)
        code = code or 1
    sys.exit(code)
