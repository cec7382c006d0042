"""Dockerfiles, compose files, .dockerignore and the health probe.

No Docker engine runs here, so the files are parsed and checked against the real code they invoke: the
CLI the ENTRYPOINT names, the options the compose commands pass, the settings the environment variables
set, and the health probe against the running test server.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from fnmatch import fnmatchcase

import pytest
import yaml
from support.server import REPO

from local_server import config as server_settings

DOCKERFILES = ["Dockerfile", "Dockerfile.cpu"]
COMPOSE_FILES = ["docker-compose.yml", "docker-compose.cpu.yml"]


# --- a small Dockerfile reader ---------------------------------------------------------------------


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in (REPO / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        result.append((keyword.upper(), args.strip()))
    assert not pending, f"{name} ends inside a continued line"
    return result


def args_of(name: str, keyword: str) -> list[str]:
    return [a for k, a in instructions(name) if k == keyword]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def arg_defaults(name: str) -> dict[str, str]:
    out = {}
    for a in args_of(name, "ARG"):
        key, _, default = a.partition("=")
        out[key] = default
    return out


def env_vars(name: str) -> dict[str, str]:
    out = {}
    for a in args_of(name, "ENV"):
        for key, value in re.findall(r"(\w+)=(\S+)", a):
            out[key] = value
    return out


def served_env_names() -> set[str]:
    """Every BGE_LOCAL_* variable `bge-local serve` reads."""
    return {server_settings._env_name(f) for f in server_settings.Settings.__dataclass_fields__}


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "local_server", *argv], cwd=REPO, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def serve_help() -> str:
    out = run_cli("serve", "--help")
    assert out.returncode == 0, out.stderr
    return out.stdout


# --- Dockerfiles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DOCKERFILES)
def test_entrypoint_is_the_real_cli_and_cmd_a_real_subcommand(name, serve_help):
    (entrypoint,) = args_of(name, "ENTRYPOINT")
    (cmd,) = args_of(name, "CMD")
    assert exec_form(entrypoint) == ["bge-local"]
    assert exec_form(cmd) == ["serve"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["bge-local"] == "local_server.cli:main"
    assert "--embedding-model" in serve_help and "--reranker-model" in serve_help


@pytest.mark.parametrize("subcommand", ["download", "doctor"])
def test_the_subcommands_the_docs_run_in_the_container_exist(subcommand):
    out = run_cli(subcommand, "--help")
    assert out.returncode == 0, out.stderr
    assert f"bge-local {subcommand}" in out.stdout


@pytest.mark.parametrize("name", DOCKERFILES)
def test_runs_as_a_dedicated_user_with_the_model_cache_as_a_volume(name):
    steps = instructions(name)
    keywords = [k for k, _ in steps]
    (user,) = args_of(name, "USER")
    assert user not in ("root", "0") and not user.startswith("0:")
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    assert any(re.search(rf"useradd\b[^&]*\b{user}\b", a) for a in args_of(name, "RUN"))
    (volume,) = args_of(name, "VOLUME")
    assert exec_form(volume) == ["/models"]
    env = env_vars(name)
    assert env["HF_HOME"].startswith("/models/")
    assert any(f"chown {user}:{user} /models" in a for a in args_of(name, "RUN"))


@pytest.mark.parametrize("name", DOCKERFILES)
def test_port_and_host_match_the_server_settings(name):
    env = env_vars(name)
    defaults = server_settings.Settings()
    assert args_of(name, "EXPOSE") == [str(defaults.port)] == [env["BGE_LOCAL_PORT"]]
    assert env["BGE_LOCAL_HOST"] == "0.0.0.0"
    unknown = {k for k in env if k.startswith("BGE_LOCAL_")} - served_env_names()
    assert not unknown, f"{name} sets variables the server does not read: {unknown}"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_healthcheck_runs_the_probe_the_image_contains(name):
    (healthcheck,) = args_of(name, "HEALTHCHECK")
    options, _, command = healthcheck.partition(" CMD ")
    assert "--start-period=" in options
    assert exec_form(command) == ["python", "/app/deploy/healthcheck.py"]
    workdir = args_of(name, "WORKDIR")[0]
    copies = args_of(name, "COPY")
    assert "deploy/healthcheck.py ./deploy/healthcheck.py" in copies and workdir == "/app"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_torch_is_installed_from_its_index_before_the_package(name):
    runs = args_of(name, "RUN")
    torch_step = next(i for i, r in enumerate(runs) if "${TORCH_SPEC}" in r)
    package_step = next(i for i, r in enumerate(runs) if '".[${EXTRAS}]"' in r)
    assert torch_step < package_step
    assert '--index-url "${TORCH_INDEX_URL}"' in runs[torch_step]
    defaults = arg_defaults(name)
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(defaults["EXTRAS"].split(",")) <= set(extras)
    assert "server" in defaults["EXTRAS"].split(",")
    if name == "Dockerfile":
        assert defaults["BASE_IMAGE"].startswith("nvidia/cuda:12.")
        assert defaults["TORCH_INDEX_URL"].startswith("https://download.pytorch.org/whl/cu12")
    else:
        assert defaults["BASE_IMAGE"] == "python:3.11-slim"
        assert defaults["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
        assert env_vars(name)["BGE_LOCAL_DEVICE"] == "cpu"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_variable_is_defined_before_use(name):
    defined = {"PATH"}
    for keyword, args in instructions(name):
        if keyword == "FROM":
            used = set(re.findall(r"\$\{?(\w+)", args))
            assert used <= set(arg_defaults(name)), f"FROM uses {used}"
            continue
        for var in re.findall(r"\$\{?(\w+)", args):
            assert var in defined, f"{name}: ${var} used in {keyword} before it is defined"
        if keyword == "ARG":
            defined.add(args.partition("=")[0])
        if keyword == "ENV":
            defined.update(re.findall(r"(\w+)=", args))


@pytest.mark.parametrize("name", DOCKERFILES)
def test_run_steps_are_valid_shell(name):
    for run in args_of(name, "RUN"):
        check = subprocess.run(["sh", "-n", "-c", run], capture_output=True, text=True)
        assert check.returncode == 0, f"{run}\n{check.stderr}"


# --- build context ------------------------------------------------------------------------------


def dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes; a match on a parent covers children."""
    patterns = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    excluded = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if pattern.startswith("**/"):
            hit = any(fnmatchcase(part, pattern[3:]) for part in parts)
        else:
            hit = any(fnmatchcase(prefix, pattern) for prefix in prefixes)
        if hit:
            excluded = not negate
    return excluded


