"""Choosing the onnxruntime execution provider and session options for --device and --threads, and the
CUDA provider's options (--gpu, --gpu-fast, --gpu-mem-mb: GpuOptions)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import onnxruntime as ort

from ..common.errors import ConfigError
from . import memory

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
    CPU arena (service/runtime/memory.py).

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


@dataclass(frozen=True)
class GpuOptions:
    """How the CUDA provider runs (flags --gpu, --gpu-fast, --gpu-mem-mb and their HEADGAZE_* variables).

    `fast`: TF32 matmuls (10 mantissa bits instead of 23) on GPUs that have them: faster, but attention
    weights then differ from float32 by ~1e-3, beyond the 1e-4 every export is verified to. Off by default."""

    device_id: int = 0
    fast: bool = False
    mem_mb: int | None = None  # the provider's memory arena limit; None: onnxruntime's default (no limit)


GPU = GpuOptions()


def set_gpu_options(options: GpuOptions) -> None:
    """The CUDA provider's options for every session made from now on (the service sets them at start)."""
    global GPU
    GPU = options


def cuda_provider_options(options: GpuOptions) -> dict[str, str]:
    """The CUDA provider's options as onnxruntime takes them: explicit TF32, device and memory limit."""
    out = {"device_id": str(options.device_id), "use_tf32": "1" if options.fast else "0"}
    if options.mem_mb is not None:
        out["gpu_mem_limit"] = str(options.mem_mb * 1024 * 1024)
    return out


def provider_list(providers: list[str], options: GpuOptions) -> list:
    """`providers` with the CUDA one carrying its options."""
    return [(p, cuda_provider_options(options)) if p == CUDA else p for p in providers]


def make_session(onnx_file: str, device: str, threads: int, spinning: bool = False) -> ort.InferenceSession:
    """An InferenceSession on the chosen provider; ConfigError when cuda was asked for but not obtained."""
    providers = provider_list(choose_providers(device), GPU)
    sess = ort.InferenceSession(onnx_file, session_options(threads, spinning), providers=providers)
    if device == "cuda" and sess.get_providers()[0] != CUDA:
        raise ConfigError(f"--device cuda: onnxruntime could not start {CUDA} for {onnx_file}; use --device cpu.")
    return sess
