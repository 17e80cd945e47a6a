"""Two ``hyperkube apiserver`` processes on one SQLite file: one cluster, seen through either."""

from __future__ import annotations

import yaml

from tests.e2e._cluster import KUBECTL, Cluster, start_apiserver, stop, write_kubeconfig


def test_two_processes_share_one_store(tmp_path):
    database = f"sqlite:///{tmp_path}/shared.db"
    first, first_port, first_log = start_apiserver(tmp_path / "one", "--etcd-servers", database)
    second = None
    try:
        second, second_port, second_log = start_apiserver(tmp_path / "two", "--etcd-servers", database)
        clusters = []
        for name, process, port, log in (("one", first, first_port, first_log),
                                         ("two", second, second_port, second_log)):
            home = tmp_path / name
            home.mkdir(exist_ok=True)
            write_kubeconfig(home / "kubeconfig", f"http://127.0.0.1:{port}")
            clusters.append(Cluster(f"http://127.0.0.1:{port}", port, home, process, log))
        one, two = clusters
        def configmap(name: str) -> str:
            return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                                   "metadata": {"name": name, "labels": {"shared": "yes"}}, "data": {"k": name}})

        def next_added() -> list[str]:
            assert watcher.stdout is not None
            line = watcher.stdout.readline()
            while line and not line.startswith("ADDED"):
                line = watcher.stdout.readline()
            return line.split()[:2]

        one.kubectl("create", "-f", "-", input=configmap("before"))
        watcher = two.kubectl_background("get", "configmaps", "-w", "--output-watch-events", "-l", "shared=yes")
        try:
            assert next_added() == ["ADDED", "before"]  # listed: the watch on server two is open now
            one.kubectl("create", "-f", "-", input=configmap("shared"))
            assert next_added() == ["ADDED", "shared"]  # written through one, watched through two
            assert two.kubectl("get", "configmap", "shared", "-o", "jsonpath={.data.k}").stdout == "shared"
        finally:
            watcher.kill()
            watcher.communicate()
        result = two.kubectl("create", "-f", "-", check=False, input=yaml.safe_dump({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}}))
        assert "AlreadyExists" in result.stderr
        assert KUBECTL.exists()
    finally:
        if second is not None:
            stop(second)
        stop(first)
