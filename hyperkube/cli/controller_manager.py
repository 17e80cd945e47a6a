"""kube-controller-manager: flags in, :class:`hyperkube.controllers.manager.ControllerManager` out.

The ``--concurrent-*-syncs`` flags and any controller-specific flags are generated from the
controller registry (:mod:`hyperkube.controllers.registry`), so a new controller brings its
flags with its table entry. SIGINT/SIGTERM stop the controllers (and release the Lease).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from typing import Any

import click

from hyperkube.cli.options import CONTEXT_SETTINGS, common_options
from hyperkube.controllers.registry import CONTROLLERS, UnknownControllerError, enabled_controllers


def _dest(name: str) -> str:
    return "syncs__" + name.replace("-", "_")


def _registry_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for spec in reversed(list(CONTROLLERS.values())):
        for option in reversed(spec.options):
            func = click.option(f"--{option.flag}", f"opt__{option.key}", default=option.default,
                                type=type(option.default), show_default=True, help=option.help)(func)
        if spec.workers_flag:
            func = click.option(f"--{spec.workers_flag}", _dest(spec.name), default=spec.default_workers,
                                type=click.IntRange(1, 1000), show_default=True,
                                help=f"Objects of the {spec.name} controller synced at once (workers).")(func)
    return func


@click.command(name="controller-manager", context_settings=CONTEXT_SETTINGS,
               help="Run the controllers that drive the cluster towards its desired state "
                    "(replicaset, deployment, garbage collector, ...).")
@click.option("--master", default=None, metavar="URL",
              help="Address of the API server (overrides the kubeconfig's server).")
@click.option("--kubeconfig", default=None, metavar="PATH", help="Kubeconfig with the API server and credentials.")
@click.option("--controllers", "controllers", default="*", show_default=True, metavar="LIST",
              help="Controllers to run: '*' enables the default ones, 'name' enables one, '-name' disables "
                   f"one. Known: {', '.join(CONTROLLERS)}.")
@click.option("--leader-elect/--no-leader-elect", "leader_elect", default=True, show_default=True,
              help="Run controllers only while holding the Lease kube-system/kube-controller-manager.")
@click.option("--leader-elect-lease-duration", default=15.0, show_default=True, metavar="SECONDS",
              help="How long others wait before taking over a lease that is not renewed.")
@click.option("--leader-elect-renew-deadline", default=10.0, show_default=True, metavar="SECONDS",
              help="How long the leader keeps trying to renew before it stops leading.")
@click.option("--leader-elect-retry-period", default=2.0, show_default=True, metavar="SECONDS",
              help="How often candidates try to acquire or renew the lease.")
@click.option("--leader-elect-resource-name", default="kube-controller-manager", show_default=True)
@click.option("--leader-elect-resource-namespace", default="kube-system", show_default=True)
@click.option("--kube-api-qps", default=20.0, show_default=True, help="Requests per second to the API server "
              "(0: unlimited).")
@click.option("--kube-api-burst", default=30, show_default=True, help="Burst of requests to the API server.")
@_registry_options
@common_options
def command(master: str | None, kubeconfig: str | None, controllers: str, leader_elect: bool,
            leader_elect_lease_duration: float, leader_elect_renew_deadline: float,
            leader_elect_retry_period: float, leader_elect_resource_name: str,
            leader_elect_resource_namespace: str, kube_api_qps: float, kube_api_burst: int, **rest: Any) -> None:
    try:
        enabled_controllers(controllers)
    except UnknownControllerError as error:
        raise click.BadParameter(str(error), param_hint="--controllers") from None
    from hyperkube.client import Config, ConfigError, load_config
    from hyperkube.controllers.manager import ManagerOptions

    try:
        if master and not kubeconfig:
            config = Config(server=master.rstrip("/"))
        else:
            config = load_config(kubeconfig, server=master)
    except ConfigError as error:
        click.echo(f"hyperkube controller-manager: {error}", err=True)
        sys.exit(1)
    options = ManagerOptions(
        controllers=controllers, leader_elect=leader_elect, lease_name=leader_elect_resource_name,
        lease_namespace=leader_elect_resource_namespace, lease_duration=leader_elect_lease_duration,
        renew_deadline=leader_elect_renew_deadline, retry_period=leader_elect_retry_period,
        concurrent_syncs={name: rest[_dest(name)] for name in CONTROLLERS if _dest(name) in rest},
        options={k[len("opt__"):]: v for k, v in rest.items() if k.startswith("opt__")})
    asyncio.run(_serve(config, options, kube_api_qps, kube_api_burst))


async def _serve(config: Any, options: Any, qps: float, burst: int) -> None:
    import logging

    from hyperkube.client import Client
    from hyperkube.controllers.manager import ControllerManager

    log = logging.getLogger("hyperkube.controllers.manager")
    loop = asyncio.get_running_loop()
    async with Client(config, qps=qps or None, burst=burst) as client:
        manager = ControllerManager(client, options)
        task = asyncio.create_task(manager.run())
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        log.info("controller-manager starting against %s (controllers: %s)", config.server,
                 ", ".join(manager.names))
        try:
            await task
        except asyncio.CancelledError:
            pass
        if not task.cancelled() and options.leader_elect:
            log.warning("leader election lost; exiting")
            sys.exit(1)
