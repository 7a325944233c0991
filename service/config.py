"""Configuration of `python -m service`: click options, each with a HEADGAZE_* environment variable.

One layer for the service and the dashboard (dashboard/config.py builds on `parse_command`):
every value is typed and range-checked by click before anything starts; a bad flag or environment
value ends in a one-line ``<prog>: error: ...`` on stderr and exit code 2, never a traceback.
A flag on the command line wins over its environment variable.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import SimpleNamespace

import click

from .cache import check_cache_url
from .errors import ConfigError

PROG = "python -m service"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def option(*decls: str, env: str, **kw) -> click.Option:
    """A click option read from the command line, else from the environment variable `env`."""
    kw.setdefault("show_default", True)
    return click.Option(list(decls), envvar=env, show_envvar=True, **kw)


class IntRange(click.IntRange):
    name = "integer"  # errors read "'abc' is not a valid integer", not "... integer range"


def at_least(n: int) -> click.IntRange:
    return IntRange(min=n)


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
    option("--threads", env="HEADGAZE_THREADS", type=at_least(1), default=None,
           help="onnxruntime intra-op threads per model [default: all cores]"),
    option("--max-chars", env="HEADGAZE_MAX_CHARS", type=at_least(1), default=200,
           help="longest accepted text in characters"),
    option("--max-tokens", env="HEADGAZE_MAX_TOKENS", type=at_least(2), default=128,
           help="most tokens per text, capped by each model's own limit"),
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


def make_command(prog: str, options: list[click.Option], help: str) -> click.Command:
    return click.Command(prog, params=options, help=help, context_settings={"max_content_width": 110},
                         add_help_option=True)


SERVICE_COMMAND = make_command(PROG, SERVICE_OPTIONS, "headgaze attention service (waitress).")


def parse_command(command: click.Command, argv: Sequence[str] | None) -> tuple[dict, click.Context]:
    """Parse `argv` (default sys.argv[1:]) and the environment; SystemExit(2) with one line on bad input.

    Returns the values by parameter name and the click context (``ctx.get_parameter_source(name)``
    tells a flag from an environment variable or a default). ``--help`` prints and exits 0.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        ctx = command.make_context(command.name, args)
    except click.exceptions.Exit as done:  # --help
        raise SystemExit(done.exit_code) from None
    except click.ClickException as exc:
        fail(command.name, exc.format_message())
    return dict(ctx.params), ctx


def fail(prog: str, message: str) -> None:
    """The one-line usage error every headgaze command prints: stderr, exit code 2."""
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)
    raise SystemExit(2)


def parse_args(argv: Sequence[str] | None = None) -> SimpleNamespace:
    """The service's settings: every option by name (``args.max_batch``...), defaults filled in."""
    values, _ctx = parse_command(SERVICE_COMMAND, argv)
    s = SimpleNamespace(**values)
    s.log_level = s.log_level.upper()
    if s.http_threads is None:
        s.http_threads = s.queue_limit + 4
    return s