@pytest.mark.parametrize("name", DOCKERFILES)
def test_copied_paths_exist_and_are_in_the_build_context(name):
    for copy in args_of(name, "COPY"):
        *sources, _dest = copy.split()
        for source in sources:
            assert (REPO / source).exists(), f"{name} copies {source}, which does not exist"
            assert not dockerignore_excludes(source), f".dockerignore keeps {source} out of the build context"
    # pyproject's readme is read by `pip install .`: it must be copied too
    readme = tomllib.loads((REPO / "pyproject.toml").read_text())["project"].get("readme")
    if readme:
        assert any(readme in c.split()[:-1] for c in args_of(name, "COPY"))


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/config",
        "models/bge-m3/pytorch_model.bin",
        ".cache/tiny-models/bge-m3/config.json",
        "tests/conftest.py",
        "local_server/__pycache__/cli.cpython-311.pyc",
        "deploy/env.example",
        ".env",
    ],
)
def test_dockerignore_keeps_weights_environments_and_secrets_out(path):
    assert dockerignore_excludes(path)


def test_dockerignore_keeps_the_package():
    for path in ["local_server/cli.py", "local_server/engine/core.py", "pyproject.toml", "deploy/healthcheck.py"]:
        assert not dockerignore_excludes(path), path


# --- compose --------------------------------------------------------------------------------------


