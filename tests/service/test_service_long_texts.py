"""Long texts through real HTTP: 512-token prose on both models, grid thumbnails (max-pooled), one head's
matrix from the recent-results store (no second model run), the full-detail bound, bad layer/head values.

Every response is validated against the served /openapi.json by the `server` fixture.
"""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from headgaze.service.client import ServiceClient
from headgaze.service.common.result import GridResult, HeadResult
from headgaze.service.runtime.tokens import load_tokenizer
from tests.support.prose import prose_of_tokens

LAYERS_HEADS = {"smollm2-135m": (30, 9), "minilm-l6": (6, 12)}
MAX_TOKENS = 512  # the service's default --max-tokens (MiniLM's own limit too)
MAX_FULL_TOKENS = 128  # the default --max-full-tokens


def prose(models_dir, model: str, n: int) -> str:
    text = prose_of_tokens(load_tokenizer(models_dir / model / "tokenizer.json"), n)
    assert len(text) <= 4000  # the default --max-chars
    return text


def array(obj: dict) -> np.ndarray:
    assert obj["dtype"] == "float16" and obj["encoding"] == "base64"
    return np.frombuffer(base64.b64decode(obj["data"]), "<f2").reshape(obj["shape"])


def model_runs(server, model: str) -> float:
    m = re.search(rf'^headgaze_model_runs_total{{model="{model}"}} (\S+)$', server.get("/metrics").text, re.M)
    return float(m.group(1)) if m else 0.0


def head_request(server, **body):
    return server.request("POST", "/v1/attention/head", json=body)


