"""kube-apiserver: replaced by the API server's wiring when it lands."""

from hyperkube.cli.pending import pending_command

command = pending_command(
    "apiserver",
    "Serve the Kubernetes REST API (core/v1, apps/v1, ...) over the etcd-semantics store.",
    4,
)
