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
