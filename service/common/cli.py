"""The command-line layer every headgaze command shares (click): options read from the command line, else
from a HEADGAZE_* environment variable; every value typed and range-checked before anything starts;
a bad flag or environment value ends in one line ``<prog>: error: ...`` on stderr and exit code 2,
never a traceback. A flag on the command line wins over its environment variable. Used by the
service (service/web/config.py), the dashboard (dashboard/config.py) and the `headgaze` command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click


def option(*decls: str, env: str, **kw) -> click.Option:
    """A click option read from the command line, else from the environment variable `env`."""
    kw.setdefault("show_default", True)
    return click.Option(list(decls), envvar=env, show_envvar=True, **kw)


class IntRange(click.IntRange):
    name = "integer"  # errors read "'abc' is not a valid integer", not "... integer range"


def at_least(n: int) -> click.IntRange:
    return IntRange(min=n)


def make_command(prog: str, options: list[click.Option], help: str) -> click.Command:
    return click.Command(prog, params=options, help=help, context_settings={"max_content_width": 110},
                         add_help_option=True)


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
