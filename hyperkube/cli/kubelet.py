"""kubelet: replaced by the kubelet's wiring when it lands."""

from hyperkube.cli.pending import pending_command

command = pending_command(
    "kubelet",
    "Run the pods bound to this node as processes, from the API server and static manifests.",
    7,
)
