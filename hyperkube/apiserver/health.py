"""``/healthz``, ``/livez`` and ``/readyz``, in kube-apiserver's plain-text format.

A check is an async callable that returns when healthy and raises when not. ``ping`` is always
there. The endpoints run every check concurrently (each under a timeout, so a hung store
cannot hang the probe) and answer:

- all healthy: 200 ``ok``, or with ``?verbose`` one ``[+]name ok`` line per check and
  ``<endpoint> check passed``;
- any failing: 500 with every line (``[-]name failed: reason withheld``) and
  ``<endpoint> check failed``; the reason goes to the log, never to the client, as in
  Kubernetes;
- ``/readyz/etcd``: that check alone, ``ok`` or 500 ``internal server error: ...``.

``?exclude=name`` (repeatable) skips a check. The ``checks`` dict is read at request time, so
the caller may add checks (post-start hooks, ...) after the routes are registered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[None]]
CHECK_TIMEOUT = 10.0
ENDPOINTS = ("healthz", "livez", "readyz")
_HEADERS = {"X-Content-Type-Options": "nosniff"}


async def _ping() -> None:
    return None


async def _run(name: str, check: Check) -> str | None:
    """None when healthy, else the (logged, not served) reason."""
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except TimeoutError:
        return f"timed out after {CHECK_TIMEOUT:g}s"
    except Exception as error:  # noqa: BLE001 - any failure of a check is "unhealthy"
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return None


def _text(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/plain", charset="utf-8", headers=_HEADERS)


class Health:
    def __init__(self, checks: dict[str, Check]) -> None:
        self.checks = checks

    def _all(self) -> dict[str, Check]:
        return {"ping": _ping, **self.checks}

    async def overall(self, request: web.Request) -> web.Response:
        endpoint = request.path.strip("/").split("/")[0]
        excluded = set(request.query.getall("exclude", []))
        checks = self._all()
        names = [name for name in checks if name not in excluded]
        results = await asyncio.gather(*(_run(name, checks[name]) for name in names))
        lines: list[str] = []
        failed = False
        for name, reason in zip(names, results, strict=True):
            if reason is None:
                lines.append(f"[+]{name} ok")
            else:
                failed = True
                log.warning("%s check %s failed: %s", endpoint, name, reason)
                lines.append(f"[-]{name} failed: reason withheld")
        for name in checks:
            if name in excluded:
                lines.append(f"[+]{name} excluded: ok")
        unknown = sorted(excluded - set(checks))
        if unknown:
            lines.append("warn: some health checks cannot be excluded: no matches for "
                         + ",".join(f'"{name}"' for name in unknown))
        if failed:
            return _text("\n".join(lines) + f"\n{endpoint} check failed\n", status=500)
        if "verbose" in request.query:
            return _text("\n".join(lines) + f"\n{endpoint} check passed\n")
        return _text("ok")

    async def single(self, request: web.Request) -> web.Response:
        name = request.match_info["check"]
        check = self._all().get(name)
        if check is None:
            return web.Response(text="404 page not found\n", status=404, content_type="text/plain",
                                charset="utf-8", headers=_HEADERS)
        reason = await _run(name, check)
        if reason is not None:
            log.warning("check %s failed: %s", name, reason)
            return _text(f"internal server error: {name} check failed\n", status=500)
        return _text("ok")


def add_routes(app: web.Application, checks: dict[str, Check]) -> None:
    """Register ``/healthz``, ``/livez``, ``/readyz`` and ``/<endpoint>/<check>`` on ``app``."""
    health = Health(checks)
    for endpoint in ENDPOINTS:
        app.router.add_get(f"/{endpoint}", health.overall)
        app.router.add_get(f"/{endpoint}/", health.overall)
        app.router.add_get(f"/{endpoint}/{{check:.+}}", health.single)
