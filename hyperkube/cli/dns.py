"""hyperkube dns: flags in, :class:`hyperkube.addons.dns.DNSServer` out; SIGINT/SIGTERM stop it.

Port 53 needs root (or CAP_NET_BIND_SERVICE); ``--port 0`` picks a free port, which the
"serving ... on HOST:PORT" log line names.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from hyperkube.cli.options import CONTEXT_SETTINGS, api_client_config, common_options, serve_until_signalled


@click.command(name="dns", context_settings=CONTEXT_SETTINGS,
               help="Serve the cluster domain over DNS (UDP and TCP) from Services and EndpointSlices; "
                    "forward other names to the upstream resolvers.")
@click.option("--kubeconfig", default=None, metavar="PATH", help="Kubeconfig of the API server.")
@click.option("--master", default=None, metavar="URL", help="API server URL (overrides the kubeconfig's server).")
@click.option("--bind-address", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=53, show_default=True,
              help="UDP and TCP port; 0 picks a free one and logs it.")
@click.option("--cluster-domain", default="cluster.local", show_default=True, help="The zone answered here.")
@click.option("--upstream", "upstreams", multiple=True, metavar="IP[:PORT]",
              help="Resolver for other names (repeatable). [default: the nameservers of /etc/resolv.conf]")
@click.option("--ttl", type=click.IntRange(0, 3600), default=30, show_default=True,
              help="TTL of the cluster's records, in seconds.")
@click.option("--forward-timeout", type=float, default=2.0, show_default=True,
              help="Seconds to wait for each upstream before the next (SERVFAIL when none answers).")
@common_options
def command(kubeconfig: str | None, master: str | None, bind_address: str, port: int, cluster_domain: str,
            upstreams: tuple[str, ...], ttl: int, forward_timeout: float) -> None:
    from hyperkube.addons.dns import DNSConfig, parse_upstream
    from hyperkube.client import Client

    config = api_client_config(kubeconfig, master)
    for upstream in upstreams:
        try:
            parse_upstream(upstream)
        except ValueError:
            raise click.BadParameter(f"{upstream!r} is not IP[:PORT]", param_hint="--upstream") from None
    dns_config = DNSConfig(bind_address=bind_address, port=port, domain=cluster_domain.strip(".") or "cluster.local",
                           upstreams=list(upstreams) or None, ttl=ttl, forward_timeout=forward_timeout)
    try:
        asyncio.run(_serve(Client(config), dns_config))
    except OSError as error:
        click.echo(f"hyperkube dns: {error}", err=True)
        sys.exit(1)


async def _serve(client: Any, config: Any) -> None:
    from hyperkube.addons.dns import DNSServer

    await serve_until_signalled(DNSServer(client, config), client)
