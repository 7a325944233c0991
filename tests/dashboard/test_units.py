"""Unit tests of the dashboard's pieces (no browser): figures, data access, errors.

Data access runs on the real MiniLM engine (a models dir holding only minilm-l6; ~1 s to load);
the fake backend is used only to switch the service off and on and to answer profiles on demand.
"""

from __future__ import annotations

import numpy as np
import pytest
import requests
from flask import Flask
from flask_caching import Cache

from headgaze.dashboard.about import share_text
from headgaze.dashboard.data import AttentionData, DashboardError, validate_text
from headgaze.dashboard.shown import clamp_selection, head_matrix, head_payload, status_text
from headgaze.dashboard.views.constants import FOCUS_MAX_TOKENS, FOCUS_QUERIES
from headgaze.dashboard.views.head_view import (
    focused_query,
    head_view_figure,
    heatmap_figure,
    plotly_text,
    top_k_pairs,
)
from headgaze.dashboard.views.model_view import GAP_VALUE, SCALE, model_view_figure, mosaic_u2, tile_px
from headgaze.service.analysis.grid import max_pool
from headgaze.service.common.errors import ServiceError, ServiceUnavailable
from headgaze.service.common.result import GridResult
from tests.dashboard.fakes import FakeBackend


class Counting:
    """Wraps a backend and counts its grid and head calls."""

    def __init__(self, backend):
        self.backend, self.calls, self.head_calls = backend, 0, 0

    def models(self):
        return self.backend.models()

    def attention_grid(self, text, model=None, **kw):
        self.calls += 1
        return self.backend.attention_grid(text, model, **kw)

    def head(self, text, model, layer, head, **kw):
        self.head_calls += 1
        return self.backend.head(text, model, layer, head, **kw)


def make_data(backend) -> AttentionData:
    app = Flask("t")
    cache = Cache(config={"CACHE_TYPE": "SimpleCache"})
    cache.init_app(app)
    return AttentionData(backend, cache)


@pytest.fixture
def data(minilm_engine):
    return make_data(Counting(minilm_engine))


@pytest.fixture
def fake_data():
    return make_data(FakeBackend())


def decode(spec: dict) -> np.ndarray:
    """Plotly's typed-array spec back to numpy (what plotly.js does in the browser)."""
    import base64

    dtype = {"u2": "<u2", "f4": "<f4"}[spec["dtype"]]
    shape = tuple(int(v) for v in spec["shape"].split(","))
    return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=dtype).reshape(shape)


def thumbnails(att):
    return max_pool(att)[0]


def test_the_services_thumbnails_max_pool_and_keep_a_thin_diagonal():
    """The model view draws the service's thumbnails (service/analysis/grid.py) as they are."""
    T = 100
    att = np.zeros((1, 1, T, T), dtype=np.float32)
    att[0, 0, np.arange(1, T), np.arange(T - 1)] = 0.9  # previous-token diagonal, one token wide
    att[0, 0, 0, 0] = 1.0
    thumb = thumbnails(att)[0, 0]
    assert thumb.shape == (32, 32)
    edges = (np.arange(33) * T) // 32
    for i in range(32):  # every diagonal block still holds the diagonal's weight
        assert thumb[i, i] >= 0.9 - 1e-6 or thumb[i, max(i - 1, 0)] >= 0.9 - 1e-6
        block = att[0, 0, edges[i]:edges[i + 1], edges[i]:edges[i + 1]]
        assert thumb[i, i] == pytest.approx(block.max())
    assert thumbnails(att[..., :20, :20]).shape == (1, 1, 20, 20)  # short texts: exact, no pooling
    np.testing.assert_array_equal(thumbnails(att[..., :20, :20]), att[..., :20, :20])


