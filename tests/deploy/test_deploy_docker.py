"""Dockerfiles, compose files, .dockerignore and the health probe, checked without a container engine.

What a container run shows (the user, the health check, the port, the /models volume, the installed lock, compose
starting the service) is tested by running the images in tests/deploy/test_images.py. This file keeps what a run
does not show, or shows only where podman is installed: that every variable a build step uses is defined in its
stage (an undefined one expands to nothing, silently), that the build context holds what the Dockerfiles copy and
keeps weights and secrets out, that the compose files pass only settings the server reads and are valid compose,
that the commented-out two-GPU variant works, and the probe against the real server.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from fnmatch import fnmatchcase
from pathlib import Path

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


def flags_and_rest(args: str) -> tuple[dict[str, str], str]:
    """A RUN/COPY's leading --flag=value options (``--mount=...``, ``--from=...``) and the rest."""
    flags: dict[str, str] = {}
    while args.startswith("--"):
        flag, _, args = args.partition(" ")
        key, _, value = flag[2:].partition("=")
        flags[key] = value
        args = args.lstrip()
    return flags, args


def mount_options(flags: dict[str, str]) -> dict[str, str]:
    return dict(part.split("=", 1) for part in flags.get("mount", "").split(",") if "=" in part)


def env_vars(name: str) -> dict[str, str]:
    out = {}
    for a in args_of(name, "ENV"):
        for key, value in re.findall(r"(\w+)=(\S+)", a):
            out[key] = value
    return out


def served_env_names() -> set[str]:
    """Every BGE_LOCAL_* variable `bge-local serve` reads."""
    return {server_settings.env_name(f) for f in server_settings.Settings.model_fields}


# --- Dockerfiles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DOCKERFILES)
def test_the_server_reads_every_variable_the_image_sets(name):
    env = env_vars(name)
    unknown = {k for k in env if k.startswith("BGE_LOCAL_")} - served_env_names()
    assert not unknown, f"{name} sets variables the server does not read: {unknown}"
    assert args_of(name, "EXPOSE") == [env["BGE_LOCAL_PORT"]], "EXPOSE is not the port the server listens on"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_variable_is_defined_in_its_stage_before_use(name):
    """An ARG declared before FROM, or in another stage, is empty in a RUN: the shell does not complain."""
    global_args: set[str] = set()
    stages: dict[str, set[str]] = {}
    defined: set[str] | None = None
    for keyword, args in instructions(name):
        used = set(re.findall(r"\$\{?(\w+)", args))
        if keyword == "FROM":
            assert used <= global_args, f"{name}: FROM uses {used - global_args}, not declared before it"
            parts = args.split()
            parent = parts[0]
            defined = set(stages.get(parent, {"PATH"}))  # the base image brings PATH
            if len(parts) == 3 and parts[1].upper() == "AS":
                stages[parts[2]] = defined
            continue
        if defined is None:
            assert keyword == "ARG", f"{name}: {keyword} before the first FROM"
            global_args.add(args.partition("=")[0])
            continue
        missing = used - defined
        assert not missing, f"{name}: {keyword} {args[:60]}… uses {missing}, not defined in this stage"
        if keyword == "ARG":
            defined.add(args.partition("=")[0])
        if keyword == "ENV":
            defined.update(re.findall(r"(\w+)=", args))


@pytest.mark.parametrize("name", DOCKERFILES)
def test_run_steps_are_valid_shell(name):
    for run in args_of(name, "RUN"):
        _, command = flags_and_rest(run)
        check = subprocess.run(["sh", "-n", "-c", command], capture_output=True, text=True)
        assert check.returncode == 0, f"{command}\n{check.stderr}"


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


def context_sources(name: str) -> list[str]:
    """Every build-context path a Dockerfile reads: COPY sources (not from a stage) and RUN bind mounts."""
    sources = []
    for keyword, args in instructions(name):
        flags, rest = flags_and_rest(args)
        if keyword in ("COPY", "ADD") and "from" not in flags:
            sources += rest.split()[:-1]
        if keyword == "RUN" and mount_options(flags).get("type") == "bind" and "from" not in mount_options(flags):
            sources.append(mount_options(flags)["source"])
    return sources


@pytest.mark.parametrize("name", DOCKERFILES)
def test_what_the_build_reads_exists_and_is_in_the_build_context(name):
    sources = context_sources(name)
    assert sources
    for source in sources:
        assert (REPO / source).exists(), f"{name} reads {source}, which does not exist in a fresh clone"
        assert not dockerignore_excludes(source), f".dockerignore keeps {source} out of the build context"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_copies_from_stages_name_earlier_stages(name):
    stages: list[str] = []
    for keyword, args in instructions(name):
        if keyword == "FROM" and " AS " in args.upper():
            stages.append(args.split()[-1])
        flags, _ = flags_and_rest(args)
        source_stage = flags.get("from") or mount_options(flags).get("from")
        if source_stage:
            assert source_stage in stages, f"{name}: {keyword} --from={source_stage} before that stage"


