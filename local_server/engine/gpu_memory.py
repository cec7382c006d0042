"""Per-GPU memory as the driver reports it: read by /health, the console's stats and /metrics."""

from __future__ import annotations

from typing import Any


def gpu_memory() -> list[dict[str, Any]]:
    """Per-GPU memory as the driver reports it (every process, not just this one)."""
    try:
        import torch

        if not torch.cuda.is_available():
            return []
        gpus = []
        for i in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(i)
            gpus.append({"index": i, "name": torch.cuda.get_device_name(i), "used_bytes": total - free,
                         "total_bytes": total})
        return gpus
    except Exception:  # a broken driver must not break /health or /metrics
        return []
