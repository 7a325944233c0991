"""Micro-batching: requests that arrive while a model is busy run together as one padded batch.

Nothing waits on purpose: an idle model runs a request at once. While it runs, new requests queue;
when it finishes, one of them (the leader) takes up to `max_batch` queued requests, pads them to the
longest, runs them in one onnxruntime call and hands each its own cropped outputs. Reading the
model's weights once per batch instead of once per request is what raises throughput on a CPU:
SmolLM2 reads ~425 MB of fp32 weights per run whatever the batch size.

A batch is also capped by memory: its padded outputs (batch × (width² × `cell_bytes` + width ×
`row_bytes`), with cell_bytes = layers × heads × 4 for the attentions and row_bytes for the per-token
queries, keys and value norms) must stay under `max_bytes`, so long texts run alone (one 512-token
SmolLM2 text already yields 283 MB of float32 attentions) while short ones still share runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..common.half import to_float16

RunBatch = Callable[[list[list[int]]], list[Any]]


@dataclass
class Outcome:
    """What one request got out of its batch."""

    output: Any  # what run_batch returned for this request
    queue_ms: float  # from arrival to its batch starting
    inference_ms: float  # the batch's run time
    batch_size: int


@dataclass
class _Slot:
    ids: list[int]
    extra: bool = False
    arrived: float = field(default_factory=time.perf_counter)
    outcome: Outcome | None = None
    error: BaseException | None = None
    done: bool = False


class MicroBatcher:
    """Per-model request queue; `device_lock` keeps two models from running at the same time."""

    def __init__(self, run_batch: RunBatch, device_lock: threading.Lock, max_batch: int = 8, *,
                 cell_bytes: int = 0, row_bytes: int = 0, max_bytes: int | None = None):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self._run_batch = run_batch
        self._device_lock = device_lock
        self.max_batch = max_batch
        self.cell_bytes = cell_bytes
        self.row_bytes = row_bytes
        self.max_bytes = max_bytes
        self._cond = threading.Condition()
        self._pending: list[_Slot] = []
        self._running = False

    def waiting(self) -> int:
        """How many requests wait for the next run."""
        with self._cond:
            return len(self._pending)

    def run(self, ids: list[int], extra: bool = False) -> Outcome:
        """Run `ids` (alone or with waiting requests); `extra`: the batch also fetches the outputs
        run_batch gives with extra=True (the LM head's inputs), for every text in it."""
        slot = _Slot(ids, extra)
        with self._cond:
            self._pending.append(slot)
            while not slot.done and self._running:
                self._cond.wait()
            if slot.done:
                return self._result(slot)
            self._running = True
            batch = self._pick(slot)
            for s in batch:
                self._pending.remove(s)
        try:
            self._execute(batch)
        finally:
            with self._cond:
                self._running = False
                self._cond.notify_all()
        return self._result(slot)

    def padded_bytes(self, batch: list[_Slot]) -> int:
        """Bytes of the batch's padded outputs."""
        width = max(len(s.ids) for s in batch)
        return len(batch) * (width ** 2 * self.cell_bytes + width * self.row_bytes)

    def _pick(self, leader: _Slot) -> list[_Slot]:
        """The leader plus waiting requests in arrival order, within `max_batch` and `max_bytes`."""
        batch = [leader]
        for s in self._pending:
            if len(batch) == self.max_batch:
                break
            if s is leader or (self.max_bytes is not None and self.padded_bytes([*batch, s]) > self.max_bytes):
                continue
            batch.append(s)
        return batch

    def _execute(self, batch: list[_Slot]) -> None:
        try:
            with self._device_lock:
                start = time.perf_counter()
                ids = [s.ids for s in batch]
                results = self._run_batch(ids, extra=True) if any(s.extra for s in batch) else self._run_batch(ids)
                took = (time.perf_counter() - start) * 1000
            for s, output in zip(batch, results, strict=True):
                s.outcome = Outcome(output, (start - s.arrived) * 1000, took, len(batch))
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting request, re-raised there
            for s in batch:
                s.error = exc
        finally:
            for s in batch:
                s.done = True

    @staticmethod
    def _result(slot: _Slot) -> Outcome:
        if slot.error is not None:
            raise slot.error
        return slot.outcome


def pad_batch(batch: list[list[int]], input_names: list[str]) -> dict[str, np.ndarray]:
    """Right-padded feeds: pads are masked out (and lie after every real token, so causal rows never see them)."""
    lengths = [len(ids) for ids in batch]
    width = max(lengths)
    input_ids = np.zeros((len(batch), width), dtype=np.int64)
    mask = np.zeros_like(input_ids)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = ids
        mask[row, : len(ids)] = 1
    feeds = {"input_ids": input_ids, "attention_mask": mask,
             "position_ids": np.broadcast_to(np.arange(width, dtype=np.int64), input_ids.shape).copy(),
             "token_type_ids": np.zeros_like(input_ids)}
    return {name: feeds[name] for name in input_names}


def crop(outputs: list[np.ndarray], lengths: list[int], dtypes: list[np.dtype] | None = None, *,
         square: bool = True) -> list[np.ndarray]:
    """Per-layer [B, H, W, W] outputs → one contiguous [L, H, T_i, T_i] per request, of `dtypes[i]`
    (default float32); each layer is written straight into the result, with no float32 copy in between.
    `square=False` crops only the token axis 2: [B, H, W, ...] → [L, H, T_i, ...] (queries, keys, value norms)."""
    out = []
    for row, n in enumerate(lengths):
        rest = (n,) if square else outputs[0].shape[3:]
        dtype = np.dtype(dtypes[row] if dtypes else np.float32)
        arr = np.empty((len(outputs), outputs[0].shape[1], n, *rest), dtype=dtype)
        for i, layer in enumerate(outputs):
            part = layer[row, :, :n, :n] if square else layer[row, :, :n]
            arr[i] = to_float16(part) if dtype == np.float16 else part
        out.append(arr)
    return out
