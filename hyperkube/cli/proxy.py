"""kube-proxy: replaced by the proxy's wiring when it lands."""

from hyperkube.cli.pending import pending_command

command = pending_command(
    "proxy",
    "Make Services reachable at their cluster IPs and node ports (userspace round robin).",
    11,
)
