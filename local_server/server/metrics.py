"""Prometheus metrics, one registry per app so several apps (tests) never collide.

HTTP-level series (requests, latency, disconnects) are counted by the request frame as requests pass. Everything
the engine knows (queue depth, batches, tokens, OOM splits, forward seconds, readiness, GPU memory) is pulled at
scrape time by one collector over the engine's own stats, so the engine pushes nothing and knows no metrics.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from local_server.engine.core import InferenceCore
from local_server.engine.types import BATCH_SIZE_BUCKETS

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class EngineCollector(Collector):
    """The engine's state and counts, read at scrape time."""

    def __init__(self, core: InferenceCore):
        self.core = core

    def collect(self) -> Iterator[Metric]:
        core = self.core
        ready = GaugeMetricFamily("bge_local_ready", "1 once every model is loaded")
        ready.add_metric([], 1 if core.ready else 0)
        yield ready
        queue = GaugeMetricFamily("bge_local_queue_depth", "inputs waiting for a forward pass", labels=["model"])
        counters = {
            "batches": CounterMetricFamily("bge_local_batches", "forward passes run", labels=["model"]),
            "inputs": CounterMetricFamily("bge_local_inputs", "inputs computed", labels=["model"]),
            "tokens": CounterMetricFamily("bge_local_tokens", "tokens processed (without padding)",
                                          labels=["model"]),
            "padded_tokens": CounterMetricFamily("bge_local_padded_tokens", "tokens computed including padding",
                                                 labels=["model"]),
            "dropped": CounterMetricFamily("bge_local_inputs_dropped",
                                           "queued inputs dropped because their client went away", labels=["model"]),
            "failed_inputs": CounterMetricFamily("bge_local_inputs_failed", "inputs whose forward pass failed",
                                                 labels=["model"]),
            "oom_splits": CounterMetricFamily("bge_local_oom_splits",
                                              "batches split after running out of device memory", labels=["model"]),
            "busy_s": CounterMetricFamily("bge_local_forward_seconds", "seconds spent in forward passes, summed "
                                          "over replicas (its rate is the model's utilisation)", labels=["model"]),
        }
        sizes = HistogramMetricFamily("bge_local_batch_size", "inputs per forward pass", labels=["model"])
        for model in core.models.loaded():  # the hybrid runs on the embedder's batcher: counted there
            stats = model.batcher.stats()
            queue.add_metric([model.kind], model.batcher.queue_depth)
            for name, family in counters.items():
                family.add_metric([model.kind], getattr(stats, name))
            cumulative, buckets = 0, []
            for bound, count in zip([*BATCH_SIZE_BUCKETS, float("inf")], stats.batch_size_counts, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else str(bound), cumulative))
            sizes.add_metric([model.kind], buckets, sum_value=stats.inputs)
        yield queue
        yield from counters.values()
        yield sizes
        used = GaugeMetricFamily("bge_local_gpu_memory_used_bytes", "GPU memory in use", labels=["gpu"])
        total = GaugeMetricFamily("bge_local_gpu_memory_total_bytes", "GPU memory in total", labels=["gpu"])
        for gpu in core.gpu_memory():  # no samples without a served GPU: the families stay declared for dashboards
            used.add_metric([str(gpu["index"])], gpu["used_bytes"])
            total.add_metric([str(gpu["index"])], gpu["total_bytes"])
        yield used
        yield total


class Metrics:
    def __init__(self, core: InferenceCore) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("bge_local_requests", "HTTP requests by route and status", ["route", "status"],
                                registry=r)
        self.latency = Histogram("bge_local_request_seconds", "request latency by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.disconnects = Counter("bge_local_client_disconnects", "requests cancelled because the client left",
                                   registry=r)
        self.dialect_requests = Counter("bge_local_dialect_requests", "requests by the client dialect their body "
                                        "spoke (OpenAI, TEI, Jina/Cohere, vLLM, Ollama, Xinference, seed /embed)",
                                        ["dialect"], registry=r)
        r.register(EngineCollector(core))

    def count_request(self, route: str, status: int, seconds: float, dialect: str | None) -> None:
        """One answered request, as the request frame saw it (``dialect``: the client dialect its body spoke)."""
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if dialect:
            self.dialect_requests.labels(dialect).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
