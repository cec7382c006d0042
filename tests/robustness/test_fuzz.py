"""Fuzz the server's own OpenAPI schema with schemathesis (its CLI, against the real process): no 5xx."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_openapi_fuzz_finds_no_server_errors(server):
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [str(schemathesis), "run", server.url + "/openapi.json", "--checks", "not_a_server_error",
         "--max-examples", "25", "--seed", "1", "--request-timeout", "60", "--no-color"],
        capture_output=True, text=True, timeout=900,
    )
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts and counts.group(1) == counts.group(2) and int(counts.group(1)) > 100, report
