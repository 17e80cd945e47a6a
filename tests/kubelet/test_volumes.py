"""Volumes as a process sees them: files at mountPath (a symlink; see hyperkube/kubelet/volumes.py)."""

from __future__ import annotations

import base64

from tests.kubelet._harness import PY, get_pod, pod, wait_for
from tests.kubelet.test_process_pods import _gone, _phase_in


async def test_config_map_secret_empty_dir_host_path_and_downward_api(client, kubelet_factory, tmp_path):
    await client.create("v1/configmaps", {"metadata": {"name": "app"}, "data": {"greeting": "hello"}},
                        namespace="default")
    await client.create("v1/secrets", {"metadata": {"name": "pw"}, "data": {"pw": base64.b64encode(b"hunter2").decode()}},
                        namespace="default")
    host = tmp_path / "host"
    mounts = tmp_path / "mnt"
    out = tmp_path / "out"
    await kubelet_factory(volume_refresh=0.2)
    writer = {"name": "writer", "image": "python", "command": [PY, "-c", f"open('{mounts}/scratch-w/note', 'w').write('shared')"],
              "volumeMounts": [{"name": "scratch", "mountPath": f"{mounts}/scratch-w"}]}
    reader_code = (
        "import os, time\n"
        f"m = {str(mounts)!r}\n"
        "while not os.path.exists(m + '/scratch/note'): time.sleep(0.05)\n"
        "parts = [open(m + p).read() for p in ('/config/greeting', '/secret/pw', '/scratch/note', '/info/labels')]\n"
        f"open({str(out)!r}, 'w').write('|'.join(parts))\n"
        f"open({str(host)!r} + '/seen', 'w').write('ok')\n"
        "last = None\n"
        "while True:\n"
        "    text = open(m + '/config/greeting').read()\n"
        f"    if text != last: open({str(out)!r} + '.greeting', 'w').write(text); last = text\n"
        "    time.sleep(0.05)\n")
    reader = {"name": "reader", "image": "python", "command": [PY, "-c", reader_code], "volumeMounts": [
        {"name": "config", "mountPath": f"{mounts}/config"}, {"name": "secret", "mountPath": f"{mounts}/secret"},
        {"name": "scratch", "mountPath": f"{mounts}/scratch"}, {"name": "info", "mountPath": f"{mounts}/info"},
        {"name": "host", "mountPath": str(host)}]}
    body = pod("mounted", reader, writer, terminationGracePeriodSeconds=1, restartPolicy="OnFailure", volumes=[
        {"name": "config", "configMap": {"name": "app"}}, {"name": "secret", "secret": {"secretName": "pw"}},
        {"name": "scratch", "emptyDir": {}},
        {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"name": "host", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}}])
    body["metadata"]["labels"] = {"app": "vol"}
    await client.create("v1/pods", body)
    await wait_for(lambda: _exists(out))
    assert out.read_text() == 'hello|hunter2|shared|app="vol"'
    assert (host / "seen").read_text() == "ok"

    config = await client.get("v1/configmaps", "app", namespace="default")
    config["data"]["greeting"] = "updated"
    await client.update("v1/configmaps", config)
    await wait_for(lambda: _has(tmp_path / "out.greeting", "updated"))

    assert (mounts / "config").is_symlink()
    await client.delete("v1/pods", "mounted", namespace="default")
    await wait_for(lambda: _gone(client, "mounted"))
    assert not (mounts / "config").exists() and not (mounts / "scratch").exists()
    assert (host / "seen").exists()  # a hostPath outlives the pod


async def _exists(path):
    return path.exists() and path.read_text()


async def _has(path, text):
    return path.exists() and path.read_text() == text


async def test_a_taken_mount_path_is_a_clear_container_error(client, kubelet_factory, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    await kubelet_factory()
    container = {"name": "main", "image": "python", "command": [PY, "-c", "pass"],
                 "volumeMounts": [{"name": "scratch", "mountPath": str(taken)}]}
    await client.create("v1/pods", pod("clash", container, volumes=[{"name": "scratch", "emptyDir": {}}]))

    async def waiting():
        current = await get_pod(client, "clash")
        statuses = (current.get("status") or {}).get("containerStatuses") or []
        return statuses and statuses[0]["state"].get("waiting", {}).get("message")

    assert "already exists" in await wait_for(waiting)
    assert not await _phase_in(client, "clash", "Running")


async def test_projected_service_account_token_is_bound_to_the_pod(client, kubelet_factory, tmp_path):
    await client.create("v1/serviceaccounts", {"metadata": {"name": "robot"}}, namespace="default")
    mounts, out = tmp_path / "mnt", tmp_path / "token.out"
    await kubelet_factory()
    code = f"import shutil; shutil.copy({str(mounts)!r} + '/sa/token', {str(out)!r})"
    body = pod("tokened", {"name": "c", "image": "python", "command": [PY, "-c", code],
                           "volumeMounts": [{"name": "sa", "mountPath": f"{mounts}/sa"}]},
               serviceAccountName="robot", restartPolicy="Never", volumes=[{"name": "sa", "projected": {"sources": [
                   {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600, "audience": "api"}}]}}])
    created = await client.create("v1/pods", body, namespace="default")
    await wait_for(lambda: _phase_in(client, "tokened", "Succeeded"))
    token = out.read_text()
    assert token.count(".") == 2  # a JWT
    review = await client.create("authentication.k8s.io/v1/tokenreviews", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": token, "audiences": ["api"]}})
    status = review["status"]
    assert status["authenticated"] is True
    assert status["user"]["username"] == "system:serviceaccount:default:robot"
    assert status["user"]["extra"]["authentication.kubernetes.io/pod-uid"] == [created["metadata"]["uid"]]
