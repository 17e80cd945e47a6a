"""kube-scheduler: replaced by the scheduler's wiring when it lands."""

from hyperkube.cli.pending import pending_command

command = pending_command(
    "scheduler",
    "Bind pending pods to nodes using predicates and priorities from a policy file.",
    8,
)
