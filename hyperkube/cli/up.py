"""``hyperkube up``: a whole cluster in one process (see :mod:`hyperkube.cli.cluster`).

Secure by default: HTTPS only, a CA and certificates made on the first start in
``<data-dir>/pki`` and reused after, RBAC, every component on its own identity, and an admin
kubeconfig (CA and client certificate embedded) for the user.

What it prints: one plain line per running component, the API server address
(``API server: https://HOST:PORT``, which scripts and tests wait for) and how to use it. When
stdout is a terminal a rich live table of nodes, pods and recent events follows, refreshed
every two seconds through the API (the status view is a client like any other); otherwise
nothing more is printed and logs go to stderr. SIGINT/SIGTERM stop the components in reverse
order and the pods with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from typing import Any

import click

from hyperkube.cli.options import CONTEXT_SETTINGS, common_options

ADDONS = ("dns", "metrics", "dashboard")


def _disabled(values: tuple[str, ...]) -> frozenset[str]:
    names = {n.strip() for v in values for n in v.split(",") if n.strip()}
    unknown = names - set(ADDONS)
    if unknown:
        raise click.BadParameter(f"unknown add-on(s) {', '.join(sorted(unknown))}; known: {', '.join(ADDONS)}",
                                 param_hint="--disable")
    return frozenset(names)


@click.command(name="up", context_settings=CONTEXT_SETTINGS,
               help="Run a whole cluster in one process: API server (embedded SQLite store), controller-manager, "
                    "scheduler, DNS, kubelet (process runtime), proxy and add-on manager, on one event loop. "
                    "Secure by default: HTTPS only, a CA and certificates made on the first start in "
                    "DATA-DIR/pki, RBAC, and every component on its own identity. The admin kubeconfig is "
                    "merged into ~/.kube/config as the context 'hyperkube' (other contexts are kept) unless "
                    "--write-kubeconfig says where to write it. Ctrl-C stops everything, pods included; a "
                    "restart on the same --data-dir resumes the cluster with the same certificates.")
@click.option("--port", type=click.IntRange(0, 65535), default=6443, show_default=True,
              help="HTTPS port of the API server on 127.0.0.1 (there is no plain-HTTP port); 0 picks a free "
                   "one and prints it.")
@click.option("--data-dir", default=None, metavar="DIR",
              help="The store and the kubelet's state. [default: $XDG_DATA_HOME/hyperkube or "
                   "~/.local/share/hyperkube]")
@click.option("--etcd-servers", default="", metavar="URLS",
              help="Store: http(s)://host:port for etcd, sqlite:///path.db for SQLite. "
                   "[default: sqlite in --data-dir]")
@click.option("--write-kubeconfig", default=None, metavar="PATH",
              help="Write the kubeconfig here instead of merging it into ~/.kube/config.")
@click.option("--nodes", type=click.IntRange(0, 250), default=0, show_default=True, metavar="N",
              help="Extra process-runtime kubelets, nodes NAME-2.. on node IPs 127.0.0.2 and up.")
@click.option("--hollow-nodes", type=click.IntRange(0), default=0, show_default=True, metavar="N",
              help="Extra fake kubelets (nodes hollow-0..) that run no processes.")
@click.option("--disable", multiple=True, metavar="dns,metrics,dashboard",
              help="Add-ons not to start (comma-separated, repeatable). dns: the cluster DNS server and its "
                   "kube-dns Service (kubelets then give pods no cluster DNS). metrics: accepted, but "
                   "metrics.k8s.io (kubectl top) is served by the API server itself and stays on. dashboard: "
                   "the web UI the API server serves at /ui/.")
@click.option("--dns-port", type=click.IntRange(0, 65535), default=10053, show_default=True,
              help="UDP and TCP port of the cluster DNS on 127.0.0.1 (pods are told it); when it is taken, "
                   "a free one is used and printed. 0 always picks a free one.")
@click.option("--addons-dir", default=None, metavar="DIR",
              help="Manifests (*.yaml, *.yml, *.json) applied at start and whenever a file changes; removing "
                   "a file (or an object from it) deletes what it created. [default: DATA-DIR/addons]")
@click.option("--hostname-override", default=None, help="Name of the first node. [default: the host name]")
@common_options
def command(port: int, data_dir: str | None, etcd_servers: str, write_kubeconfig: str | None, nodes: int,
            hollow_nodes: int, disable: tuple[str, ...], dns_port: int, addons_dir: str | None,
            hostname_override: str | None) -> None:
    from hyperkube.cli.cluster import UpConfig, default_data_dir
    from hyperkube.storage.interface import StorageError

    config = UpConfig(data_dir=os.path.abspath(data_dir or default_data_dir()), port=port,
                      etcd_servers=etcd_servers, nodes=nodes, hollow_nodes=hollow_nodes,
                      disable=_disabled(disable), addons_dir=os.path.abspath(addons_dir) if addons_dir else "",
                      dns_port=dns_port)
    config.home_kubeconfig = os.path.join(os.path.expanduser("~"), ".kube", "config")
    if hostname_override:
        config.node_name = hostname_override.lower()
    lock = _lock(config.data_dir)
    try:
        asyncio.run(_serve(config, write_kubeconfig))
    except (OSError, ValueError, StorageError) as error:
        click.echo(f"hyperkube up: {error}", err=True)
        sys.exit(1)
    finally:
        os.close(lock)


def _lock(data_dir: str) -> int:
    """One ``up`` per data dir: two clusters over one store and one kubelet root would fight
    over the same pods. The lock goes away with the process, however it ends."""
    import fcntl

    os.makedirs(data_dir, exist_ok=True)
    fd = os.open(os.path.join(data_dir, "up.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        click.echo(f"hyperkube up: another hyperkube up is running on {data_dir}", err=True)
        sys.exit(1)
    return fd


def _merge_admin(merge: Any, path: str, cluster: Any) -> Any:
    """The admin's context into ``path`` (blocking: reads the certificate files)."""
    cert, key = cluster.pki.cluster.admin.read()
    with open(cluster.pki.ca_file, "rb") as handle:
        ca = handle.read()
    return merge(path, cluster.url, ca_data=ca, cert_data=cert, key_data=key)


