"""kubectl: replaced by hyperkube's kubectl when it lands."""

from hyperkube.cli.pending import pending_command

command = pending_command(
    "kubectl",
    "kubectl controls the Kubernetes cluster manager.",
    6,
)
