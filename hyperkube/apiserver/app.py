"""The API server: configuration, the aiohttp application, start and stop.

:class:`APIServer` is what ``hyperkube apiserver`` and ``hyperkube up`` run. ``start()``
opens the store, builds the application (discovery, OpenAPI, health and metrics from their
modules, then the generic REST handlers), binds the socket, bootstraps the system namespaces
and the ``kubernetes`` Service, and only then accepts connections; ``stop()`` undoes it. It
uses an explicit ``AppRunner`` and pre-bound sockets, so several components share one event
loop and ``port=0`` (ephemeral) is known before anything is served.

Two listeners, each optional: plain HTTP on ``port`` (at ``insecure_bind_address``, default
``bind_address``; every request there is the insecure superuser, so the CLI keeps it on
loopback and off unless ``--insecure-port`` is given) and HTTPS on ``secure_port`` at
``bind_address`` with the certificates ``tls.py`` finds or generates (authenticated requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import warnings
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from hyperkube.api.registry import Registry
from hyperkube.apiserver import bodies, bootstrap, discovery, health, metrics, metrics_api, openapi_routes
from hyperkube.apiserver.allocators import ServiceAllocators
from hyperkube.apiserver.feeds import Hub
from hyperkube.apiserver.handlers import Context, RestAPI
from hyperkube.apiserver.namespaces import Lifecycle
from hyperkube.apiserver.objects import Objects
from hyperkube.apiserver.proxy import KUBELET_CLIENT
from hyperkube.machinery import errors
from hyperkube.storage.interface import (
    CompactedError,
    FutureRevisionError,
    NoSpaceError,
    StorageError,
    Store,
    UnavailableError,
)

log = logging.getLogger("hyperkube.apiserver")

# request["verb"] / request["resource"] are the string keys the metrics middleware reads
warnings.filterwarnings("ignore", category=web.NotAppKeyWarning)


def default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "hyperkube")


@dataclass
class APIServerConfig:
    bind_address: str = "127.0.0.1"
    port: int | None = 8080  # the plain-HTTP port; 0 = ephemeral; None = off
    insecure_bind_address: str = ""  # where ``port`` listens; "" = bind_address
    etcd_servers: str = ""  # "" = sqlite:// on state.db in data_dir
    etcd_prefix: str = "/registry"
    etcd_servers_overrides: list[str] = field(default_factory=list)
    data_dir: str = field(default_factory=default_data_dir)
    service_cluster_ip_range: str = "127.64.0.0/16"
    service_node_port_range: str = "30000-32767"
    # -- security (issue 14): ``port`` above is the plain-HTTP port (None = off) ------------------
    secure_port: int | None = None  # TLS port; None = no TLS listener, 0 = ephemeral
    cert_dir: str = ""  # where generated certificates live; "" = <data_dir>/pki
    tls_cert_file: str = ""
    tls_private_key_file: str = ""
    client_ca_file: str = ""
    token_auth_file: str = ""
    anonymous_auth: bool = True
    service_account_key_files: list[str] = field(default_factory=list)
    service_account_signing_key_file: str = ""
    service_account_issuer: str = "https://kubernetes.default.svc.cluster.local"
    api_audiences: list[str] = field(default_factory=list)
    authorization_mode: str = "AlwaysAllow"  # the CLI's default is Node,RBAC
    enable_admission_plugins: list[str] | None = None  # None = the default set
    disable_admission_plugins: list[str] = field(default_factory=list)
    audit_log_path: str = ""
    audit_policy_file: str = ""
    encryption_provider_config: str = ""
    kubelet_client_certificate: str = ""
    kubelet_client_key: str = ""
    kubelet_certificate_authority: str = ""
    dashboard: bool = True  # the web UI at /ui/ (hyperkube up --disable dashboard turns it off)


def status_response(error: errors.APIError) -> web.Response:
    return bodies.json_response(error.to_status(), error.code)


def _from_http(exc: web.HTTPException) -> errors.APIError:
    if exc.status == 404:
        return errors.NotFound("the server could not find the requested resource")
    if exc.status == 405:
        return errors.MethodNotAllowed("the server does not allow this method on the requested resource")
    if exc.status == 413:
        return errors.RequestEntityTooLarge("the request body is too large")
    reason = exc.reason or "Error"
    return errors.APIError(reason, reason=reason.replace(" ", ""), code=exc.status)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure leaves as a Kubernetes Status; nothing leaves as a traceback."""
    try:
        return await handler(request)
    except errors.APIError as exc:
        return status_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return status_response(_from_http(exc))
    except CompactedError as exc:
        return status_response(errors.Gone.expired(f"too old resource version: {exc.requested} "
                                                   f"({exc.compact_revision})"))
    except FutureRevisionError as exc:
        return status_response(errors.Timeout(f"Too large resource version: {exc.requested}, current: "
                                              f"{exc.current}", details={"retryAfterSeconds": 1}))
    except (UnavailableError, NoSpaceError) as exc:
        return status_response(errors.ServiceUnavailable(f"storage unavailable: {exc}"))
    except StorageError as exc:
        log.error("storage error on %s %s: %s", request.method, request.path, exc)
        return status_response(errors.InternalError(f"storage error: {exc}"))
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path_qs)
        return status_response(errors.InternalError("an internal error occurred"))


