"""Fixtures: a real API server on an ephemeral port (see _server.py)."""

from tests.apiserver._server import client, server  # noqa: F401
