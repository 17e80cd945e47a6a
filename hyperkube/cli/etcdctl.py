"""etcdctl: replaced by the store's command-line tool when it lands."""

from hyperkube.cli.pending import pending_command

command = pending_command(
    "etcdctl",
    "Inspect and change the store directly: get, put, del, watch, ls, compact, endpoint status.",
    3,
)
