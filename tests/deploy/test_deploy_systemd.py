"""deploy/bge-local.service, deploy/env.example, and the commands and metrics docs/deploy.md relies on."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess

import httpx
import pytest
import yaml
from support.server import REPO

from local_server import config as server_settings

UNIT = REPO / "deploy" / "bge-local.service"
ENV_EXAMPLE = REPO / "deploy" / "env.example"
DEPLOY_DOC = REPO / "docs" / "deploy.md"

# Options that cut a service off /dev/nvidia* (or /proc/driver/nvidia), or break torch's JIT compilers.
BREAKS_CUDA = {
    "PrivateDevices",
    "DevicePolicy",
    "DeviceAllow",
    "ProtectClock",
    "ProcSubset",
    "PrivateUsers",
    "MemoryDenyWriteExecute",
}


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


def all_keys() -> list[str]:
    return [
        line.split("=", 1)[0].strip()
        for line in UNIT.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith(("#", ";"))
    ]


def seconds(value: str) -> int:
    match = re.fullmatch(r"(\d+)(s|min)?", value.strip())
    assert match, value
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


def test_the_unit_runs_bge_local_serve_and_restarts_it():
    service = unit()["Service"]
    command = service["ExecStart"].split()
    assert command[0].endswith("/.venv/bin/bge-local") and command[1:] == ["serve"]
    assert service["Restart"] in ("on-failure", "always")
    assert seconds(service["RestartSec"]) >= 1
    assert service["Type"] in ("exec", "simple")
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


def test_the_unit_reads_the_optional_env_file_as_a_dedicated_user():
    service = unit()["Service"]
    assert service["EnvironmentFile"] == "-/etc/bge-local/env"
    assert service["User"] not in ("", "root", "0") and service["User"] == service["Group"] == "bge-local"
    assert service["StateDirectory"] == "bge-local"
    assert service["WorkingDirectory"] == "/var/lib/bge-local"


def test_logs_go_to_the_journal():
    service = unit()["Service"]
    assert service["StandardOutput"] == service["StandardError"] == "journal"
    assert "LogsDirectory" not in service and "/var/log" not in UNIT.read_text().split("[Unit]", 1)[1]


def test_stop_timeout_covers_the_servers_drain():
    service = unit()["Service"]
    assert service["KillSignal"] == "SIGTERM"
    assert seconds(service["TimeoutStopSec"]) > server_settings.Settings().drain_timeout_s


def test_hardening_is_on_and_leaves_the_gpu_reachable():
    service = unit()["Service"]
    assert service["NoNewPrivileges"] == "true"
    assert service["ProtectSystem"] in ("full", "strict")
    assert service["PrivateTmp"] == "true"
    assert not BREAKS_CUDA & set(all_keys()), BREAKS_CUDA & set(all_keys())
    # NoNewPrivileges stops CUDA from running the setuid nvidia-modprobe: the unit runs it as root ('+'),
    # optional ('-') so that a machine without a GPU starts too
    assert service["ExecStartPre"].startswith(("-+/", "+-/")) and "nvidia-modprobe -u" in service["ExecStartPre"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_every_line(tmp_path):
    # verify refuses a unit whose ExecStart binary is missing, and bge-local is not installed at /opt here
    text = UNIT.read_text()
    exec_start = unit()["Service"]["ExecStart"]
    probe = tmp_path / "bge-local.service"
    probe.write_text(text.replace(f"ExecStart={exec_start}", "ExecStart=/bin/true"))
    result = subprocess.run(["systemd-analyze", "verify", str(probe)], capture_output=True, text=True, timeout=60)
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if str(probe) in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


# --- env.example -----------------------------------------------------------------------------------

# what the compose files interpolate (${VAR...}) is read too, by docker compose from .env
COMPOSE_ONLY = {var for name in ("docker-compose.yml", "docker-compose.cpu.yml")
                for var in re.findall(r"\$\{(\w+)", (REPO / name).read_text())}
OTHER_KNOWN = {"HF_ENDPOINT", "HF_HUB_OFFLINE", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"}


def env_lines() -> list[tuple[str, str, bool]]:
    """(key, value, commented) for every KEY=value line, active or commented out."""
    out = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"(#)?([A-Z][A-Z0-9_]*)=(.*)", line)
        if match:
            out.append((match.group(2), match.group(3), bool(match.group(1))))
    return out


def test_env_example_names_only_variables_something_reads():
    served = {server_settings.env_name(f) for f in server_settings.Settings.model_fields}
    unknown = {key for key, _, _ in env_lines()} - served - COMPOSE_ONLY - OTHER_KNOWN
    assert not unknown, f"env.example sets variables nothing reads: {unknown}"
    active = {key for key, _, commented in env_lines() if not commented}
    assert {"BGE_LOCAL_API_KEY", "BGE_LOCAL_EMBEDDING_MODEL", "BGE_LOCAL_RERANKER_MODEL"} <= active


def test_env_example_values_match_the_server_defaults_and_parse_as_an_environment_file():
    values = {key: value for key, value, commented in env_lines() if not commented}
    defaults = server_settings.Settings()
    assert values["BGE_LOCAL_EMBEDDING_MODEL"] == defaults.embedding_model
    assert values["BGE_LOCAL_RERANKER_MODEL"] == defaults.reranker_model
    assert values["BGE_LOCAL_PORT"] == str(defaults.port)
    assert values["BGE_LOCAL_API_KEY"] == ""
    for key, value, _ in env_lines():  # systemd and compose read these verbatim: no quotes, no spaces
        assert not re.search(r"[\"'\s]", value), f"{key}={value}"


def test_the_env_file_drives_the_real_settings():
    from local_server.cli import build_parser
    from local_server.config import settings_from_args

    environ = {key: value for key, value, commented in env_lines() if not commented}
    s = settings_from_args(build_parser().parse_args(["serve"]), environ)
    assert (s.api_keys, s.host, s.port) == ([], "0.0.0.0", 8000)
    offline = dict(
        environ,
        **{
            key: value
            for key, value, commented in env_lines()
            if commented and key.startswith("BGE_LOCAL_") and key.endswith("_MODEL")
        },
    )
    s = settings_from_args(build_parser().parse_args(["serve"]), offline)
    assert s.embedding_model == "/var/lib/bge-local/models/bge-m3"
    assert s.reranker_model == "/var/lib/bge-local/models/bge-reranker-v2-m3"


# --- docs/deploy.md --------------------------------------------------------------------------------


def yaml_blocks(text: str) -> list:
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def test_the_alert_rules_parse_and_use_the_gpu_memory_gauges():
    blocks = yaml_blocks(DEPLOY_DOC.read_text())
    (rules,) = [b for b in blocks if isinstance(b, dict) and "groups" in b]
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    gpu = alerts["BgeLocalGpuMemoryHigh"]["expr"]
    assert "bge_local_gpu_memory_used_bytes / bge_local_gpu_memory_total_bytes" in gpu
    assert all({"expr", "for", "labels", "annotations"} <= set(r) for r in alerts.values())


def test_every_metric_the_docs_name_is_exported(server):
    names = set(re.findall(r"\bbge_local_[a-z_]+", DEPLOY_DOC.read_text()))
    exported = httpx.get(server.url + "/metrics", timeout=10).text
    families = set(re.findall(r"^# TYPE (\S+) ", exported, re.M))
    missing = set()
    for name in names:
        base = re.sub(r"_(total|bucket|count|sum|created)$", "", name)
        if base not in families and name not in families:
            missing.add(name)
    assert not missing, f"docs/deploy.md names metrics the server does not export: {missing}"


DOCS = [DEPLOY_DOC, REPO / "docs" / "ragflow.md", REPO / "docker-compose.yml", REPO / "Dockerfile"]


def test_every_bge_local_option_the_docs_use_exists():
    from local_server.cli import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    used: set[tuple[str, str]] = set()
    for path in DOCS:
        for sub, rest in re.findall(r"\bbge-local (serve|download|doctor)\b([^\n`|]*)", path.read_text()):
            used.update((sub, flag) for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", rest))
    known = {(sub, opt) for sub, p in subparsers.items() for a in p._actions for opt in a.option_strings}
    assert used and not used - known, f"options the docs use that the CLI lacks: {used - known}"
