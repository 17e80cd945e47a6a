"""kube-apiserver: flags in, :class:`hyperkube.apiserver.app.APIServer` out; SIGINT/SIGTERM stop it."""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from hyperkube.cli.options import CONTEXT_SETTINGS, common_options, serve_until_signalled

if TYPE_CHECKING:
    from hyperkube.apiserver.app import APIServerConfig

log = logging.getLogger("hyperkube.apiserver")


def _default_data_dir() -> str:
    from hyperkube.apiserver.app import default_data_dir

    return default_data_dir()


# -- secure serving and authentication (issue 14) -------------------------------------------------
#: flag -> APIServerConfig field of the options below; the command receives them as ``security``
_SECURITY_FIELDS = ("bind_address", "secure_port", "cert_dir", "tls_cert_file", "tls_private_key_file",
                    "client_ca_file", "token_auth_file", "anonymous_auth", "service_account_key_files",
                    "service_account_signing_key_file", "service_account_issuer", "api_audiences",
                    "kubelet_client_certificate", "kubelet_client_key", "kubelet_certificate_authority")


def _security_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """TLS serving and authentication flags, handed to the command as one ``security`` dict of
    APIServerConfig fields."""
    file = click.Path(dir_okay=False)
    options = [
        click.option("--bind-address", default="127.0.0.1", show_default=True, metavar="IP",
                     help="Address of the secure port. Loopback by default: a laptop cluster is not on the "
                          "network unless asked (0.0.0.0 for kubelets on other machines)."),
        click.option("--secure-port", type=click.IntRange(0, 65535), default=6443, show_default=True,
                     help="HTTPS port (authenticated, authorized); 0 picks a free port and logs it."),
        click.option("--cert-dir", default=None, metavar="DIR",
                     help="Where the generated CA, certificates, service account key and component "
                          "kubeconfigs live when --tls-cert-file is not given. [default: DATA_DIR/pki]"),
        click.option("--tls-cert-file", default="", type=file, help="Serving certificate (PEM, chain after it)."),
        click.option("--tls-private-key-file", default="", type=file, help="Key of --tls-cert-file."),
        click.option("--client-ca-file", default="", type=file,
                     help="CA bundle client certificates must chain to (CN = user, O = groups). "
                          "[default: the generated CA]"),
        click.option("--token-auth-file", default="", type=file,
                     help='Static bearer tokens, CSV lines token,user,uid,"group1,group2".'),
        click.option("--anonymous-auth/--no-anonymous-auth", default=True, show_default=True,
                     help="Requests without credentials are system:anonymous (else 401)."),
        click.option("--service-account-key-file", "service_account_key_files", multiple=True, type=file,
                     help="PEM public keys (or private keys, certificates) that verify service account "
                          "tokens (repeatable). The signing key's own public key always does."),
        click.option("--service-account-signing-key-file", default="", type=file,
                     help="Private key that signs TokenRequest tokens. [default: the generated sa.key]"),
        click.option("--service-account-issuer", default="https://kubernetes.default.svc.cluster.local",
                     show_default=True, help="The iss claim of issued tokens, required of bound tokens."),
        click.option("--api-audiences", default="", metavar="A,B",
                     help="Audiences a token must name to be accepted here. [default: the issuer]"),
        click.option("--kubelet-client-certificate", default="", type=file,
                     help="Client certificate the API server presents to kubelets (https to them once set)."),
        click.option("--kubelet-client-key", default="", type=file, help="Key of --kubelet-client-certificate."),
        click.option("--kubelet-certificate-authority", default="", type=file,
                     help="CA that kubelets' serving certificates must chain to (unverified without it)."),
    ]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        security = {name: kwargs.pop(name) for name in _SECURITY_FIELDS}
        for first, second in (("tls_cert_file", "tls_private_key_file"),
                              ("kubelet_client_certificate", "kubelet_client_key")):
            if bool(security[first]) != bool(security[second]):
                flags = " and ".join("--" + name.replace("_", "-") for name in (first, second))
                raise click.UsageError(f"{flags} go together")
        security["service_account_key_files"] = list(security["service_account_key_files"])
        security["api_audiences"] = [a.strip() for a in security["api_audiences"].split(",") if a.strip()]
        security["cert_dir"] = security["cert_dir"] or ""
        return func(*args, security=security, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper
# -- end of secure serving and authentication -------------------------------------------------------


@click.command(name="apiserver", context_settings=CONTEXT_SETTINGS,
               help="Serve the Kubernetes REST API (core/v1, apps/v1, ...) over the etcd-semantics store.")
@click.option("--insecure-bind-address", default="127.0.0.1", show_default=True,
              help="Address to serve plain HTTP on: every request there is a superuser, keep it on loopback.")
@click.option("--insecure-port", type=click.IntRange(0, 65535), default=None,
              help="Serve plain HTTP, unauthenticated, on this port too (off unless given; 0 picks a free "
                   "port and logs it).")
@click.option("--etcd-servers", default="", metavar="URLS",
              help="Comma-separated store URLs: http(s)://host:port for etcd, sqlite:///path.db for the "
                   "embedded store. [default: sqlite:// on state.db in --data-dir]")
@click.option("--etcd-prefix", default="/registry", show_default=True, help="Prefix of every key in the store.")
@click.option("--etcd-servers-overrides", multiple=True, metavar="/RESOURCE#URL",
              help="Keep one resource's keys in another store, e.g. /events#sqlite:///events.db (repeatable).")
@click.option("--data-dir", default=None, metavar="DIR",
              help="Directory of the embedded store. [default: $XDG_DATA_HOME/hyperkube or ~/.local/share/hyperkube]")
@click.option("--service-cluster-ip-range", default="127.64.0.0/16", show_default=True, metavar="CIDR",
              help="Range Service cluster IPs come from (loopback by default, so the proxy binds without root).")
@click.option("--service-node-port-range", default="30000-32767", show_default=True, metavar="FROM-TO",
              help="Range Service node ports come from.")
@click.option("--authorization-mode", default="Node,RBAC", show_default=True, metavar="MODES",
              help="Comma-separated authorizers asked in order on the secure port: Node, RBAC, AlwaysAllow, "
                   "AlwaysDeny.")
@_security_options
# -- admission, audit and encryption at rest (issue 14) ---------------------------------------------
@click.option("--enable-admission-plugins", default="", metavar="NAMES",
              help="Comma-separated admission plugins to run besides the default ones (NamespaceLifecycle, "
                   "LimitRanger, PodSecurity, DefaultTolerationSeconds, DefaultStorageClass, ResourceQuota); "
                   "also known: ServiceAccount, NodeRestriction. They always run in Kubernetes' order.")
@click.option("--disable-admission-plugins", default="", metavar="NAMES",
              help="Comma-separated admission plugins to turn off, default ones included.")
@click.option("--audit-log-path", default="", metavar="PATH",
              help="Write audit events (audit.k8s.io/v1, one JSON object a line) to this file; '-' = stdout.")
@click.option("--audit-policy-file", default="", metavar="PATH",
              help="The audit.k8s.io/v1 Policy saying what to record at which level. [default: Metadata for all]")
@click.option("--encryption-provider-config", default="", metavar="PATH",
              help="An apiserver.config.k8s.io/v1 EncryptionConfiguration: which resources are encrypted at rest "
                   "(aescbc, aesgcm, identity; secretbox needs PyNaCl).")
@common_options
def command(insecure_bind_address: str, insecure_port: int | None, etcd_servers: str, etcd_prefix: str,
            etcd_servers_overrides: tuple[str, ...], data_dir: str | None, service_cluster_ip_range: str,
            service_node_port_range: str, authorization_mode: str, security: dict[str, Any],
            enable_admission_plugins: str = "", disable_admission_plugins: str = "", audit_log_path: str = "",
            audit_policy_file: str = "", encryption_provider_config: str = "") -> None:
    import ipaddress

    try:
        ipaddress.ip_network(service_cluster_ip_range, strict=False)
        low, _, high = service_node_port_range.partition("-")
        if not (0 < int(low) <= int(high) < 65536):
            raise ValueError
    except ValueError:
        raise click.BadParameter("--service-cluster-ip-range must be a CIDR and --service-node-port-range "
                                 "FROM-TO") from None
    from hyperkube.apiserver.authz import parse_modes

    try:
        parse_modes(authorization_mode)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if insecure_port is not None:
        import ipaddress

        try:
            loopback = ipaddress.ip_address(insecure_bind_address).is_loopback
        except ValueError:
            loopback = False
        if not loopback:  # the plain port is the superuser: never on the network
            raise click.BadParameter(f"{insecure_bind_address!r} is not a loopback address; the plain-HTTP port "
                                     "has no authentication and binds only loopback", param_hint="--insecure-bind-address")
    overrides: list[str] = []
    for value in etcd_servers_overrides:
        overrides.extend(v for v in value.split(",") if v)
    from hyperkube.apiserver.app import APIServer, APIServerConfig
    from hyperkube.storage.interface import StorageError

    config = APIServerConfig(
        insecure_bind_address=insecure_bind_address, port=insecure_port, etcd_servers=etcd_servers,
        etcd_prefix=etcd_prefix, etcd_servers_overrides=overrides, data_dir=data_dir or _default_data_dir(),
        service_cluster_ip_range=service_cluster_ip_range, service_node_port_range=service_node_port_range,
        authorization_mode=authorization_mode, **security)
    _admission_options(config, enable_admission_plugins, disable_admission_plugins, audit_log_path,
                       audit_policy_file, encryption_provider_config)
    try:
        asyncio.run(_serve(APIServer(config)))
    except (OSError, ValueError, StorageError) as exc:
        click.echo(f"hyperkube apiserver: {exc}", err=True)
        sys.exit(1)


def _admission_options(config: APIServerConfig, enable: str, disable: str, audit_log_path: str, audit_policy_file: str,
                       encryption_provider_config: str) -> None:
    """Admission plugins (the default set plus those enabled, less those disabled), audit and encryption."""
    from hyperkube.apiserver import admission

    enabled = [n.strip() for n in enable.split(",") if n.strip()]
    config.enable_admission_plugins = list(dict.fromkeys([*admission.DEFAULT_PLUGINS, *enabled]))
    config.disable_admission_plugins = [n.strip() for n in disable.split(",") if n.strip()]
    try:
        admission.plugin_names(config)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--enable-admission-plugins") from None
    config.audit_log_path = audit_log_path
    config.audit_policy_file = audit_policy_file
    config.encryption_provider_config = encryption_provider_config


async def _serve(server: object) -> None:
    from hyperkube.apiserver.app import APIServer

    assert isinstance(server, APIServer)

    async def started() -> None:
        if server.serving is not None and server.serving.cluster is not None:
            from hyperkube.cli.kubeconfigs import write_cluster_kubeconfigs

            written = await asyncio.to_thread(write_cluster_kubeconfigs, server.serving.cluster, server.secure_url)
            log.info("Admin kubeconfig: %s (%s)", written["admin"], server.secure_url)

    await serve_until_signalled(server, started=started)
