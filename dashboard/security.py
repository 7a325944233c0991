"""Content-Security-Policy for the dashboard's pages, with a configurable `frame-ancestors`.

Everything the page needs is served by the app itself, so the policy allows 'self' only: scripts
from 'self' plus the hashes of Dash's inline bootstrap script (`app.csp_hashes()`), no eval, no
inline event handlers. Styles allow 'unsafe-inline' because React and Plotly set style attributes.
`frame-ancestors` says who may frame the page: 'self' by default; list the internal tools that
embed it (`--frame-ancestors "https://tools.example.internal"` or HEADGAZE_FRAME_ANCESTORS).
Only responses under the dashboard's own prefix get the header, so a host app keeps its own policy.
"""

from __future__ import annotations

import os

DEFAULT_FRAME_ANCESTORS = "'self'"


def frame_ancestors_from_env() -> str:
    return os.environ.get("HEADGAZE_FRAME_ANCESTORS", "").strip() or DEFAULT_FRAME_ANCESTORS


def content_security_policy(script_hashes: list[str], frame_ancestors: str) -> str:
    directives = {
        "default-src": "'self'",
        "script-src": " ".join(["'self'", *script_hashes]),
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data: blob:",
        "font-src": "'self' data:",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": frame_ancestors,
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def install_csp(app, frame_ancestors: str | None = None) -> str:
    """Send the policy (and nosniff) on every response under the app's prefix; returns the policy."""
    ancestors = frame_ancestors or frame_ancestors_from_env()
    policy = content_security_policy(app.csp_hashes(), ancestors)
    prefix = app.config.routes_pathname_prefix

    @app.server.after_request
    def add_headers(response):
        from flask import request

        if request.path.startswith(prefix):
            response.headers["Content-Security-Policy"] = policy
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return policy
