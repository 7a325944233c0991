"""Command-line flags (each with an environment variable fallback) for `python -m service`."""

from __future__ import annotations

import argparse
import os


def _env(name: str, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m service", description="headgaze attention service (waitress).")
    p.add_argument("--host", default=_env("HEADGAZE_HOST", "127.0.0.1"), help="bind address [HEADGAZE_HOST] (127.0.0.1)")
    p.add_argument("--port", type=int, default=_env("HEADGAZE_PORT", "8000"), help="port [HEADGAZE_PORT] (8000)")
    p.add_argument("--models-dir", default=_env("HEADGAZE_MODELS_DIR", "models"),
                   help="folder of exported models <id>/ [HEADGAZE_MODELS_DIR] (models)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=_env("HEADGAZE_DEVICE", "auto"),
                   help="execution provider [HEADGAZE_DEVICE] (auto: CUDA if onnxruntime-gpu and a GPU, else CPU)")
    p.add_argument("--threads", type=int, default=_env("HEADGAZE_THREADS"),
                   help="onnxruntime intra-op threads per model [HEADGAZE_THREADS] (all cores)")
    p.add_argument("--max-chars", type=int, default=_env("HEADGAZE_MAX_CHARS", "200"),
                   help="longest accepted text in characters [HEADGAZE_MAX_CHARS] (200)")
    p.add_argument("--max-tokens", type=int, default=_env("HEADGAZE_MAX_TOKENS", "128"),
                   help="most tokens per text, capped by each model's own limit [HEADGAZE_MAX_TOKENS] (128)")
    p.add_argument("--queue-limit", type=int, default=_env("HEADGAZE_QUEUE_LIMIT", "8"),
                   help="attention requests allowed to wait behind the running one; more get 503 "
                        "[HEADGAZE_QUEUE_LIMIT] (8)")
    p.add_argument("--cache", default=_env("HEADGAZE_CACHE_URL", "simple"),
                   help="result cache: simple | none | filesystem:///dir | redis://host:port/db "
                        "[HEADGAZE_CACHE_URL] (simple)")
    p.add_argument("--cache-timeout", type=int, default=_env("HEADGAZE_CACHE_TIMEOUT", "3600"),
                   help="seconds a cached result lives [HEADGAZE_CACHE_TIMEOUT] (3600)")
    p.add_argument("--cache-entries", type=int, default=_env("HEADGAZE_CACHE_ENTRIES", "256"),
                   help="most entries kept by the simple and filesystem caches; results over 8 MB "
                        "(about 100+ tokens on SmolLM2) are not cached [HEADGAZE_CACHE_ENTRIES] (256)")
    p.add_argument("--http-threads", type=int, default=_env("HEADGAZE_HTTP_THREADS"),
                   help="waitress worker threads [HEADGAZE_HTTP_THREADS] (queue limit + 4)")
    p.add_argument("--max-batch", type=int, default=int(_env("HEADGAZE_MAX_BATCH", 8)),
                   help="most waiting requests run together in one padded onnxruntime call; 1 turns "
                        "micro-batching off [HEADGAZE_MAX_BATCH] (8)")
    p.add_argument("--spinning", action=argparse.BooleanOptionalAction,
                   default=_env("HEADGAZE_ORT_SPINNING", "0") not in ("0", "false", "no"),
                   help="let onnxruntime worker threads spin between ops; faster only on an otherwise idle "
                        "machine [HEADGAZE_ORT_SPINNING] (off)")
    p.add_argument("--verify", action=argparse.BooleanOptionalAction,
                   default=_env("HEADGAZE_VERIFY", "1") not in ("0", "false", "no"),
                   help="check each model.onnx against the manifest's size and sha256 before loading "
                        "(about 0.5 s per 500 MB) [HEADGAZE_VERIFY] (on)")
    p.add_argument("--log-level", default=_env("HEADGAZE_LOG_LEVEL", "INFO"), help="[HEADGAZE_LOG_LEVEL] (INFO)")
    args = p.parse_args(argv)
    args.threads = int(args.threads) if args.threads else None
    args.http_threads = int(args.http_threads) if args.http_threads else args.queue_limit + 4
    args.api_token = _env("HEADGAZE_API_TOKEN")
    for name in ("max_chars", "max_tokens", "port", "cache_timeout", "cache_entries"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.queue_limit < 0:
        p.error("--queue-limit must be >= 0")
    return args
