"""The production log line: one JSON object per event on stderr, with an ISO UTC timestamp."""

from __future__ import annotations

import datetime
import subprocess
import sys

import orjson

SCRIPT = """
import structlog
from fluid.observability import logging as fluid_logging
fluid_logging.configure(json=True)
log = structlog.get_logger("t")
log.info("pod_admitted", namespace="team", pod="p", decisions={"A": "mutated: x"}, n=3)
try:
    raise ValueError("bad input")
except ValueError:
    log.exception("pod_admission_failed", namespace="team")
log.debug("hidden")
"""


def test_json_lines_on_stderr_with_utc_timestamps_and_tracebacks() -> None:
    before = datetime.datetime.now(datetime.UTC)
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, check=True)
    after = datetime.datetime.now(datetime.UTC)
    assert done.stdout == b""
    lines = [orjson.loads(line) for line in done.stderr.splitlines()]
    assert [line["event"] for line in lines] == ["pod_admitted", "pod_admission_failed"]
    first, failure = lines
    assert first["decisions"] == {"A": "mutated: x"}
    assert first["level"] == "info"
    stamp = datetime.datetime.strptime(first["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.UTC)
    assert before - datetime.timedelta(seconds=1) <= stamp <= after
    assert "ValueError: bad input" in failure["exception"]
    assert failure["level"] == "error"
