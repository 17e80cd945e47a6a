"""--controllers parsing, the generated flags, and leader election of the manager."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from hyperkube.cli.controller_manager import command
from hyperkube.client import LEASES, Client
from hyperkube.controllers.registry import (
    CONTROLLERS,
    ControllerSpec,
    UnknownControllerError,
    enabled_controllers,
)
from tests.controllers.conftest import eventually

TABLE = {"a": ControllerSpec("a", "x:A"), "b": ControllerSpec("b", "x:B"),
         "c": ControllerSpec("c", "x:C", enabled_by_default=False)}


def test_controllers_flag_follows_kubernetes_syntax() -> None:
    assert enabled_controllers("*", TABLE) == ["a", "b"]
    assert enabled_controllers("*,-a", TABLE) == ["b"]
    assert enabled_controllers("-a,*", TABLE) == ["b"]
    assert enabled_controllers("*,c", TABLE) == ["a", "b", "c"]
    assert enabled_controllers("b", TABLE) == ["b"]
    assert enabled_controllers("", TABLE) == []
    with pytest.raises(UnknownControllerError, match='"nope" is not in the list of known controllers'):
        enabled_controllers("*,-nope", TABLE)
    assert set(enabled_controllers("*")) == {name for name, s in CONTROLLERS.items() if s.enabled_by_default}


def test_help_lists_flags_generated_from_the_registry() -> None:
    result = CliRunner().invoke(command, ["--help"])
    assert result.exit_code == 0
    for flag in ("--concurrent-deployment-syncs", "--concurrent-replicaset-syncs", "--concurrent-gc-syncs",
                 "--controllers", "--leader-elect", "--master", "--kubeconfig"):
        assert flag in result.output
    bad = CliRunner().invoke(command, ["--controllers", "*,-nope"])
    assert bad.exit_code == 2 and "nope" in bad.output


async def test_only_the_lease_holder_runs_controllers(kube: Client, controllers) -> None:
    options = {"leader_elect": True, "lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.5}
    first = await controllers("replicaset", identity="first", **options)
    second_task = asyncio.create_task(controllers("replicaset", identity="second", **options))
    lease = await kube.get(LEASES, "kube-controller-manager", namespace="kube-system")
    assert lease["spec"]["holderIdentity"] == "first"
    assert first.ready.is_set()
    await asyncio.sleep(0.5)
    assert not second_task.done()  # a candidate, not running controllers
    await first.stop()  # releases the lease: the second takes over

    async def second_leads() -> bool:
        lease = await kube.get(LEASES, "kube-controller-manager", namespace="kube-system")
        return lease["spec"]["holderIdentity"] == "second" and second_task.done()

    await eventually(second_leads)
    assert (await second_task).ready.is_set()
