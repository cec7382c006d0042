# syntax=docker/dockerfile:1
# bge-local on an NVIDIA GPU: BAAI/bge-m3 (dense, sparse, ColBERT) and BAAI/bge-reranker-v2-m3.
#
#   docker build -t bge-local .                               # podman: podman build --format docker ...
#   docker run --gpus all --shm-size 2g -p 8000:8000 -v bge-models:/models bge-local
#   docker run --rm -v bge-models:/models bge-local download --dir /models --endpoint https://hf-mirror.com
#
# Installs exactly locks/server-cuda.txt (the versions the tests run), then the project's own wheel: PyPI's
# CUDA build of torch, whose nvidia-* wheels carry the CUDA runtime, so the base is plain Debian (no
# nvidia/cuda image, no second copy of the CUDA libraries). The host needs the NVIDIA driver (>= 580 for
# torch's CUDA 13 build; Turing / T4 and newer GPUs) and the NVIDIA Container Toolkit, nothing else.
# Dockerfile.cpu is this file with the CPU lock.
#   --build-arg PIP_INDEX_URL=https://pypi.tuna.tsinghua.edu.cn/simple   a PyPI mirror in mainland China
# Wheels in wheelhouse/cuda/ are used instead of downloads (several GB); with all of them there
# (wheelhouse/README.md), --build-arg PIP_NO_INDEX=1 installs the lock without any index.
ARG BASE_IMAGE=debian:bookworm-slim

# Debian 12's Python 3.11 (the interpreter the locks are resolved for) and a venv for everything else.
FROM ${BASE_IMAGE} AS python
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv

# The project's wheel, built from its sources alone.
FROM python AS wheel
ARG PIP_INDEX_URL=https://pypi.org/simple
COPY pyproject.toml README.md MANIFEST.in /src/
COPY local_server /src/local_server
RUN pip wheel --no-deps --wheel-dir /dist /src

# The lock (these layers are rebuilt only when the lock changes), then the project without dependencies. The
# lock unpacks to 5 GB, and building one layer needs about four times its size in free disk at once (the
# container's files, the layer's tar twice, the layer unpacked), so it is installed in parts of about 1 GB,
# each a stage: deploy/oci/build-images.sh builds the lock-* stages one at a time (--target), which frees
# each part's temporary copies before the next. A part installs the lock's entries that its pattern matches
# (name==version and their hashes) without dependencies; the last step installs the whole lock, which finds
# those in place and adds the rest.
FROM python AS lock-torch
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_NO_INDEX=0
COPY locks/server-cuda.txt /opt/lock.txt
RUN --mount=type=bind,source=wheelhouse,target=/wheelhouse \
    awk '/^[^ #]/ { p = /^torch==/ } p' /opt/lock.txt >/tmp/part.txt \
    && pip install --no-deps --find-links /wheelhouse/cuda --requirement /tmp/part.txt && rm /tmp/part.txt

FROM lock-torch AS lock-cuda-1
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_NO_INDEX=0
RUN --mount=type=bind,source=wheelhouse,target=/wheelhouse \
    awk '/^[^ #]/ { p = /^nvidia-(cublas|cudnn-cu13)==/ } p' /opt/lock.txt >/tmp/part.txt \
    && pip install --no-deps --find-links /wheelhouse/cuda --requirement /tmp/part.txt && rm /tmp/part.txt

FROM lock-cuda-1 AS lock-cuda-2
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_NO_INDEX=0
RUN --mount=type=bind,source=wheelhouse,target=/wheelhouse \
    awk '/^[^ #]/ { p = /^nvidia-(cufft|cusolver|nccl-cu13|cusparselt-cu13)==/ } p' /opt/lock.txt >/tmp/part.txt \
    && pip install --no-deps --find-links /wheelhouse/cuda --requirement /tmp/part.txt && rm /tmp/part.txt

FROM lock-cuda-2 AS lock-cuda-3
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_NO_INDEX=0
RUN --mount=type=bind,source=wheelhouse,target=/wheelhouse \
    awk '/^[^ #]/ { p = /^(nvidia|cuda)-[a-z0-9-]*==/ } p' /opt/lock.txt >/tmp/part.txt \
    && pip install --no-deps --find-links /wheelhouse/cuda --requirement /tmp/part.txt && rm /tmp/part.txt

FROM lock-cuda-3 AS lock-triton
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_NO_INDEX=0
RUN --mount=type=bind,source=wheelhouse,target=/wheelhouse \
    awk '/^[^ #]/ { p = /^triton==/ } p' /opt/lock.txt >/tmp/part.txt \
    && pip install --no-deps --find-links /wheelhouse/cuda --requirement /tmp/part.txt && rm /tmp/part.txt

FROM lock-triton
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_NO_INDEX=0
RUN --mount=type=bind,source=wheelhouse,target=/wheelhouse \
    pip install --find-links /wheelhouse/cuda --requirement /opt/lock.txt
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install --no-index --no-deps /tmp/dist/*.whl && rm -rf /tmp/dist

WORKDIR /app
COPY deploy/healthcheck.py ./deploy/healthcheck.py

# A dedicated user (uid 1000, the uid most hosts give their first user, for bind-mounted model directories);
# /models (downloaded models and the Hugging Face cache) belongs to it, so a fresh named volume mounted there
# is writable too.
RUN useradd --create-home --uid 1000 --user-group bge \
    && mkdir -p /models \
    && chown bge:bge /models

ENV HF_HOME=/models/huggingface \
    MODELSCOPE_CACHE=/models/modelscope \
    BGE_LOCAL_HOST=0.0.0.0 \
    BGE_LOCAL_PORT=8000 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
VOLUME ["/models"]
USER bge
EXPOSE 8000

# 503 while the models load, 200 once they serve. The first start may download 4.5 GB: a long start period.
HEALTHCHECK --interval=30s --timeout=10s --start-period=600s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py"]

ENTRYPOINT ["bge-local"]
CMD ["serve"]
