"""Process-wide memory settings that keep the service's peak RSS down with 512-token texts.

A 512-token SmolLM2 run produces 283 MB of float32 attentions inside onnxruntime's CPU arena, next
to the arena's intermediates. By default each session has its own arena that grows by powers of two
and keeps every region it ever took, and glibc raises its mmap threshold to 32 MB after the first
large free, so freed 4–32 MB blocks stay in the heap. Measured with both models and the recent-results
store full (tests/bench/memory_bench.py), that added ~300 MiB to the peak and made it vary by run.

- one CPU arena shared by every session in the process (`session.use_env_allocators`), extended by
  exactly what is asked for (kSameAsRequested), and shrunk at the end of each run
  (`memory.enable_memory_arena_shrinkage`): regions left wholly free go back to the system;
- glibc's mmap threshold fixed at 4 MiB (`mallopt(M_MMAP_THRESHOLD)`), so blocks of that size and
  more are unmapped when freed, unless `MALLOC_MMAP_THRESHOLD_` is set in the environment.

None of this changes what onnxruntime computes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

import onnxruntime as ort

MMAP_THRESHOLD = 4 << 20
_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
_SAME_AS_REQUESTED = 1  # onnxruntime ArenaExtendStrategy
SESSION_ENTRIES = {"session.use_env_allocators": "1"}
RUN_ENTRIES = {"memory.enable_memory_arena_shrinkage": "cpu:0"}

_lock = threading.Lock()
_done = False


def setup() -> None:
    """Register the shared CPU arena and fix the mmap threshold, once per process."""
    global _done
    with _lock:
        if _done:
            return
        _fix_mmap_threshold()
        cfg = ort.OrtArenaCfg({"arena_extend_strategy": _SAME_AS_REQUESTED})
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, cfg)
        _done = True


def run_options() -> ort.RunOptions:
    """RunOptions that shrink the shared arena after the run."""
    ro = ort.RunOptions()
    for key, value in RUN_ENTRIES.items():
        ro.add_run_config_entry(key, value)
    return ro


def _fix_mmap_threshold() -> None:
    """glibc only (elsewhere, or when MALLOC_MMAP_THRESHOLD_ is set, nothing happens)."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    name = ctypes.util.find_library("c")
    mallopt = getattr(ctypes.CDLL(name), "mallopt", None) if name else None
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
