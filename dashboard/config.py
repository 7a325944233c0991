"""Configuration of `headgaze dashboard`: the same click layer as the service (service/common/cli.py).

Every flag has a HEADGAZE_* environment variable; bad values end in a one-line error, exit code 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from urllib.parse import urlparse

import click
from click.core import ParameterSource

from headgaze.service.common.cli import IntRange, at_least, fail, make_command, option, parse_command

PROG = "headgaze dashboard"


def _service_url(_ctx, _param, value: str | None) -> str | None:
    if not value:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise click.BadParameter(f"{value!r} is not an http(s):// URL, e.g. http://127.0.0.1:8000")
    try:
        parsed.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise click.BadParameter(f"{value!r} has an invalid port") from None
    return value.rstrip("/")


def _frame_ancestors(_ctx, _param, value: str | None) -> str | None:
    if value is not None and (not value.strip() or any(c in value for c in ";,\r\n")):
        raise click.BadParameter("give a CSP source list separated by spaces, e.g. \"'self' https://tools.internal\"")
    return value.strip() if value else None


def _prefix(_ctx, _param, value: str) -> str:
    if any(c in value for c in "?#\\ ") or "//" in value:
        raise click.BadParameter(f"{value!r} is not a URL path like /attention/")
    return value


DASHBOARD_OPTIONS = [
    option("--service-url", env="HEADGAZE_SERVICE_URL", default=None, callback=_service_url,
           help="attention service base URL, e.g. http://127.0.0.1:8000 [default: run the model in-process]"),
    option("--embedded", env="HEADGAZE_EMBEDDED", is_flag=True, default=False,
           help="run the model in this process (no separate service); excludes --service-url"),
    option("--models-dir", env="HEADGAZE_MODELS_DIR", default="models", help="models folder for --embedded"),
    option("--host", env="HEADGAZE_DASHBOARD_HOST", default="127.0.0.1", help="bind address"),
    option("--port", env="HEADGAZE_DASHBOARD_PORT", type=IntRange(1, 65535), default=8050, help="port"),
    option("--prefix", env="HEADGAZE_DASHBOARD_PREFIX", default="/", callback=_prefix,
           help="URL prefix, e.g. /attention/"),
    option("--threads", env="HEADGAZE_DASHBOARD_THREADS", type=at_least(1), default=8,
           help="waitress worker threads"),
    option("--service-timeout", env="HEADGAZE_SERVICE_TIMEOUT", type=click.FloatRange(min=0, min_open=True),
           default=10.0, help="seconds to wait for the service before showing 'unavailable'"),
    option("--max-chars", env="HEADGAZE_DASHBOARD_MAX_CHARS", type=at_least(1), default=50,
           help="longest text the page accepts, in Unicode code points (the service's own limit still applies)"),
    option("--frame-ancestors", env="HEADGAZE_FRAME_ANCESTORS", default=None, callback=_frame_ancestors,
           show_default=False, help="CSP frame-ancestors: who may frame the page, e.g. "
                                    "\"'self' https://tools.internal\" [default: 'self']"),
]

DASHBOARD_COMMAND = make_command(PROG, DASHBOARD_OPTIONS, "headgaze dashboard (waitress).")


def parse_args(argv: Sequence[str] | None = None) -> SimpleNamespace:
    """The dashboard's settings by name (``args.service_url``...); ``--embedded`` clears ``service_url``."""
    values, ctx = parse_command(DASHBOARD_COMMAND, argv)
    s = SimpleNamespace(**values)
    given = {name for name in ("service_url", "embedded")
             if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE}
    if given == {"service_url", "embedded"}:
        fail(PROG, "--service-url and --embedded exclude each other; give one")
    if s.embedded:
        s.service_url = None
    return s
