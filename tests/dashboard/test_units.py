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
    assert len(fig["data"]) == 1 and fig["data"][0]["type"] == "heatmap"
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
    assert "25.0% of the weights outside the embeddings" in text and "20.0 M attention vs 60.0 M MLP" in text
    assert "25.0%" in share_text({"id": "x", "weights": {"attention_share": 0.25}})
    assert "unavailable" in share_text(None)


def test_head_payload_and_status(data):
    res = data.attention("the cat", "fake-bert")
    p = head_payload(res, 1, 4)
    assert p["tokens"][0] == {"text": "<s>", "special": True}
    np.testing.assert_allclose(np.array(p["matrix"]), res["attentions"][1, 4], atol=1e-6)
    assert clamp_selection({"layer": 9, "head": -1}, 2, 5) == {"layer": 1, "head": 0}
    assert "fake-bert" in status_text(res) and "ms" in status_text(res)
