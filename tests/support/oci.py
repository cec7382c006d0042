"""podman, as deploy/oci/build-images.sh sets it up, for the tests that run the built images.

Every podman call gets the environment of deploy/oci/podman-env.sh (its private storage and configuration),
so the tests see exactly the images the build script made and nothing of the machine's own podman state.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def podman_missing() -> str | None:
    """Why the image tests cannot run here, or None when they can."""
    missing = [tool for tool in ("podman", "bash") if shutil.which(tool) is None]
    if missing:
        return (f"{', '.join(missing)} not installed: the image tests need podman "
                "(Debian: apt-get install podman podman-compose mmdebstrap, as .ci/images.sh does)")
    return None


@cache
def podman_env() -> dict[str, str]:
    """The environment deploy/oci/podman-env.sh exports (storage, configuration and temp folders)."""
    out = subprocess.run(["bash", "-c", "source deploy/oci/podman-env.sh && env -0"], cwd=REPO,
                         capture_output=True, check=True, timeout=60)
    return dict(item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)


def podman(*args: str, check: bool = True, timeout: float = 120, env: dict[str, str] | None = None,
           tool: str = "podman") -> subprocess.CompletedProcess[str]:
    result = subprocess.run([tool, *args], env={**podman_env(), **(env or {})}, cwd=REPO, capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def image_exists(image: str) -> bool:
    return podman("image", "exists", image, check=False).returncode == 0


class Container:
    """A container started with ``podman run -d`` (or by compose), removed by ``remove()``."""

    def __init__(self, name: str):
        self.name = name

    @classmethod
    def run(cls, name: str, image: str, *args: str, options: list[str]) -> Container:
        podman("rm", "--force", "--time", "0", name, check=False)
        podman("run", "--detach", "--name", name, *options, image, *args)
        return cls(name)

    def inspect(self, template: str) -> str:
        return podman("inspect", "--format", template, self.name).stdout.strip()

    def running(self) -> bool:
        return self.inspect("{{.State.Running}}") == "true"

    def logs(self) -> str:
        out = podman("logs", self.name, check=False)
        return (out.stdout + out.stderr)[-6000:]

    def exec(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, *argv, check=False, timeout=timeout)

    def healthcheck(self) -> bool:
        """Run the image's HEALTHCHECK now (there is no systemd timer here to run it on its interval)."""
        return podman("healthcheck", "run", self.name, check=False).returncode == 0

    def wait_healthy(self, timeout: float = 300) -> None:
        """Poll the HEALTHCHECK until it passes; fail at once if the container stops."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError(f"{self.name} stopped before it was healthy:\n{self.logs()}")
            if self.healthcheck():
                return
            time.sleep(1)
        raise AssertionError(f"{self.name} not healthy after {timeout} s:\n{self.logs()}")

    def remove(self) -> None:
        podman("rm", "--force", "--time", "0", self.name, check=False)
