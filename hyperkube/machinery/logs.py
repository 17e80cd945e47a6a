"""Logging set-up shared by every component: klog-style verbosity, text or JSON lines.

klog's ``-v N`` maps onto the standard library's levels: 0 shows warnings and the few info
lines a component always prints, 1-3 show info, 4 and above show debug. Components log with
``logging.getLogger("hyperkube.<component>")``.
"""

from __future__ import annotations

import json
import logging
import sys
import time


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the fields structured-log readers expect."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """klog's header: severity letter, date, time, logger, then the message."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%m%d %H:%M:%S", time.localtime(record.created))
        line = f"{record.levelname[0]}{stamp}.{int(record.msecs):03d} {record.name}] {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def level_for(verbosity: int) -> int:
    if verbosity >= 4:
        return logging.DEBUG
    if verbosity >= 1:
        return logging.INFO
    return logging.WARNING


def configure_logging(verbosity: int = 0, log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level_for(verbosity))
    # The component's own "always" lines (serving address, ...) use the hyperkube logger at
    # INFO; keep them visible at -v 0 like klog's V(0).
    logging.getLogger("hyperkube").setLevel(min(logging.INFO, level_for(verbosity)))
