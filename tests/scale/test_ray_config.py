"""``bge-local ray-config``: the Serve config from serve's settings, and its check. No cluster is started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from local_server.config import Settings
from local_server.scale.serve_config import IMPORT_PATH, check, settings_from_config, split_tunable

REPO = Path(__file__).resolve().parents[2]


def ray_config(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BGE_LOCAL_")}
    return subprocess.run([sys.executable, "-m", "local_server", "ray-config", *args], capture_output=True,
                          text=True, cwd=REPO, env={**clean, **(env or {})})


def test_args_mean_what_serve_options_and_env_mean():
    env = {"BGE_LOCAL_MAX_BATCH_TOKENS": "1234", "BGE_LOCAL_API_KEY": "k1,k2", "BGE_LOCAL_STRICT_MODEL_NAMES": "true"}
    s = settings_from_config({"embedding_model": "/m/e", "reranker_model": None, "max_batch_size": 7}, environ=env)
    assert s.embedding_model == "/m/e" and s.reranker_model is None  # null turns a model off, like 'none'
    assert s.max_batch_size == 7  # an arg, typed as serve's option parses it
    assert s.max_batch_tokens == 1234 and s.api_keys == ["k1", "k2"] and s.strict_model_names  # the environment
    assert settings_from_config({"max_batch_tokens": 99}, environ=env).max_batch_tokens == 99  # args win
    assert settings_from_config({"embedding_names": ["a", "b,c"]}, environ={}).embedding_names == ["a", "b", "c"]


def test_bad_args_are_refused_with_the_known_names():
    with pytest.raises(ValueError, match=r"max_batch_tokenz.*known: .*max_batch_tokens"):
        settings_from_config({"max_batch_tokenz": 1}, environ={})
    with pytest.raises(ValueError, match="both models are turned off"):
        settings_from_config({"embedding_model": "none", "reranker_model": None}, environ={})
    with pytest.raises(ValueError):
        settings_from_config({"max_batch_size": "many"}, environ={})


def test_batching_settings_travel_as_user_config():
    fixed, tunable = split_tunable({"embedding_model": "x", "max_batch_tokens": 1, "batch_wait_ms": 3})
    assert fixed == {"embedding_model": "x"} and tunable == {"max_batch_tokens": 1, "batch_wait_ms": 3}


def test_written_config_carries_the_settings_and_deployments():
    run = ray_config("--embedding-model", "/models/bge-m3", "--reranker-model", "none", "--port", "9000",
                     "--embedder-replicas", "2:6", "--gpus-per-replica", "0.5", "--api-key", "secret",
                     env={"BGE_LOCAL_MAX_BATCH_TOKENS": "8192", "BGE_LOCAL_DRAIN_TIMEOUT_S": "45"})
    assert run.returncode == 0, run.stderr
    assert "secret" not in run.stdout and "BGE_LOCAL_API_KEY" in run.stderr  # keys stay out of files
    config = yaml.safe_load(run.stdout)
    assert config["http_options"] == {"host": "0.0.0.0", "port": 9000}
    app = config["applications"][0]
    assert app["import_path"] == IMPORT_PATH
    assert app["args"] == {"embedding_model": "/models/bge-m3", "reranker_model": None, "drain_timeout_s": 45}
    deployments = {d["name"]: d for d in app["deployments"]}
    # a batching setting is each deployment's user_config: editing it there updates running replicas in place
    assert {name: d["user_config"] for name, d in deployments.items()} == {
        "ingress": {"max_batch_tokens": 8192}, "embedder": {"max_batch_tokens": 8192}}
    assert set(deployments) == {"ingress", "embedder"}  # no reranker deployment when the reranker is off
    embedder = deployments["embedder"]
    assert embedder["ray_actor_options"]["num_gpus"] == 0.5
    assert embedder["autoscaling_config"]["min_replicas"] == 2 and embedder["autoscaling_config"]["max_replicas"] == 6
    assert embedder["graceful_shutdown_timeout_s"] == 45
    assert "num_gpus" not in deployments["ingress"]["ray_actor_options"]
    fixed = ray_config("--embedder-replicas", "3", "--reranker-replicas", "1")
    deployments = {d["name"]: d for d in yaml.safe_load(fixed.stdout)["applications"][0]["deployments"]}
    assert deployments["embedder"]["num_replicas"] == 3 and "autoscaling_config" not in deployments["embedder"]


def test_check_accepts_what_it_writes_and_names_what_is_wrong(tmp_path):
    pytest.importorskip("ray.serve.schema")
    path = tmp_path / "serve.yaml"
    path.write_text(ray_config("--embedding-model", "/m/e").stdout)
    assert ray_config("--check", str(path)).returncode == 0
    config = yaml.safe_load(path.read_text())
    assert check(config) == []
    app = config["applications"][0]
    app["deployments"].append({"name": "colbert"})
    app["deployments"][1]["user_config"] = {"max_batch_tokens": 1, "device": "cuda"}
    problems = check(config)
    assert any("'colbert'" in p for p in problems) and any("not device" in p for p in problems)
    config["applications"][0]["deployments"] = "many"
    assert check(config)[0].startswith("not a valid Serve config")
    path.write_text(yaml.safe_dump({"applications": [{"name": "x", "import_path": "other:app"}]}))
    run = ray_config("--check", str(path))
    assert run.returncode == 1 and IMPORT_PATH in run.stderr


def test_replicas_option_is_checked():
    run = ray_config("--embedder-replicas", "4:2")
    assert run.returncode != 0 and "MIN <= MAX" in run.stderr


def test_default_settings_write_no_args_beyond_the_models():
    config = yaml.safe_load(ray_config().stdout)
    defaults = Settings()
    assert config["applications"][0]["args"] == {"embedding_model": defaults.embedding_model,
                                                 "reranker_model": defaults.reranker_model}


def test_two_ingress_replicas_by_default():
    """By default Serve replaces a replica by stopping it before its successor starts: with one ingress, a
    roll-out of ``args`` leaves none for a while. Two by default, and a surge, keep one serving."""
    config = yaml.safe_load(ray_config("--embedding-model", "/m/e").stdout)
    ingress = next(d for d in config["applications"][0]["deployments"] if d["name"] == "ingress")
    assert ingress["autoscaling_config"]["min_replicas"] >= 2
    assert ingress["max_surge_percent"] == 100  # and the successor starts before the old one stops


def autoscaling_configs(config: dict) -> list[dict]:
    return [d["autoscaling_config"] for app in config["applications"] for d in app["deployments"]
            if "autoscaling_config" in d]


def test_autoscaling_settings_are_valid_without_warnings(tmp_path):
    """What ray-config writes and what the cluster tests deploy pass Ray's AutoscalingConfig with warnings as
    errors (Ray 2.60 warns that a look_back_period_s at or below metrics_interval_s will become an error)."""
    import warnings

    serve_config = pytest.importorskip("ray.serve.config")
    sys.path.insert(0, str(Path(__file__).parent))
    from ray_cluster import ray_config as cluster_config

    written = yaml.safe_load(ray_config("--embedding-model", "/m/e").stdout)
    tested = cluster_config(tmp_path, 8000)
    configs = autoscaling_configs(written) + autoscaling_configs(tested)
    assert any("look_back_period_s" in c for c in configs)  # the cluster tests' short loop is among them
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for config in configs:
            serve_config.AutoscalingConfig(**config)
    with pytest.raises((FutureWarning, ValueError)), warnings.catch_warnings():  # not vacuous
        warnings.simplefilter("error")
        serve_config.AutoscalingConfig(min_replicas=1, max_replicas=2, look_back_period_s=2)
