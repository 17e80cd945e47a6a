"""Flags every component takes, and the logging they configure."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from hyperkube.machinery.logs import configure_logging

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``-v/--v N`` (klog-style verbosity) and ``--log-format text|json``.

    The wrapped command receives neither: logging is configured before it runs.
    """

    @click.option("-v", "--v", "verbosity", type=click.IntRange(0, 10), default=0, show_default=True,
                  metavar="N", help="Log verbosity, as klog counts it (0 quiet .. 10 everything).")
    @click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
                  help="Format of log lines on stderr.")
    @functools.wraps(func)
    def wrapper(*args: Any, verbosity: int, log_format: str, **kwargs: Any) -> Any:
        configure_logging(verbosity, log_format)
        return func(*args, **kwargs)

    return wrapper


_TRUE, _FALSE = ("true", "t", "1"), ("false", "f", "0")


def go_style_booleans(command: click.Command, args: list[str]) -> list[str]:
    """Accept Kubernetes' ``--flag=true|false`` spelling of boolean flags (manifests written
    for the Go components use it): ``--leader-elect=false`` becomes ``--no-leader-elect``,
    ``--x=true`` becomes ``--x``; a plain flag set false is dropped (it is off by default)."""
    flags: dict[str, tuple[bool, click.Option]] = {}
    for param in command.params:
        if isinstance(param, click.Option) and param.is_bool_flag:
            flags.update({opt: (True, param) for opt in param.opts})
            flags.update({opt: (False, param) for opt in param.secondary_opts})
    out: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            return out + args[index:]
        name, eq, value = arg.partition("=")
        if eq and name in flags and value.lower() in _TRUE + _FALSE:
            positive, param = flags[name]
            if (value.lower() in _TRUE) == positive:
                out.append(param.opts[0])
            elif param.secondary_opts:
                out.append(param.secondary_opts[0])
            continue
        out.append(arg)
    return out


async def serve_until_signalled(component: Any, client: Any = None, started: Any = None) -> None:
    """Run ``component`` (``start()``/``stop()``) until SIGINT or SIGTERM, then stop it and close
    ``client``; ``started()``, when given, runs once it has started (e.g. to announce it)."""
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await component.start()
        if started is not None:
            await started()
        await stop.wait()
    finally:
        await component.stop()
        if client is not None:
            await client.close()


def api_client_config(kubeconfig: str | None, master: str | None) -> Any:
    """The client configuration of a component: the kubeconfig (``--kubeconfig``, else
    ``KUBECONFIG`` and ``~/.kube/config``) with ``--master`` overriding its server, or
    ``--master`` alone; neither is a usage error."""
    import dataclasses

    from hyperkube.client import Config, ConfigError, load_config

    try:
        config = load_config(kubeconfig)
        if master:
            config = dataclasses.replace(config, server=master.rstrip("/"))
    except ConfigError as error:
        if not master:
            raise click.UsageError(f"no API server: {error} (use --kubeconfig or --master)") from None
        config = Config(server=master.rstrip("/"))
    return config
