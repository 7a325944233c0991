"""Choosing the onnxruntime execution provider and session options for --device and --threads."""

from __future__ import annotations

import os
import shutil

import onnxruntime as ort

from . import memory
from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def default_threads() -> int:
    """All cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def gpu_visible() -> bool:
    """A CUDA device is plausibly present: an NVIDIA device node or nvidia-smi, and not hidden by env."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi") is not None


def choose_providers(device: str) -> list[str]:
    """Providers for a session. 'cuda' where CUDA is not usable is a ConfigError, never a silent fallback."""
    if device not in DEVICES:
        raise ConfigError(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
    available = ort.get_available_providers()
    has_cuda = CUDA in available
    if device == "cuda":
        if not has_cuda:
            raise ConfigError(
                f"--device cuda was requested but this onnxruntime ({ort.__version__}) has no "
                f"{CUDA} (available: {', '.join(available)}). Install onnxruntime-gpu on a machine "
                "with an NVIDIA GPU, or use --device cpu."
            )
        if not gpu_visible():
            raise ConfigError("--device cuda was requested but no NVIDIA GPU is visible; use --device cpu.")
        return [CUDA, CPU]
    if device == "auto" and has_cuda and gpu_visible():
        return [CUDA, CPU]
    return [CPU]


def session_options(threads: int, spinning: bool = False) -> ort.SessionOptions:
    """Sequential execution, `threads` intra-op threads, all graph optimisations, the process's shared
    CPU arena (service/memory.py).

    Intra-op thread spinning is off by default: on a small shared CPU box, spinning workers fight the
    HTTP threads and other processes (measured 2x slower under load); turn it on for a dedicated machine.
    """
    if threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    memory.setup()
    for key, value in memory.SESSION_ENTRIES.items():
        so.add_session_config_entry(key, value)
    return so


def make_session(onnx_file: str, device: str, threads: int, spinning: bool = False) -> ort.InferenceSession:
    """An InferenceSession on the chosen provider; ConfigError when cuda was asked for but not obtained."""
    providers = choose_providers(device)
    sess = ort.InferenceSession(onnx_file, session_options(threads, spinning), providers=providers)
    if device == "cuda" and sess.get_providers()[0] != CUDA:
        raise ConfigError(f"--device cuda: onnxruntime could not start {CUDA} for {onnx_file}; use --device cpu.")
    return sess
