"""headgaze from Python and notebooks: the in-process engine's calls, and the dashboard inline.

    import headgaze
    res = headgaze.attention("The fluffy blue monster ate the cookie.")        # AttentionResult
    res.attentions.shape                                                         # (30, 9, 8, 8)
    headgaze.show(res)                                   # the dashboard in the notebook, on that text
    headgaze.show("Another text", model="minilm-l6")     # or on a new one
    headgaze.show(res, service_url="http://127.0.0.1:8000")   # served by a running service instead

Models come from `models_dir=`, else HEADGAZE_MODELS_DIR, else ./models (what `headgaze export`
writes). One engine per models folder is kept for the process (loading SmolLM2 takes seconds).
The results are the types the HTTP client returns (service.common.result), so code written against
one runs against the other.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

_engines: dict[Path, object] = {}
_lock = threading.Lock()


def models_folder(models_dir: str | os.PathLike | None = None) -> Path:
    return Path(models_dir or os.environ.get("HEADGAZE_MODELS_DIR") or "models").resolve()


def engine(models_dir: str | os.PathLike | None = None):
    """The in-process Engine over `models_dir` (created on first use, then kept)."""
    from headgaze.service.runtime.engine import Engine

    folder = models_folder(models_dir)
    with _lock:
        if folder not in _engines:
            _engines[folder] = Engine(folder, warmup=False)
        return _engines[folder]


def attention(text: str, model: str | None = None, *, models_dir=None, **kw):
    """Every layer's and head's attention for `text` (AttentionResult: tokens, attentions [L, H, T, T], value
    norms...). Keywords as the engine's: weighting=, predictions=, top_k=, raw=."""
    return engine(models_dir).attention(text, model, **kw)


def attention_grid(text: str, model: str | None = None, *, models_dir=None, **kw):
    """Per-head max-pooled thumbnails and head statistics (GridResult), for long texts."""
    return engine(models_dir).attention_grid(text, model, **kw)


def head(text: str, model: str | None, layer: int, head: int, *, models_dir=None, **kw):
    """One head's full matrix (HeadResult); qk=True adds its queries and keys, writes=True what it writes."""
    return engine(models_dir).head(text, model, layer, head, **kw)


def generate(text: str, model: str | None = None, *, models_dir=None, **kw):
    """The model's answer (a dict; stream=True for the token events)."""
    return engine(models_dir).generate(text, model, **kw)


def ablate(text: str, model: str | None, heads: list, *, models_dir=None, **kw) -> dict:
    """`text` with `heads` ([[layer, head], ...]) knocked out, compared with the clean run."""
    return engine(models_dir).ablate(text, model, heads, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def show(what, model: str | None = None, *, models_dir=None, service_url: str | None = None, height: int = 900,
         port: int | None = None, max_chars: int = 4000):
    """The dashboard inline in the notebook, on `what`: a text, or a result already computed (its text and
    model). Served by the in-process engine over `models_dir`, or by the service at `service_url`.
    Returns the Dash app (its server keeps running in the kernel)."""
    from headgaze.dashboard.app import create_app

    text = what if isinstance(what, str) else getattr(what, "text", None)
    if not text:
        raise ValueError("show() needs a text or a result that carries its text (headgaze.attention's results do)")
    model = model or (None if isinstance(what, str) else getattr(what, "model", None))
    backend = {"service_url": service_url} if service_url else {"engine": engine(models_dir)}
    app = create_app(max_chars=max(max_chars, len(text)), initial_text=text, initial_model=model, **backend)
    app.run(jupyter_mode="inline", jupyter_height=height, port=port or _free_port(), host="127.0.0.1")
    return app
