"""Configuration of `headgaze service` (`python -m headgaze.service`): click options, each with a
HEADGAZE_* environment variable, on the shared command-line layer (service/common/cli.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import click

from ..common.cli import IntRange, at_least, make_command, option, parse_command
from ..common.errors import ConfigError
from ..runtime.cache import check_cache_url

PROG = "headgaze service"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _cache_url(_ctx, _param, value: str) -> str:
    try:
        check_cache_url(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


SERVICE_OPTIONS = [
    option("--host", env="HEADGAZE_HOST", default="127.0.0.1", help="bind address"),
    option("--port", env="HEADGAZE_PORT", type=IntRange(1, 65535), default=8000, help="port"),
    option("--models-dir", env="HEADGAZE_MODELS_DIR", default="models", help="folder of exported models <id>/"),
    option("--device", env="HEADGAZE_DEVICE", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
           help="execution provider (auto: CUDA if onnxruntime-gpu and a GPU, else CPU)"),
    option("--gpu", env="HEADGAZE_GPU", type=at_least(0), default=0, help="CUDA device id (with --device cuda/auto)"),
    option("--gpu-fast/--no-gpu-fast", env="HEADGAZE_GPU_FAST", default=False,
           help="TF32 matmuls on the GPU: faster, but weights then differ from float32 by ~1e-3 (exports are verified "
                "to 1e-4); off by default"),
    option("--gpu-mem-mb", env="HEADGAZE_GPU_MEM_MB", type=at_least(1), default=None,
           help="memory limit of the CUDA provider's arena in MiB [default: no limit]"),
    option("--threads", env="HEADGAZE_THREADS", type=at_least(1), default=None,
           help="onnxruntime intra-op threads per model [default: all cores]"),
    option("--max-chars", env="HEADGAZE_MAX_CHARS", type=IntRange(1, 10000), default=4000,
           help="longest accepted text in characters (at most 10000: even fully \\u-escaped, a body fits in 64 KiB)"),
    option("--max-tokens", env="HEADGAZE_MAX_TOKENS", type=at_least(2), default=512,
           help="most tokens per text, capped by each model's own limit (SmolLM2 is tested up to 2048)"),
    option("--max-full-tokens", env="HEADGAZE_MAX_FULL_TOKENS", type=at_least(1), default=128,
           help="most tokens for which every head's full matrix is sent (detail=full); longer texts "
                "need detail=grid and /v1/attention/head"),
    option("--store-mb", env="HEADGAZE_STORE_MB", type=at_least(0), default=256,
           help="MiB of recent results kept in process so head and grid requests do not re-run the model (a "
                "2,048-token SmolLM2 text's queries, keys and summary: 198 MiB); 0 turns the store off"),
    option("--batch-mb", env="HEADGAZE_BATCH_MB", type=at_least(1), default=320,
           help="MiB of padded float32 attention outputs one micro-batch may produce; a single text always runs"),
    option("--queue-limit", env="HEADGAZE_QUEUE_LIMIT", type=at_least(0), default=8,
           help="attention requests allowed to wait behind the running one; more get 503"),
    option("--cache", env="HEADGAZE_CACHE_URL", default="simple", callback=_cache_url,
           help="result cache: simple | none | filesystem:///dir | redis://host:port/db"),
    option("--cache-timeout", env="HEADGAZE_CACHE_TIMEOUT", type=at_least(1), default=3600,
           help="seconds a cached result lives"),
    option("--cache-entries", env="HEADGAZE_CACHE_ENTRIES", type=at_least(1), default=256,
           help="most entries kept by the simple and filesystem caches; results over 8 MB are not cached"),
    option("--http-threads", env="HEADGAZE_HTTP_THREADS", type=at_least(1), default=None,
           help="waitress worker threads [default: queue limit + 4]"),
    option("--max-batch", env="HEADGAZE_MAX_BATCH", type=at_least(1), default=8,
           help="most waiting requests run together in one padded onnxruntime call; 1 turns micro-batching off"),
    option("--spinning/--no-spinning", env="HEADGAZE_ORT_SPINNING", default=False,
           help="let onnxruntime worker threads spin between ops; faster only on an otherwise idle machine"),
    option("--verify/--no-verify", env="HEADGAZE_VERIFY", default=True,
           help="check each model.onnx against the manifest's size and sha256 before loading"),
    option("--log-level", env="HEADGAZE_LOG_LEVEL", type=click.Choice(LOG_LEVELS, case_sensitive=False),
           default="INFO", help="logging level"),
    option("--api-token", env="HEADGAZE_API_TOKEN", default=None, show_default=False,
           help="require 'Authorization: Bearer <token>' on every endpoint but /healthz "
                "(prefer the environment variable: a command line is visible to other users)"),
]


SERVICE_COMMAND = make_command(PROG, SERVICE_OPTIONS, "headgaze attention service (waitress).")


def parse_args(argv: Sequence[str] | None = None) -> SimpleNamespace:
    """The service's settings: every option by name (``args.max_batch``...), defaults filled in."""
    values, _ctx = parse_command(SERVICE_COMMAND, argv)
    s = SimpleNamespace(**values)
    s.log_level = s.log_level.upper()
    if s.http_threads is None:
        s.http_threads = s.queue_limit + 4
    return s