def _say(line: str = "") -> None:
    print(line, flush=True)


#: asyncio's TLS transport gives every connection a read buffer of this many bytes (256 KiB by
#: default, allocated and zeroed up front). ``up`` holds both ends of some hundred long-lived
#: TLS connections in one process (every informer's watch, client side and API server side),
#: which at 256 KiB costs about 50 MB of the idle RSS budget. 32 KiB still takes two full TLS
#: records (16 KiB of plaintext each) per read.
TLS_READ_BUFFER = 32 * 1024


def _small_tls_buffers() -> None:
    import asyncio.sslproto

    if getattr(asyncio.sslproto.SSLProtocol, "max_size", 0) > TLS_READ_BUFFER:
        asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER


async def _serve(config: Any, write_kubeconfig: str | None) -> None:
    from hyperkube.cli.cluster import Cluster, merge_kubeconfig
    from hyperkube.cli.kubeconfigs import write_cluster_kubeconfigs, write_identity_kubeconfig

    _small_tls_buffers()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    cluster = Cluster(config)
    status: asyncio.Task[None] | None = None
    try:
        starting = asyncio.ensure_future(cluster.start())
        waiter = asyncio.ensure_future(stop.wait())
        await asyncio.wait({starting, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if not starting.done():  # a signal while starting: stop what has started
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            return
        starting.result()
        await asyncio.to_thread(write_cluster_kubeconfigs, cluster.pki.cluster, cluster.url)
        if write_kubeconfig:
            path = await asyncio.to_thread(write_identity_kubeconfig, write_kubeconfig, cluster.url,
                                           cluster.pki.ca_file, cluster.pki.cluster.admin)
            how = f"export KUBECONFIG={path}"
        else:
            path = await asyncio.to_thread(_merge_admin, merge_kubeconfig, config.home_kubeconfig, cluster)
            how = "kubectl config use-context hyperkube   # already the current context"
            if os.environ.get("KUBECONFIG"):
                how = f"export KUBECONFIG={path}   # KUBECONFIG is set, so kubectl reads that instead"
        _say("hyperkube up: running in one process")
        for description, _ in cluster.running:
            _say(f"  {description}")
        _say(f"  {'metrics':<19}metrics.k8s.io in the API server (kubectl top)")
        if "dashboard" not in config.disable:
            _say(f"  {'dashboard':<19}{cluster.url}/ui/ (or kubectl proxy, then http://127.0.0.1:8001/ui/)")
        _say(f"API server: {cluster.url}")
        _say(f"kubeconfig: {path} (context hyperkube, user kubernetes-admin)")
        _say(f"component kubeconfigs: {cluster.pki.cluster.directory}/*.kubeconfig (for components run apart)")
        _say("Use it with:")
        _say(f"  {how}")
        _say("  kubectl get nodes")
        _say("Ctrl-C stops the cluster and its pods.")
        if sys.stdout.isatty():
            from hyperkube.cli.up_status import live_status

            status = asyncio.ensure_future(live_status(cluster.admin_config(), stop))
        await stop.wait()
    finally:
        if status is not None:
            status.cancel()
            with contextlib.suppress(BaseException):
                await status
        print("hyperkube up: stopping", file=sys.stderr, flush=True)
        await cluster.stop()
