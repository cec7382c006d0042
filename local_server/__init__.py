"""bge-local: a self-hosted server for BAAI/bge-m3 and BAAI/bge-reranker-v2-m3."""

__version__ = "0.1.0"