LOCK_OF = {"Dockerfile": "locks/server-cuda.txt", "Dockerfile.cpu": "locks/server-cpu.txt"}
PART_PATTERN = re.compile(r"awk '/\^\[\^ #\]/ \{ p = /(?P<pattern>[^/]+)/ \} p' /opt/lock.txt")


@pytest.mark.parametrize("name", DOCKERFILES)
def test_the_lock_is_installed_in_parts_then_whole(name):
    """The lock-* stages (one podman build each in deploy/oci/build-images.sh, so that no build holds more than
    about 1 GB of the lock in temporary copies) chain from the python stage, each installs the lock entries its
    pattern picks, with their hashes, and picks some not installed yet (a renamed package would otherwise slip
    silently into one big layer again); the image installs the whole lock on top of the last of them."""
    lock = (REPO / LOCK_OF[name]).read_text()
    blocks: dict[str, str] = {}
    for line in lock.splitlines(keepends=True):
        if re.match(r"[^ #]", line):
            entry = line.split("==")[0]
            blocks[entry] = ""
        if blocks and line.startswith((" ", entry)):
            blocks[entry] += line
    entries = list(blocks)
    parent, installed, parts = "python", set(), 0
    for keyword, args in instructions(name):
        if keyword == "FROM" and len(args.split()) == 3 and args.split()[-1].startswith("lock-"):
            assert args.split()[0] == parent, f"{name}: {args} does not build on {parent}"
            parent = args.split()[-1]
        elif keyword == "FROM" and parent.startswith("lock-"):
            assert args == parent, f"{name}: the image starts from {args}, not from the last part {parent}"
            parent = "the image"
        elif keyword == "RUN" and parent.startswith("lock-"):
            command = flags_and_rest(args)[1].partition(" && ")[0].replace("/opt/lock.txt", LOCK_OF[name])
            part = subprocess.run(["sh", "-c", command.partition(" >")[0]], cwd=REPO, capture_output=True,
                                  text=True, check=True).stdout
            pattern = PART_PATTERN.search(args)
            assert pattern, f"{name}: {parent} installs no part of the lock"
            names = [e for e in entries if re.match(pattern["pattern"], e + "==")]
            # each entry whole: its requirement line and the lines that continue it (the hashes, where the lock
            # has them: pip then checks them, as it does for the whole lock)
            assert part == "".join(blocks[n] for n in names), f"{name}: {parent} picks {part!r}"
            assert set(names) - installed, f"{name}: {parent} installs nothing new"
            installed |= set(names)
            parts += 1
        elif keyword == "RUN" and "--requirement /opt/lock.txt" in args:
            assert parent == "the image" and "--no-deps" not in args
            parts = -parts
    assert parts < 0, f"{name}: no lock-* stage, or the image does not install the whole lock after them"


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    return out.stdout.splitlines()


def test_the_package_its_data_and_the_server_locks_are_in_the_build_context():
    """Every file of the package (sources and data files) reaches the wheel stage; no other tracked file but
    the few the images read."""
    sent = {path for path in tracked_files() if not dockerignore_excludes(path)}
    package = {path for path in tracked_files() if path.startswith("local_server/")}
    assert package and package <= sent
    assert {"locks/server-cpu.txt", "locks/server-cuda.txt", "pyproject.toml", "MANIFEST.in"} <= sent
    others = sent - package - {"pyproject.toml", "README.md", "MANIFEST.in", "deploy/healthcheck.py",
                               "locks/server-cpu.txt", "locks/server-cuda.txt", "wheelhouse/README.md"}
    assert not others, f"sent to the image build for nothing: {sorted(others)}"


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/config",
        "bge-models/bge-m3/model.safetensors",
        "models/bge-m3/pytorch_model.bin",
        ".cache/tiny-models/bge-m3/config.json",
        ".cache/oci/storage/overlay/l/abc",
        "tests/conftest.py",
        "local_server/__pycache__/cli.cpython-311.pyc",
        "deploy/env.example",
        ".env",
    ],
)
def test_dockerignore_keeps_weights_environments_and_secrets_out(path):
    assert dockerignore_excludes(path)


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
def test_compose_settings_are_the_servers_and_the_images(name):
    service = load_compose(name)["services"]["bge-local"]
    dockerfile = service["build"]["dockerfile"]
    image_env = env_vars(dockerfile)
    env = service["environment"]
    assert not {k for k in env if k.startswith("BGE_LOCAL_")} - served_env_names()
    assert env["BGE_LOCAL_EMBEDDING_MODEL"] == server_settings.DEFAULT_EMBEDDING_MODEL
    assert env["BGE_LOCAL_RERANKER_MODEL"] == server_settings.DEFAULT_RERANKER_MODEL
    assert env["BGE_LOCAL_API_KEY"] == ""  # unset: no key, the server's default
    assert env["HF_ENDPOINT"], "an empty HF_ENDPOINT makes huggingface_hub call ''"
    # the published container port is the one the image serves on; the volume is the image's
    host_port, _, container_port = service["ports"][0].rpartition(":")
    assert container_port == image_env["BGE_LOCAL_PORT"] and host_port == str(server_settings.Settings().port)
    _, _, target = service["volumes"][0].rpartition(":")
    assert [target] == yaml.safe_load(args_of(dockerfile, "VOLUME")[0])
    probe = yaml.safe_load(args_of(dockerfile, "HEALTHCHECK")[0].partition(" CMD ")[2])
    assert service["healthcheck"]["test"] == ["CMD", *probe]


def strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("name", [*COMPOSE_FILES, "two-GPU alternative"])
def test_compose_uses_no_empty_defaults(name):
    """podman-compose 1.0 (Debian 12) leaves ``${VAR:-}`` as it is: the literal text would become the setting
    (it did: the API key became '${BGE_LOCAL_API_KEY:-}' and every request got 401)."""
    text = two_gpu_alternative_text() if name == "two-GPU alternative" else (REPO / name).read_text()
    values = strings(yaml.safe_load(text))
    assert any("${" in v for v in values)
    assert not [v for v in values if re.search(r"\$\{\w+:?-\}", v)]


def _grace_seconds() -> int:
    """How long the server lets accepted requests finish after SIGTERM (its drain timeout default)."""
    return server_settings.Settings().drain_timeout_s


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_waits_for_the_server_to_drain(name):
    grace = load_compose(name)["services"]["bge-local"]["stop_grace_period"]
    assert grace.endswith("s") and int(grace[:-1]) > _grace_seconds()


def two_gpu_alternative_text() -> str:
    """The commented-out block of docker-compose.yml, uncommented as its instructions say."""
    text = (REPO / "docker-compose.yml").read_text()
    block = text.split("# >>> two-GPU alternative\n", 1)[1].split("  # <<< two-GPU alternative", 1)[0]
    lines = block.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"  # [\w-]+:", line))
    assert all(line.startswith("  # ") for line in lines[start:])
    return textwrap.dedent("\n".join(line[:2] + line[4:] for line in lines[start:]))


def two_gpu_alternative() -> dict:
    return interpolate(yaml.safe_load(two_gpu_alternative_text()), {})


def test_the_two_gpu_alternative_serves_each_model_on_its_own_gpu_and_port():
    from local_server.cli import build_parser
    from local_server.config import settings_from_args

    services = two_gpu_alternative()
    parser = build_parser()
    served, gpus, ports = {}, [], []
    for service in services.values():
        (device,) = service["deploy"]["resources"]["reservations"]["devices"]
        gpus += device["device_ids"]
        ports.append(service["ports"][0].rpartition(":")[0])
        environ = {k: v for k, v in service["environment"].items() if k.startswith("BGE_LOCAL_")}
        s = settings_from_args(parser.parse_args(service["command"]), environ)
        served[(s.embedding_model, s.reranker_model)] = s.device
    assert len(set(gpus)) == len(gpus) == 2 and len(set(ports)) == 2
    assert sorted(served, key=str) == sorted([(server_settings.DEFAULT_EMBEDDING_MODEL, None),
                                              (None, server_settings.DEFAULT_RERANKER_MODEL)], key=str)
    assert set(served.values()) == {"cuda"}


def _docker_compose_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker-compose", "--file", str(path), "config", "--quiet"], capture_output=True,
                          text=True, timeout=120, cwd=REPO)


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="docker-compose not installed (Debian: apt-get install docker-compose)")
@pytest.mark.parametrize("name", [*COMPOSE_FILES, "two-GPU alternative"])
def test_docker_compose_accepts_the_file(name, tmp_path):
    """Docker Compose's own schema check (Debian's docker-compose 1.29; no Docker engine needed)."""
    if name == "two-GPU alternative":
        path = tmp_path / "docker-compose.yml"
        path.write_text("services:\n" + textwrap.indent(two_gpu_alternative_text(), "  ")
                        + "\nvolumes:\n  bge-models:\n")
    else:
        path = REPO / name
    result = _docker_compose_config(path)
    assert result.returncode == 0, result.stderr
    invalid = tmp_path / "invalid.yml"
    invalid.write_text(path.read_text().replace("shm_size:", "shm_sizes:", 1))
    assert _docker_compose_config(invalid).returncode != 0, "docker-compose accepts anything: the check is void"


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
