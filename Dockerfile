# syntax=docker/dockerfile:1
# bge-local on an NVIDIA GPU: BAAI/bge-m3 (dense, sparse, ColBERT) and BAAI/bge-reranker-v2-m3.
#
#   docker build -t bge-local .
#   docker run --gpus all --shm-size 2g -p 8000:8000 -v bge-models:/models bge-local
#   docker run --rm -v bge-models:/models bge-local download --dir /models --endpoint https://hf-mirror.com
#
# The base image only provides the NVIDIA container environment: the torch wheel brings its own CUDA
# libraries, so a -runtime image would ship a second copy of them (about 2 GB). The host needs the NVIDIA
# driver and the NVIDIA Container Toolkit, nothing else.
#
# torch comes from the PyTorch CUDA 12.6 index: it runs on drivers >= 525 and on GPUs back to Maxwell
# (V100, P40, T4 included). PyPI's default torch is built for CUDA 13 (driver >= 580, no Volta/Pascal).
#   --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128   RTX 50xx / B200 (Blackwell)
#   --build-arg PIP_INDEX_URL=https://pypi.tuna.tsinghua.edu.cn/simple   a PyPI mirror in mainland China
#   --build-arg EXTRAS=server,modelscope                                 adds `download --source modelscope`
ARG BASE_IMAGE=nvidia/cuda:12.6.3-base-ubuntu24.04
FROM ${BASE_IMAGE}

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126
ARG TORCH_SPEC=torch
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG EXTRAS=server

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

# torch first, from the CUDA index; `pip install .[server]` then keeps it (FlagEmbedding accepts any torch).
RUN pip install --index-url "${TORCH_INDEX_URL}" ${TORCH_SPEC}

WORKDIR /app
COPY pyproject.toml README.md ./
COPY local_server ./local_server
RUN pip install --index-url "${PIP_INDEX_URL}" ".[${EXTRAS}]"
COPY deploy/healthcheck.py ./deploy/healthcheck.py

# A dedicated user; /models (downloaded model directories and the Hugging Face cache) belongs to it, so a
# fresh named volume mounted there is writable too. Ubuntu 24.04 images already hold a user 'ubuntu' with
# uid 1000, the uid most hosts give their first user (for bind-mounted model directories).
RUN (userdel --remove ubuntu 2>/dev/null || true) \
    && useradd --create-home --uid 1000 --user-group bge \
    && mkdir -p /models \
    && chown bge:bge /models

ENV HF_HOME=/models/huggingface \
    MODELSCOPE_CACHE=/models/modelscope \
    BGE_LOCAL_HOST=0.0.0.0 \
    BGE_LOCAL_PORT=8000
VOLUME ["/models"]
USER bge
EXPOSE 8000

# 503 while the models load, 200 once they serve. The first start may download 4.5 GB: a long start period.
HEALTHCHECK --interval=30s --timeout=10s --start-period=600s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py"]

ENTRYPOINT ["bge-local"]
CMD ["serve"]
