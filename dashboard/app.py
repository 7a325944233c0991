"""App factory: ``create_app`` builds the Dash app, standalone or mounted in an existing Flask app.

    create_app()                                     # in-process Engine (single-process mode)
    create_app(service_url="http://127.0.0.1:8000")  # talk to the HTTP service
    create_app(server=flask_app, url_base_pathname="/attention/", service_url=...)  # embedded

All JS/CSS (Dash, Plotly, assets/, the views' scripts in views/) is served locally by the app;
nothing is loaded from a CDN.
"""

from __future__ import annotations

import os
from typing import Any

from dash import Dash
from flask_caching import Cache

from . import callbacks
from .data import AttentionData, make_backend
from .generate_route import install_generate_route
from .layout import EXAMPLE_TEXT, build_layout
from .security import install_csp
from .views import install_view_scripts, script_urls
from .views.constants import DEFAULT_MAX_CHARS

IN_PROCESS_CACHES = ("SimpleCache", "NullCache")
ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")


def create_app(server: Any = None, url_base_pathname: str = "/", service_url: str | None = None,
               engine: Any = None, cache_config: dict | None = None, service_timeout: float = 10.0,
               frame_ancestors: str | None = None, max_chars: int = DEFAULT_MAX_CHARS,
               initial_text: str | None = None, initial_model: str | None = None) -> Dash:
    """Build the headgaze Dash app.

    ``server``: an existing Flask app to mount into (default: a new one). ``url_base_pathname``:
    the prefix the page lives under, e.g. ``"/attention/"``. ``service_url``: base URL of the
    attention service; with neither ``service_url`` nor ``engine`` the Engine runs in-process
    (created lazily on first use). ``cache_config``: flask-caching config for results
    (default: an in-memory SimpleCache of 64 results, 1 hour); only in-process types are accepted,
    because flask-caching pickles what it stores and a shared store would be unpickled on read —
    share results across replicas through the service's (pickle-free) Redis cache instead. ``service_timeout``: seconds to
    wait for the service before the page says it is unavailable. ``frame_ancestors``: who may
    frame the page, a CSP source list (default ``'self'`` or HEADGAZE_FRAME_ANCESTORS).
    ``max_chars``: the page's character limit (Unicode code points, as the API counts them); the
    service's own limit still applies. ``initial_text`` / ``initial_model``: what the page processes on
    load (default: the example text and the default model; headgaze.show uses them).
    """
    if not url_base_pathname.startswith("/"):
        url_base_pathname = "/" + url_base_pathname
    if not url_base_pathname.endswith("/"):
        url_base_pathname += "/"
    app = Dash(
        __name__,
        server=server if server is not None else True,
        url_base_pathname=url_base_pathname,
        assets_folder=ASSETS,
        serve_locally=True,
        title="headgaze — attention heads",
        update_title=None,
        suppress_callback_exceptions=False,
        compress=False,
        external_scripts=script_urls(url_base_pathname),
    )
    install_view_scripts(app)
    app.scripts.config.serve_locally = True
    app.css.config.serve_locally = True
    if cache_config and cache_config.get("CACHE_TYPE") not in IN_PROCESS_CACHES:
        raise ValueError(f"dashboard cache_config CACHE_TYPE must be one of {', '.join(IN_PROCESS_CACHES)} "
                         f"(got {cache_config.get('CACHE_TYPE')!r}); use the service's --cache for a shared cache")
    cache = Cache(config=cache_config or {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 3600,
                                          "CACHE_THRESHOLD": 64})
    cache.init_app(app.server)
    if engine is not None or service_url:
        data = AttentionData(make_backend(service_url, engine, service_timeout), cache, max_chars=max_chars)
    else:
        data = AttentionData(None, cache, backend_factory=make_backend, max_chars=max_chars)
    app.layout = build_layout(data, initial_text or EXAMPLE_TEXT, initial_model)
    callbacks.register(app, data)
    install_generate_route(app, data)
    app.headgaze_data = data  # for tests and embedding code
    app.headgaze_csp = install_csp(app, frame_ancestors)
    return app
