#!/usr/bin/env bash
# Build bge-local's images with podman, with no Docker daemon and no image registry: the base is a Debian
# root filesystem bootstrapped from the apt mirror (mmdebstrap) and imported as a local image; everything
# else comes from Debian's apt mirror and PyPI, as the Dockerfiles say.
#
#   deploy/oci/build-images.sh              # both images: localhost/bge-local:cpu and localhost/bge-local:cuda
#   deploy/oci/build-images.sh cpu          # one of them
#   source deploy/oci/podman-env.sh && podman images     # look at the result
# then: BGE_LOCAL_REQUIRE_IMAGES=1 .venv/bin/python -m pytest tests/deploy/test_images.py
#
# Needs podman and mmdebstrap (Debian: apt-get install podman mmdebstrap; .ci/images.sh installs them).
# Caches, so that a second run takes seconds: the base image and the built layers in podman's storage
# under BGE_OCI_DIR (default .cache/oci), the locked wheels in wheelhouse/{cpu,cuda} (pruned to the lock).
# Settings (environment):
#   BGE_OCI_DIR       see deploy/oci/podman-env.sh
#   SUITE             Debian suite of the base (bookworm: its python3 is the 3.11 the locks are made for)
#   MIRROR            Debian mirror (default: the first one in this machine's apt sources, else deb.debian.org)
#   IMAGE_PREFIX      image names (default localhost/bge-local; tags :cpu and :cuda)
#   REFRESH_BASE=1    bootstrap the base again (security updates); otherwise it is kept
#   KEEP_WHEELHOUSE=0 delete wheelhouse/<variant> (3 GB for cuda) once its image is built, and the untagged
#                     images no tagged one is built on: for a machine that builds once (CI), short of disk
# Prints the seconds each step took and appends them to $BGE_OCI_DIR/timings.txt.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(cpu cuda)
for v in "${VARIANTS[@]}"; do
  case $v in cpu|cuda) ;; *) echo "unknown image '$v' (cpu or cuda)" >&2; exit 2;; esac
done

for tool in podman mmdebstrap python3; do
  command -v "$tool" >/dev/null || {
    echo "$tool is missing. Debian/Ubuntu: apt-get install podman mmdebstrap (see .ci/images.sh)" >&2
    exit 1
  }
done

# shellcheck source=deploy/oci/podman-env.sh
source "$REPO/deploy/oci/podman-env.sh"
SUITE=${SUITE:-bookworm}
BASE=localhost/bge-local-base:$SUITE
IMAGE_PREFIX=${IMAGE_PREFIX:-localhost/bge-local}
TIMINGS=$BGE_OCI_DIR/timings.txt

step_start=0
step() { step_start=$SECONDS; printf '\n=== %s\n' "$*"; }
done_step() {
  local line
  line="$(date -u +%FT%TZ) $1: $((SECONDS - step_start)) s"
  echo "=== $line"
  echo "$line" >>"$TIMINGS"
}

# --- the Debian base ------------------------------------------------------------------------------
debian_mirror() {
  local m
  m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
      | grep -oE '(URIs:|^deb)[[:space:]]+[^[:space:]]+/debian/?([[:space:]]|$)' | awk '{print $2}' | head -n1)
  m=${m%/}
  echo "${m:-http://deb.debian.org/debian}"
}

# CAs this machine trusts but Debian does not (a TLS-intercepting proxy in CI): the base trusts them too,
# or pip inside the build cannot reach PyPI. On an ordinary machine there are none and nothing is added.
extra_cas() {
  python3 - "$1" <<'PY'
import pathlib, re, sys
pem = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)
bundle = pathlib.Path("/etc/ssl/certs/ca-certificates.crt")
host = pem.findall(bundle.read_text()) if bundle.is_file() else []
debian = set()
for crt in pathlib.Path("/usr/share/ca-certificates").rglob("*.crt"):
    if "mozilla" in crt.parts:
        debian.update(pem.findall(crt.read_text()))
extra = [c for c in host if c not in debian]
for i, cert in enumerate(extra):
    pathlib.Path(sys.argv[1], f"host-extra-{i}.crt").write_text(cert + "\n")
print(len(extra))
PY
}

