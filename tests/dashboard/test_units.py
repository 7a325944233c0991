"""Unit tests of the dashboard's pieces (no browser, no model): figures, data access, errors."""

from __future__ import annotations

import numpy as np
import pytest
from flask import Flask
from flask_caching import Cache

from dashboard.about import share_text
from dashboard.callbacks import clamp_selection, head_payload, status_text
from dashboard.data import AttentionData, DashboardError, validate_text
from dashboard.figures import head_view_figure, model_view_figure, mosaic, plotly_text
from tests.dashboard.fakes import FakeBackend


@pytest.fixture
def data():
    app = Flask("t")
    cache = Cache(config={"CACHE_TYPE": "SimpleCache"})
    cache.init_app(app)
    with app.app_context():
        yield AttentionData(FakeBackend(), cache)


def test_mosaic_places_each_head_in_its_tile():
    L, H, T = 3, 4, 5
    att = np.arange(L * H * T * T, dtype=np.float32).reshape(L, H, T, T)
    z = mosaic(att)
    assert z.shape == (L * (T + 1) - 1, H * (T + 1) - 1)
    for layer in range(L):
        for head in range(H):
            r, c = layer * (T + 1), head * (T + 1)
            np.testing.assert_array_equal(z[r:r + T, c:c + T], att[layer, head])
    assert np.isnan(z[T, :]).all() and np.isnan(z[:, T]).all()  # gaps


def test_model_view_is_one_heatmap_with_labels():
    att = np.full((30, 9, 7, 7), 1 / 7, dtype=np.float32)
    fig = model_view_figure(att, model="m", key="k", layer=3, head=5)
    # one mosaic heatmap + one scatter trace of tag badges (empty without tags)
    assert [t["type"] for t in fig["data"]] == ["heatmap", "scatter"] and fig["data"][1]["x"] == []
    assert fig["data"][0]["colorscale"] == "Viridis" and (fig["data"][0]["zmin"], fig["data"][0]["zmax"]) == (0, 1)
    assert fig["layout"]["yaxis"]["ticktext"] == [str(i) for i in range(30)]
    assert fig["layout"]["xaxis"]["ticktext"] == [str(i) for i in range(9)]
    assert fig["layout"]["meta"] == {"model": "m", "key": "k", "layers": 30, "heads": 9, "tokens": 7, "tile": 8}
    assert fig["layout"]["shapes"][0]["x0"] == pytest.approx(5 * 8 - 0.85)