def build_app(context: Context, health_checks: dict[str, Any], security: list[Any] | None = None,
              audit: Any = None, *, dashboard: bool = True) -> web.Application:
    """``security``: the middlewares inside the error middleware (authentication and
    authorization, see auth.py), so their rejections leave as Statuses; ``audit`` (audit.py)
    outside it, so it records those Statuses too; ``dashboard``: serve the web UI at /ui/."""
    audited = [] if audit is None else [audit.middleware()]
    app = web.Application(client_max_size=bodies.MAX_BODY + 1,
                          middlewares=[context.metrics.middleware, *audited, error_middleware, *(security or [])])
    discovery.add_routes(app, context.registry)
    openapi_routes.add_routes(app, context.registry)
    health.add_routes(app, health_checks)
    context.metrics.add_routes(app)
    metrics_api.add_routes(app, context)  # metrics.k8s.io, before the generic routes that would catch it
    RestAPI(context).add_routes(app)
    if dashboard:
        from hyperkube.apiserver.ui import add_routes as add_dashboard  # the dashboard at /ui/
        add_dashboard(app)
    return app


def _url_host(host: str) -> str:
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"[{host}]" if ":" in host else host


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class APIServer:
    """One API server process's worth of state; several may share one store."""

    def __init__(self, config: APIServerConfig, *, store: Store | None = None,
                 registry: Registry | None = None) -> None:
        self.config = config
        self.store = store
        self._own_store = store is None
        self.registry = registry
        self.port = 0
        self.secure_port = 0
        self.serving: Any = None  # tls.Serving: the secure port's certificates (and generated PKI)
        self.hub: Hub | None = None
        self.lifecycle: Lifecycle | None = None
        self.crds: Any = None  # crds.CRDController: custom resources served from the stored CRDs
        self.runner: web.AppRunner | None = None
        self.app: web.Application | None = None
        self.authenticator: Any = None
        self.authorizer: Any = None
        self.audit: Any = None  # audit.AuditLog when --audit-log-path is set
        self.masters: Any = None  # masterleases.MasterLeases: the kubernetes Service's endpoints

    @property
    def url(self) -> str:
        """The plain-HTTP URL when that port is served, else :attr:`secure_url`."""
        if self.config.port is None:
            return self.secure_url
        return f"http://{_url_host(self.config.insecure_bind_address or self.config.bind_address)}:{self.port}"

    @property
    def secure_url(self) -> str:
        """``https://host:port`` of the secure port (loopback when bound to every address)."""
        return f"https://{_url_host(self.config.bind_address)}:{self.secure_port}"

    async def start(self) -> None:
        config = self.config
        if self.registry is None:
            from hyperkube.api.kinds import builtin_registry

            self.registry = builtin_registry()
        if self.store is None:
            from hyperkube.storage import open_store

            os.makedirs(config.data_dir, exist_ok=True)
            self.store = open_store(config.etcd_servers, data_dir=config.data_dir,
                                    overrides=list(config.etcd_servers_overrides), prefix=config.etcd_prefix)
            await self.store.start()
        store = self.store
        prefix = config.etcd_prefix.rstrip("/") or "/registry"
        if config.encryption_provider_config:  # every reader below sees plain values, the store ciphertext
            from hyperkube.apiserver import encryption

            store = await encryption.wrap(store, config.encryption_provider_config, self.registry, prefix)
        from hyperkube.apiserver import tls

        if config.secure_port is not None:
            config, self.serving = await asyncio.to_thread(tls.serving, config)
        kubelet_client = await asyncio.to_thread(tls.kubelet_client, config)
        sockets: list[tuple[socket.socket, Any]] = []
        try:
            if config.port is not None:
                sock = _bind(config.insecure_bind_address or config.bind_address, config.port)
                sockets.append((sock, None))
                self.port = sock.getsockname()[1]
            if self.serving is not None:
                sock = _bind(config.bind_address, config.secure_port or 0)
                sockets.append((sock, self.serving.context))
                self.secure_port = sock.getsockname()[1]
        except OSError:
            for sock, _context in sockets:
                sock.close()
            raise
        self.hub = Hub(store)
        measured = metrics.Metrics()
        allocators = ServiceAllocators(store, prefix, config.service_cluster_ip_range,
                                       config.service_node_port_range)
        objects = Objects(store, self.registry, prefix, allocators=allocators, metrics=measured, hub=self.hub)
        await bootstrap.bootstrap(objects, self.registry, allocators, config.service_cluster_ip_range,
                                  self.secure_port or self.port)
        namespaces = self.registry.get("", "v1", "namespaces")
        if namespaces is not None:
            self.lifecycle = Lifecycle(store, self.hub, objects.resource_prefix(namespaces))
            await self.lifecycle.start()
            objects.namespaces = self.lifecycle
        if self.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions") is not None:
            from hyperkube.apiserver.crds import CRDController

            self.crds = CRDController(objects, self.registry, self.hub)
            await self.crds.start()  # every stored CRD is served before the first request
        context = Context(self.registry, objects, self.hub, measured)
        from hyperkube.apiserver import admission, auth, authn, authz, reviews

        self.authenticator = await authn.build(config, objects)
        self.authorizer = await authz.build(config, objects, self.hub)
        objects.admission = await admission.build(config, objects, self.authorizer)
        security = [auth.security_middleware(self.authenticator, self.authorizer)]

        async def storage_ready() -> None:
            await store.current_revision()

        from hyperkube.apiserver import audit

        self.audit = await audit.build(config)
        self.app = build_app(context, {"etcd": storage_ready}, security, self.audit, dashboard=config.dashboard)
        self.app[reviews.AUTHORIZER] = self.authorizer  # the access reviews ask it
        self.app[authn.AUTHENTICATION] = self.authenticator
        self.app[KUBELET_CLIENT] = kubelet_client
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self.runner.setup()
        for sock, context in sockets:
            await web.SockSite(self.runner, sock, ssl_context=context).start()
        log.info("Storage: %s (prefix %s)", store.endpoint or type(store).__name__, prefix)
        if self.serving is not None:
            log.info("Serving securely on %s:%d", config.bind_address, self.secure_port)
        if config.port is not None:
            log.info("Serving insecurely on %s:%d", config.insecure_bind_address or config.bind_address, self.port)
        from hyperkube.apiserver.masterleases import MasterLeases

        advertise = config.bind_address if config.bind_address not in ("", "0.0.0.0", "::") else "127.0.0.1"
        self.masters = MasterLeases(store, objects, prefix, advertise, self.secure_port or self.port)
        await self.masters.start()

    async def stop(self) -> None:
        if self.masters is not None:
            with contextlib.suppress(Exception):
                await self.masters.stop()
            self.masters = None
        close = getattr(self.authorizer, "close", None)
        if close is not None:  # RBAC's aggregation writes must end before the store closes
            with contextlib.suppress(Exception):
                await close()
        if self.hub is not None:
            self.hub.end_watches()  # open watch streams finish at once instead of holding shutdown
        if self.runner is not None:
            with contextlib.suppress(Exception):
                await self.runner.cleanup()
            self.runner = None
        if self.audit is not None:
            await self.audit.close()
            self.audit = None
        if self.crds is not None:
            await self.crds.close()
            self.crds = None
        if self.lifecycle is not None:
            await self.lifecycle.close()
            self.lifecycle = None
        if self.hub is not None:
            await self.hub.close()
            self.hub = None
        if self.store is not None and self._own_store:
            with contextlib.suppress(Exception):
                await self.store.close()
            self.store = None
