"""The iptables proxier: the kernel forwards Service traffic, the proxy only writes rules.

Each :meth:`IptablesProxier.sync` computes every chain of ours (:mod:`iptables_rules`) and
hands ``iptables-restore --noflush`` only what changed since the last sync: the chains whose
rules differ are declared (which flushes them) and rewritten, chains no longer wanted are
flushed and deleted, everything else (other programs' rules, our unchanged chains) is left as
it is. A failed restore forgets what was written, so the next sync rewrites everything.

Usable when: running as root (CAP_NET_ADMIN), the ``iptables`` and ``iptables-restore``
binaries exist, and traffic to a cluster IP reaches this node's netfilter: always true for
connections made on the node itself (OUTPUT), and for other hosts only when they route the
service range to this node. With the default service range in 127.0.0.0/8 only local
clients can use cluster IPs; node ports work from anywhere the node's addresses are reachable
(for traffic arriving from outside and DNATed to a loopback endpoint the kernel also needs
``net.ipv4.conf.all.route_localnet=1``).

There is no userspace copy in this mode, so the connection counters of /metrics stay at zero;
sync latency is measured as in userspace mode. Rules are removed on shutdown and by
``hyperkube proxy --cleanup`` (after a crash).
"""

from __future__ import annotations

import asyncio
import logging
import shutil

from hyperkube.proxy import iptables_rules as rules
from hyperkube.proxy.table import Endpoint, ServicePort, ServicePortName
from hyperkube.proxy.userspace import Stats

log = logging.getLogger("hyperkube.proxy")


class IptablesError(RuntimeError):
    pass


async def _run(*command: str, stdin: str | None = None, check: bool = True) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate(stdin.encode() if stdin is not None else None)
    text = out.decode(errors="replace")
    if check and process.returncode != 0:
        raise IptablesError(f"{' '.join(command[:3])}: {text.strip() or f'exit {process.returncode}'}")
    return process.returncode or 0, text


def usable() -> bool:
    return shutil.which("iptables") is not None and shutil.which("iptables-restore") is not None


class IptablesProxier:
    """Same interface as the userspace proxier: ``sync``, ``shutdown``, ``stats``, ``listeners``."""

    def __init__(self, iptables: str = "iptables") -> None:
        self.iptables = iptables
        self.restore = iptables + "-restore"
        self.stats = Stats()
        self.listeners: dict[object, object] = {}  # nothing listens in this mode
        self.pending = False
        self.written: dict[str, dict[str, list[str]]] = {"nat": {}, "filter": {}}

    async def _ensure_jumps(self) -> None:
        for table, parent, chain in rules.JUMPS:
            code, _ = await _run(self.iptables, "-w", "-t", table, "-L", chain, "-n", check=False)
            if code != 0:
                await _run(self.iptables, "-w", "-t", table, "-N", chain)
            jump = ["-m", "comment", "--comment", "hyperkube service portals", "-j", chain]
            code, _ = await _run(self.iptables, "-w", "-t", table, "-C", parent, *jump, check=False)
            if code != 0:
                await _run(self.iptables, "-w", "-t", table, "-I", parent, "1", *jump)

    async def sync(self, services: dict[ServicePortName, ServicePort],
                   endpoints: dict[ServicePortName, list[Endpoint]]) -> None:
        desired = rules.build(services, endpoints).tables()
        changes: dict[str, tuple[list[str], dict[str, list[str]], list[str]]] = {}
        for table, chains in desired.items():
            before = self.written[table]
            rewrite = sorted(c for c, body in chains.items() if before.get(c) != body)
            delete = sorted(c for c in before if c not in chains)
            if rewrite or delete:
                changes[table] = (rewrite + delete, chains, delete)
        if not changes and all(self.written.values()):
            return
        try:
            if not any(self.written.values()):
                await self._ensure_jumps()
            await _run(self.restore, "-w", "--noflush", stdin=rules.restore_input(changes))
        except (IptablesError, OSError) as error:
            self.written = {"nat": {}, "filter": {}}
            self.pending = True  # the server's sync loop retries within a second
            log.error("iptables sync failed: %s", error)
            return
        self.pending = False
        self.written = {table: {c: list(body) for c, body in chains.items()} for table, chains in desired.items()}
        log.debug("iptables: wrote %s", {t: len(c[0]) for t, c in changes.items()})

    async def shutdown(self, grace: float = 0.0) -> None:
        """Remove every rule and chain of ours (open connections keep their conntrack entries)."""
        await cleanup(self.iptables)
        self.written = {"nat": {}, "filter": {}}


async def cleanup(iptables: str = "iptables") -> int:
    """Remove the jumps into our chains and the chains themselves, whatever a previous run left
    (``hyperkube proxy --cleanup``). Returns how many chains were removed."""
    for table, parent, chain in rules.JUMPS:
        jump = ["-m", "comment", "--comment", "hyperkube service portals", "-j", chain]
        while (await _run(iptables, "-w", "-t", table, "-D", parent, *jump, check=False))[0] == 0:
            pass
    removed = 0
    for table in ("nat", "filter"):
        code, listing = await _run(iptables + "-save", "-t", table, check=False)
        if code != 0:
            continue
        ours = [line[1:].split()[0] for line in listing.splitlines()
                if line.startswith(":" + rules.PREFIX)]
        if ours:
            body = [f"*{table}", *(f":{c} - [0:0]" for c in ours), *(f"-X {c}" for c in ours), "COMMIT", ""]
            await _run(iptables + "-restore", "-w", "--noflush", stdin="\n".join(body))
            removed += len(ours)
    return removed
