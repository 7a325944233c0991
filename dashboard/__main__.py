"""Command line: ``headgaze dashboard [--service-url URL | --embedded] [--host H] [--port P] ...``.

Flags and their environment variables are in dashboard/config.py. Serves the dashboard with
waitress (a production WSGI server).
"""

from __future__ import annotations

import logging
import sys

from .config import PROG, parse_args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    from waitress import create_server

    from headgaze.service.common.cli import fail
    from headgaze.service.common.errors import ConfigError

    from .app import create_app

    engine = None
    if not args.service_url:
        from headgaze.service.runtime.engine import Engine

        try:
            engine = Engine(models_dir=args.models_dir)
        except ConfigError as exc:
            fail(PROG, str(exc))
    app = create_app(url_base_pathname=args.prefix, service_url=args.service_url, engine=engine,
                     service_timeout=args.service_timeout, frame_ancestors=args.frame_ancestors,
                     max_chars=args.max_chars)
    try:
        server = create_server(app.server, host=args.host, port=args.port, threads=args.threads,
                               ident="headgaze-dashboard")
    except OSError as exc:
        fail(PROG, f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    where = f"http://{args.host}:{args.port}{app.config.url_base_pathname}"
    mode_txt = "embedded engine" if engine else f"service {args.service_url}"
    print(f"headgaze dashboard on {where} ({mode_txt})", flush=True)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
