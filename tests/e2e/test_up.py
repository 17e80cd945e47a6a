"""``hyperkube up`` as a user runs it: one process, then the real kubectl against it.

The process runs with HOME in a tmp dir (so no real ~/.kube/config is touched) and writes its
admin kubeconfig (https, CA and client certificate embedded) where --write-kubeconfig says; a
deployment of a python process pod must run, have logs, die with the cluster on SIGTERM, and
come back on a restart over the same data dir, with the same certificates.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.e2e._cluster import KUBECTL

SCRIPT = "import os, sys, time\nopen(sys.argv[1], 'a').write(str(os.getpid()) + ' ')\nprint('hello from up', flush=True)\ntime.sleep(600)"


class Up:
    def __init__(self, home: Path, *extra: str) -> None:
        self.home = home
        self.lines: list[str] = []
        env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "xdg")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hyperkube", "up", "--port", "0", "--data-dir", str(home / "data"),
             "--write-kubeconfig", str(home / "kubeconfig"), "--hostname-override", "up-node", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        found = threading.Event()
        self.url = ""

        def pump() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line)
                match = re.match(r"API server: (https://\S+)", line)
                if match:
                    self.url = match.group(1)
                    found.set()
            found.set()

        threading.Thread(target=pump, daemon=True).start()
        if not found.wait(60) or not self.url:
            self.stop()
            raise AssertionError("hyperkube up did not start:\n" + "".join(self.lines))

    @property
    def dns_port(self) -> int:
        """The cluster DNS port ``up`` printed (``dns  cluster.local on 127.0.0.1:PORT``)."""
        for line in self.lines:
            match = re.match(r"\s+dns\s+\S+ on 127\.0\.0\.1:(\d+)", line)
            if match:
                return int(match.group(1))
        raise AssertionError("up printed no dns line:\n" + "".join(self.lines))

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HOME": str(self.home), "KUBECONFIG": str(self.home / "kubeconfig"),
               "KUBECACHEDIR": str(self.home / "cache")}
        result = subprocess.run([str(KUBECTL), *args], capture_output=True, text=True, env=env, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {result.stdout}{result.stderr}")
        return result

    def wait_for(self, what: str, predicate, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            out = predicate()
            if out:
                return out
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n" + "".join(self.lines[-40:]))
            time.sleep(0.3)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
                raise AssertionError("hyperkube up did not stop on SIGTERM:\n" + "".join(self.lines[-40:])) from None
        return self.process.returncode


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _running_pod(up: Up, app: str) -> str:
    out = up.kubectl("get", "pods", "-l", f"app={app}", "-o",
                     "jsonpath={range .items[*]}{.metadata.name} {.status.phase}{\"\\n\"}{end}").stdout
    for line in out.splitlines():
        name, _, phase = line.partition(" ")
        if phase == "Running":
            return name
    return ""


def test_up_runs_a_cluster_that_stops_cleanly_and_resumes(tmp_path):
    marker = tmp_path / "pids"
    up = Up(tmp_path)
    try:
        up.wait_for("the usage lines", lambda: "Ctrl-C" in "".join(up.lines))
        printed = "".join(up.lines)
        for component in ("apiserver", "controller-manager", "scheduler", "dns", "kubelet", "proxy",
                          "export KUBECONFIG"):
            assert component in printed
        up.wait_for("a Ready node", lambda: "True" in up.kubectl(
            "get", "node", "up-node", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            check=False).stdout)
        up.kubectl("create", "deployment", "hello", "--image=python", "--",
                   sys.executable, "-c", SCRIPT, str(marker))
        pod = up.wait_for("a Running pod", lambda: _running_pod(up, "hello"))
        logs = up.wait_for("logs", lambda: up.kubectl("logs", pod, check=False).stdout)
        assert "hello from up" in logs
        pids = [int(p) for p in marker.read_text().split()]
        ca = (tmp_path / "data" / "pki" / "ca.crt").read_bytes()
        kubeconfig = (tmp_path / "kubeconfig").read_text()
        second = subprocess.run([sys.executable, "-m", "hyperkube", "up", "--port", "0", "--data-dir",
                                 str(tmp_path / "data"), "--write-kubeconfig", str(tmp_path / "kc2")],
                                capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)})
        assert second.returncode == 1 and "another hyperkube up is running" in second.stderr
        assert pids and all(_alive(p) for p in pids)
    finally:
        started = time.monotonic()
        code = up.stop()
    assert code == 0, "".join(up.lines[-40:])
    assert time.monotonic() - started < 10
    assert not any(_alive(p) for p in pids), "the pod's process outlived hyperkube up"

    again = Up(tmp_path)
    try:
        # the same PKI: the CA (and so every certificate it signed) is reused, the kubeconfig only
        # names the new port
        assert (tmp_path / "data" / "pki" / "ca.crt").read_bytes() == ca
        assert yaml.safe_load(kubeconfig)["users"] == yaml.safe_load((tmp_path / "kubeconfig").read_text())["users"]
        assert "hello" in again.kubectl("get", "deployments", "-o", "name").stdout
        # the kubelet starts the stored pod again: a new process writes its pid
        fresh = again.wait_for("the pod's process started again", lambda: [
            int(p) for p in marker.read_text().split() if int(p) not in pids and _alive(int(p))])
    finally:
        assert again.stop() == 0
    assert not any(_alive(p) for p in fresh)


def test_up_merges_its_context_into_the_home_kubeconfig(tmp_path):
    from hyperkube.cli.cluster import merge_kubeconfig

    config = tmp_path / ".kube" / "config"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "work",
        "clusters": [{"name": "work", "cluster": {"server": "https://work.example:6443"}}],
        "users": [{"name": "work", "user": {"token": "secret"}}],
        "contexts": [{"name": "work", "context": {"cluster": "work", "user": "work"}}]}))
    merge_kubeconfig(config, "https://127.0.0.1:1234", ca_data=b"ca", cert_data=b"cert", key_data=b"key")
    merge_kubeconfig(config, "https://127.0.0.1:5678", ca_data=b"ca2", cert_data=b"cert2",
                     key_data=b"key2")  # a second start replaces, never duplicates
    env = {**os.environ, "HOME": str(tmp_path), "KUBECACHEDIR": str(tmp_path / "cache")}
    env.pop("KUBECONFIG", None)
    contexts = subprocess.run([str(KUBECTL), "config", "get-contexts", "-o", "name"], capture_output=True,
                              text=True, env=env, check=True).stdout.split()
    assert sorted(contexts) == ["hyperkube", "work"]
    current = subprocess.run([str(KUBECTL), "config", "current-context"], capture_output=True, text=True,
                             env=env, check=True).stdout.strip()
    assert current == "hyperkube"
    server = subprocess.run([str(KUBECTL), "config", "view", "-o",
                             "jsonpath={.clusters[?(@.name==\"hyperkube\")].cluster.server}"],
                            capture_output=True, text=True, env=env, check=True).stdout
    assert server == "https://127.0.0.1:5678"
    document = yaml.safe_load(config.read_text())
    cluster = {c["name"]: c["cluster"] for c in document["clusters"]}["hyperkube"]
    user = {u["name"]: u["user"] for u in document["users"]}["hyperkube"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"ca2"
    assert base64.b64decode(user["client-certificate-data"]) == b"cert2"
    assert base64.b64decode(user["client-key-data"]) == b"key2"
    assert "secret" in config.read_text() and oct(config.stat().st_mode & 0o777) == "0o600"


def test_up_merges_into_home_kubeconfig_when_started(tmp_path):
    """Without --write-kubeconfig the running process puts its context into $HOME/.kube/config."""
    config = tmp_path / ".kube" / "config"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "other", "cluster": {"server": "https://other.example"}}],
        "users": [{"name": "other", "user": {}}],
        "contexts": [{"name": "other", "context": {"cluster": "other", "user": "other"}}]}))
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    env.pop("KUBECONFIG", None)
    process = subprocess.Popen([sys.executable, "-m", "hyperkube", "up", "--port", "0", "--disable",
                                "dns,metrics,dashboard"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, env=env)
    try:
        assert process.stdout is not None
        url, printed = "", []
        for line in process.stdout:
            printed.append(line)
            if line.startswith("API server: "):
                url = line.split()[-1]
            if line.startswith("Ctrl-C"):
                break
        document = yaml.safe_load(config.read_text())
        assert {c["name"] for c in document["contexts"]} == {"other", "hyperkube"}
        assert document["current-context"] == "hyperkube"
        assert url.startswith("https://127.0.0.1:")
        assert {c["name"]: c["cluster"]["server"] for c in document["clusters"]}["hyperkube"] == url
        ca = (tmp_path / "xdg" / "hyperkube" / "pki" / "ca.crt").read_bytes()  # the default data dir's PKI
        cluster = {c["name"]: c["cluster"] for c in document["clusters"]}["hyperkube"]
        assert base64.b64decode(cluster["certificate-authority-data"]) == ca
        assert {u["name"]: u["user"] for u in document["users"]}["hyperkube"]["client-key-data"]
        assert oct(config.stat().st_mode & 0o777) == "0o600"
        assert (tmp_path / "xdg" / "hyperkube" / "state.db").exists()
        assert not [line for line in printed if line.split()[:1] in (["dns"], ["dashboard"])]  # --disable dns,dashboard
        user = {u["name"]: u["user"] for u in document["users"]}["hyperkube"]
        (tmp_path / "admin.pem").write_bytes(base64.b64decode(user["client-certificate-data"]) +
                                             base64.b64decode(user["client-key-data"]))
        context = ssl.create_default_context(cadata=ca.decode())
        context.load_cert_chain(str(tmp_path / "admin.pem"))
        with pytest.raises(urllib.error.HTTPError) as missing:  # no dashboard: /ui/ is not served
            urllib.request.urlopen(url + "/ui/", context=context, timeout=10)
        assert missing.value.code == 404
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0


def test_up_extra_and_hollow_nodes_are_ready(tmp_path):
    up = Up(tmp_path, "--nodes", "1", "--hollow-nodes", "2")
    try:
        def ready() -> str:
            out = up.kubectl("get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name}="
                             "{.status.conditions[?(@.type==\"Ready\")].status}"
                             "@{.status.addresses[?(@.type==\"InternalIP\")].address}{\"\\n\"}{end}").stdout
            nodes = dict(line.split("=", 1) for line in out.splitlines())
            return out if len(nodes) == 4 and all(v.startswith("True") for v in nodes.values()) else ""

        out = up.wait_for("four Ready nodes", ready)
        assert "up-node-2=True@127.0.0.2" in out
        assert "hollow-0=True" in out and "hollow-1=True" in out
        # the fake kubelets' shared identity (system:node's rules through up's binding) runs a pod
        binding = up.kubectl("get", "clusterrolebinding", "hyperkube:hollow-nodes", "-o",
                             "jsonpath={.roleRef.name} {.subjects[0].name}").stdout
        assert binding == "system:node system:hyperkube:hollow-nodes"
        up.kubectl("run", "fake", "--image=busybox", "--overrides", '{"spec": {"nodeName": "hollow-1"}}')
        up.wait_for("the pod Running on hollow-1", lambda: up.kubectl(
            "get", "pod", "fake", "-o", "jsonpath={.status.phase}").stdout == "Running")
    finally:
        assert up.stop() == 0


def test_up_shows_a_live_status_on_a_terminal(tmp_path):
    """On a terminal the nodes, pods and events tables follow the usage lines."""
    import pty
    import select

    env = {**os.environ, "HOME": str(tmp_path), "COLUMNS": "120", "TERM": "xterm"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: hyperkube up on the terminal
        os.execvpe(sys.executable, [sys.executable, "-m", "hyperkube", "up", "--port", "0", "--data-dir",
                                    str(tmp_path / "data"), "--write-kubeconfig", str(tmp_path / "kc"),
                                    "--hostname-override", "tty-node"], env)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"tty-node" not in seen.split(b"Nodes (", 1)[-1] or b"Nodes (" not in seen:
            assert time.monotonic() < deadline, seen.decode(errors="replace")[-2000:]
            if select.select([fd], [], [], 0.5)[0]:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    break
        text = seen.decode(errors="replace")
        assert "API server: https://127.0.0.1:" in text
        assert "Pods (" in text and "Recent events" in text
    finally:
        os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + 20
        status = None
        while time.monotonic() < end:
            with_pid, status = os.waitpid(pid, os.WNOHANG)
            if with_pid:
                break
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    os.read(fd, 65536)
                except OSError:
                    pass
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert status is not None and os.waitstatus_to_exitcode(status) == 0


def test_up_help_and_disable_names():
    help_text = subprocess.run([sys.executable, "-m", "hyperkube", "up", "--help"], capture_output=True, text=True,
                               check=True).stdout
    for flag in ("--port", "--data-dir", "--etcd-servers", "--write-kubeconfig", "--nodes", "--hollow-nodes", "--addons-dir",
                 "--disable", "--dns-port"):
        assert flag in help_text
    words = " ".join(help_text.split())
    assert "6443" in words and "no plain-HTTP port" in words
    assert "served by the API server itself" in words and "dashboard: the web UI the API server serves at /ui/" in words
    bad = subprocess.run([sys.executable, "-m", "hyperkube", "up", "--disable", "dns,teleport"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "teleport" in bad.stderr
