"""The seed guide's service, reduced to what the benchmark calls: one FlagEmbedding call per request.

    python bench/seed_server.py --embedder DIR/bge-m3 --reranker DIR/bge-reranker-v2-m3 --port 33330

- ``POST /embed {"texts", "mode", "max_length"}`` → ``{"embeddings": ...}`` as in seed 001. The benchmark's
  scenario (e) asks for all three outputs with ``"mode": "all"`` — one ``encode`` call returning dense,
  sparse and ColBERT, which is kinder to the seed than its one-mode-per-request API (three calls).
- ``POST /rerank {"query", "documents"}`` → ``{"scores"}`` via ``FlagReranker.compute_score``.

Like the seed, each request is one blocking call; a lock runs them one at a time (the seed's single model
object serves one call at a time), the handlers run in FastAPI's thread pool, and responses are plain
Python lists rendered by FastAPI's default JSON encoder.
"""

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seedway import SeedWay


def create_app(way: SeedWay):
    from fastapi import FastAPI
    from pydantic import BaseModel

    app = FastAPI(title="seed-way")
    lock = threading.Lock()

    class EmbedRequest(BaseModel):
        texts: str | list[str]
        mode: str = "dense"
        max_length: int = 8192

    class RerankRequest(BaseModel):
        query: str
        documents: list[str]

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    @app.post("/embed")
    def embed(body: EmbedRequest) -> dict[str, Any]:
        texts = [body.texts] if isinstance(body.texts, str) else body.texts
        outputs = ("dense", "sparse", "colbert") if body.mode == "all" else (body.mode,)
        with lock:
            out = way.embed(texts, outputs)
        converted = way.convert(out, outputs)
        embeddings = converted if body.mode == "all" else converted[body.mode]
        return {"embeddings": embeddings, "mode": body.mode}

    @app.post("/rerank")
    def rerank(body: RerankRequest) -> dict[str, Any]:
        with lock:
            scores = way.rerank(body.query, body.documents)
        return {"scores": [float(s) for s in scores]}

    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder")
    parser.add_argument("--reranker")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=33330)
    args = parser.parse_args()
    import uvicorn

    way = SeedWay(args.embedder, args.reranker, args.device)
    uvicorn.run(create_app(way), host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