build_base() {
  if [ "${REFRESH_BASE:-0}" != 1 ] && podman image exists "$BASE"; then
    echo "base $BASE: cached ($(podman image inspect -f '{{.Created}}' "$BASE"))"
    return
  fi
  step "bootstrap $BASE (mmdebstrap)"
  local mirror cas tar n env=()
  mirror=${MIRROR:-$(debian_mirror)}
  cas=$BGE_OCI_DIR/cas
  tar=$BGE_OCI_DIR/tmp/base-$SUITE.tar
  rm -rf "$cas" && mkdir -p "$cas"
  n=$(extra_cas "$cas")
  if [ "$n" -gt 0 ]; then
    echo "adding $n CA certificate(s) this machine trusts beyond Debian's"
    env=(--change "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt"
         --change "ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt"
         --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
  fi
  # minbase + ca-certificates: what debian:$SUITE-slim holds (the Dockerfiles' default base), without docs
  mmdebstrap --variant=minbase --include=ca-certificates --quiet \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --customize-hook="sync-in $cas /usr/local/share/ca-certificates" \
    --customize-hook='chroot "$1" update-ca-certificates' \
    "$SUITE" "$tar" \
    "deb $mirror $SUITE main" "deb $mirror $SUITE-updates main" \
    "deb ${mirror%/debian}/debian-security $SUITE-security main"
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "${env[@]}" --change 'CMD ["/bin/bash"]' "$tar" "$BASE" >/dev/null
  rm -f "$tar"
  done_step "base ($SUITE, $(podman image inspect -f '{{.Size}}' "$BASE") bytes)"
}

# --- the wheelhouse: every locked wheel, downloaded once ---------------------------------------------
# For Debian 12's Python 3.11 on x86_64 (glibc 2.36), whatever python runs this script. pip expands no
# manylinux tag to older ones, so every glibc version is listed.
PLATFORMS=(--python-version 3.11 --implementation cp --abi cp311)
for minor in $(seq 36 -1 5); do PLATFORMS+=(--platform "manylinux_2_${minor}_x86_64"); done
PLATFORMS+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64
            --platform linux_x86_64)

fill_wheelhouse() {
  local lock=locks/server-$1.txt dir=wheelhouse/$1
  step "wheelhouse/$1 from $lock"
  mkdir -p "$dir"
  python3 deploy/oci/prune_wheelhouse.py "$lock" "$dir"
  # pip's messages about this machine's own find-links/index folders are noise here
  bash scripts/wheelhouse.sh "$lock" "$dir" --progress-bar off "${PLATFORMS[@]}" 2>&1 \
    | { grep -v "^WARNING: Location '" || true; }
  done_step "wheelhouse/$1 ($(du -sm "$dir" | cut -f1) MB)"
}

# --- the images ---------------------------------------------------------------------------------------
build_image() {
  local variant=$1 dockerfile=Dockerfile args=()
  # the lock from the wheelhouse alone: what is installed is exactly what was downloaded and checked
  args=(--build-arg PIP_NO_INDEX=1)
  if [ "$variant" = cpu ]; then
    dockerfile=Dockerfile.cpu
    args+=(--build-arg TORCH_INDEX_URL=)
  fi
  step "build $IMAGE_PREFIX:$variant from $dockerfile"
  # The lock-* stages (the lock in parts) one build each, then the image, which finds them in the layer cache:
  # podman deletes a build's step containers (each holding its step's files) only when the build ends, so one
  # build of everything would keep a second copy of the whole lock on disk until its last step.
  local target output t0=$SECONDS
  for target in $(sed -nE 's/^FROM[[:space:]]+[^[:space:]]+[[:space:]]+AS[[:space:]]+(lock-[a-z0-9-]+).*/\1/Ip' \
                  "$dockerfile") ""; do
    output=(--tag "$IMAGE_PREFIX:$variant")
    [ -z "$target" ] || output=(--target "$target")
    # --format docker: the OCI image format has no HEALTHCHECK, podman would drop it.
    # Each output line starts with the seconds since the build began, to see which step takes the time.
    podman build --format docker --layers --pull=never \
      --build-arg "BASE_IMAGE=$BASE" "${args[@]}" --file "$dockerfile" "${output[@]}" . 2>&1 \
      | while IFS= read -r line; do printf '[%4d s] %s%s\n' $((SECONDS - t0)) "${target:+$target: }" "$line"; done
  done
  done_step "image $variant ($(podman image inspect -f '{{.Size}}' "$IMAGE_PREFIX:$variant") bytes)"
}

# Once an image is built, what only a rebuild would use: the wheels (the image holds them installed) and the
# images of unused stages and steps; the layers of the tagged images stay, so a rebuild still starts from them.
drop_build_leftovers() {
  [ "${KEEP_WHEELHOUSE:-1}" = 0 ] || return 0
  rm -rf "wheelhouse/$1"
  podman image prune --force >/dev/null
  echo "=== KEEP_WHEELHOUSE=0: wheelhouse/$1 and dangling images deleted ($(df -h --output=avail . | tail -1 | tr -d ' ') free)"
}

total_start=$SECONDS
build_base
for v in "${VARIANTS[@]}"; do
  fill_wheelhouse "$v"
  build_image "$v"
  drop_build_leftovers "$v"
done
step_start=$total_start
done_step "build-images.sh ${VARIANTS[*]} (total)"
# untagged layers of builds older than a week (newer ones stay: they are the layer cache)
podman image prune --force --filter until=168h >/dev/null
