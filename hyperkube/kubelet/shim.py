"""The container shim: what conmon is to CRI-O, one tiny process per container.

The process runtime never runs a container's command directly. It starts this shim in a new
session (so the shim and the container share one process group the kubelet can signal), and
the shim:

- runs the command with the given env and working directory, in the shim's process group;
- copies the container's stdout and stderr into the CRI log format
  (``<RFC3339Nano> stdout|stderr F|P <text>``), one line per line written, so the kubelet can
  serve ``timestamps`` and ``sinceSeconds`` and the log survives a kubelet restart; the file
  is rotated by size (``maxLogBytes``, default 10 MiB; one older file, ``.1``, is kept);
- writes ``exit.json`` (exitCode, signal, finishedAt) when the command ends;
- for a container with ``stdin: true``, gives it a FIFO (``stdin`` beside the log) as its
  stdin and holds the FIFO's write end open, so the command sees no end of input between
  ``attach -i`` sessions (the kubelet writes what an attach sends); the file ``stdin.closed``
  (written by the kubelet when a ``stdinOnce`` session ends) makes the shim let go, and the
  command reads end-of-file once the writer is gone too;
- applies the container's limits where the host allows: as root, a cgroup per container
  (v2, or v1's memory and cpu controllers) with memory and CPU quota (reason ``OOMKilled``
  when the memory cgroup killed it); otherwise ``RLIMIT_DATA`` for memory (no CPU limit).

Because the shim owns the pipes and records the exit, a kubelet that dies (even ``kill -9``)
loses nothing: the container keeps running, its output keeps going to the file, and a
restarted kubelet reads the exit status from disk instead of ``waitpid``. The container runs
in the shim's process group: SIGTERM (or SIGINT) sent to the shim is forwarded to the
container's process, as a container engine signals PID 1, and the shim stays to record how
it ended; SIGKILL to the group ends both (the kubelet then records 137 itself). The handlers
are Python functions, which ``exec`` resets in the child. Only the standard library is used,
so the shim starts fast.

Usage: ``python -m hyperkube.kubelet.shim SPEC.json`` where the spec holds command, env, cwd,
log and exit paths.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time


def rfc3339_nano(now: float) -> str:
    seconds = int(now)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int((now - seconds) * 1e9):09d}Z"


def _write_exit(path: str, record: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(record, handle)
    os.replace(tmp, path)


class RotatingLog:
    """The log file, moved to ``<log>.1`` (replacing an older one) when it passes max_bytes."""

    def __init__(self, path: str, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.handle = open(path, "ab", buffering=0)  # noqa: SIM115 (held for the container's life)
        self.size = self.handle.tell()

    def write(self, data: bytes) -> None:
        if self.size + len(data) > self.max_bytes and self.size:
            self.handle.close()
            os.replace(self.path, self.path + ".1")
            self.handle = open(self.path, "ab", buffering=0)  # noqa: SIM115
            self.size = 0
        self.handle.write(data)
        self.size += len(data)


CGROUP_ROOT = "/sys/fs/cgroup"


def make_cgroups(name: str, limits: dict) -> list[str]:
    """Create this container's cgroups with its limits (root only); return the directories
    whose ``cgroup.procs`` the child joins. cgroup v2 when the unified hierarchy is mounted at
    the root, else v1's memory and cpu controllers. Nothing (and rlimits instead) otherwise."""
    memory, cpu = limits.get("memoryBytes"), limits.get("cpuMillis")
    if os.geteuid() != 0 or not (memory or cpu):
        return []
    made = []
    try:
        if os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")):
            parent = os.path.join(CGROUP_ROOT, "hyperkube")
            os.makedirs(parent, exist_ok=True)
            with open(os.path.join(parent, "cgroup.subtree_control"), "w") as handle:
                handle.write("+memory +cpu")
            path = os.path.join(parent, name)
            os.makedirs(path, exist_ok=True)
            if memory:
                _write(path, "memory.max", str(memory))
            if cpu:
                _write(path, "cpu.max", f"{cpu * 100} 100000")
            return [path]
        if memory and os.path.isdir(os.path.join(CGROUP_ROOT, "memory")):
            path = os.path.join(CGROUP_ROOT, "memory", "hyperkube", name)
            os.makedirs(path, exist_ok=True)
            _write(path, "memory.limit_in_bytes", str(memory))
            made.append(path)
        if cpu and os.path.isdir(os.path.join(CGROUP_ROOT, "cpu")):
            path = os.path.join(CGROUP_ROOT, "cpu", "hyperkube", name)
            os.makedirs(path, exist_ok=True)
            _write(path, "cpu.cfs_period_us", "100000")
            _write(path, "cpu.cfs_quota_us", str(cpu * 100))
            made.append(path)
    except OSError:
        return [path for path in made if os.path.isdir(path)]
    return made


