"""kube-proxy: flags in, :class:`hyperkube.proxy.server.ProxyServer` out; SIGINT/SIGTERM stop it
gracefully (listeners close at once, open connections get ``--shutdown-grace`` seconds)."""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

import click

from hyperkube.cli.options import CONTEXT_SETTINGS, api_client_config, common_options, serve_until_signalled


@click.command(name="proxy", context_settings=CONTEXT_SETTINGS,
               help="Make Services reachable at their cluster IPs and node ports (userspace or iptables, round robin).")
@click.option("--kubeconfig", default=None, metavar="PATH", help="Kubeconfig of the API server.")
@click.option("--master", default=None, metavar="URL", help="API server URL (overrides the kubeconfig's server).")
@click.option("--hostname-override", default=None, help="This node's name. [default: the host name]")
@click.option("--bind-address", default="0.0.0.0", show_default=True,
              help="Address the NodePort listeners bind.")
@click.option("--proxy-mode", type=click.Choice(["", "userspace", "iptables"]), default="", show_default=True,
              help="userspace or iptables; empty picks iptables when usable (root, iptables), else userspace. "
                   "The node annotation net.experimental.kubernetes.io/proxy-mode overrides it.")
@click.option("--healthz-bind-address", default="127.0.0.1:10256", show_default=True, metavar="HOST:PORT",
              help="Where /healthz and /metrics are served; port 0 picks a free one; empty turns it off.")
@click.option("--udp-timeout", type=float, default=0.25, show_default=True,
              help="Seconds an idle UDP session to an endpoint is kept.")
@click.option("--config-sync-period", type=float, default=30.0, show_default=True,
              help="Seconds between full syncs (changes are applied as they come).")
@click.option("--shutdown-grace", type=float, default=5.0, show_default=True,
              help="Seconds open connections get to finish on shutdown.")
@click.option("--cleanup", is_flag=True,
              help="Remove the iptables rules and chains a previous proxy left, then exit.")
@common_options
def command(kubeconfig: str | None, master: str | None, hostname_override: str | None, bind_address: str,
            proxy_mode: str, healthz_bind_address: str, udp_timeout: float, config_sync_period: float,
            shutdown_grace: float, cleanup: bool) -> None:
    if cleanup:
        _cleanup()
        return

    from hyperkube.client import Client
    from hyperkube.proxy.server import ProxyConfig

    config = api_client_config(kubeconfig, master)
    proxy_config = ProxyConfig(
        hostname=(hostname_override or socket.gethostname()).lower(), bind_address=bind_address,
        proxy_mode=proxy_mode, healthz_bind_address=healthz_bind_address or None, udp_timeout=udp_timeout,
        sync_period=config_sync_period, shutdown_grace=shutdown_grace)
    try:
        asyncio.run(_serve(Client(config), proxy_config))
    except OSError as error:
        click.echo(f"hyperkube proxy: {error}", err=True)
        sys.exit(1)


def _cleanup() -> None:
    from hyperkube.proxy import iptables

    if not iptables.usable():
        click.echo("hyperkube proxy: --cleanup needs the iptables binaries", err=True)
        sys.exit(1)
    try:
        removed = asyncio.run(iptables.cleanup())
    except (OSError, iptables.IptablesError) as error:
        click.echo(f"hyperkube proxy: cleanup failed: {error}", err=True)
        sys.exit(1)
    click.echo(f"removed {removed} iptables chains")


async def _serve(client: Any, config: Any) -> None:
    from hyperkube.proxy.server import ProxyServer

    await serve_until_signalled(ProxyServer(client, config), client)
