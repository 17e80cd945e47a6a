"""kube-apiserver: flags in, :class:`hyperkube.apiserver.app.APIServer` out; SIGINT/SIGTERM stop it."""

from __future__ import annotations

import asyncio
import signal
import sys

import click

from hyperkube.cli.options import CONTEXT_SETTINGS, common_options


def _default_data_dir() -> str:
    from hyperkube.apiserver.app import default_data_dir

    return default_data_dir()


@click.command(name="apiserver", context_settings=CONTEXT_SETTINGS,
               help="Serve the Kubernetes REST API (core/v1, apps/v1, ...) over the etcd-semantics store.")
@click.option("--insecure-bind-address", default="127.0.0.1", show_default=True,
              help="Address to serve plain HTTP on (anonymous access: keep it on loopback).")
@click.option("--insecure-port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to serve plain HTTP on; 0 picks a free port and logs it.")
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
@common_options
def command(insecure_bind_address: str, insecure_port: int, etcd_servers: str, etcd_prefix: str,
            etcd_servers_overrides: tuple[str, ...], data_dir: str | None, service_cluster_ip_range: str,
            service_node_port_range: str, authorization_mode: str) -> None:
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
    overrides: list[str] = []
    for value in etcd_servers_overrides:
        overrides.extend(v for v in value.split(",") if v)
    from hyperkube.apiserver.app import APIServer, APIServerConfig
    from hyperkube.storage.interface import StorageError

    config = APIServerConfig(
        bind_address=insecure_bind_address, port=insecure_port, etcd_servers=etcd_servers,
        etcd_prefix=etcd_prefix, etcd_servers_overrides=overrides, data_dir=data_dir or _default_data_dir(),
        service_cluster_ip_range=service_cluster_ip_range, service_node_port_range=service_node_port_range,
        authorization_mode=authorization_mode)
    try:
        asyncio.run(_serve(APIServer(config)))
    except (OSError, ValueError, StorageError) as exc:
        click.echo(f"hyperkube apiserver: {exc}", err=True)
        sys.exit(1)


async def _serve(server: object) -> None:
    from hyperkube.apiserver.app import APIServer

    assert isinstance(server, APIServer)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
        await stop.wait()
    finally:
        await server.stop()
