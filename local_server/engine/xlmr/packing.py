"""A batch as one packed token stream: no padding anywhere, sequences delimited by cumulative lengths.

Sequences are packed longest first (stable), so sequences of equal length sit next to each other and the CPU
attention can run each run of equal lengths as one rectangular call. ``order`` maps packed positions back to
the caller's inputs. Everything here is host work (numpy, then one tensor per field); on CUDA the tensors are
pinned and copied without a device sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np


@dataclass
class Packed:
    order: list[int]  # order[j] = index in the caller's batch of the j-th packed sequence
    lengths: list[int]  # per packed sequence
    starts: list[int]  # first row of each packed sequence in the stream
    groups: list[tuple[int, int, int]]  # (first row, sequences, length): runs of equal length, in stream order
    ids_host: np.ndarray  # (tokens,) int64, the packed stream on the host (sparse weights are keyed by it)
    input_ids: Any  # (tokens,) long tensor on the device
    positions: Any  # (tokens,) long tensor on the device
    cu_seqlens: Any  # (sequences + 1,) int32 tensor on the device
    cls_rows: Any  # (sequences,) long tensor: the row of each sequence's <s>
    max_len: int
    needs: Any = None

    @property
    def tokens(self) -> int:
        return int(self.ids_host.shape[0])

    @property
    def size(self) -> int:
        return len(self.order)


def _equal_length_runs(lengths: list[int]) -> list[tuple[int, int, int]]:
    runs: list[tuple[int, int, int]] = []
    row = 0
    for length in lengths:
        if runs and runs[-1][2] == length:
            first, count, _ = runs[-1]
            runs[-1] = (first, count + 1, length)
        else:
            runs.append((row, 1, length))
        row += length
    return runs


def xlmr_positions(ids: np.ndarray, lengths: list[int], pad_id: int) -> np.ndarray:
    """XLM-R's position ids, exactly as transformers derives them from the ids: ``pad_id`` + the count of
    non-padding tokens so far in the sequence, and ``pad_id`` itself on a padding id (a literal ``<pad>``
    inside a text keeps it too)."""
    real = (ids != pad_id).astype(np.int64)
    counts = np.cumsum(real)
    ends = np.cumsum(lengths)
    before = np.repeat(np.concatenate(([0], counts[ends[:-1] - 1])) if len(lengths) else [], lengths)
    return (counts - before) * real + pad_id


def pack(batch: list[list[int]], pad_id: int, device: str, needs: Any = None) -> Packed:
    """Pack ``batch`` (token ids per input, none empty) and start its copy to ``device``."""
    import torch

    if not batch or any(not ids for ids in batch):
        raise ValueError("a batch holds at least one input and every input at least one token")
    order = sorted(range(len(batch)), key=lambda i: -len(batch[i]))
    lengths = [len(batch[i]) for i in order]
    ids = np.fromiter(chain.from_iterable(batch[i] for i in order), dtype=np.int64, count=sum(lengths))
    positions = xlmr_positions(ids, lengths, pad_id)
    cu = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=cu[1:])
    host = [torch.from_numpy(ids), torch.from_numpy(positions), torch.from_numpy(cu),
            torch.from_numpy(cu[:-1].astype(np.int64))]
    if device.startswith("cuda"):
        host = [t.pin_memory() for t in host]
        on_device = [t.to(device, non_blocking=True) for t in host]
    else:
        on_device = host
    return Packed(order=order, lengths=lengths, starts=cu[:-1].tolist(), groups=_equal_length_runs(lengths),
                  ids_host=ids, input_ids=on_device[0], positions=on_device[1], cu_seqlens=on_device[2],
                  cls_rows=on_device[3], max_len=lengths[0], needs=needs)
