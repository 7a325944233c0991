"""The answer view's callbacks: what the chosen model allows (Generate, the chat switch) and the
browser side of Generate, Stop and "show template tokens" (dashboard/views/answer_view.js). The
generate stream itself is a route of the dashboard's server (dashboard/generate_route.py); the
finished answer reaches the grid through the ``answer`` store (dashboard/callbacks_grid.py).
"""

from __future__ import annotations

from dash import Dash, Input, Output, State

from .data import AttentionData
from .views import clientside
from .views.answer_view import generate_state


def register_answer(app: Dash, data: AttentionData) -> None:
    @app.callback(
        Output("generate-button", "style"),
        Output("no-generate", "style"),
        Output("no-generate", "title"),
        Output("chat-switch", "options"),
        Output("chat-switch", "value"),
        Output("chat-switch", "style"),
        Output("show-template", "style"),
        Input("model-select", "value"),
    )
    def _capabilities(model_id):
        """Generate only for a model with an LM head; chat on where it has a chat template."""
        state = generate_state(data.model_info(model_id))
        return (state["generate_style"], state["note_style"], state["note_title"], state["chat_options"],
                state["chat_value"], state["switch_style"], state["switch_style"])

    app.clientside_callback(clientside("generate"), Output("generate-started", "data"),
                            Input("generate-button", "n_clicks"), State("text-input", "value"),
                            State("model-select", "value"), State("chat-switch", "value"), State("hg-config", "data"),
                            prevent_initial_call=True)
    app.clientside_callback(clientside("stopGenerate"), Output("generate-started", "data", allow_duplicate=True),
                            Input("stop-button", "n_clicks"), prevent_initial_call=True)
    app.clientside_callback(clientside("templateClass"), Output("hover-view", "className"),
                            Input("show-template", "value"))
