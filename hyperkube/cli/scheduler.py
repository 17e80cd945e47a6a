"""kube-scheduler: flags in, :class:`hyperkube.scheduler.Scheduler` out; SIGINT/SIGTERM stop it.

With ``--leader-elect`` the scheduler runs only while holding the Lease
kube-system/kube-scheduler, so two can run for HA and only one schedules; when the lease is
lost the process exits (non-zero) to start afresh, as kube-scheduler does.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import click

from hyperkube.cli.options import CONTEXT_SETTINGS, common_options

log = logging.getLogger("hyperkube.scheduler")


@click.command(name="scheduler", context_settings=CONTEXT_SETTINGS,
               help="Bind pending pods to nodes using predicates and priorities from a policy file.")
@click.option("--master", default=None, metavar="URL",
              help="The API server's address (overrides the kubeconfig's server).")
@click.option("--kubeconfig", default=None, metavar="PATH", help="Kubeconfig file with the server and credentials.")
@click.option("--scheduler-name", default="default-scheduler", show_default=True,
              help="Schedule only pods whose spec.schedulerName is this.")
@click.option("--policy-config-file", default=None, metavar="PATH",
              help="Kubernetes policy JSON naming the predicates and weighted priorities to run. "
                   "[default: the default set]")
@click.option("--leader-elect/--no-leader-elect", default=False, show_default=True,
              help="Schedule only while holding the Lease kube-system/kube-scheduler (for HA).")
@click.option("--leader-elect-lease-duration", type=float, default=15.0, show_default=True, metavar="SECONDS")
@click.option("--leader-elect-renew-deadline", type=float, default=10.0, show_default=True, metavar="SECONDS")
@click.option("--leader-elect-retry-period", type=float, default=2.0, show_default=True, metavar="SECONDS")
@click.option("--leader-elect-resource-name", default="kube-scheduler", show_default=True)
@click.option("--leader-elect-resource-namespace", default="kube-system", show_default=True)
@common_options
def command(master: str | None, kubeconfig: str | None, scheduler_name: str, policy_config_file: str | None,
            leader_elect: bool, leader_elect_lease_duration: float, leader_elect_renew_deadline: float,
            leader_elect_retry_period: float, leader_elect_resource_name: str,
            leader_elect_resource_namespace: str) -> None:
    from hyperkube.client import Config, ConfigError, LeaderElectionConfig, load_config
    from hyperkube.scheduler import Policy, PolicyError, SchedulerConfig, load_policy

    try:
        policy = load_policy(policy_config_file) if policy_config_file else Policy()
    except PolicyError as error:
        click.echo(f"hyperkube scheduler: {error}", err=True)
        sys.exit(1)
    try:
        if master and not kubeconfig:
            config = Config(server=master.rstrip("/"))
        else:
            config = load_config(kubeconfig, server=master.rstrip("/") if master else None)
    except ConfigError as error:
        click.echo(f"hyperkube scheduler: {error}", err=True)
        sys.exit(1)
    election = None
    if leader_elect:
        try:
            election = LeaderElectionConfig(leader_elect_resource_name, leader_elect_resource_namespace,
                                            lease_duration=leader_elect_lease_duration,
                                            renew_deadline=leader_elect_renew_deadline,
                                            retry_period=leader_elect_retry_period)
        except ValueError as error:
            raise click.BadParameter(str(error)) from None
    settings = SchedulerConfig(scheduler_name=scheduler_name, policy=policy)
    lost = asyncio.run(_serve(config, settings, election))
    if lost:
        sys.exit(1)


async def _serve(config: object, settings: object, election: object) -> bool:
    """Run until a signal; returns True if leadership was lost."""
    from hyperkube.client import Client, LeaderElectionConfig, LeaderElector
    from hyperkube.scheduler import Scheduler, SchedulerConfig

    assert isinstance(settings, SchedulerConfig)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Client(config) as client:  # type: ignore[arg-type]
        if isinstance(election, LeaderElectionConfig):
            elector = LeaderElector(client, election, on_started_leading=lambda: Scheduler(client, settings).run(),
                                    on_new_leader=lambda who: log.info("leader is now %s", who))
            log.info("waiting for the lease %s/%s as %s", election.namespace, election.name, election.identity)
            work = asyncio.ensure_future(elector.run())
        else:
            work = asyncio.ensure_future(Scheduler(client, settings).run())
        waiter = asyncio.ensure_future(stop.wait())
        await asyncio.wait({work, waiter}, return_when=asyncio.FIRST_COMPLETED)
        stopped = waiter.done()
        for task in (work, waiter):
            task.cancel()
        await asyncio.gather(work, waiter, return_exceptions=True)
        if not stopped:
            log.error("leadership lost; exiting")
        return not stopped
