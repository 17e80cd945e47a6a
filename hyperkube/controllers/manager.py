"""The controller manager: the wiring that runs the enabled controllers in one process.

It builds one :class:`~hyperkube.controllers.base.ControllerContext` (one client, one shared
informer factory, one event recorder), instantiates each enabled controller from the
registry (each declares its informers), starts the informers, waits for their first lists,
then runs every controller as its own task. With leader election only the holder of the
Lease ``kube-system/kube-controller-manager`` runs controllers; losing it stops them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from hyperkube.client import Client, EventRecorder, InformerFactory, LeaderElectionConfig, LeaderElector
from hyperkube.controllers.base import Controller, ControllerContext
from hyperkube.controllers.registry import CONTROLLERS, enabled_controllers

log = logging.getLogger("hyperkube.controllers.manager")


@dataclass
class ManagerOptions:
    controllers: str | list[str] = "*"
    concurrent_syncs: dict[str, int] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    leader_elect: bool = False
    lease_name: str = "kube-controller-manager"
    lease_namespace: str = "kube-system"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str | None = None
    resync_period: float = 0.0


class ControllerManager:
    def __init__(self, client: Client, options: ManagerOptions | None = None) -> None:
        self.client = client
        self.options = options or ManagerOptions()
        self.names = enabled_controllers(self.options.controllers)
        self.controllers: dict[str, Controller] = {}
        self.elector: LeaderElector | None = None
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Run until cancelled (or, with leader election, until the lease is lost)."""
        if not self.options.leader_elect:
            await self.run_controllers()
            return
        config = LeaderElectionConfig(self.options.lease_name, self.options.lease_namespace,
                                      lease_duration=self.options.lease_duration,
                                      renew_deadline=self.options.renew_deadline,
                                      retry_period=self.options.retry_period)
        if self.options.identity:
            config.identity = self.options.identity
        self.elector = LeaderElector(self.client, config, on_started_leading=self.run_controllers)
        await self.elector.run()

    async def run_controllers(self) -> None:
        opts = self.options
        factory = InformerFactory(self.client, resync_period=opts.resync_period)
        recorder = EventRecorder(self.client, "controller-manager")
        concurrent = {}
        for name in self.names:
            spec = CONTROLLERS[name]
            concurrent[name] = opts.concurrent_syncs.get(name, spec.default_workers)
        ctx = ControllerContext(self.client, factory, recorder, concurrent, dict(opts.options))
        for spec in CONTROLLERS.values():
            for option in spec.options:
                ctx.options.setdefault(option.key, option.default)
        tasks: list[asyncio.Task[None]] = []
        self.controllers = {}
        try:
            for name in self.names:
                try:
                    cls = CONTROLLERS[name].load()
                except ImportError as error:  # a controller's optional library is missing: run the others
                    log.error("controller %s cannot start: %s", name, error)
                    continue
                self.controllers[name] = cls(ctx)
            factory.start()
            await factory.wait_for_sync()
            log.info("controllers started: %s", ", ".join(self.names))
            tasks = [asyncio.create_task(c.run(concurrent[name]), name=f"controller {name}")
                     for name, c in self.controllers.items()]
            self.ready.set()
            await asyncio.gather(*tasks)
        finally:
            self.ready.clear()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await factory.stop()
            await recorder.close()

    # -- for tests and `hyperkube up`: run in the background on the current loop ------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="controller-manager")
        ready = asyncio.create_task(self.ready.wait())
        await asyncio.wait({self._task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if self._task.done():
            ready.cancel()
            self._task.result()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
