"""The passages in Qdrant's embedded mode (qdrant-client runs it in this process: no server, no Docker).

One point per passage holds three named vectors: ``dense`` (cosine), ``sparse`` (bge-m3's lexical weights;
Qdrant's sparse score is their dot product, exactly bge-m3's lexical matching score) and ``colbert`` (a
multivector compared with MaxSim: for each query token its best document token, summed; ``colbert_rerank``
divides that sum by the query's token count, as bge-m3's colbert_score does, which changes no ranking).
"""

from __future__ import annotations

from dataclasses import dataclass

from bge import Encoded
from corpus import Passage
from qdrant_client import QdrantClient, models

COLLECTION = "passages"


@dataclass
class Hit:
    key: str
    score: float
    text: str


class PassageStore:
    def __init__(self, location: str = ":memory:"):
        """``location``: ":memory:" (nothing kept), or a folder Qdrant keeps the collection in (locked while open)."""
        self.client = QdrantClient(location=":memory:") if location == ":memory:" else QdrantClient(path=location)

    def close(self) -> None:
        self.client.close()

    def index(self, passages: list[Passage], encoded: list[Encoded]) -> None:
        """A fresh collection sized from the vectors themselves (1024-d for bge-m3), holding every passage."""
        dimension = len(encoded[0].dense)
        if self.client.collection_exists(COLLECTION):
            self.client.delete_collection(COLLECTION)
        self.client.create_collection(
            COLLECTION,
            vectors_config={
                "dense": models.VectorParams(size=dimension, distance=models.Distance.COSINE),
                "colbert": models.VectorParams(
                    size=len(encoded[0].colbert[0]), distance=models.Distance.COSINE,
                    multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)),
            },
            sparse_vectors_config={"sparse": models.SparseVectorParams()},
        )
        points = [
            models.PointStruct(
                id=i,
                vector={"dense": enc.dense, "colbert": enc.colbert,
                        "sparse": models.SparseVector(indices=enc.sparse_indices, values=enc.sparse_values)},
                payload={"key": p.key, "lang": p.lang, "text": p.text},
            )
            for i, (p, enc) in enumerate(zip(passages, encoded, strict=True))
        ]
        self.client.upsert(COLLECTION, points)

    def count(self) -> int:
        return self.client.count(COLLECTION).count

    def _query(self, **kwargs: object) -> list[Hit]:
        answer = self.client.query_points(COLLECTION, with_payload=True, **kwargs)  # type: ignore[arg-type]
        return [Hit(p.payload["key"], p.score, p.payload["text"]) for p in answer.points if p.payload]

    def dense(self, query: Encoded, limit: int) -> list[Hit]:
        return self._query(query=query.dense, using="dense", limit=limit)

    def sparse(self, query: Encoded, limit: int) -> list[Hit]:
        return self._query(query=_sparse(query), using="sparse", limit=limit)

    def fused(self, query: Encoded, limit: int) -> list[Hit]:
        """Dense and sparse candidates fused by Reciprocal Rank Fusion, inside Qdrant (prefetch + RRF)."""
        return self._query(prefetch=_dense_and_sparse(query, limit), query=models.FusionQuery(fusion=models.Fusion.RRF),
                           limit=limit)

    def colbert_rerank(self, query: Encoded, limit: int) -> list[Hit]:
        """The fused candidates (the same nested prefetch as ``fused``) reordered by ColBERT MaxSim, scored as
        bge-m3 scores it (the mean over query tokens of their best match)."""
        fused = models.Prefetch(prefetch=_dense_and_sparse(query, limit),
                                query=models.FusionQuery(fusion=models.Fusion.RRF), limit=limit)
        hits = self._query(prefetch=fused, query=query.colbert, using="colbert", limit=limit)
        return [Hit(hit.key, hit.score / len(query.colbert), hit.text) for hit in hits]


def _sparse(query: Encoded) -> models.SparseVector:
    return models.SparseVector(indices=query.sparse_indices, values=query.sparse_values)


def _dense_and_sparse(query: Encoded, limit: int) -> list[models.Prefetch]:
    return [models.Prefetch(query=query.dense, using="dense", limit=limit),
            models.Prefetch(query=_sparse(query), using="sparse", limit=limit)]
