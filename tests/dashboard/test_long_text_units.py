"""Long texts, without a browser: the pooled heatmap (block maxima, token-index axes, no Plotly hover)
and the full matrix beside it (float32, the lower triangle of a causal head), the hover view's pages
(chips keep their index in the whole text, the text between them is the text's own), the layer
view's note beyond its limit, and the progress threshold handed to the browser."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from headgaze.dashboard.views.constants import (
    HEATMAP_MAX_CELLS,
    HOVER_PAGE_TOKENS,
    LAYER_MAX_TOKENS,
    PROGRESS_AFTER_S,
    browser_config,
)
from headgaze.dashboard.views.head_view import heatmap_figure, matrix_payload, pool_max
from headgaze.dashboard.views.hover_view import (
    hover_view_children,
    page_count,
    page_of,
    page_span,
    running_text,
)
from headgaze.dashboard.views.layer_view import layer_too_long


def causal(T: int, seed: int = 0) -> np.ndarray:
    m = np.tril(np.random.default_rng(seed).random((T, T), dtype=np.float32))
    return m / m.sum(1, keepdims=True)


def decode(payload: dict) -> np.ndarray:
    """What hover_view.js rebuilds from the head-matrix store."""
    values = np.frombuffer(base64.b64decode(payload["f4"]), dtype="<f4")
    T = payload["T"]
    if not payload["tril"]:
        return values.reshape(T, T)
    out = np.zeros((T, T), dtype=np.float32)
    out[np.tril_indices(T)] = values
    return out


@pytest.mark.parametrize("T,cells", [(2048, 512), (1030, 512), (600, 512), (7, 3)])
def test_pool_max_is_the_largest_weight_of_each_block(T, cells):
    m = causal(T)
    pooled, b = pool_max(m, cells)
    assert b == -(-T // cells) and pooled.shape[0] == pooled.shape[1] == -(-T // b) <= cells
    for i, j in [(0, 0), (pooled.shape[0] - 1, 0), (pooled.shape[0] - 1, pooled.shape[0] - 1), (pooled.shape[0] // 2, 1)]:
        assert pooled[i, j] == m[i * b:(i + 1) * b, j * b:(j + 1) * b].max()
    assert pooled.max() == m.max()


def test_short_matrices_are_not_pooled():
    m = causal(HEATMAP_MAX_CELLS)
    pooled, b = pool_max(m)
    assert b == 1 and pooled is not None and np.array_equal(pooled, m)


def test_pooled_heatmap_axes_are_tokens_and_plotly_hover_is_off():
    T = 2048
    tokens = [{"text": f"t{i}"} for i in range(T)]
    fig = heatmap_figure(causal(T), tokens, layer=3, head=1)
    tr, layout = fig["data"][0], fig["layout"]
    b = T // HEATMAP_MAX_CELLS
    assert layout["meta"]["pooled"] == b and layout["meta"]["tokens"] == T
    assert tr["z"]["shape"] == f"{HEATMAP_MAX_CELLS},{HEATMAP_MAX_CELLS}" and tr["z"]["dtype"] == "f4"
    assert (tr["x0"], tr["dx"], tr["y0"], tr["dy"]) == ((b - 1) / 2, b, (b - 1) / 2, b)  # cell centres on tokens
    assert tr["hoverinfo"] == "none" and "x" not in tr and "hovertemplate" not in tr
    assert layout["xaxis"]["range"] == [-0.5, T - 0.5] and layout["yaxis"]["range"] == [T - 0.5, -0.5]
    short = heatmap_figure(causal(8), tokens[:8], layer=3, head=1)
    assert short["layout"]["meta"]["pooled"] == 1 and short["data"][0]["x"][0] == "0 t0"


def test_matrix_payload_is_the_exact_float32_matrix_and_half_of_it_for_a_causal_head():
    m = causal(300)
    p = matrix_payload(m, key="k", layer=2, head=5)
    assert p["tril"] and (p["key"], p["layer"], p["head"], p["T"]) == ("k", 2, 5, 300)
    assert np.array_equal(decode(p), m)
    assert len(base64.b64decode(p["f4"])) == 4 * 300 * 301 // 2
    full = np.random.default_rng(1).random((40, 40), dtype=np.float32)  # a bidirectional head: every weight
    q = matrix_payload(full, key="k", layer=0, head=0)
    assert not q["tril"] and np.array_equal(decode(q), full)


def tokens_of(words: list[str]) -> tuple[str, list[dict]]:
    text, toks, pos = "", [], 0
    for i, w in enumerate(words):
        piece = w if i == 0 else " " + w
        toks.append({"text": piece, "start": pos, "end": pos + len(piece), "special": False})
        text += piece
        pos += len(piece)
    return text, toks


def chips(children) -> list[tuple[int, str]]:
    return [(int(c.to_plotly_json()["props"]["data-index"]), c.children) for c in children if not isinstance(c, str)
            and "data-index" in c.to_plotly_json()["props"]]


def test_pages_cover_the_text_once_and_chips_keep_their_index():
    assert (page_count(1), page_count(HOVER_PAGE_TOKENS), page_count(HOVER_PAGE_TOKENS + 1)) == (1, 1, 2)
    assert page_span(2048, 1, 1024) == (1024, 2048) and page_span(2048, 9, 1024) == (1024, 2048)
    assert page_span(2000, 0, 1024) == (0, 1024) and page_of(1023, 1024) == 0 and page_of(1024, 1024) == 1
    text, toks = tokens_of([f"w{i}" for i in range(10)])
    pages = [running_text(text, toks, span=(a, min(10, a + 4))) for a in (0, 4, 8)]
    assert [i for p in pages for i, _ in chips(p)] == list(range(10))
    # the pages' text, joined, is the text itself: nothing lost or doubled at a page's edges
    joined = "".join(c if isinstance(c, str) else c.children for p in pages for c in p)
    assert joined == text
    assert chips(pages[1]) == [(4, "w4"), (5, "w5"), (6, "w6"), (7, "w7")]


def test_hover_view_children_say_which_tokens_they_hold_and_carry_only_their_predictions():
    T = HOVER_PAGE_TOKENS + 10
    text, toks = tokens_of([f"w{i}" for i in range(T)])
    preds = [{"top": [[f"p{i}", 0.5]], "next": None} for i in range(T)]
    box = hover_view_children(text, toks, "key", preds, page=1).to_plotly_json()["props"]
    assert (box["data-first"], box["data-end"]) == (str(HOVER_PAGE_TOKENS), str(T))
    assert [i for i, _ in chips(box["children"])] == list(range(HOVER_PAGE_TOKENS, T))
    assert f'"p{HOVER_PAGE_TOKENS}"' in box["data-predictions"] and '"p0"' not in box["data-predictions"]


def test_layer_view_beyond_its_limit_is_a_note_for_the_selected_layer():
    fig = layer_too_long(LAYER_MAX_TOKENS + 1, layer=4, selected_head=2)
    assert fig["data"] == [] and fig["layout"]["meta"]["view"] == "layer"
    assert (fig["layout"]["meta"]["layer"], fig["layout"]["meta"]["selected"]) == (4, 2)
    assert str(LAYER_MAX_TOKENS) in fig["layout"]["annotations"][0]["text"]


def test_the_progress_threshold_reaches_the_browser_from_one_place():
    # the pooled heatmap and the pages are decided on the server (layout.meta.pooled, data-first/-end)
    assert browser_config(50)["progressAfterMs"] == int(PROGRESS_AFTER_S * 1000)