def test_mosaic_places_each_head_in_its_tile_with_white_gaps():
    L, H, T = 3, 4, 5
    att = np.random.default_rng(0).random((L, H, T, T)).astype(np.float32)
    z = mosaic_u2(att)
    assert z.shape == (L * (T + 1) - 1, H * (T + 1) - 1) and z.dtype == np.uint16
    for layer in range(L):
        for head in range(H):
            r, c = layer * (T + 1), head * (T + 1)
            np.testing.assert_allclose(z[r:r + T, c:c + T] / SCALE, att[layer, head], atol=1 / SCALE)
    assert (z[T, :] == GAP_VALUE).all() and (z[:, T] == GAP_VALUE).all()


def test_model_view_payload_is_bounded_and_labelled():
    import orjson

    for T in (7, 150, 512):
        att = np.full((30, 9, T, T), 1 / T, dtype=np.float32)
        thumbs, cells = max_pool(att)
        fig = model_view_figure(thumbs, cells, model="m", key="k", tokens=[f"t{i}" for i in range(T)])
        z = decode(fig["data"][0]["z"])
        c = min(T, 32)
        assert z.shape == (30 * (c + 1) - 1, 9 * (c + 1) - 1)
        assert [t["name"] for t in fig["data"]] == ["mosaic", "tags", "selected", "cursor", "knocked out"]
        assert fig["layout"]["yaxis"]["ticktext"] == [str(i) for i in range(30)]
        meta = fig["layout"]["meta"]
        assert (meta["layers"], meta["heads"], meta["tokens"], meta["cells"], meta["tile"]) == (30, 9, T, c, c + 1)
        assert meta["edges"][0] == 0 and meta["edges"][-1] == T and len(meta["edges"]) == c + 1
        size = len(orjson.dumps(fig))
        assert size < 1_000_000 + 12 * T, (T, size)  # L·H·32² cells (2 bytes) + the token labels
    # the bound holds, whatever T: 150 and 512 tokens send the same mosaic


def test_tiles_fill_the_panel_and_stay_clickable():
    assert tile_px(30, 9, {"width": 640, "height": 680}) >= 48  # SmolLM2: fill the width, scroll down
    assert tile_px(30, 9, {"width": 640, "height": 680}) * 9 <= 640
    assert tile_px(6, 12, {"width": 700, "height": 680}) >= 48  # MiniLM fits whole
    assert tile_px(6, 12, {"width": 700, "height": 680}) * 6 <= 680


