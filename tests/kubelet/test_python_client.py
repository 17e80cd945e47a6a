"""The official Python client, through the API server's proxy, to the kubelet: logs, exec and
port-forward (the WebSocket channel protocol the client speaks)."""

from __future__ import annotations

import asyncio
import socket

from tests.kubelet._harness import pod, python, wait_for
from tests.kubelet.test_process_pods import _phase_in


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_python_client_logs_exec_and_port_forward(api, client, kubelet_factory):
    from kubernetes import client as kube
    from kubernetes.stream import portforward, stream

    port = _free_port()
    await kubelet_factory()
    code = ("import socket\nprint('serving', flush=True)\ns = socket.socket()\n"
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            f"s.bind(('127.0.0.1', {port})); s.listen()\n"
            "while True:\n    c, _ = s.accept(); c.sendall(b'echo:' + c.recv(100)); c.close()")
    await client.create("v1/pods", pod("echo", python("main", code), terminationGracePeriodSeconds=0))
    await wait_for(lambda: _phase_in(client, "echo", "Running"))

    def use() -> tuple[str, str, bytes]:
        configuration = kube.Configuration()
        configuration.host = api.url
        v1 = kube.CoreV1Api(kube.ApiClient(configuration))
        logs = v1.read_namespaced_pod_log("echo", "default")
        output = stream(v1.connect_get_namespaced_pod_exec, "echo", "default", command=["sh", "-c", "echo $HOSTNAME"],
                        stderr=True, stdin=False, stdout=True, tty=False)
        forwarded = portforward(v1.connect_get_namespaced_pod_portforward, "echo", "default", ports=str(port))
        sock = forwarded.socket(port)
        sock.setblocking(True)
        sock.sendall(b"ping")
        data = b""
        while not data.endswith(b"ping"):
            chunk = sock.recv(100)
            if not chunk:
                break
            data += chunk
        sock.close()
        forwarded.close()
        return logs, output, data

    async def listening():
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    await wait_for(listening)
    logs, output, data = await asyncio.wait_for(asyncio.to_thread(use), 60)
    assert logs == "serving\n"
    assert output == "echo\n"
    assert data == b"echo:ping"
