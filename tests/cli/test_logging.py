"""The flags every component shares configure logging the way klog users expect."""

from __future__ import annotations

import json
import logging

from hyperkube.machinery.logs import configure_logging


def test_json_log_lines_are_one_object_each(capsys):
    configure_logging(2, "json")
    logging.getLogger("hyperkube.test").info("serving on %s", "127.0.0.1:1")
    line = capsys.readouterr().err.strip()
    entry = json.loads(line)
    assert entry["msg"] == "serving on 127.0.0.1:1"
    assert entry["level"] == "info" and entry["logger"] == "hyperkube.test"


def test_text_lines_carry_a_klog_header_and_verbosity_filters_debug(capsys):
    configure_logging(0, "text")
    logging.getLogger("hyperkube.test").debug("hidden")
    logging.getLogger("hyperkube.test").info("shown")
    err = capsys.readouterr().err
    assert "hidden" not in err
    assert err.startswith("I") and err.rstrip().endswith("hyperkube.test] shown")
