"""The model's chat template (manifest `chat_template`, jinja2 source from the checkpoint) rendered as
transformers' `apply_chat_template` renders it: a sandboxed immutable jinja2 environment with
trim_blocks and lstrip_blocks, the loop-control extension, and the helpers templates call
(`raise_exception`, `strftime_now`, a `tojson` that keeps non-ASCII). The rendered prompt is
encoded with add_special_tokens=False: the template writes its own special tokens.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache

from jinja2 import TemplateError
from jinja2.exceptions import TemplateSyntaxError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..common import errors


def _raise_exception(message: str):
    raise TemplateError(message)


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@lru_cache(maxsize=16)
def compile_template(source: str):
    """The compiled template; errors.ConfigError when the source is not valid jinja2."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    try:
        return env.from_string(source)
    except TemplateSyntaxError as exc:
        raise errors.ConfigError(f"chat template does not compile: {exc}") from None


def render(source: str, text: str, template_vars: dict[str, str | None] | None = None) -> str:
    """The chat prompt for one user message `text`, ready for the assistant's answer
    (messages=[{"role": "user", "content": text}], add_generation_prompt=True).

    A template that refuses the message (raise_exception) is a 422 naming `text`."""
    template = compile_template(source)
    try:
        return template.render(messages=[{"role": "user", "content": text}], add_generation_prompt=True,
                               **{k: v for k, v in (template_vars or {}).items() if v is not None})
    except TemplateError as exc:
        raise errors.ServiceError(422, "chat_template_error",
                                  f"The model's chat template refuses field 'text': {exc}.") from None
