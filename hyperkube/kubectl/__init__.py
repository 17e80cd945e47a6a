"""kubectl: the command-line client, built on hyperkube.client."""
