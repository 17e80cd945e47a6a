"""kubelet: flags in, :class:`hyperkube.kubelet.kubelet.Kubelet` out; SIGINT/SIGTERM stop it.

The pods keep running when the kubelet stops (a restarted kubelet adopts them), as with the
real kubelet. ``--hollow-nodes N`` (with ``--runtime fake``) runs N kubelets, nodes
``<name>-0 .. <name>-N-1``, in this one process, sharing one client and one event loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import click

from hyperkube.cli.options import CONTEXT_SETTINGS, common_options


def _default_root_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "hyperkube", "kubelet")


def _labels(values: tuple[str, ...]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for value in values:
        for item in filter(None, value.split(",")):
            key, sep, label = item.partition("=")
            if not sep or not key:
                raise click.BadParameter(f"--node-labels wants KEY=VALUE, not {item!r}")
            labels[key.strip()] = label.strip()
    return labels


def _taints(values: tuple[str, ...]) -> list[dict[str, str]]:
    taints = []
    for value in values:
        for item in filter(None, value.split(",")):
            head, _, effect = item.partition(":")
            key, _, taint_value = head.partition("=")
            if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute") or not key:
                raise click.BadParameter(f"--register-with-taints wants KEY[=VALUE]:EFFECT, not {item!r}")
            taint = {"key": key, "effect": effect}
            if taint_value:
                taint["value"] = taint_value
            taints.append(taint)
    return taints


def _image_map(path: str | None) -> dict[str, dict[str, Any]]:
    if not path:
        return {}
    import yaml

    with open(path) as handle:
        data = yaml.safe_load(handle) or {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise click.BadParameter("--image-map must map image names to {command, args, env, workingDir}")
    return data


def _cluster_dns(values: tuple[str, ...]) -> list[tuple[str, int]]:
    from hyperkube.addons.dns import parse_upstream

    servers = []
    for item in (item for value in values for item in value.split(",") if item.strip()):
        try:
            servers.append(parse_upstream(item))
        except ValueError:
            raise click.BadParameter(f"--cluster-dns wants IP[:PORT], not {item!r}") from None
    return servers


@click.command(name="kubelet", context_settings=CONTEXT_SETTINGS,
               help="Run the pods bound to this node as processes, from the API server and static manifests.")
@click.option("--kubeconfig", default=None, metavar="PATH", help="Kubeconfig of the API server to register with.")
@click.option("--api-servers", default=None, metavar="URL", help="API server URL (instead of --kubeconfig).")
@click.option("--hostname-override", default=None, help="Node name. [default: the host name]")
@click.option("--node-ip", default="127.0.0.1", show_default=True, help="The node's IP: podIP, and where the kubelet listens.")
@click.option("--root-dir", default=None, metavar="DIR",
              help="Kubelet state: pods, logs. [default: $XDG_DATA_HOME/hyperkube/kubelet]")
@click.option("--port", type=click.IntRange(0, 65535), default=10250, show_default=True,
              help="Port of the kubelet's server (logs, exec); 0 picks a free one and logs it.")
@click.option("--read-only-port", type=click.IntRange(0, 65535), default=None,
              help="Port of the unauthenticated read-only server (/healthz, /pods). [default: off]")
@click.option("--runtime", type=click.Choice(["process", "fake"]), default="process", show_default=True,
              help="process: each container is a process; fake: hollow node, no processes.")
@click.option("--image-map", default=None, metavar="FILE",
              help="YAML: image -> {command, args, env, workingDir} for containers without a command.")
@click.option("--node-labels", multiple=True, metavar="K=V,...", help="Labels to register the node with.")
@click.option("--register-with-taints", multiple=True, metavar="K[=V]:EFFECT,...", help="Taints to register with.")
@click.option("--max-pods", type=click.IntRange(1), default=110, show_default=True)
@click.option("--pod-manifest-path", "--config", "manifest_path", default=None, metavar="PATH",
              help="Directory (or file) of static pod manifests.")
@click.option("--file-check-frequency", type=float, default=20.0, show_default=True,
              help="Seconds between full re-reads of --pod-manifest-path.")
@click.option("--manifest-url", default=None, metavar="URL", help="URL of static pod manifests.")
@click.option("--http-check-frequency", type=float, default=20.0, show_default=True,
              help="Seconds between fetches of --manifest-url.")
@click.option("--node-status-update-frequency", type=click.FloatRange(0.1), default=10.0, show_default=True,
              metavar="SECONDS", help="How often the node's status is computed and posted when it changed.")
@click.option("--node-lease-duration-seconds", type=click.IntRange(1), default=40, show_default=True,
              help="Duration of the node's Lease; it is renewed every quarter of it, as Kubernetes does.")
@click.option("--tls-cert-file", default=None, metavar="PATH",
              help="Serving certificate: with it the kubelet serves HTTPS and authenticates and authorizes "
                   "every request. [default: plain HTTP on the node IP, no authentication]")
@click.option("--tls-private-key-file", default=None, metavar="PATH", help="Key of --tls-cert-file.")
@click.option("--client-ca-file", default=None, metavar="PATH",
              help="CA whose client certificates authenticate callers (the API server's, the admin's).")
@click.option("--anonymous-auth/--no-anonymous-auth", default=False, show_default=True,
              help="Let requests without credentials through as system:anonymous (then authorized).")
@click.option("--authorization-mode", type=click.Choice(["Webhook", "AlwaysAllow"]), default="Webhook",
              show_default=True, help="Webhook: ask the API server (SubjectAccessReview) about each caller.")
@click.option("--authentication-token-webhook/--no-authentication-token-webhook", default=True,
              show_default=True, help="Check bearer tokens with the API server's TokenReview.")
@click.option("--cluster-dns", "cluster_dns", multiple=True, metavar="IP[:PORT],...",
              help="Cluster DNS server(s) for pods (repeatable, or comma-separated): written to a per-pod "
                   "resolv.conf and the KUBERNETES_DNS_* variables (process pods keep the host's "
                   "/etc/resolv.conf; see hyperkube/kubelet/dns.py).")
@click.option("--cluster-domain", default="cluster.local", show_default=True,
              help="The cluster's DNS domain: the pods' search list <ns>.svc.DOMAIN svc.DOMAIN DOMAIN.")
@click.option("--hollow-nodes", type=click.IntRange(1), default=None, metavar="N",
              help="Run N fake kubelets (nodes NAME-0..NAME-N-1) in this process; implies --runtime fake.")
@common_options
def command(kubeconfig: str | None, api_servers: str | None, hostname_override: str | None, node_ip: str,
            root_dir: str | None, port: int, read_only_port: int | None, runtime: str, image_map: str | None,
            node_labels: tuple[str, ...], register_with_taints: tuple[str, ...], max_pods: int,
            manifest_path: str | None, file_check_frequency: float, manifest_url: str | None,
            http_check_frequency: float, node_status_update_frequency: float,
            node_lease_duration_seconds: int, tls_cert_file: str | None, tls_private_key_file: str | None,
            client_ca_file: str | None, anonymous_auth: bool, authorization_mode: str,
            authentication_token_webhook: bool, cluster_dns: tuple[str, ...], cluster_domain: str,
            hollow_nodes: int | None) -> None:
    from hyperkube.client import Client, Config, ConfigError, load_config
    from hyperkube.kubelet.auth import KubeletAuthConfig
    from hyperkube.kubelet.kubelet import KubeletConfig
    from hyperkube.kubelet.node import default_hostname

    try:
        if api_servers:
            config = Config(server=api_servers.split(",")[0].rstrip("/"))
        else:
            config = load_config(kubeconfig)
    except ConfigError as error:
        raise click.UsageError(f"no API server: {error} (use --kubeconfig or --api-servers)") from None
    if not tls_cert_file and not _loopback(node_ip):
        raise click.BadParameter(f"{node_ip} is not a loopback address: without --tls-cert-file the kubelet's "
                                 "server (exec, logs, static pods) has no authentication, so it serves only loopback",
                                 param_hint="--node-ip")
    name = (hostname_override or default_hostname()).lower()
    base = KubeletConfig(
        node_name=name, hostname=name, root_dir=root_dir or _default_root_dir(), node_ip=node_ip, port=port,
        read_only_port=read_only_port, runtime="fake" if hollow_nodes else runtime,
        image_map=_image_map(image_map), node_labels=_labels(node_labels),
        taints=_taints(register_with_taints), max_pods=max_pods, manifest_path=manifest_path,
        file_check_frequency=file_check_frequency, manifest_url=manifest_url,
        http_check_frequency=http_check_frequency, node_status_frequency=node_status_update_frequency,
        lease_duration=node_lease_duration_seconds, lease_frequency=node_lease_duration_seconds / 4,
        cluster_dns=_cluster_dns(cluster_dns), cluster_domain=cluster_domain.strip("."),
        auth=KubeletAuthConfig(tls_cert_file=tls_cert_file or "", tls_private_key_file=tls_private_key_file or "",
                               client_ca_file=client_ca_file or "", anonymous_auth=anonymous_auth,
                               authorization_mode=authorization_mode,
                               token_webhook=authentication_token_webhook))
    try:
        asyncio.run(_serve(Client(config), base, hollow_nodes))
    except OSError as error:
        click.echo(f"hyperkube kubelet: {error}", err=True)
        sys.exit(1)


def _loopback(address: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


async def _serve(client: Any, base: Any, hollow_nodes: int | None) -> None:
    import dataclasses

    from hyperkube.client import InformerFactory
    from hyperkube.kubelet.kubelet import Kubelet

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if hollow_nodes:
        factory = InformerFactory(client)
        pods = factory.informer("v1/pods")  # one watch for every hollow node
        kubelets = [Kubelet(client, dataclasses.replace(
            base, node_name=f"{base.node_name}-{i}", hostname=f"{base.node_name}-{i}",
            root_dir=os.path.join(base.root_dir, f"hollow-{i}"), port=None, read_only_port=None,
            record_events=False, manifest_path=None, manifest_url=None), informers=factory, pod_informer=pods)
            for i in range(hollow_nodes)]
    else:
        kubelets = [Kubelet(client, base)]
    try:
        for kubelet in kubelets:
            await kubelet.start()
        await stop.wait()
    finally:
        for kubelet in kubelets:
            await kubelet.stop()
        await client.close()
