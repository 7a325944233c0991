"""The answer view: Generate beside Process, and the model's answer streamed into the page.

Python side: the controls (Generate, Stop, the chat switch; "show template tokens" sits with the
views' switches), the answer
panel they write into, and what each model allows (:func:`generate_state`: a model without an LM
head gets no Generate button, and a note that says why on hover). Browser side (answer_view.js):
Generate posts the box's text to the dashboard's generate stream (dashboard/generate_route.py),
shows each token as it arrives with a progress line and Stop, then hands the finished answer to the
``answer`` store, from which the grid draws template + prompt + answer as one raw text (its first
answer token marked in every view).
"""

from __future__ import annotations

from dash import dcc, html

NO_HEAD_NOTE = "no Generate"
CHAT_HINT = ("Chat: the text is sent as a user message through the model's chat template (what the model was "
             "tuned on); off: the model continues the plain text.")
TEMPLATE_HINT = ("The chat template wraps the text in tokens the user never typed (a system prompt, role markers). "
                 "The model attends to them; the hover view folds them into one chip unless shown.")


def template_toggle() -> dcc.Checklist:
    """"show template tokens": a display switch, with the other switches of the views."""
    return dcc.Checklist(id="show-template", className="hg-toggle", inputClassName="hg-toggle-input", inline=True,
                         options=[{"label": " show template tokens", "value": "show", "title": TEMPLATE_HINT}], value=[])


def generate_controls() -> list:
    """Generate, Stop and the chat switch (beside Process)."""
    return [
        html.Button("Generate", id="generate-button", n_clicks=0, className="hg-button hg-secondary",
                    title="Let the model answer the text (greedy, up to 64 new tokens), token by token; then every "
                          "view shows template + prompt + answer."),
        html.Button("Stop", id="stop-button", n_clicks=0, className="hg-button hg-stop", style={"display": "none"}),
        html.Span(NO_HEAD_NOTE, id="no-generate", className="hg-nogen", style={"display": "none"}),
        dcc.Checklist(id="chat-switch", className="hg-toggle", inputClassName="hg-toggle-input", inline=True,
                      options=[{"label": " chat", "value": "chat", "title": CHAT_HINT}], value=["chat"]),
    ]


def answer_panel() -> html.Div:
    """Where answer_view.js writes the answer as it streams (empty, and hidden, until Generate)."""
    return html.Div(id="answer-view", className="hg-answer", role="status", **{"aria-live": "polite"})


def generate_state(info: dict | None) -> dict:
    """What the chosen model allows, as the controls' properties: Generate and the answer switches
    only for a model with an LM head (else a note that says why on hover); the chat switch on where
    the model has a chat template. Unknown models keep Generate (the service answers for itself)."""
    info = info or {}
    name = info.get("display_name") or info.get("id") or "this model"
    can = info.get("lm_head", True) is not False
    has_template = can and info.get("chat_template", True) is not False
    shown, hidden = {}, {"display": "none"}
    chat_title = CHAT_HINT if has_template else f"{name} has no chat template: it continues the plain text."
    return {
        "generate_style": shown if can else hidden,
        "note_style": hidden if can else shown,
        "note_title": "" if can else (f"{name} has no LM head (an encoder or a base model): it cannot generate text "
                                      "or predict next tokens. Choose a causal LM such as SmolLM2 to generate."),
        "chat_options": [{"label": " chat", "value": "chat", "title": chat_title, "disabled": not has_template}],
        "chat_value": ["chat"] if has_template else [],
        "switch_style": shown if can else hidden,
    }
