"""The dashboard's views, one module each with its Python figure code and its browser code:
model_view (.py/.js), head_view (.py/.js, head view and heatmap), hover_view (.py/.js),
layer_view (.py), qk_view (.py/.js, the query · key view), answer_view (.py/.js, Generate and
the streamed answer), knockout_view (.py, the knock-out strip) and writes_view (.py/.js, what a head
writes into the vocabulary). The model, head and layer views follow
BertViz's designs (https://github.com/jessevig/bertviz); the q·k view succeeds its neuron view.

:func:`install_view_scripts` serves the ``.js`` files from this folder under the app's own
prefix (``<prefix>_headgaze/views/<name>.js``), so the page's Content-Security-Policy stays 'self'.
"""

from __future__ import annotations

from pathlib import Path

from dash import ClientsideFunction
from flask import abort, send_from_directory

HERE = Path(__file__).resolve().parent
SCRIPTS = ("model_view.js", "head_view.js", "hover_view.js", "qk_view.js", "answer_view.js", "writes_view.js")
ROUTE = "_headgaze/views/"


def clientside(name: str) -> ClientsideFunction:
    """A browser function of the views' scripts (namespace ``headgaze``) as a clientside callback."""
    return ClientsideFunction(namespace="headgaze", function_name=name)


def script_urls(url_base_pathname: str) -> list[str]:
    """The views' script URLs for a page served under ``url_base_pathname`` (cache-busted)."""
    version = max(int((HERE / n).stat().st_mtime) for n in SCRIPTS)
    return [f"{url_base_pathname}{ROUTE}{name}?v={version}" for name in SCRIPTS]


def install_view_scripts(app) -> None:
    """Serve the views' scripts from this folder under the app's routes prefix."""
    routes = app.config.routes_pathname_prefix

    def serve(name: str):
        if name not in SCRIPTS:
            abort(404)
        return send_from_directory(HERE, name, mimetype="text/javascript", max_age=0)

    app.server.add_url_rule(f"{routes}{ROUTE}<name>", endpoint=f"headgaze_views_{routes}", view_func=serve)
