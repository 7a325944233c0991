"""The page's Generate on the server side, without a browser: the generate route's bad input is a JSON
4xx naming the field, its events are the backend's as server-sent events and closing the response
closes the backend's stream; a generated text's marks (answer start, template tokens) in the hover
view and the model view, and the grid request's answer checked as the untrusted input it is."""

from __future__ import annotations

import orjson
import pytest
from dash import html

from headgaze.dashboard.app import create_app
from headgaze.dashboard.generate_route import ROUTE
from headgaze.dashboard.shown import answer_marks
from headgaze.dashboard.views.hover_view import running_text, template_tokens
from headgaze.dashboard.views.model_view import answer_position, answer_shapes
from headgaze.service.common.errors import ServiceError
from headgaze.service.common.sse import parse
from tests.dashboard.fakes import FakeBackend


class GeneratingBackend(FakeBackend):
    """The fake backend with the service's generate(stream=True): validates first, then yields events."""

    def __init__(self):
        super().__init__()
        self.closed = False
        self.asked: dict = {}

    def generate(self, text, model=None, *, stream=False, **params):
        if model == "fake-bert":
            raise ServiceError(422, "no_lm_head", "Model 'fake-bert' (field 'model') has no LM head.")
        self.asked = {"text": text, "model": model, **params}

        def events():
            try:
                for i, word in enumerate(["Hi", " there"]):
                    yield "token", {"id": i, "text": word, "logprob": -0.5}
                yield "done", {"model": model, "text": text + "Hi there", "tokens": [], "answer_start": 1}
            finally:
                self.closed = True

        return events()


@pytest.fixture
def client():
    backend = GeneratingBackend()
    app = create_app(engine=backend)
    return app.server.test_client(), backend


@pytest.mark.parametrize(("body", "field"), [
    ({"text": ""}, "text"), ({"text": "x" * 51}, "50"), ({"text": 5}, "string"),
    ({"text": "hi", "model": 3}, "model"), ({"text": "hi", "chat": "yes"}, "chat"),
    ({"text": "hi", "max_new_tokens": "9"}, "max_new_tokens"), ({"text": "hi", "model": "fake-bert"}, "model"),
])
def test_bad_generate_input_is_a_json_4xx_naming_it(client, body, field):
    http, backend = client
    resp = http.post("/" + ROUTE, json=body)
    assert 400 <= resp.status_code < 500 and resp.mimetype == "application/json"
    err = resp.get_json()["error"]
    assert field in err["message"] or field in err["code"], err
    assert not backend.asked or body.get("model") == "fake-bert"


def test_generate_streams_the_backends_events_and_closing_closes_them(client):
    http, backend = client
    resp = http.post("/" + ROUTE, json={"text": "Hello", "model": "fake-causal", "chat": True})
    assert resp.mimetype == "text/event-stream"
    events = list(parse(resp.get_data(as_text=True).splitlines()))
    assert [k for k, _ in events] == ["token", "token", "done"] and events[-1][1]["text"] == "HelloHi there"
    assert backend.asked == {"text": "Hello", "model": "fake-causal", "chat": True, "max_new_tokens": 64}
    # a page that goes away: the response is closed after the first frame, the backend's stream with it
    backend.closed = False
    resp = http.post("/" + ROUTE, json={"text": "Hello", "model": "fake-causal"}, buffered=False)
    first = next(iter(resp.response))
    assert first.startswith(b"event: token")
    resp.close()
    assert backend.closed


TOKENS = [  # "<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\nHey<|im_end|>" as raw tokens
    {"text": "<|im_start|>", "start": 0, "end": 12, "special": True},
    {"text": "user", "start": 12, "end": 16, "special": False},
    {"text": "\n", "start": 16, "end": 17, "special": False},
    {"text": "Hi", "start": 17, "end": 19, "special": False},
    {"text": "<|im_end|>", "start": 19, "end": 29, "special": True},
    {"text": "\n", "start": 29, "end": 30, "special": False},
    {"text": "<|im_start|>", "start": 30, "end": 42, "special": True},
    {"text": "assistant", "start": 42, "end": 51, "special": False},
    {"text": "\n", "start": 51, "end": 52, "special": False},
    {"text": "Hey", "start": 52, "end": 55, "special": False},
    {"text": "<|im_end|>", "start": 55, "end": 65, "special": True},
]
TEXT = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHey<|im_end|>"


def spans(children) -> list[tuple[str, str]]:
    return [(c.className or "", c.children) if isinstance(c, html.Span) else ("", c) for c in children]


def test_generated_text_folds_the_template_marks_the_answer_and_shows_each_special_once():
    answer = {"start": 9, "prompt": [17, 19]}
    assert template_tokens(TOKENS, answer) == {0, 1, 2, 4, 5, 6, 7, 8}
    out = spans(running_text(TEXT, TOKENS, answer))
    groups = [text for cls, text in out if cls == "hg-template-group"]
    assert groups == ["⋯ template (3 tokens)", "⋯ template (5 tokens)"]
    assert [cls for cls, _ in out].count("hg-answer-divider") == 1
    answer_chips = [text for cls, text in out if "hg-answer" in cls.split()]
    assert answer_chips == ["Hey", "<|im_end|>"]
    # every special token written in the text is one chip, never its chip and its text again
    assert sum(text == "<|im_end|>" for _, text in out) == 2 and sum(text == "<|im_start|>" for _, text in out) == 2
    visible = "".join(text for cls, text in out if "hg-template" not in cls and isinstance(text, str)
                      and cls != "hg-answer-divider")
    assert visible.replace("⋯ template (3 tokens)", "").replace("⋯ template (5 tokens)", "") == "HiHey<|im_end|>"


@pytest.mark.parametrize(("answer", "ok"), [
    ({"start": 3, "prompt": [0, 5]}, True), ({"start": 3, "prompt": None}, True), ({"start": 0}, False),
    ({"start": 99}, False), ({"start": True}, False), ({"start": "3"}, False), ("3", False), (None, False),
    ({"start": 3, "prompt": [0, "5"]}, True),  # a bad span is dropped, the start kept
])
def test_the_grid_requests_answer_is_checked(answer, ok):
    marks = answer_marks(answer, 10)
    assert (marks is not None) == ok
    if marks and answer.get("prompt") == [0, "5"]:
        assert marks["prompt"] is None


def test_model_view_marks_the_answer_on_every_tile_row_and_column():
    cells = [[0, 2], [2, 4], [4, 6], [6, 8]]
    assert answer_position(4, cells) == pytest.approx(1.5)  # between cells 1 and 2
    assert answer_position(5, cells) == pytest.approx(2.0)  # inside cell 2, in proportion
    shapes = answer_shapes(4, cells, layers=3, heads=2)
    assert len(shapes) == 3 + 2 and all(s["type"] == "line" for s in shapes)
    assert answer_shapes(None, cells, 3, 2) == [] and answer_shapes(99, cells, 3, 2) == []
    orjson.dumps(shapes)