def interpolate(value, env: dict[str, str]):
    """Compose's ${VAR}, ${VAR:-default} and ${VAR-default}, applied recursively."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        name, op, default = m.group(1), m.group(2), m.group(3) or ""
        if op == ":-":
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        return env.get(name, "")

    return re.sub(r"\$\{(\w+)(?:(:-|-)([^}]*))?\}", sub, value)


def load_compose(name: str, env: dict[str, str] | None = None) -> dict:
    return interpolate(yaml.safe_load((REPO / name).read_text()), env or {})


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_service_basics(name):
    compose = load_compose(name)
    service = compose["services"]["bge-local"]
    dockerfile = service["build"]["dockerfile"]
    assert (REPO / service["build"]["context"] / dockerfile).is_file()
    assert service["ports"] == ["8000:8000"]
    assert service["shm_size"] == "2gb"
    assert service["restart"] in ("unless-stopped", "always")
    volume, _, target = service["volumes"][0].rpartition(":")
    assert target == "/models" and volume in compose["volumes"]
    env = service["environment"]
    assert env["BGE_LOCAL_API_KEY"] == ""  # from the environment, empty (no auth) when unset
    assert env["HF_ENDPOINT"] == "https://huggingface.co"  # never empty: huggingface_hub would use ""
    assert env["HF_HUB_OFFLINE"] == "0"
    assert env["BGE_LOCAL_EMBEDDING_MODEL"] == server_settings.DEFAULT_EMBEDDING_MODEL
    assert env["BGE_LOCAL_RERANKER_MODEL"] == server_settings.DEFAULT_RERANKER_MODEL
    assert not {k for k in env if k.startswith("BGE_LOCAL_")} - served_env_names()
    health = service["healthcheck"]
    assert health["test"] == ["CMD", *exec_form(args_of(dockerfile, "HEALTHCHECK")[0].partition(" CMD ")[2])]
    assert {"interval", "timeout", "retries", "start_period"} <= set(health)


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_takes_the_key_port_and_models_from_the_environment(name):
    env = {
        "BGE_LOCAL_API_KEY": "sk-123",
        "BGE_LOCAL_HOST_PORT": "9000",
        "BGE_LOCAL_MODELS_DIR": "./models",
        "BGE_LOCAL_EMBEDDING_MODEL": "/models/bge-m3",
        "HF_ENDPOINT": "https://hf-mirror.com",
    }
    service = load_compose(name, env)["services"]["bge-local"]
    assert service["environment"]["BGE_LOCAL_API_KEY"] == "sk-123"
    assert service["environment"]["BGE_LOCAL_EMBEDDING_MODEL"] == "/models/bge-m3"
    assert service["environment"]["HF_ENDPOINT"] == "https://hf-mirror.com"
    assert service["ports"] == ["9000:8000"]
    assert service["volumes"] == ["./models:/models"]


def _grace_seconds() -> int:
    """How long the server lets accepted requests finish after SIGTERM (its drain timeout default)."""
    return server_settings.Settings().drain_timeout_s


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_waits_for_the_server_to_drain(name):
    grace = load_compose(name)["services"]["bge-local"]["stop_grace_period"]
    assert grace.endswith("s") and int(grace[:-1]) > _grace_seconds()


def test_gpu_compose_reserves_an_nvidia_gpu():
    service = load_compose("docker-compose.yml")["services"]["bge-local"]
    (device,) = service["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"] and device["count"] == 1
    assert service["environment"]["BGE_LOCAL_DEVICE"] == "cuda"


def test_cpu_compose_needs_no_gpu():
    service = load_compose("docker-compose.cpu.yml")["services"]["bge-local"]
    assert "deploy" not in service and "runtime" not in service
    assert service["build"]["dockerfile"] == "Dockerfile.cpu"
    assert service["environment"]["BGE_LOCAL_DEVICE"] == "cpu"


def two_gpu_alternative() -> dict:
    """The commented-out block of docker-compose.yml, uncommented as its instructions say."""
    text = (REPO / "docker-compose.yml").read_text()
    block = text.split("# >>> two-GPU alternative\n", 1)[1].split("  # <<< two-GPU alternative", 1)[0]
    lines = block.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"  # [\w-]+:", line))
    assert all(line.startswith("  # ") for line in lines[start:])
    uncommented = textwrap.dedent("\n".join(line[:2] + line[4:] for line in lines[start:]))
    return interpolate(yaml.safe_load(uncommented), {})


def test_the_two_gpu_alternative_pins_one_model_per_gpu():
    services = two_gpu_alternative()
    assert set(services) == {"bge-m3", "bge-reranker"}
    gpus, commands, ports = {}, {}, {}
    for name, service in services.items():
        (device,) = service["deploy"]["resources"]["reservations"]["devices"]
        assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
        gpus[name] = device["device_ids"]
        commands[name] = service["command"]
        ports[name] = service["ports"]
        assert service["shm_size"] == "2gb" and service["environment"]["BGE_LOCAL_API_KEY"] == ""
        assert service["volumes"] == ["bge-models:/models"]
        assert service["healthcheck"]["test"] == ["CMD", "python", "/app/deploy/healthcheck.py"]
    assert gpus == {"bge-m3": ["0"], "bge-reranker": ["1"]}
    assert ports == {"bge-m3": ["8000:8000"], "bge-reranker": ["8001:8000"]}
    assert commands["bge-m3"] == ["serve", "--reranker-model", "none"]
    assert commands["bge-reranker"] == ["serve", "--embedding-model", "none"]


def test_the_two_gpu_commands_parse_with_the_real_cli():
    from local_server.cli import build_parser
    from local_server.config import settings_from_args

    services = two_gpu_alternative()
    parser = build_parser()
    result = {}
    for name, service in services.items():
        args = parser.parse_args(service["command"])
        environ = {k: v for k, v in service["environment"].items() if k.startswith("BGE_LOCAL_")}
        s = settings_from_args(args, environ)
        result[name] = (s.embedding_model, s.reranker_model, s.device, s.port, s.api_keys)
    assert result == {
        "bge-m3": ("BAAI/bge-m3", None, "cuda", 8000, []),
        "bge-reranker": (None, "BAAI/bge-reranker-v2-m3", "cuda", 8000, []),
    }


# --- the health probe, against the real server ------------------------------------------------------


def probe(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "deploy" / "healthcheck.py")],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": os.environ.get("PATH", ""), **env},
    )


def test_probe_is_healthy_when_the_server_is_ready(server):
    port = server.url.rsplit(":", 1)[1]
    assert probe({"BGE_LOCAL_PORT": port}).returncode == 0
    # a proxy meant for model downloads must not catch the probe
    proxied = {"BGE_LOCAL_PORT": port, "HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
    assert probe(proxied).returncode == 0


def test_probe_is_unhealthy_without_a_server(closed_port):
    result = probe({"BGE_LOCAL_PORT": str(closed_port)})
    assert result.returncode == 1 and "unhealthy" in result.stderr


def test_probe_is_unhealthy_on_an_error_status(keyed_server):
    result = probe({"BGE_LOCAL_HEALTH_URL": keyed_server.url + "/v1/models"})  # 401 without a key
    assert result.returncode == 1 and "answered 401" in result.stderr
