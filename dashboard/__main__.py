"""Command line: ``python -m dashboard [--service-url URL | --embedded] [--host H] [--port P]``.

Serves the dashboard with waitress (a production WSGI server).
"""

from __future__ import annotations

import argparse
import logging
import os


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m dashboard", description="headgaze dashboard")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--service-url", default=os.environ.get("HEADGAZE_SERVICE_URL"),
                      help="attention service base URL, e.g. http://127.0.0.1:8000")
    mode.add_argument("--embedded", action="store_true",
                      help="run the model in this process (no separate service)")
    p.add_argument("--models-dir", default="models", help="models folder for --embedded")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8050)
    p.add_argument("--prefix", default="/", help="URL prefix, e.g. /attention/")
    p.add_argument("--threads", type=int, default=8, help="waitress worker threads")
    p.add_argument("--service-timeout", type=float, default=10.0,
                   help="seconds to wait for the service before showing 'unavailable'")
    p.add_argument("--frame-ancestors", default=None,
                   help="CSP frame-ancestors: who may frame the page, e.g. \"'self' https://tools.internal\" "
                        "[HEADGAZE_FRAME_ANCESTORS] ('self')")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    from waitress import serve

    from .app import create_app

    engine = None
    if args.embedded or not args.service_url:
        from service.engine import Engine

        engine = Engine(models_dir=args.models_dir)
    app = create_app(url_base_pathname=args.prefix, service_url=None if engine else args.service_url, engine=engine,
                     service_timeout=args.service_timeout, frame_ancestors=args.frame_ancestors)
    where = f"http://{args.host}:{args.port}{app.config.url_base_pathname}"
    mode_txt = "embedded engine" if engine else f"service {args.service_url}"
    print(f"headgaze dashboard on {where} ({mode_txt})", flush=True)
    serve(app.server, host=args.host, port=args.port, threads=args.threads, ident="headgaze-dashboard")


if __name__ == "__main__":
    main()