def check_cells(cells: list[list[int]], n: int) -> list[tuple[int, int]]:
    """min(n, 32) contiguous [start, end) blocks covering 0..n whose lengths differ by at most one."""
    blocks = [(int(a), int(b)) for a, b in cells]
    assert len(blocks) == min(n, 32) and blocks[0][0] == 0 and blocks[-1][1] == n
    assert all(prev[1] == nxt[0] for prev, nxt in zip(blocks, blocks[1:], strict=False))
    assert {b - a for a, b in blocks} <= {n // len(blocks), -(-n // len(blocks))}
    return blocks


def independent_pool(att: np.ndarray, blocks: list[tuple[int, int]]) -> np.ndarray:
    """Max over each block of query × key tokens, by explicit loops (not the service's reduceat)."""
    out = np.empty(att.shape[:-2] + (len(blocks), len(blocks)), att.dtype)
    for i, (q0, q1) in enumerate(blocks):
        for j, (k0, k1) in enumerate(blocks):
            out[..., i, j] = att[..., q0:q1, k0:k1].max(axis=(-1, -2))
    return out


@pytest.mark.parametrize("model", ["minilm-l6", "smollm2-135m"])
def test_512_token_prose_grid_then_head_runs_the_model_once(server, models_dir, model):
    text = prose(models_dir, model, MAX_TOKENS)
    runs0 = model_runs(server, model)
    resp = server.post({"text": text, "model": model, "detail": "grid"})
    assert resp.status_code == 200, resp.text[:300]
    body = resp.json()
    layers, heads = LAYERS_HEADS[model]
    assert len(body["tokens"]) == MAX_TOKENS and "attentions" not in body
    grid = array(body["grid"])
    assert grid.shape == (layers, heads, 32, 32) and body["grid"]["pool"] == "max"
    assert len(body["heads_stats"]["max_weight"][0][0]) == MAX_TOKENS
    assert model_runs(server, model) == runs0 + 1

    layer, head = layers - 1, heads // 2
    one = head_request(server, text=text, model=model, layer=layer, head=head)
    assert one.status_code == 200, one.text[:300]
    hb = one.json()
    assert hb["cached"] is True and (hb["layer"], hb["head"]) == (layer, head) and hb["tokens"] == body["tokens"]
    matrix = array(hb["attention"])
    assert matrix.shape == (MAX_TOKENS, MAX_TOKENS)
    np.testing.assert_allclose(matrix.astype(np.float32).sum(-1), 1.0, atol=2e-2)
    assert model_runs(server, model) == runs0 + 1  # the head came from the recent-results store

    blocks = check_cells(body["grid"]["cells"], MAX_TOKENS)
    np.testing.assert_array_equal(grid[layer, head], independent_pool(matrix, blocks))
    full_bytes = layers * heads * MAX_TOKENS**2 * 2 * 4 / 3  # base64 float16 of every head's matrix
    assert len(resp.content) < full_bytes / 20 and len(one.content) < 1_000_000


def test_grid_is_the_max_pool_of_the_full_attentions(server, models_dir):
    """100 tokens: full detail is still allowed, and 100 = 3·32 + 4 makes blocks of 3 and 4 tokens."""
    text = prose(models_dir, "smollm2-135m", 100)
    full = server.post({"text": text, "model": "smollm2-135m"}).json()
    grid = server.post({"text": text, "model": "smollm2-135m", "detail": "grid"}).json()
    att = array(full["attentions"])
    blocks = check_cells(grid["grid"]["cells"], 100)
    assert {b - a for a, b in blocks} == {3, 4}
    np.testing.assert_array_equal(array(grid["grid"]), independent_pool(att, blocks))
    assert grid["heads_stats"] == full["heads_stats"] and grid["cached"] is True


def test_short_text_grid_has_one_cell_per_token(server):
    body = server.post({"text": "Hi there", "model": "minilm-l6", "detail": "grid"}, params={"format": "json"}).json()
    t = len(body["tokens"])
    assert body["grid"]["shape"] == [6, 12, t, t] and body["grid"]["dtype"] == "float32"
    assert body["grid"]["cells"] == [[i, i + 1] for i in range(t)]


def test_head_equals_the_full_matrix(server):
    text = "The head endpoint returns one slice of the full array."
    full = server.post({"text": text}, params={"format": "json"}).json()
    one = head_request(server, text=text, layer=3, head=7, format="json").json()
    assert one["model"] == "smollm2-135m" and one["attention"]["dtype"] == "float32"
    assert one["attention"]["data"] == full["attentions"]["data"][3][7]


def test_full_detail_above_the_bound_is_a_clear_422(server, models_dir):
    text = prose(models_dir, "smollm2-135m", MAX_FULL_TOKENS + 1)
    for detail in ({}, {"detail": "full"}):
        resp = server.post({"text": text, "model": "smollm2-135m", **detail})
        assert resp.status_code == 422
        err = resp.json()["error"]
        assert err["code"] == "full_detail_too_large"
        assert "129 tokens" in err["message"] and "grid" in err["message"] and "/v1/attention/head" in err["message"]
    assert server.post({"text": text, "model": "smollm2-135m", "detail": "thumbs"}).json()["error"]["code"] == \
        "invalid_detail"


@pytest.mark.parametrize(("layer", "head", "status", "code"), [
    (30, 0, 422, "invalid_layer"), (-1, 0, 422, "invalid_layer"), (0, 9, 422, "invalid_head"),
    ("1", 0, 400, "invalid_type"), (True, 0, 400, "invalid_type"), (0, 1.5, 400, "invalid_type"),
])
def test_bad_layer_or_head(server, layer, head, status, code):
    resp = head_request(server, text="bad head", model="smollm2-135m", layer=layer, head=head)
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code
    if status == 422:
        assert "0 to 29" in err["message"] or "0 to 8" in err["message"]


def test_head_request_field_errors(server):
    assert head_request(server, text="x", layer=0).json()["error"]["code"] == "missing_field"
    assert head_request(server, text="x", layer=0, head=0, detail="grid").json()["error"]["code"] == "unknown_field"
    assert head_request(server, text="x", model="nope", layer=0, head=0).json()["error"]["code"] == "unknown_model"
    assert head_request(server, text="", layer=0, head=0).json()["error"]["code"] == "empty_text"


def test_client_grid_and_head(server):
    client = ServiceClient(server.url)
    text = "The client decodes grids and heads."
    grid = client.attention_grid(text, "minilm-l6")
    assert isinstance(grid, GridResult) and grid.grid.dtype == np.float32
    t = len(grid.tokens)
    assert grid.grid.shape == (6, 12, t, t) and grid.cells == [[i, i + 1] for i in range(t)]
    one = client.head(text, "minilm-l6", 5, 11)
    assert isinstance(one, HeadResult) and one.cached and one.attention.shape == (t, t)
    np.testing.assert_array_equal(grid.grid[5, 11], one.attention)  # t <= 32: one token per cell


def test_engine_grid_and_head(minilm_dir):
    from headgaze.service.common.errors import ServiceError
    from headgaze.service.runtime.engine import Engine

    engine = Engine(minilm_dir, warmup=False)
    text = "In process, the same results."
    grid = engine.attention_grid(text, "minilm-l6")
    one = engine.head(text, "minilm-l6", 2, 3)
    assert one.cached and not grid.cached
    np.testing.assert_array_equal(grid.grid[2, 3], one.attention)
    full = engine.attention(text, "minilm-l6").attentions
    np.testing.assert_array_equal(full[2, 3], one.attention)
    assert set(grid.heads_stats) == {"scores", "max_weight", "argmax", "tags", "thresholds"}
    with pytest.raises(ServiceError) as exc:
        engine.head(text, "minilm-l6", 6, 0)
    assert exc.value.code == "invalid_layer"
