"""Settings are checked when they are built: every bad value or combination, from an option or from the
environment, is refused with a message that names the option, its variable and what it accepts."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from support.server import REPO

from local_server.cli import build_parser
from local_server.config import Settings, SettingsError, settings_from_args


def _settings(*argv: str, **environ: str) -> Settings:
    return settings_from_args(build_parser(tools=False).parse_args(["serve", *argv]), environ)


BAD = [
    # (options, environment, what the message must say)
    ((), {"BGE_LOCAL_DOCS_ENABLED": "ture"}, ["BGE_LOCAL_DOCS_ENABLED", "--docs-enabled", "true/false", "'ture'"]),
    (("--port", "80a"), {}, ["--port", "BGE_LOCAL_PORT", "whole number", "'80a'"]),
    ((), {"BGE_LOCAL_PORT": "80a"}, ["BGE_LOCAL_PORT", "--port", "whole number"]),
    (("--port", "70000"), {}, ["--port", "less than or equal to 65535"]),
    (("--dtype", "fp8"), {}, ["--dtype", "'auto', 'fp16'", "'fp8'"]),
    (("--log-format", "JSON"), {}, ["--log-format", "'text' or 'json'", "'JSON'"]),
    (("--log-level", "loud"), {}, ["--log-level", "'debug'"]),
    (("--max-padding", "5"), {}, ["--max-padding", "between 0 and 1"]),
    (("--device", "gpu"), {}, ["--device", "cuda:N"]),
    (("--max-length", "1"), {}, ["--max-length", "greater than or equal to 2"]),
    (("--max-batch-size", "0"), {}, ["--max-batch-size", "greater than or equal to 1"]),
    (("--batch-wait-ms", "soon"), {}, ["--batch-wait-ms", "a number"]),
    (("--embedding-model", "none", "--reranker-model", "off"), {}, ["both models are turned off"]),
    ((), {"BGE_LOCAL_EMBEDDING_MODEL": "", "BGE_LOCAL_RERANKER_MODEL": "disabled"}, ["both models are turned off"]),
]


@pytest.mark.parametrize(("argv", "environ", "needles"), BAD, ids=[" ".join(b[0]) or str(b[1]) for b in BAD])
def test_each_bad_value_is_refused_by_name(argv, environ, needles):
    with pytest.raises(SettingsError) as caught:
        _settings(*argv, **environ)
    for needle in needles:
        assert needle in str(caught.value)


def test_several_bad_values_are_all_named_at_once():
    with pytest.raises(SettingsError) as caught:
        _settings("--port", "x", "--dtype", "fp8", BGE_LOCAL_MAX_PADDING="2")
    assert all(name in str(caught.value) for name in ("--port", "--dtype", "BGE_LOCAL_MAX_PADDING"))


def test_good_values_from_options_and_environment():
    s = _settings("--port", "9000", "--no-docs-enabled", "--api-key", "k1", "--api-key", "k2,k3",
                  BGE_LOCAL_PORT="1", BGE_LOCAL_MAX_PADDING="0.25", BGE_LOCAL_METRICS_ENABLED="off",
                  BGE_LOCAL_DEVICE="cuda:0,1", BGE_LOCAL_RERANKER_MODEL="none", BGE_LOCAL_CORS_ORIGIN="http://a,http://b")
    assert s.port == 9000  # the option wins over the variable
    assert s.docs_enabled is False and s.metrics_enabled is False
    assert s.api_keys == ["k1", "k2", "k3"] and s.cors_origins == ["http://a", "http://b"]
    assert s.max_padding == 0.25 and s.device == "cuda:0,1" and s.reranker_model is None
    assert _settings() == Settings()


def test_settings_built_in_code_are_checked_too():
    with pytest.raises(ValueError, match="max_padding"):
        Settings(max_padding=5)
    with pytest.raises(ValueError, match="both models"):
        Settings(embedding_model=None, reranker_model=None)
    with pytest.raises(ValueError, match="not_a_setting"):
        Settings(not_a_setting=1)


def test_serve_with_a_bad_setting_stops_at_once_naming_it():
    result = subprocess.run([sys.executable, "-m", "local_server", "serve", "--dtype", "fp8", "--port", "80a"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--dtype" in result.stderr and "'fp16'" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_setting_the_code_reads_exists():
    """``settings.<name>`` anywhere in the server names a field or property of Settings: pydantic raises
    AttributeError only when the line runs (a removed setting once turned an Xinference route into a 500)."""
    known = set(Settings.model_fields) | {name for name in dir(Settings) if not name.startswith("_")}
    read: dict[str, str] = {}
    for path in (REPO / "local_server").rglob("*.py"):
        for match in re.finditer(r"\bsettings\.([a-z_][a-z0-9_]*)\b(?!\s*\()", path.read_text()):
            read.setdefault(match.group(1), str(path.relative_to(REPO)))
    assert len(read) > 10  # the pattern finds the reads
    unknown = {name: where for name, where in read.items() if name not in known}
    assert not unknown, f"settings read that Settings does not have: {unknown}"
