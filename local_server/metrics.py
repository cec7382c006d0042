"""Prometheus metrics, one registry per app so several apps (tests) never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from local_server.engine.core import InferenceCore

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("bge_local_requests", "HTTP requests by route and status", ["route", "status"],
                                registry=r)
        self.latency = Histogram("bge_local_request_seconds", "request latency by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.queue_depth = Gauge("bge_local_queue_depth", "inputs waiting for a forward pass", ["model"], registry=r)
        self.batch_size = Histogram("bge_local_batch_size", "inputs per forward pass", ["model"],
                                    buckets=BATCH_BUCKETS, registry=r)
        self.tokens = Counter("bge_local_tokens", "tokens processed (without padding)", ["model"], registry=r)
        self.padded_tokens = Counter("bge_local_padded_tokens", "tokens computed including padding", ["model"],
                                     registry=r)
        self.gpu_used = Gauge("bge_local_gpu_memory_used_bytes", "GPU memory in use", ["gpu"], registry=r)
        self.gpu_total = Gauge("bge_local_gpu_memory_total_bytes", "GPU memory in total", ["gpu"], registry=r)
        self.ready = Gauge("bge_local_ready", "1 once every model is loaded", registry=r)
        self.dropped = Gauge("bge_local_inputs_dropped", "queued inputs dropped because their client went away",
                             ["model"], registry=r)
        self.oom_splits = Gauge("bge_local_oom_splits", "batches split after running out of device memory",
                                ["model"], registry=r)
        self.busy = Gauge("bge_local_forward_seconds", "seconds spent in forward passes, summed over replicas "
                          "(its rate is the model's utilisation)", ["model"], registry=r)
        self.dialect_requests = Counter("bge_local_dialect_requests", "requests by the client dialect their body "
                                        "spoke (OpenAI, TEI, Jina/Cohere, vLLM, seed /embed)", ["dialect"],
                                        registry=r)
        self.disconnects = Counter("bge_local_client_disconnects", "requests cancelled because the client left",
                                   registry=r)

    def batch_observer(self, model: str):
        def observe(inputs: int, tokens: int, padded: int) -> None:
            self.batch_size.labels(model).observe(inputs)
            self.tokens.labels(model).inc(tokens)
            self.padded_tokens.labels(model).inc(padded)
        return observe

    def render(self, core: InferenceCore) -> bytes:
        self.ready.set(1 if core.ready else 0)
        for model in core.served_models():
            self.queue_depth.labels(model.kind).set(model.batcher.queue_depth)
            self.dropped.labels(model.kind).set(model.batcher.stats.dropped)
            self.oom_splits.labels(model.kind).set(model.batcher.stats.oom_splits)
            self.busy.labels(model.kind).set(model.batcher.stats.busy_s)
        try:
            import torch

            if torch.cuda.is_available():
                for i in range(torch.cuda.device_count()):
                    free, total = torch.cuda.mem_get_info(i)
                    self.gpu_used.labels(str(i)).set(total - free)
                    self.gpu_total.labels(str(i)).set(total)
        except Exception:
            pass
        return generate_latest(self.registry)
