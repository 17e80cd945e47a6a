"""Exec credential plugins: a kubeconfig ``user.exec`` names a program that prints a token.

This is how kubectl reaches managed clusters (``aws eks get-token``, ``gke-gcloud-auth-plugin``,
``kubelogin``). The program is run without blocking the loop, with ``KUBERNETES_EXEC_INFO``
describing the request; it prints an ``ExecCredential`` whose ``status.token`` is sent as a
bearer token until ``status.expirationTimestamp`` (or, without one, until the server answers
401, which makes the client run the program again once).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from hyperkube.machinery.durations import parse_rfc3339


class ExecCredentialError(Exception):
    """The credential plugin could not be run, failed, or printed something unusable."""


class ExecCredentials:
    def __init__(self, spec: dict[str, Any], clock: Any = time.time) -> None:
        self.spec = spec
        self._clock = clock
        self._token: str | None = None
        self._expires: float | None = None
        self._lock = asyncio.Lock()
        self.runs = 0

    def invalidate(self) -> None:
        self._token = None

    async def token(self) -> str:
        async with self._lock:
            if self._token is not None and (self._expires is None or self._clock() < self._expires - 10):
                return self._token
            self._token, self._expires = await self._run()
            return self._token

    async def _run(self) -> tuple[str, float | None]:
        api_version = self.spec.get("apiVersion") or "client.authentication.k8s.io/v1"
        env = dict(os.environ)
        for entry in self.spec.get("env") or []:
            env[entry["name"]] = entry.get("value", "")
        env["KUBERNETES_EXEC_INFO"] = json.dumps({
            "apiVersion": api_version, "kind": "ExecCredential",
            "spec": {"interactive": False}})
        command = self.spec.get("command")
        if not command:
            raise ExecCredentialError("exec plugin: no command given")
        try:
            process = await asyncio.create_subprocess_exec(
                command, *(self.spec.get("args") or []), env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except OSError as error:
            hint = self.spec.get("installHint") or ""
            raise ExecCredentialError(f"exec plugin: {error}. {hint}".strip()) from error
        stdout, stderr = await process.communicate()
        self.runs += 1
        if process.returncode != 0:
            raise ExecCredentialError(f"exec plugin {command} failed (exit {process.returncode}): "
                                      f"{stderr.decode(errors='replace').strip()}")
        try:
            status = json.loads(stdout)["status"]
            token = status["token"]
        except (ValueError, KeyError, TypeError) as error:
            raise ExecCredentialError(f"exec plugin {command} printed no ExecCredential token") from error
        expires = status.get("expirationTimestamp")
        return token, parse_rfc3339(expires) if expires else None