def test_head_view_lines_follow_weights_and_escape_text():
    m = np.array([[1.0, 0.0], [0.3, 0.7]], dtype=np.float32)
    toks = [{"text": "<b>", "special": False}, {"text": "x", "special": False}]
    fig = head_view_figure(m, toks, layer=1, head=2)
    lines = [t for t in fig["data"] if t["mode"] == "lines"]
    n_segments = sum(len(t["x"]) // 3 for t in lines)
    assert n_segments == 3  # the zero weight is not drawn
    heavy = max(lines, key=lambda t: t["opacity"])
    assert heavy["line"]["width"] > min(t["line"]["width"] for t in lines)
    labels = [t for t in fig["data"] if t.get("name") == "query"][0]["text"]
    assert labels[0] == "&lt;b&gt;" and plotly_text("a&b") == "a&amp;b"


def test_validate_text():
    assert validate_text("hi") == "hi"
    with pytest.raises(DashboardError, match="Type some text"):
        validate_text("   ")
    with pytest.raises(DashboardError, match="51 characters"):
        validate_text("x" * 51)


def test_attention_is_cached_and_errors_are_translated(data):
    backend = data.backend
    r1 = data.attention("a b c", "fake-causal")
    r2 = data.attention("a b c", "fake-causal")
    assert backend.calls == 1 and r2["dashboard_cached"] and not r1["dashboard_cached"]
    assert r1["attentions"].shape == (4, 3, 4, 4)
    with pytest.raises(DashboardError, match="Unknown model"):
        data.attention("a", "nope")
    backend.down = True
    with pytest.raises(DashboardError) as exc:
        data.attention("new text", "fake-causal")
    assert exc.value.code == "service_unavailable" and "not reachable" in exc.value.message
    backend.down = False
    assert data.attention("new text", "fake-causal")["model"] == "fake-causal"


def test_models_remembered_when_service_goes_down(data):
    assert [m["id"] for m in data.models()] == ["fake-causal", "fake-bert"]
    data.backend.down = True
    assert [m["id"] for m in data.models()] == ["fake-causal", "fake-bert"]
    text = share_text(data.model_info("fake-bert"))
    assert "25.0% of the weights outside the embeddings and output heads" in text and "20.0 M attention vs 60.0 M MLP" in text
    assert "25.0%" in share_text({"id": "x", "weights": {"attention_share": 0.25}})
    assert "unavailable" in share_text(None)


def test_head_payload_and_status(data):
    res = data.attention("the cat", "fake-bert")
    p = head_payload(res, 1, 4)
    assert p["tokens"][0] == {"text": "<s>", "special": True}
    np.testing.assert_allclose(np.array(p["matrix"]), res["attentions"][1, 4], atol=1e-6)
    assert clamp_selection({"layer": 9, "head": -1}, 2, 5) == {"layer": 1, "head": 0}
    assert "fake-bert" in status_text(res) and "ms" in status_text(res)


# -- head analysis: hide-first-token, tags, CSV, URL state --------------------------------------

def test_hide_first_token_renormalises_rows_and_zeroes_sink_only_rows():
    from dashboard.heads import hide_first_token

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
    from dashboard.heads import TAGS, tag_counts, tagged_heads

    tags = [[["first-token"], []], [["first-token", "focused"], ["self"]]]
    counts = tag_counts(tags)
    assert set(counts) == set(TAGS)
    assert (counts["first-token"], counts["focused"], counts["self"], counts["broad"]) == (2, 1, 1, 0)
    assert tagged_heads(tags, "first-token") == [(0, 0), (1, 0)]
    assert tagged_heads(None, "self") == []


def test_matrix_csv_has_token_headers_and_the_values():
    import csv
    import io

    from dashboard.heads import matrix_csv

    m = np.array([[1.0, 0.0], [0.25, 0.75]])
    rows = list(csv.reader(io.StringIO(matrix_csv(m, ["a,b", ' "q"']))))
    assert rows[0] == ["query \\ key", "a,b", ' "q"']
    assert [r[0] for r in rows[1:]] == ["a,b", ' "q"']
    np.testing.assert_allclose(np.array([r[1:] for r in rows[1:]], dtype=float), m)


def test_dim_shapes_and_badges_follow_the_tags():
    from dashboard.figures import badge_trace, dim_shapes

    tags = [[["first-token"], []], [["self"], ["first-token", "broad"]]]
    fig = model_view_figure(np.full((2, 2, 3, 3), 1 / 3, dtype=np.float32), model="m", key="k", layer=0, head=0,
                            tags=tags, tag_filter="first-token")
    dims = [s["name"] for s in fig["layout"]["shapes"] if s["name"].startswith("dim-")]
    assert sorted(dims) == ["dim-0-1", "dim-1-0"]
    assert fig["layout"]["shapes"][0]["name"] == "selected"
    assert dim_shapes(tags, None, 3) == [] and dim_shapes(None, "self", 3) == []
    badges = badge_trace(tags, 3)
    assert len(badges["x"]) == 3 and badges["text"][-1] == "layer 1 · head 1: first-token, broad"
    s = 4  # tile size for 3 tokens
    for x, y, (layer, head) in zip(badges["x"], badges["y"], [(0, 0), (1, 0), (1, 1)], strict=True):
        assert head * s - 0.5 < x < head * s + 2.5 and layer * s - 0.5 < y < layer * s + 2.5  # inside its tile


def test_parse_view_query_restores_and_sanitises():
    from dashboard.callbacks import parse_view_query

    ids = ["smollm2-135m", "minilm-l6"]
    v = parse_view_query("?model=minilm-l6&text=Hi+there%21&layer=3&head=5&tag=self&tags=profile&hide_first=1", ids)
    assert v == {"text": "Hi there!", "model": "minilm-l6", "layer": 3, "head": 5, "tag": "self",
                 "source": "profile", "hide_first": True}
    v = parse_view_query("?model=evil&text=" + "x" * 80 + "&layer=-2&head=abc&tag=<b>&tags=zzz", ids)
    assert v["model"] is None and len(v["text"]) == 50 and (v["layer"], v["head"]) == (0, 0)
    assert (v["tag"], v["source"], v["hide_first"]) == ("", "text", False)
    assert parse_view_query("", ids) is None and parse_view_query("?model=minilm-l6", ids) is None


def test_head_payload_applies_hide_first_token(data):
    res = data.attention("one two three", "fake-causal")
    raw = head_payload(res, 1, 2)
    hidden = head_payload(res, 1, 2, hide_first=["hide"])
    assert not raw["hide_first"] and hidden["hide_first"]
    m = np.array(hidden["matrix"])
    assert (m[:, 0] == 0).all() and (m[0] == 0).all()
    np.testing.assert_allclose(m[1:].sum(-1), 1, atol=1e-5)


def test_heads_stats_and_summary_from_the_data_layer(data):
    from dashboard.heads import head_summary, heads_stats

    res = data.attention("one two three", "fake-causal")
    stats = data.heads_stats(res)
    assert stats["tags"] == heads_stats(res["attentions"], True)["tags"]
    assert data.heads_stats(res) is not None and data.heads_profile("fake-causal") is None  # fake has no profile
    s = head_summary(stats, None, 2, 1)
    assert s["profile_tags"] is None and s["text_scores"]["next"] is None  # causal: no next-token score
    assert 0 <= s["text_scores"]["entropy"] <= 1 and "first-token" in s["thresholds"]


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

    from tests.dashboard.fakes import FakeError, ServiceUnavailable

    with app.app_context():
        for answer, expected in [({"tags": [[["self"]]], "tag_counts": {"self": 1}}, {"tags": [[["self"]]], "tag_counts": {"self": 1}}),
                                 (FakeError(404, "no_profile", "none"), None), (ServiceUnavailable(), None)]:
            cache.clear()
            backend = WithProfile(answer)
            d = AttentionData(backend, cache)
            assert d.heads_profile("fake-causal") == expected
            assert d.heads_profile("fake-causal") == expected
            assert backend.profile_calls == 1


def test_dashboard_refuses_a_shared_pickling_cache():
    """flask-caching pickles; only in-process caches are allowed in the dashboard (issue 6: no pickle on input)."""
    import pytest

    from dashboard.app import create_app

    with pytest.raises(ValueError, match="CACHE_TYPE must be one of SimpleCache, NullCache"):
        create_app(service_url="http://127.0.0.1:9", cache_config={"CACHE_TYPE": "RedisCache"})
    app = create_app(service_url="http://127.0.0.1:9", cache_config={"CACHE_TYPE": "NullCache"})
    assert app.headgaze_data is not None
