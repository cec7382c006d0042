#!/usr/bin/env bash
# CI: build both images with podman on a machine that has no container tools yet (Debian/Ubuntu, as root):
# installs them from apt, then deploy/oci/build-images.sh. The images are tested by tests/deploy/test_images.py,
# which the test suite runs; export BGE_LOCAL_REQUIRE_IMAGES=1 there so that it fails instead of skipping:
#
#   bash .ci/images.sh && BGE_LOCAL_REQUIRE_IMAGES=1 bash scripts/test.sh -q
#
# Keep .cache/oci (podman's storage: the Debian base and the layers) and wheelhouse/ (the locked wheels, 3 GB
# for the GPU image) between runs: a run with nothing changed then takes about a minute instead of 20. A machine
# that builds once (.ci/run) passes KEEP_WHEELHOUSE=0, which deletes the wheels once each image is built.
# Disk: the images take 6.2 GB, the wheels 3 GB; building the GPU image needs about 7 GB more at its peak.
set -euo pipefail
cd "$(dirname "$0")/.."

# podman (with runc: crun 1.8 refuses cgroup v1+v2 hybrid hosts) and its rootful bridge network for published
# ports; mmdebstrap for the base; podman-compose runs the compose files, docker-compose checks them against
# Docker Compose's schema. No recommends: docker-compose's would pull in the Docker engine.
PACKAGES=(podman runc netavark aardvark-dns iptables mmdebstrap podman-compose docker-compose ca-certificates
          python3)
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  start=$SECONDS
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "=== apt-get install ${missing[*]}: $((SECONDS - start)) s"
fi

bash deploy/oci/build-images.sh cpu cuda
