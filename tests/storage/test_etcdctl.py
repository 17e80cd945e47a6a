"""``hyperkube etcdctl`` as a user runs it: real subprocesses against a SQLite file and a real etcd.

What is asserted is what etcdctl v3 prints and how it exits, so scripts written for etcdctl
keep working: key/value lines, ``OK``, deleted counts, base64 JSON, exit 0 on a missing key,
one ``Error:`` line (no traceback) and exit 1 on failures.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys

import pytest

from hyperkube.storage.etcd_server import start_etcd
from tests.storage.etcd_process import EtcdProcess, make_tls


def etcdctl(servers: str | None, *args: str, data_dir: str | None = None, input: bytes | None = None,
            check: bool = True) -> subprocess.CompletedProcess[bytes]:
    flags = (["--etcd-servers", servers] if servers else []) + (["--data-dir", data_dir] if data_dir else [])
    done = subprocess.run([sys.executable, "-m", "hyperkube", "etcdctl", *flags, *args], capture_output=True,
                          input=input, timeout=60)
    if check and done.returncode != 0:
        raise AssertionError(f"etcdctl {args} exited {done.returncode}: {done.stderr.decode()}")
    return done


def create_sqlite(path: str) -> None:
    """A fresh database, as the API server would leave it (etcdctl does not create one)."""
    from hyperkube.storage import open_store

    async def init() -> None:
        store = open_store(f"sqlite://{path}")
        await store.start()
        await store.close()

    asyncio.run(init())


@pytest.fixture(params=["sqlite", "etcd"])
def servers(request, tmp_path):
    if request.param == "sqlite":
        path = str(tmp_path / "state.db")
        create_sqlite(path)
        yield f"sqlite://{path}"
        return
    etcd = EtcdProcess.start(tmp_path)
    try:
        yield etcd.url
    finally:
        etcd.stop()


def lines(done: subprocess.CompletedProcess[bytes]) -> list[str]:
    return done.stdout.decode().splitlines()


def test_put_get_del_print_like_etcdctl(servers):
    assert lines(etcdctl(servers, "put", "/registry/pods/default/web", '{"kind":"Pod"}')) == ["OK"]
    assert lines(etcdctl(servers, "put", "/registry/pods/default/db", "db-value")) == ["OK"]
    etcdctl(servers, "put", "/registry/ranges/serviceips", input=b"raw\xffbytes")
    assert lines(etcdctl(servers, "get", "/registry/pods/default/web")) == ["/registry/pods/default/web",
                                                                          '{"kind":"Pod"}']
    assert etcdctl(servers, "get", "/registry/ranges/serviceips").stdout == b"/registry/ranges/serviceips\nraw\xffbytes\n"
    missing = etcdctl(servers, "get", "/registry/pods/default/nope")
    assert (missing.returncode, missing.stdout, missing.stderr) == (0, b"", b"")
    assert lines(etcdctl(servers, "get", "/registry/pods/", "--prefix", "--keys-only")) == [
        "/registry/pods/default/db", "", "/registry/pods/default/web", ""]
    assert lines(etcdctl(servers, "get", "/registry/pods/", "--prefix", "--print-value-only")) == [
        "db-value", '{"kind":"Pod"}']
    # Global flags may also come after the subcommand, as etcdctl's do.
    done = subprocess.run([sys.executable, "-m", "hyperkube", "etcdctl", "get", "/registry/pods/", "--prefix",
                           "--count-only", "--etcd-servers", servers], capture_output=True, timeout=60)
    assert done.stdout == b"2\n"
    assert lines(etcdctl(servers, "put", "/registry/pods/default/web", "v2", "--prev-kv")) == [
        "OK", "/registry/pods/default/web", '{"kind":"Pod"}']
    assert lines(etcdctl(servers, "del", "/registry/pods/", "--prefix")) == ["2"]
    assert lines(etcdctl(servers, "del", "/registry/pods/default/web")) == ["0"]
    assert etcdctl(servers, "get", "/registry/pods/", "--prefix").stdout == b""


def test_get_json_is_etcdctls_base64_json(servers):
    etcdctl(servers, "put", "/k", "v1")
    etcdctl(servers, "put", "/k", "v2")
    answer = json.loads(etcdctl(servers, "get", "/k", "-w", "json").stdout)
    [kv] = answer["kvs"]
    assert base64.b64decode(kv["key"]) == b"/k" and base64.b64decode(kv["value"]) == b"v2"
    assert kv["version"] == 2 and kv["mod_revision"] == kv["create_revision"] + 1
    assert answer["count"] == 1 and answer["header"]["revision"] == kv["mod_revision"]
    old = json.loads(etcdctl(servers, "get", "/k", "-w", "json", "--rev", str(kv["create_revision"])).stdout)
    assert base64.b64decode(old["kvs"][0]["value"]) == b"v1"
    empty = json.loads(etcdctl(servers, "get", "/nothing", "-w", "json").stdout)
    assert "kvs" not in empty and "count" not in empty


def test_ls_lists_the_keyspace_as_v2_directories(servers):
    for key in ("/registry/pods/default/web", "/registry/pods/kube-system/dns", "/registry/ranges/serviceips"):
        etcdctl(servers, "put", key, "x")
    assert lines(etcdctl(servers, "ls", "/registry")) == ["/registry/pods", "/registry/ranges"]
    assert lines(etcdctl(servers, "ls", "--recursive", "/registry")) == [
        "/registry/pods", "/registry/pods/default", "/registry/pods/default/web", "/registry/pods/kube-system",
        "/registry/pods/kube-system/dns", "/registry/ranges", "/registry/ranges/serviceips"]
    assert lines(etcdctl(servers, "ls", "/registry/ranges/serviceips")) == ["/registry/ranges/serviceips"]
    missing = etcdctl(servers, "ls", "/nothing", check=False)
    assert missing.returncode == 4 and missing.stdout == b""
    assert missing.stderr.decode().startswith("Error:  100: Key not found (/nothing)")


def test_watch_prints_events_until_interrupted(servers):
    status = json.loads(etcdctl(servers, "endpoint", "status", "-w", "json").stdout)
    start = status[0]["Status"]["header"]["revision"] + 1
    etcdctl(servers, "put", "/w/a", "1")
    etcdctl(servers, "put", "/w/a", "2")
    etcdctl(servers, "del", "/w/a")
    watcher = subprocess.Popen([sys.executable, "-m", "hyperkube", "etcdctl", "--etcd-servers", servers, "watch",
                                "/w/", "--prefix", "--rev", str(start)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        seen = [watcher.stdout.readline().decode().rstrip("\n") for _ in range(8)]
        assert seen == ["PUT", "/w/a", "1", "PUT", "/w/a", "2", "DELETE", "/w/a"]
        etcdctl(servers, "put", "/w/b", "live")
        assert [watcher.stdout.readline().decode().rstrip("\n") for _ in range(4)] == ["", "PUT", "/w/b", "live"]
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(timeout=30) == 0
        assert b"Traceback" not in watcher.stderr.read()
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()


def test_compact_status_and_history(servers):
    etcdctl(servers, "put", "/h", "one")
    etcdctl(servers, "put", "/h", "two")
    etcdctl(servers, "del", "/h")
    etcdctl(servers, "put", "/h", "three")
    history = lines(etcdctl(servers, "history", "/h"))
    assert [line.split()[2] if line.startswith("revision") else line for line in history] == [
        "PUT", "one", "PUT", "two", "DELETE", "PUT", "three"]
    revisions = [int(line.split()[1]) for line in history if line.startswith("revision")]
    assert revisions == sorted(revisions) and len(set(revisions)) == 4
    gone_history = etcdctl(servers, "history", "/never-written")
    assert gone_history.stdout == b"" and gone_history.returncode == 0

    assert lines(etcdctl(servers, "compact", str(revisions[2]))) == [f"compacted revision {revisions[2]}"]
    table = lines(etcdctl(servers, "endpoint", "status"))
    assert "COMPACT REVISION" in table[1] and "DB SIZE" in table[1]
    row = [cell.strip() for cell in table[3].strip("|").split("|")]
    assert row[1] == str(revisions[3]) and row[2] == str(revisions[2])
    failed = etcdctl(servers, "get", "/h", "--rev", str(revisions[0]), check=False)
    assert failed.returncode == 1 and failed.stdout == b""
    assert failed.stderr.decode().startswith("Error: ") and "compacted" in failed.stderr.decode()
    assert len(failed.stderr.decode().strip().splitlines()) == 1
    # After compaction the history starts at what the store still holds.
    after = lines(etcdctl(servers, "history", "/h"))
    assert after[-2:] == [after[-2], "three"] and "one" not in after and "two" not in after


def test_data_dir_selects_its_state_db(tmp_path):
    data_dir = tmp_path / "hk"
    data_dir.mkdir()
    create_sqlite(str(data_dir / "state.db"))
    assert lines(etcdctl(None, "put", "/registry/x", "1", data_dir=str(data_dir))) == ["OK"]
    assert lines(etcdctl(f"sqlite://{data_dir / 'state.db'}", "get", "/registry/x")) == ["/registry/x", "1"]
    # Without flags: the API server's default data dir ($XDG_DATA_HOME/hyperkube).
    (tmp_path / "xdg" / "hyperkube").mkdir(parents=True)
    create_sqlite(str(tmp_path / "xdg" / "hyperkube" / "state.db"))
    etcdctl(None, "put", "/registry/y", "2", data_dir=str(tmp_path / "xdg" / "hyperkube"))
    default = subprocess.run([sys.executable, "-m", "hyperkube", "etcdctl", "get", "/registry/y"],
                             capture_output=True, timeout=60, env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert (default.returncode, default.stdout) == (0, b"/registry/y\n2\n")


def test_failures_are_one_error_line_and_exit_1(tmp_path):
    missing = etcdctl(f"sqlite://{tmp_path / 'absent.db'}", "get", "/x", check=False)
    assert missing.returncode == 1 and str(tmp_path / "absent.db") in missing.stderr.decode()
    assert not os.path.exists(tmp_path / "absent.db")
    default = subprocess.run([sys.executable, "-m", "hyperkube", "etcdctl", "get", "/x"], capture_output=True,
                             timeout=60, env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert default.returncode == 1 and str(tmp_path / "xdg" / "hyperkube" / "state.db") in default.stderr.decode()
    assert "--etcd-servers" in default.stderr.decode()
    etcd = EtcdProcess.start(tmp_path)
    url = etcd.url
    etcd.stop()
    down = etcdctl(url, "get", "/x", check=False)
    assert down.returncode == 1 and down.stdout == b""
    message = down.stderr.decode()
    assert message.startswith("Error: ") and url in message and "Traceback" not in message
    assert len(message.strip().splitlines()) == 1
    bad = etcdctl("ftp://nowhere", "get", "/x", check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr.decode()


def test_https_etcd_with_client_certificates(tmp_path):
    tls = make_tls(tmp_path)
    etcd = start_etcd(tmp_path, tls=tls)
    try:
        flags = ["--cacert", tls.ca_file, "--cert", tls.client_cert, "--key", tls.client_key]
        assert lines(etcdctl(etcd.url, *flags, "put", "/tls", "v")) == ["OK"]
        assert lines(etcdctl(etcd.url, "get", "/tls", *flags)) == ["/tls", "v"]
        refused = etcdctl(etcd.url, "--cacert", tls.ca_file, "get", "/tls", check=False)
        assert refused.returncode == 1 and refused.stderr.decode().startswith("Error: ")
    finally:
        etcd.stop()
