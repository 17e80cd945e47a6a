"""``cp`` (both ways, through tar in the container), ``attach`` and ``exec -t`` on a terminal,
against a pod a real ``hyperkube kubelet`` runs as a process."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

from tests.e2e.test_kubelet_e2e import kill_everything, start_kubelet, wait
from tests.kubectl.conftest import HYPERKUBE

POD = """apiVersion: v1
kind: Pod
metadata: {{name: streamer}}
spec:
  nodeName: streams-node
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: python
    command: ["{python}", "-c", "import time\\nfor i in range(600):\\n  print('tick', i, flush=True)\\n  time.sleep(0.3)"]
"""


@pytest.fixture(scope="module")
def running(k, tmp_path_factory):
    root = tmp_path_factory.mktemp("kubelet")
    process = None
    try:
        process, _ = start_kubelet(k.cluster, root, "streams-node")
        k.ok("apply", "-f", "-", input=POD.format(python=sys.executable))
        wait(lambda: k.ok("get", "pod", "streamer", "-o", "jsonpath={.status.phase}") == "Running", 60)
        yield k
    finally:
        k.ours("delete", "pod", "streamer", "--wait=false")
        kill_everything(process, root)


def test_cp_copies_files_and_directories_both_ways(running, tmp_path):
    local = tmp_path / "local"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_text("alpha\n")
    (local / "sub" / "b.txt").write_text("beta\n")
    remote = tmp_path / "remote"
    remote.mkdir()
    running.ok("cp", str(local / "a.txt"), f"streamer:{remote}/copied.txt")
    assert (remote / "copied.txt").read_text() == "alpha\n"
    running.ok("cp", str(local), f"default/streamer:{remote}/tree")
    assert (remote / "tree" / "sub" / "b.txt").read_text() == "beta\n"
    back = tmp_path / "back"
    running.ok("cp", f"streamer:{remote}/tree", str(back))
    assert sorted(p.relative_to(back).as_posix() for p in back.rglob("*")) == ["a.txt", "sub", "sub/b.txt"]
    single = tmp_path / "single.txt"
    for tool in ("ours", "theirs"):
        result = getattr(running, tool)("cp", f"streamer:{remote}/copied.txt", str(single))
        assert result.returncode == 0, result.stderr
        assert single.read_text() == "alpha\n"
        single.unlink()
    missing = running.ours("cp", f"streamer:{remote}/nothing", str(tmp_path / "x"))
    assert missing.returncode == 1
    assert "nothing" in missing.stderr
    both_local = running.ours("cp", str(local), str(tmp_path / "y"))
    assert both_local.stderr == "error: one of src or dest must be a remote file specification\n"


def test_attach_streams_the_running_containers_output(running):
    attached = subprocess.Popen([str(HYPERKUBE), "kubectl", "attach", "streamer"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=running.cluster.env())
    try:
        assert attached.stdout is not None
        first = attached.stdout.readline()
        second = attached.stdout.readline()
    finally:
        attached.kill()
        attached.wait(10)
    assert first.startswith("tick ") and second.startswith("tick ")
    assert int(second.split()[1]) == int(first.split()[1]) + 1


def test_exec_tty_on_a_terminal_is_raw_and_sized(running):
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    script = "import os,sys; print(sys.stdin.isatty(), os.get_terminal_size(0)); sys.stdout.flush()"
    process = subprocess.Popen([str(HYPERKUBE), "kubectl", "exec", "-it", "streamer", "--", sys.executable, "-c",
                                script], stdin=slave, stdout=slave, stderr=slave, env=running.cluster.env())
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and process.poll() is None or select.select([master], [], [], 0)[0]:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    output += os.read(master, 4096)
                except OSError:
                    break
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        os.close(master)
    assert process.returncode == 0, output
    assert b"True os.terminal_size(columns=101, lines=33)" in output, output
    not_a_terminal = running.ours("exec", "-t", "streamer", "--", sys.executable, "-c", "print('plain')")
    assert not_a_terminal.stdout == "plain\n"
    assert not_a_terminal.stderr == "Unable to use a TTY - input is not a terminal or the right kind of file\n"
