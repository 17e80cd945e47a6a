"""kube-controller-manager: replaced by the controllers' wiring when they land."""

from hyperkube.cli.pending import pending_command

command = pending_command(
    "controller-manager",
    "Run the controllers (replication, deployment, endpoints, namespace, node, ...).",
    9,
)
