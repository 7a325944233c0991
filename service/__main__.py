"""`headgaze service`: load the models, then serve the API under waitress (never Flask's dev server)."""

from __future__ import annotations

import logging
import sys

from .common.cli import fail
from .common.errors import ConfigError
from .web.config import PROG, parse_args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("service")
    from .runtime.cache import SafeCache, describe, make_backend
    from .runtime.engine import Engine
    from .runtime.providers import GpuOptions, set_gpu_options
    from .web.api import create_app

    set_gpu_options(GpuOptions(args.gpu, args.gpu_fast, args.gpu_mem_mb))
    from .web.http_server import make_server

    try:
        cache = SafeCache(make_backend(args.cache, timeout=args.cache_timeout, threshold=args.cache_entries))
        engine = Engine(args.models_dir, device=args.device, threads=args.threads, max_chars=args.max_chars,
                        max_tokens=args.max_tokens, cache=cache, spinning=args.spinning,
                        verify=args.verify, max_batch=args.max_batch, max_full_tokens=args.max_full_tokens,
                        store_mb=args.store_mb, batch_mb=args.batch_mb)
    except ConfigError as exc:
        fail(PROG, str(exc))
    app = create_app(engine, api_token=args.api_token, queue_limit=args.queue_limit, cache_desc=describe(args.cache))
    log.info("cache=%s queue_limit=%d auth=%s default_model=%s", describe(args.cache), args.queue_limit,
             "bearer" if args.api_token else "off", engine.default_model)
    try:
        server = make_server(app, host=args.host, port=args.port, threads=args.http_threads, ident="headgaze",
                             channel_timeout=30, connection_limit=200)
    except OSError as exc:
        fail(PROG, f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    log.info("serving on http://%s:%d (waitress, %d threads)", args.host, args.port, args.http_threads)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
