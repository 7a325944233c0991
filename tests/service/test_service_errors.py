"""Every bad-input case of issue 3 point 4 gets a JSON error with the right status; valid odd text works."""

from __future__ import annotations

import pytest

CASES = [
    # (description, kwargs for server.post, status, code)
    ("empty text", {"body": {"text": ""}}, 422, "empty_text"),
    ("whitespace only", {"body": {"text": " \t\n  \u3000"}}, 422, "empty_text"),
    ("text too long", {"body": {"text": "a" * 201}}, 422, "text_too_long"),
    ("unknown model", {"body": {"text": "hi", "model": "gpt-9"}}, 404, "unknown_model"),
    ("invalid json", {"raw": b'{"text": "hi"'}, 400, "invalid_json"),
    ("json not an object", {"raw": b'["hi"]'}, 400, "invalid_json"),
    ("json null", {"raw": b"null"}, 400, "invalid_json"),
    ("empty body", {"raw": b""}, 400, "invalid_json"),
    ("text not a string", {"body": {"text": 42}}, 400, "invalid_type"),
    ("text is null", {"body": {"text": None}}, 400, "invalid_type"),
    ("model not a string", {"body": {"text": "hi", "model": ["smollm2-135m"]}}, 400, "invalid_type"),
    ("missing text", {"body": {"model": "minilm-l6"}}, 400, "missing_field"),
    ("extra field", {"body": {"text": "hi", "temperature": 0.7}}, 400, "unknown_field"),
    ("unknown format", {"body": {"text": "hi", "format": "npy"}}, 400, "invalid_format"),
    ("huge body", {"raw": b'{"text": "' + b"a" * 200_000 + b'"}'}, 413, "body_too_large"),
    ("text/plain", {"raw": b'{"text": "hi"}', "ctype": "text/plain"}, 415, "unsupported_media_type"),
    ("form encoded", {"raw": b"text=hi", "ctype": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
    ("invalid utf-8", {"raw": b'{"text": "caf\xe9"}'}, 400, "invalid_utf8"),
    ("lone surrogate escape", {"raw": b'{"text": "a\\ud800b"}'}, 400, "invalid_json"),
    ("NUL character", {"body": {"text": "a\x00b"}}, 422, "invalid_characters"),
    ("bell control character", {"body": {"text": "ding\x07"}}, 422, "invalid_characters"),
    ("C1 control character", {"body": {"text": "x\x85y"}}, 422, "invalid_characters"),
    ("escape character", {"body": {"text": "\x1b[31mred"}}, 422, "invalid_characters"),
]


@pytest.mark.parametrize(("kwargs", "status", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_json_error(server, kwargs, status, code):
    kwargs = dict(kwargs)
    resp = server.post(kwargs.pop("body", None), **kwargs)
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == "application/json"
    err = resp.json()["error"]
    assert err["code"] == code
    assert isinstance(err["message"], str) and len(err["message"]) > 10


def test_too_many_tokens(server):
    text = "🙂" * 100  # 100 characters, well over 128 byte-level tokens
    resp = server.post({"text": text})
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["code"] == "too_many_tokens" and "128" in err["message"]


def test_no_content_type_is_415(server):
    resp = server.request("POST", "/v1/attention", data=b'{"text": "hi"}')
    assert resp.status_code == 415 and resp.json()["error"]["code"] == "unsupported_media_type"


def test_charset_parameter_is_accepted(server):
    resp = server.post({"text": "charset"}, ctype="application/json; charset=utf-8")
    assert resp.status_code == 200


def test_wrong_method_and_unknown_path(server):
    resp = server.get("/v1/attention")
    assert resp.status_code == 405 and resp.json()["error"]["code"] == "method_not_allowed"
    assert "POST" in resp.headers["Allow"]
    resp = server.get("/v2/nothing")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("text", [
    "مرحبا بالعالم",  # Arabic, right-to-left
    "\u202eevil\u202c text",  # bidi override characters are valid text
    "a\u0300\u0301\u0302\u0303\u0304 stacked marks",
    "Z\u0351\u0352\u0357a\u0346l\u0315g\u0310o",  # zalgo
    "tab\there\nnewline\r\n",
    "\ufeffzero\u200bwidth\u200d",
    "a" * 200,  # exactly the limit
    "<|im_start|>user",  # a special token typed as text
])
@pytest.mark.parametrize("model", ["smollm2-135m", "minilm-l6"])
def test_odd_but_valid_text_works(server, text, model):
    resp = server.post({"text": text, "model": model})
    assert resp.status_code == 200, resp.text
    tokens = resp.json()["tokens"]
    for tok in tokens:
        assert 0 <= tok["start"] <= tok["end"] <= len(text)
        if tok["start"] < tok["end"]:
            assert tok["text"] == text[tok["start"]:tok["end"]]


def test_process_survives_everything(server):
    for _, kwargs, _, _ in CASES:
        kwargs = dict(kwargs)
        server.post(kwargs.pop("body", None), **kwargs)
    assert server.proc.poll() is None
    assert server.get("/healthz").status_code == 200
    assert server.post({"text": "still alive"}).status_code == 200
