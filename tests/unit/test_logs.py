"""Log lines are JSON objects that carry the request id."""

from __future__ import annotations

import json
import logging

from aimall_cart.logs import JsonFormatter
from aimall_cart.middleware import request_id


def test_a_log_record_becomes_one_json_line_with_the_request_id() -> None:
    record = logging.LogRecord(
        "aimall_cart.events", logging.INFO, __file__, 1, "event %s", ("x",), None
    )
    token = request_id.set("req-7")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id.reset(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert (entry["level"], entry["logger"], entry["message"], entry["request_id"]) == (
        "info",
        "aimall_cart.events",
        "event x",
        "req-7",
    )