def test_head_view_draws_each_querys_top_keys_and_escapes_text():
    m = np.array([[1.0, 0.0, 0.0, 0.0], [0.3, 0.7, 0.0, 0.0], [0.1, 0.2, 0.69, 0.01], [0.4, 0.3, 0.2, 0.1]],
                 dtype=np.float32)
    pairs = top_k_pairs(m, k=3, floor=0.02)
    assert sorted((q, k) for q, k, _ in pairs) == [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2),
                                                    (3, 0), (3, 1), (3, 2)]
    toks = [{"text": t, "special": False} for t in ("<b>", "x", "y", "z")]
    fig = head_view_figure(m, toks, layer=1, head=2)
    lines = [t for t in fig["data"] if t["mode"] == "lines"]
    assert sum(len(t["x"]) // 3 for t in lines) == len(pairs)
    heavy = max(lines, key=lambda t: t["opacity"])
    assert heavy["line"]["width"] > min(t["line"]["width"] for t in lines)
    labels = [t for t in fig["data"] if t.get("name") == "query"][0]["text"]
    assert labels[0] == "&lt;b&gt;" and plotly_text("a&b") == "a&amp;b"
    assert fig["layout"]["height"] >= 4 * 22
    heat = heatmap_figure(m, toks, layer=1, head=2)
    np.testing.assert_array_equal(decode(heat["data"][0]["z"]), m)
    assert heat["data"][0]["x"] == ["0 <b>", "1 x", "2 y", "3 z"]


def test_head_view_of_a_long_text_sends_every_querys_lines_for_the_focus_window():
    rng = np.random.default_rng(3)
    for T in (FOCUS_MAX_TOKENS, FOCUS_MAX_TOKENS + 1):
        m = rng.random((T, T)).astype(np.float32) ** 8
        m /= m.sum(-1, keepdims=True)
        toks = [{"text": f"t{i}", "special": i == 0} for i in range(T)]
        fig = head_view_figure(m, toks, layer=0, head=1, query=40)
        focus = fig["layout"]["meta"].get("focus")
        if T <= FOCUS_MAX_TOKENS:  # short texts: every token and every line drawn by the server, as before
            assert focus is None and len(fig["data"][-1]["text"]) == T
            continue
        assert focus["query"] == 40 and focus["queries"] == FOCUS_QUERIES
        flat = focus["pairs"]
        got = [(int(flat[i]), int(flat[i + 1]), flat[i + 2]) for i in range(0, len(flat), 3)]
        assert [(q, k) for q, k, _ in got] == [(q, k) for q, k, _ in top_k_pairs(m)]
        assert all(abs(w - m[q, k]) < 1e-4 for q, k, w in got)
        assert [t["name"] for t in fig["data"]] == ["query", "key", "gap"]  # styles only: the browser fills them
        assert all(t["text"] == [] for t in fig["data"])


def test_focused_query_is_kept_for_the_same_text_only():
    toks = [{"text": "a"}, {"text": "b"}, {"text": "c"}, {"text": "<eos>", "special": True}]
    assert focused_query(None, "k1", 4, toks) == 2  # default: the last token that is not special
    assert focused_query({"key": "k1", "query": 1}, "k1", 4, toks) == 1
    assert focused_query({"key": "k0", "query": 1}, "k1", 4, toks) == 2  # another text
    assert focused_query({"key": "k1", "query": 9}, "k1", 4, toks) == 2  # out of range


def test_layer_view_has_one_legend_entry_per_head():
    from headgaze.dashboard.views.layer_view import layer_view_figure

    att = np.random.default_rng(1).random((5, 6, 6)).astype(np.float32)
    att /= att.sum(-1, keepdims=True)
    fig = layer_view_figure(att, [{"text": str(i)} for i in range(6)], layer=2, selected_head=1)
    legend = [t for t in fig["data"] if t.get("showlegend")]
    assert [t["name"] for t in legend] == [f"head {h}" for h in range(5)]
    assert len({t["line"]["color"] for t in legend}) == 5  # distinct colours
    groups = {t.get("legendgroup") for t in fig["data"] if t["mode"] == "lines"}
    assert groups == {f"head {h}" for h in range(5)}


def test_hover_view_is_running_text_with_marked_specials():
    from headgaze.dashboard.views.hover_view import running_text

    text = "Hi there\nyou"
    toks = [{"text": "<s>", "start": 0, "end": 0, "special": True}, {"text": "Hi", "start": 0, "end": 2},
            {"text": " there", "start": 2, "end": 8}, {"text": "\n", "start": 8, "end": 9},
            {"text": "you", "start": 9, "end": 12}]
    out = running_text(text, toks)
    flat = [(c.children, c.className) if hasattr(c, "children") else c for c in out]
    assert flat == [("<s>", "hg-token hg-special"), ("Hi", "hg-token"), " ", ("there", "hg-token"),
                    ("⏎", "hg-token"), ("you", "hg-token")]
    arabic = "مرحبا بالعالم"
    toks = [{"text": "مرحبا", "start": 0, "end": 5}, {"text": " بالعالم", "start": 5, "end": 13}]
    out = running_text(arabic, toks)
    assert "".join(c.children if hasattr(c, "children") else c for c in out) == arabic


def test_validate_text_counts_code_points():
    assert validate_text("hi") == "hi"
    with pytest.raises(DashboardError, match="Type some text"):
        validate_text("   ")
    with pytest.raises(DashboardError, match="51 characters"):
        validate_text("x" * 51)
    assert validate_text("🙂" * 50) == "🙂" * 50  # 50 code points (100 UTF-16 units) pass
    with pytest.raises(DashboardError, match="must be a string"):
        validate_text({"text": "a dict from a hand-edited request"})
    with pytest.raises(DashboardError, match="51 characters; at most 50"):
        validate_text("🙂" * 51)
    assert validate_text("x" * 200, max_chars=200)
    with pytest.raises(DashboardError, match="at most 20"):
        validate_text("x" * 21, max_chars=20)


def test_grid_and_heads_are_cached_and_errors_are_translated(data, minilm_engine):
    r1 = data.grid("a b c", "minilm-l6")
    r2 = data.grid("a b c", "minilm-l6")
    assert data.backend.calls == 1 and r2["dashboard_cached"] and not r1["dashboard_cached"]
    assert [t["text"] for t in r1["tokens"]] == ["[CLS]", "a", "b", "c", "[SEP]"]
    assert r1["grid"].shape == (6, 12, 5, 5) and r1["cells"] == [[i, i + 1] for i in range(5)]
    assert "attentions" not in r1  # never every head's full matrix
    full = minilm_engine.attention("a b c", "minilm-l6").attentions
    np.testing.assert_allclose(data.head(r1, 2, 7), full[2, 7], atol=1e-6)
    np.testing.assert_allclose(data.head(r1, 2, 7), full[2, 7], atol=1e-6)
    assert data.backend.head_calls == 1  # the second time from the dashboard's cache
    np.testing.assert_allclose(data.layer(r1, 2), full[2], atol=1e-6)
    assert data.backend.head_calls == 12  # one request per head of the layer, head 7 cached
    with pytest.raises(DashboardError, match="Unknown model") as exc:
        data.grid("a", "nope")
    assert exc.value.code == "unknown_model"


def test_errors_are_translated_by_type_not_by_name():
    from headgaze.service.client import ServiceClient

    # a real client on a port nobody listens on: requests' ConnectionError → ServiceUnavailable
    down = make_data(ServiceClient("http://127.0.0.1:9", timeout=2))
    with pytest.raises(DashboardError) as exc:
        down.grid("new text", "minilm-l6")
    assert exc.value.code == "service_unavailable" and "not reachable" in exc.value.message

    class Raising:
        def __init__(self, exc):
            self.exc = exc

        def attention_grid(self, text, model=None):
            raise self.exc

    cases = [(ServiceUnavailable("busy", code="overloaded"), "service_unavailable", "not reachable"),
             (requests.Timeout("slow"), "service_unavailable", "not reachable"),
             (ServiceError(422, "too_many_tokens", "The text makes 300 tokens"), "too_many_tokens",
              "The service refused the request: The text makes 300 tokens"),
             (ValueError("boom"), "internal", "ValueError: boom")]
    for raised, code, words in cases:
        with pytest.raises(DashboardError) as exc:
            make_data(Raising(raised)).grid("x", "m")
        assert exc.value.code == code and words in exc.value.message

    class NamedLikeIt(Exception):  # a class merely *named* like the service's is not the service's
        pass

    NamedLikeIt.__name__ = "ServiceUnavailable"
    with pytest.raises(DashboardError) as exc:
        make_data(Raising(NamedLikeIt("x"))).grid("x", "m")
    assert exc.value.code == "internal"


def test_models_remembered_when_service_goes_down(fake_data):
    data = fake_data
    assert [m["id"] for m in data.models()] == ["fake-causal", "fake-bert"]
    data.backend.down = True
    assert [m["id"] for m in data.models()] == ["fake-causal", "fake-bert"]
    text = share_text(data.model_info("fake-bert"))
    assert "25.0% of the weights outside the embeddings and output heads" in text and "20.0 M attention vs 60.0 M MLP" in text
    assert "25.0%" in share_text({"id": "x", "weights": {"attention_share": 0.25}})
    assert "unavailable" in share_text(None)
    with pytest.raises(DashboardError) as exc:
        data.grid("new text", "fake-causal")
    assert exc.value.code == "service_unavailable"
    data.backend.down = False
    assert data.grid("new text", "fake-causal")["model"] == "fake-causal"


def test_head_payload_and_status(data):
    res = data.grid("the cat", "minilm-l6")
    p = head_payload(res, 1, 4)
    assert p["tokens"][0] == {"text": "[CLS]", "special": True} and p["tokens"][1] == {"text": "the", "special": False}
    assert "matrix" not in p  # sent once, as the heatmap's z
    heat = heatmap_figure(head_matrix(data, res, 1, 4), res["tokens"], layer=1, head=4)
    np.testing.assert_array_equal(decode(heat["data"][0]["z"]), data.head(res, 1, 4))
    assert clamp_selection({"layer": 9, "head": -1}, 2, 5) == {"layer": 1, "head": 0}
    assert status_text(res).startswith("minilm-l6 · 4 tokens · 6×12 heads · ") and " ms" in status_text(res)


# -- head analysis: hide-first-token, tags, CSV, URL state --------------------------------------

def test_hide_first_token_renormalises_rows_and_zeroes_sink_only_rows():
    from headgaze.dashboard.heads import hide_first_token

    causal = np.tril(np.ones((4, 4), dtype=np.float32))
    causal /= causal.sum(-1, keepdims=True)
    out = hide_first_token(causal)
    assert (out[:, 0] == 0).all()
    np.testing.assert_array_equal(out[0], 0)  # row 0 only saw token 0: zeros, not NaN
    np.testing.assert_allclose(out[1:].sum(-1), 1, atol=1e-6)
    np.testing.assert_allclose(out[3], [0, 1 / 3, 1 / 3, 1 / 3], atol=1e-6)
    sink = np.array([[0.9, 0.06, 0.04], [1.0, 0.0, 0.0], [0.5, 0.1, 0.4]], dtype=np.float32)
    out = hide_first_token(sink[None, None])[0, 0]  # works on [L,H,T,T] too
    np.testing.assert_allclose(out, [[0, 0.6, 0.4], [0, 0, 0], [0, 0.2, 0.8]], atol=1e-6)
    assert np.isfinite(out).all() and sink[0, 0] == np.float32(0.9)  # input untouched
    # The argmax of a renormalised row is the largest non-sink key.
    assert int(np.argmax(out[2])) == 2 and int(np.argmax(sink[2])) == 0


def test_tag_counts_and_tagged_heads():
    from headgaze.dashboard.heads import TAGS, tag_counts, tagged_heads

    tags = [[["first-token"], []], [["first-token", "focused"], ["self"]]]
    counts = tag_counts(tags)
    assert set(counts) == set(TAGS)
    assert (counts["first-token"], counts["focused"], counts["self"], counts["broad"]) == (2, 1, 1, 0)
    assert tagged_heads(tags, "first-token") == [(0, 0), (1, 0)]
    assert tagged_heads(None, "self") == []


def test_matrix_csv_has_token_headers_and_the_values():
    import csv
    import io

    from headgaze.dashboard.heads import matrix_csv

    m = np.array([[1.0, 0.0], [0.25, 0.75]])
    rows = list(csv.reader(io.StringIO(matrix_csv(m, ["a,b", ' "q"']))))
    assert rows[0] == ["query \\ key", "a,b", ' "q"']
    assert [r[0] for r in rows[1:]] == ["a,b", ' "q"']
    np.testing.assert_allclose(np.array([r[1:] for r in rows[1:]], dtype=float), m)


def test_dim_shapes_and_badges_follow_the_tags():
    from headgaze.dashboard.head_panels import tag_note
    from headgaze.dashboard.views.model_view import badge_points, dim_shapes

    tags = [[["first-token"], []], [["self"], ["first-token", "broad"]]]
    fig = model_view_figure(np.full((2, 2, 3, 3), 1 / 3, dtype=np.float32), [[0, 1], [1, 2], [2, 3]], model="m", key="k", tokens=list("abc"),
                            tags=tags, tag_filter="first-token")
    assert sorted(s["name"] for s in fig["layout"]["shapes"]) == ["dim-0-1", "dim-1-0"]
    assert dim_shapes(tags, None, 3) == [] and dim_shapes(None, "self", 3) == []
    badges = badge_points(tags, 3)
    assert fig["data"][1]["x"] == badges["x"]
    assert len(badges["x"]) == 3 and badges["text"][-1] == "layer 1 · head 1: first-token, broad"
    s = 4  # tile size for 3 tokens
    for x, y, (layer, head) in zip(badges["x"], badges["y"], [(0, 0), (1, 0), (1, 1)], strict=True):
        assert head * s - 0.5 < x < head * s + 2.5 and layer * s - 0.5 < y < layer * s + 2.5  # inside its tile
    assert tag_note(tags, "first-token", "text", 4) == "Showing the 2 of 4 heads tagged first-token in this text."
    assert tag_note(None, "", "profile", 4) == "The model profile is not available for this model."


def test_parse_view_query_restores_and_sanitises():
    from headgaze.dashboard.view_query import parse_view_query

    ids = ["smollm2-135m", "minilm-l6"]
    v = parse_view_query("?model=minilm-l6&text=Hi+there%21&layer=3&head=5&tag=sink&tags=profile&hide_first=1"
                         "&weighting=value_norm", ids)
    assert v == {"text": "Hi there!", "model": "minilm-l6", "layer": 3, "head": 5, "tag": "sink",
                 "source": "profile", "hide_first": True, "weighting": "value_norm"}
    v = parse_view_query("?model=evil&text=" + "x" * 80 + "&layer=-2&head=abc&tag=<b>&tags=zzz&weighting=x", ids)
    assert v["weighting"] == "attention"
    assert v["model"] is None and len(v["text"]) == 50 and (v["layer"], v["head"]) == (0, 0)
    assert len(parse_view_query("?text=" + "x" * 80, ids, max_chars=70)["text"]) == 70
    assert (v["tag"], v["source"], v["hide_first"]) == ("", "text", False)
    assert parse_view_query("", ids) is None and parse_view_query("?model=minilm-l6", ids) is None


def test_head_payload_applies_hide_first_token(data):
    res = data.grid("one two three", "minilm-l6")
    assert not head_payload(res, 1, 2)["hide_first"] and head_payload(res, 1, 2, hide_first=["hide"])["hide_first"]
    m, r = head_matrix(data, res, 1, 2, ["hide"]).astype(np.float64), data.head(res, 1, 2).astype(np.float64)
    assert (m[:, 0] == 0).all()
    np.testing.assert_allclose(m.sum(-1), 1, atol=1e-5)  # bidirectional: every row keeps other keys
    np.testing.assert_allclose(m[:, 1:], r[:, 1:] / r[:, 1:].sum(-1, keepdims=True), atol=1e-5)


def known_attention(T: int = 5) -> np.ndarray:
    """[1, 2, T, T] causal weights with hand-known scores: head 0 looks at the previous token
    (row 0 at itself), head 1 spreads evenly over the keys each row may see."""
    prev = np.zeros((T, T), dtype=np.float32)
    prev[0, 0] = 1
    prev[np.arange(1, T), np.arange(T - 1)] = 1
    even = np.tril(np.ones((T, T), dtype=np.float32))
    even /= even.sum(-1, keepdims=True)
    return np.stack([prev, even])[None]


class Fixed:
    """A backend that answers one fixed GridResult."""

    def __init__(self, result):
        self.result = result

    def models(self):
        return [{"id": "m", "causal": False}]

    def attention_grid(self, text, model=None):
        return self.result


def test_heads_stats_are_the_backends_without_per_query_arrays():
    sent = {"scores": {"previous": [[0.123, 0.456]]}, "tags": [[["self"], []]], "max_weight": [[[1.0]]],
            "argmax": [[[0]]], "thresholds": {}}
    T = 5
    tokens = [{"text": f"t{i}", "id": i, "start": i, "end": i + 1, "special": False} for i in range(T)]
    grid, cells = max_pool(known_attention(T))
    d = make_data(Fixed(GridResult("m", tokens, grid, cells, 1, 2, sent, {}, False)))
    res = d.grid("x", "m")
    assert "max_weight" not in res["service_stats"] and "argmax" not in res["service_stats"]
    stats = d.heads_stats(res)
    # the backend's numbers, not a recomputation (the weights would give previous = 1.0 and other tags)
    assert stats["scores"] == {"previous": [[0.123, 0.456]]} and stats["tags"] == [[["self"], []]]
    assert stats["causal"] is False
    d = make_data(Fixed(GridResult("m", tokens, grid, cells, 1, 2, {}, {}, False)))
    assert d.heads_stats(d.grid("x", "m")) is None  # nothing sent: no guess


def test_minilm_is_bidirectional_in_the_stats(data):
    from headgaze.dashboard.heads import head_summary

    res = data.grid("one two three", "minilm-l6")
    stats = data.heads_stats(res)
    assert stats["causal"] is False and len(stats["tags"]) == 6 and len(stats["tags"][0]) == 12
    s = head_summary(stats, None, 2, 1)
    a = data.head(res, 2, 1).astype(np.float64)
    assert s["text_scores"]["next"] == pytest.approx(np.mean(np.diagonal(a, 1)), abs=1e-4)
    assert s["text_scores"]["first"] == pytest.approx(a[:, 0].mean(), abs=1e-4)
    assert s["profile_tags"] is None and "first-token" in s["thresholds"]


def test_heads_profile_is_fetched_once_and_failures_are_remembered():
    app = Flask("t")
    cache = Cache(config={"CACHE_TYPE": "SimpleCache"})
    cache.init_app(app)

    class WithProfile(FakeBackend):
        def __init__(self, answer):
            super().__init__()
            self.answer, self.profile_calls = answer, 0

        def heads_profile(self, model):
            self.profile_calls += 1
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

    with app.app_context():
        for answer, expected in [({"tags": [[["self"]]], "tag_counts": {"self": 1}}, {"tags": [[["self"]]], "tag_counts": {"self": 1}}),
                                 (ServiceError(404, "no_profile", "none"), None), (ServiceUnavailable("down"), None)]:
            cache.clear()
            backend = WithProfile(answer)
            d = AttentionData(backend, cache)
            assert d.heads_profile("fake-causal") == expected
            assert d.heads_profile("fake-causal") == expected
            assert backend.profile_calls == 1


def test_dashboard_refuses_a_shared_pickling_cache():
    """flask-caching pickles; only in-process caches are allowed in the dashboard (issue 6: no pickle on input)."""
    import pytest

    from headgaze.dashboard.app import create_app

    with pytest.raises(ValueError, match="CACHE_TYPE must be one of SimpleCache, NullCache"):
        create_app(service_url="http://127.0.0.1:9", cache_config={"CACHE_TYPE": "RedisCache"})
    app = create_app(service_url="http://127.0.0.1:9", cache_config={"CACHE_TYPE": "NullCache"}, max_chars=300)
    assert app.headgaze_data.max_chars == 300
    with pytest.raises(ValueError, match="max_chars must be >= 1"):
        create_app(service_url="http://127.0.0.1:9", max_chars=0)


def test_hidden_grid_is_pooled_after_hiding_and_shares_the_heads(data, minilm_engine):
    from headgaze.dashboard.heads import hide_first_token

    raw = data.grid("one two three", "minilm-l6")
    hidden = data.grid("one two three", "minilm-l6", hide_first=True)
    full = minilm_engine.attention("one two three", "minilm-l6").attentions
    np.testing.assert_allclose(hidden["grid"], hide_first_token(full), atol=1e-6)
    assert hidden["key"] == raw["key"] and data.backend.calls == 2  # one request each, heads cached under one key
    assert data.grid("one two three", "minilm-l6", hide_first=True)["dashboard_cached"]
