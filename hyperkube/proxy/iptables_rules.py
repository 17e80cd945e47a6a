"""The nat rules of the iptables proxier, computed from the table (pure functions, no I/O).

The layout follows kube-proxy's iptables mode, in chains of the proxy's own (prefix ``HK-``,
so a real kube-proxy on the same host is left alone)::

    PREROUTING, OUTPUT  -> HK-SERVICES
    HK-SERVICES         one rule per cluster/external IP and port -> HK-SVC-<hash>;
                        last: destination addresses of this host -> HK-NODEPORTS
    HK-NODEPORTS        one rule per node port -> HK-MARK-MASQ (unless from loopback),
                        then HK-SVC-<hash>
    HK-SVC-<hash>       affinity rules (``recent --rcheck``), then one rule per endpoint
                        -> HK-SEP-<hash>, picked in turn: rule i of n matches every (n-i)th new
                        connection that reaches it (``statistic --mode nth``), the last takes the
                        rest, which is round robin, as the seed describes
    HK-SEP-<hash>       ``recent --set`` for affinity, then DNAT to the endpoint
    POSTROUTING         -> HK-POSTROUTING: MASQUERADE what HK-MARK-MASQ marked

A Service port with no ready endpoint gets a REJECT in the filter table's HK-SERVICES chain
(jumped to from INPUT, OUTPUT and FORWARD), so a connection is refused at once instead of hanging.

Chain names hash the service port (and endpoint) like kube-proxy's, so they are stable across
restarts and syncs; :func:`render` returns one chain's rules so the proxier can write only the
chains that changed.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import dataclass, field

from hyperkube.proxy.table import Endpoint, ServicePort, ServicePortName

PREFIX = "HK-"
SERVICES = PREFIX + "SERVICES"
NODEPORTS = PREFIX + "NODEPORTS"
POSTROUTING = PREFIX + "POSTROUTING"
MARK_MASQ = PREFIX + "MARK-MASQ"
MASQ_MARK = "0x4000/0x4000"
LOOPBACK = "127.0.0.0/8"  # never masqueraded: SNAT on lo drops the packet

#: (table, built-in chain, our chain): the jumps that hook our chains into the kernel's
JUMPS = (
    ("nat", "PREROUTING", SERVICES),
    ("nat", "OUTPUT", SERVICES),
    ("nat", "POSTROUTING", POSTROUTING),
    ("filter", "INPUT", SERVICES),
    ("filter", "OUTPUT", SERVICES),
    ("filter", "FORWARD", SERVICES),
)


def _hash(*parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def svc_chain(name: ServicePortName, protocol: str) -> str:
    return f"{PREFIX}SVC-{_hash(str(name), protocol)}"


def sep_chain(name: ServicePortName, protocol: str, endpoint: Endpoint) -> str:
    return f"{PREFIX}SEP-{_hash(str(name), protocol, str(endpoint))}"


def _comment(text: str) -> str:
    return f'-m comment --comment "{text}"'


@dataclass
class Ruleset:
    """Every chain of ours, by table: chain name -> its rules (``-A CHAIN ...`` lines)."""

    nat: dict[str, list[str]] = field(default_factory=dict)
    filter: dict[str, list[str]] = field(default_factory=dict)

    def tables(self) -> dict[str, dict[str, list[str]]]:
        return {"nat": self.nat, "filter": self.filter}


def build(services: dict[ServicePortName, ServicePort],
          endpoints: dict[ServicePortName, list[Endpoint]]) -> Ruleset:
    """The whole desired state of our chains for ``services`` and their ready ``endpoints``."""
    rules = Ruleset()
    nat, filt = rules.nat, rules.filter
    nat[MARK_MASQ] = [f"-A {MARK_MASQ} -j MARK --set-xmark {MASQ_MARK}"]
    nat[POSTROUTING] = [f"-A {POSTROUTING} -m mark --mark {MASQ_MARK} {_comment('hyperkube service traffic requiring SNAT')} "
                        f"-j MASQUERADE"]
    service_rules: list[str] = []
    nodeport_rules: list[str] = []
    reject_rules: list[str] = []
    for name in sorted(services, key=str):
        svc = services[name]
        proto = svc.protocol.lower()
        frontends = ([svc.cluster_ip] if svc.cluster_ip else []) + list(svc.external_ips)
        ready = endpoints.get(name, [])
        comment = _comment(f"{name} {'cluster IP' if svc.cluster_ip else 'external IP'}")
        if not ready:
            for ip in frontends:
                reject_rules.append(f"-A {SERVICES} -d {ip}/32 -p {proto} -m {proto} --dport {svc.port} "
                                    f"{_comment(f'{name} has no endpoints')} -j REJECT --reject-with icmp-port-unreachable")
            if svc.node_port:
                reject_rules.append(f"-A {SERVICES} -p {proto} -m addrtype --dst-type LOCAL -m {proto} "
                                    f"--dport {svc.node_port} {_comment(f'{name} has no endpoints')} "
                                    "-j REJECT --reject-with icmp-port-unreachable")
            continue
        chain = svc_chain(name, svc.protocol)
        for ip in frontends:
            service_rules.append(f"-A {SERVICES} -d {ip}/32 -p {proto} -m {proto} --dport {svc.port} {comment} -j {chain}")
        if svc.node_port:
            nodeport_rules.append(f"-A {NODEPORTS} ! -s {LOOPBACK} -p {proto} -m {proto} --dport {svc.node_port} "
                                  f"{_comment(f'{name} node port')} -j {MARK_MASQ}")
            nodeport_rules.append(f"-A {NODEPORTS} -p {proto} -m {proto} --dport {svc.node_port} "
                                  f"{_comment(f'{name} node port')} -j {chain}")
        seps = [(endpoint, sep_chain(name, svc.protocol, endpoint)) for endpoint in ready]
        body: list[str] = []
        if svc.affinity_timeout:
            seconds = int(svc.affinity_timeout)
            body += [f"-A {chain} -m recent --name {sep} --mask 255.255.255.255 --rsource --rcheck "
                     f"--seconds {seconds} --reap -j {sep}" for _endpoint, sep in seps]
        count = len(seps)
        for i, (endpoint, sep) in enumerate(seps):
            pick = "" if i == count - 1 else f"-m statistic --mode nth --every {count - i} --packet 0 "
            body.append(f"-A {chain} {_comment(f'{name} -> {endpoint}')} {pick}-j {sep}")
            # hairpin (a pod reaching itself through its Service) needs SNAT, except on loopback,
            # where the kernel delivers it as it is and masquerading would drop it
            sep_rules = [] if ipaddress.ip_address(endpoint.ip).is_loopback else [
                f"-A {sep} -s {endpoint.ip}/32 -j {MARK_MASQ}"]
            if svc.affinity_timeout:
                sep_rules.append(f"-A {sep} -p {proto} -m recent --name {sep} --mask 255.255.255.255 --rsource "
                                 f"--set -m {proto} -j DNAT --to-destination {endpoint}")
            else:
                sep_rules.append(f"-A {sep} -p {proto} -m {proto} -j DNAT --to-destination {endpoint}")
            nat[sep] = sep_rules
        nat[chain] = body
    service_rules.append(f"-A {SERVICES} -m addrtype --dst-type LOCAL {_comment('node ports')} -j {NODEPORTS}")
    nat[SERVICES] = service_rules
    nat[NODEPORTS] = nodeport_rules
    filt[SERVICES] = reject_rules
    return rules


def restore_input(tables: dict[str, tuple[list[str], dict[str, list[str]], list[str]]]) -> str:
    """iptables-restore input (used with ``--noflush``) per table: (chains to declare, which
    flushes them, the rules of the chains being rewritten, chains to delete)."""
    lines: list[str] = []
    for table, (declare, chains, delete) in tables.items():
        if not declare and not delete:
            continue
        lines.append(f"*{table}")
        lines += [f":{chain} - [0:0]" for chain in declare]
        for chain in declare:
            lines += chains.get(chain, [])
        lines += [f"-X {chain}" for chain in delete]
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"
