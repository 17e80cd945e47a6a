"""What a container's process sees: env from values, ConfigMaps, Secrets, fields and Services,
$(VAR) expansion, workingDir, and commands from the image map."""

from __future__ import annotations

import base64
import json

from tests.kubelet._harness import PY, get_pod, phase, pod, wait_for


async def _logs(kubelet, name):
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{kubelet.port}/containerLogs/default/{name}/main") as response:
        return await response.text()


async def _succeeded(client, name):
    current = await get_pod(client, name)
    return phase(current) == "Succeeded"


async def test_environment_sources_and_expansion(client, kubelet_factory, tmp_path):
    await client.create("v1/configmaps", {"metadata": {"name": "settings"}, "data": {"MODE": "fast", "LEVEL": "3"}},
                        namespace="default")
    await client.create("v1/secrets", {"metadata": {"name": "creds"},
                                       "data": {"token": base64.b64encode(b"s3cret").decode()}}, namespace="default")
    await client.create("v1/services", {"metadata": {"name": "my-db"},
                                        "spec": {"ports": [{"name": "sql", "port": 5432}]}}, namespace="default")
    kubelet = await kubelet_factory()
    code = ("import os, json; print(json.dumps({k: os.environ.get(k) for k in "
            "['MODE', 'CFG_LEVEL', 'TOKEN', 'POD', 'NS', 'IP', 'GREETING', 'MY_DB_SERVICE_PORT', 'MY_DB_SERVICE_HOST', 'MEM_MI']}"
            " | {'cwd': os.getcwd(), 'arg': __import__('sys').argv[1]}))")
    container = {
        "name": "main", "image": "python", "command": [PY, "-c", code], "args": ["$(GREETING)"],
        "workingDir": str(tmp_path),
        "envFrom": [{"configMapRef": {"name": "settings"}}, {"prefix": "CFG_", "configMapRef": {"name": "settings"}}],
        "env": [
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "GREETING", "value": "hello-$(MODE)"},
            {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        ],
        "resources": {"limits": {"memory": "512Mi"}},
    }
    await client.create("v1/pods", pod("envy", container, restartPolicy="Never"))
    await wait_for(lambda: _succeeded(client, "envy"))
    seen = json.loads(await _logs(kubelet, "envy"))
    service = await client.get("v1/services", "my-db", namespace="default")
    assert seen == {"MODE": "fast", "CFG_LEVEL": "3", "TOKEN": "s3cret", "POD": "envy", "NS": "default",
                    "IP": "127.0.0.1", "GREETING": "hello-fast", "MY_DB_SERVICE_PORT": "5432",
                    "MY_DB_SERVICE_HOST": service["spec"]["clusterIP"], "MEM_MI": "512", "cwd": str(tmp_path),
                    "arg": "hello-fast"}


async def test_image_map_supplies_the_command(client, kubelet_factory):
    image_map = {"example.com/tools/greeter": {"command": [PY, "-c"], "args": ["import os; print(os.environ['WHO'])"],
                                               "env": {"WHO": "mapped"}}}
    kubelet = await kubelet_factory(image_map=image_map)
    await client.create("v1/pods", pod("mapped", {"name": "main", "image": "example.com/tools/greeter:v2"},
                                       restartPolicy="Never"))
    await wait_for(lambda: _succeeded(client, "mapped"))
    assert await _logs(kubelet, "mapped") == "mapped\n"


async def test_missing_config_map_is_a_config_error(client, kubelet_factory):
    await kubelet_factory()
    container = {"name": "main", "image": "python", "command": [PY, "-c", "pass"],
                 "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}]}
    await client.create("v1/pods", pod("unconfigured", container, restartPolicy="Never"))

    async def waiting():
        current = await get_pod(client, "unconfigured")
        statuses = (current.get("status") or {}).get("containerStatuses") or []
        return statuses and statuses[0]["state"].get("waiting", {}).get("reason") == "CreateContainerConfigError" \
            and statuses[0]["state"]["waiting"]

    state = await wait_for(waiting)
    assert "absent" in state["message"]
    assert phase(await get_pod(client, "unconfigured")) == "Pending"