def _write(directory: str, name: str, value: str) -> None:
    with open(os.path.join(directory, name), "w") as handle:
        handle.write(value)


def oom_killed(cgroups: list[str]) -> bool:
    for path in cgroups:
        for name, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
            try:
                with open(os.path.join(path, name)) as handle:
                    for line in handle:
                        parts = line.split()
                        if len(parts) == 2 and parts[0] == key and int(parts[1]) > 0:
                            return True
            except (OSError, ValueError):
                continue
    return False


def main(spec_path: str) -> int:
    with open(spec_path) as handle:
        spec = json.load(handle)
    children: list[subprocess.Popen[bytes]] = []
    pending: list[int] = []

    def forward(signum: int, _frame: object) -> None:  # SIGTERM/SIGINT go to the container
        if not children:
            pending.append(signum)
            return
        try:
            os.kill(children[0].pid, signum)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGHUP, lambda *_: None)
    log = RotatingLog(spec["log"], int(spec.get("maxLogBytes") or 10 << 20))
    started = time.time()
    limits = spec.get("limits") or {}
    cgroups = make_cgroups(spec.get("id") or str(os.getpid()), limits)

    def enter_limits() -> None:  # in the child, before exec
        for path in cgroups:
            with open(os.path.join(path, "cgroup.procs"), "w") as handle:
                handle.write("0")
        if limits.get("memoryBytes") and not cgroups:
            import resource

            resource.setrlimit(resource.RLIMIT_DATA, (limits["memoryBytes"], limits["memoryBytes"]))

    stdin: int = subprocess.DEVNULL
    holder = None  # our write end of the stdin FIFO
    if spec.get("stdin"):
        if not os.path.exists(spec["stdin"]):
            os.mkfifo(spec["stdin"], 0o600)
        stdin = os.open(spec["stdin"], os.O_RDONLY | os.O_NONBLOCK)
        os.set_blocking(stdin, True)
        holder = os.open(spec["stdin"], os.O_WRONLY)
    try:
        child = subprocess.Popen(spec["command"], env=spec["env"], cwd=spec.get("cwd") or None,
                                 stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 close_fds=True, preexec_fn=enter_limits if limits else None)
    except OSError as exc:
        message = f"failed to start container: {exc.strerror or exc}: {spec['command'][0]}"
        log.write(f"{rfc3339_nano(time.time())} stderr F {message}\n".encode())
        _write_exit(spec["exit"], {"exitCode": 128, "reason": "StartError", "message": message,
                                   "startedAt": started, "finishedAt": time.time()})
        return 0
    children.append(child)
    if holder is not None:
        os.close(stdin)
    for signum in pending:
        os.kill(child.pid, signum)
    with open(spec["exit"] + ".pid", "w") as handle:
        handle.write(str(child.pid))
    selector = selectors.DefaultSelector()
    partial: dict[str, bytes] = {}
    for name, stream in (("stdout", child.stdout), ("stderr", child.stderr)):
        assert stream is not None
        os.set_blocking(stream.fileno(), False)
        selector.register(stream, selectors.EVENT_READ, name)
        partial[name] = b""
    open_streams = 2
    while open_streams:
        events = selector.select(timeout=0.2)
        if holder is not None and os.path.exists(spec["stdin"] + ".closed"):
            os.close(holder)  # stdinOnce: the first attach session is over
            holder = None
        if not events:  # flush an unterminated line after a quiet spell, as a partial (P) entry
            for name, pending in partial.items():
                if pending:
                    log.write(f"{rfc3339_nano(time.time())} {name} P ".encode() + pending + b"\n")
                    partial[name] = b""
            continue
        for key, _ in events:
            name = key.data
            try:
                data = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            if not data:
                selector.unregister(key.fileobj)
                open_streams -= 1
                if partial[name]:
                    log.write(f"{rfc3339_nano(time.time())} {name} F ".encode() + partial[name] + b"\n")
                    partial[name] = b""
                continue
            *lines, rest = (partial[name] + data).split(b"\n")
            partial[name] = rest
            if lines:
                stamp = f"{rfc3339_nano(time.time())} {name} F ".encode()
                for line in lines:  # one write per line, so rotation happens between lines
                    log.write(stamp + line + b"\n")
    code = child.wait()
    record: dict = {"startedAt": started, "finishedAt": time.time()}
    if code < 0:
        record.update(exitCode=128 - code, signal=-code)
    else:
        record["exitCode"] = code
    if cgroups and oom_killed(cgroups):
        record["reason"] = "OOMKilled"
    for path in cgroups:
        try:
            os.rmdir(path)
        except OSError:
            pass
    _write_exit(spec["exit"], record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
