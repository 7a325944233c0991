"""End-to-end: the real service (subprocess) + the dashboard + Chromium, driven like a user."""

from __future__ import annotations

import numpy as np
import pytest

from tests.dashboard.browser import (
    GRID_JS,
    RED,
    SHADE,
    click_process,
    grid_info,
    head_view_point,
    hover_text,
    hover_tokens,
    open_page,
    select_model,
    shot,
    tile_point,
    view_key,
    wait_shown,
)

pytestmark = pytest.mark.browser

TEXT = "The fluffy blue monster ate the cookie."


def service_attention(service, text, model):
    from headgaze.service.client import ServiceClient

    with ServiceClient(service.url) as c:
        return c.attention(text, model)


def test_model_head_and_hover_views(page, dashboard_url, service):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    open_page(page, dashboard_url)  # the example text is processed on load
    assert page.input_value("#text-input") == TEXT and " ms" in page.inner_text("#status")
    page.fill("#text-input", TEXT)
    body = click_process(page)
    ref = service_attention(service, TEXT, "smollm2-135m")
    L, H, T, _ = ref.attentions.shape
    assert (L, H) == (30, 9)

    # Model view: one heatmap, rows = layers, columns = heads, labelled; short text: exact tiles.
    g = grid_info(page)
    assert g["meta"]["layers"] == L and g["meta"]["heads"] == H and g["meta"]["tokens"] == T
    assert g["meta"]["cells"] == T  # fewer than 32 tokens: one cell per weight, no pooling
    assert g["yticks"] == [str(i) for i in range(L)]
    assert g["xticks"] == [str(i) for i in range(H)]
    assert (g["z_rows"], g["z_cols"]) == (L * (T + 1) - 1, H * (T + 1) - 1)
    assert g["tile_px"] >= 48, g["tile_px"]  # the promise in README: SmolLM2 tiles of at least 48 px
    assert page.locator("#model-view .js-plotly-plot").count() == 1
    assert page.locator("#model-view .hm image").count() == 1  # one mosaic image, not 270 plots
    assert body["status"]["children"].startswith("smollm2-135m · ")
    # Both Plotly views keep the modebar's PNG download; the model view zooms and pans.
    assert page.locator("#model-view .modebar-btn[data-title='Download plot as a PNG']").count() == 1
    assert page.locator("#head-view .modebar-btn[data-title='Download plot as a PNG']").count() == 1
    assert page.locator("#model-view .modebar-btn[data-title='Pan']").count() == 1
    shot(page, "01-model-view-smollm2")

    # Hover a tile cell: layer, head, query and key tokens and the weight.
    x, y = tile_point(page, 3, 5)
    page.mouse.move(x, y)
    tip = page.locator("#grid-tooltip")
    tip.wait_for(state="visible")
    c = (T - 1) // 2
    tokens = [t["text"] for t in ref.tokens]
    assert tip.inner_text().split("\n") == ["layer 3 · head 5", f"query “{tokens[c]}”",
                                             f"→ key “{tokens[c]}”",
                                             f"weight {ref.attentions[3, 5, c, c]:.3f}"]

    # Click the tile of layer 3, head 5 → selection, outline, head view, heatmap, layer and hover views.
    page.mouse.click(x, y)
    wait_shown(page, view_key("smollm2-135m", TEXT), (3, 5))  # every view of the head, this text's key
    assert page.inner_text("#selected-head") == "layer 3 · head 5"
    s = T + 1
    assert grid_info(page)["selected"] == pytest.approx([5 * s - 0.85, 3 * s - 0.85])  # outline on that tile
    matrix = np.array(page.evaluate("window.headgaze.head.matrix"))
    np.testing.assert_allclose(matrix, ref.attentions[3, 5], atol=1e-5)
    heat = np.array(page.evaluate("() => Array.from(document.querySelector('#head-heatmap .js-plotly-plot')"
                                  ".calcdata[0][0].z, r => Array.from(r))"))
    np.testing.assert_allclose(heat, ref.attentions[3, 5], atol=1e-6)
    in_view = page.evaluate("""() => ['model-view', 'head-view'].map(id => {
        const r = document.getElementById(id).getBoundingClientRect();
        return r.top >= 0 && r.left >= 0 && r.top < window.innerHeight - 100 && r.right <= window.innerWidth; })""")
    assert in_view == [True, True], in_view
    shot(page, "02-selected-layer3-head5")
    n_requests = len(requests)

    # Hover view: running text, special tokens by name and marked; a hover shades the others.
    toks = hover_tokens(page)
    assert toks[0]["text"] == "The" and not toks[0]["special"]  # SmolLM2 adds no BOS (its GGUF says so)
    assert hover_text(page) == TEXT
    assert not any(t["max"] for t in toks)
    q = 3  # " monster"
    assert toks[q]["text"] == "monster"
    el = page.locator(f"#hover-view .hg-token[data-index='{q}']")
    box = el.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("document.querySelectorAll('#hover-view .hg-token.hg-max').length === 1")
    after = hover_tokens(page)
    row = ref.attentions[3, 5, q]
    reds = [t for t in after if t["bg"] == RED]
    assert len(reds) == 1 and reds[0]["max"]
    assert reds[0]["index"] == int(np.argmax(row))
    others = [t for t in after if t["index"] not in (q, reds[0]["index"])]
    # exactly one red: every other token is shaded in the other hue (the hovered one is outlined)
    assert others and all(t["bg"].startswith(SHADE) for t in others), [t["bg"] for t in others]
    for a in others:  # bigger weight → stronger shade and a larger token
        for b in others:
            if row[a["index"]] > row[b["index"]] + 1e-3:
                assert a["shade"] > b["shade"] and a["scale"] > b["scale"], (a, b)
    assert [(t["x"], t["y"]) for t in after] == [(t["x"], t["y"]) for t in toks]  # the text did not move
    shot(page, "03-hover-view", "#hover-view")

    # Head view: hovering a query token shows all its lines, weights as numbers.
    page.locator("#head-view").scroll_into_view_if_needed()
    hx, hy = head_view_point(page, "query", q)
    page.mouse.move(hx, hy)
    page.wait_for_function("""(q) => { const gd = document.querySelector('#head-view .js-plotly-plot');
        return gd._fullLayout.meta.hovered === q; }""", arg=q)
    lines = page.evaluate("""() => document.querySelector('#head-view .js-plotly-plot').data
        .filter(t => t.mode === 'lines').map(t => t.y)""")
    assert lines and all(yy[0] == -q for yy in lines)
    assert len(lines) == int((row > 0).sum())
    numbers = page.evaluate("""() => document.querySelector('#head-view .js-plotly-plot').data
        .filter(t => t.name === 'weights')[0].text""")
    best = int(np.argmax(row))
    assert f"{row[best]:.2f}".lstrip("0") in numbers
    shot(page, "04-head-view-hover", "#head-view")
    assert not [r for r in requests[n_requests:] if "_dash-update-component" in r], "hover must not hit the server"

    # Keyboard: focus the grid, arrow right, Enter → next head.
    page.focus("#model-view-wrap")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => {{ const t = {GRID_JS}.data.find(d => d.name === 'cursor'); return t.x.length === 5; }}")
    page.keyboard.press("Enter")
    wait_shown(page, view_key("smollm2-135m", TEXT), (3, 6))

    # Switch model → the text is processed again at once and the grid's dimensions change; the
    # panels do not move.
    panels = page.evaluate("() => ['.hg-model-panel', '.hg-head-panel'].map(s => "
                           "JSON.stringify(document.querySelector(s).getBoundingClientRect()))")
    select_model(page, "all-MiniLM-L6-v2")  # waits for the text processed again with MiniLM
    g2 = grid_info(page)
    ref2 = service_attention(service, TEXT, "minilm-l6")
    assert (g2["meta"]["layers"], g2["meta"]["heads"]) == (6, 12)
    assert g2["yticks"] == [str(i) for i in range(6)] and g2["xticks"] == [str(i) for i in range(12)]
    T2 = ref2.attentions.shape[2]
    assert (g2["z_rows"], g2["z_cols"]) == (6 * (T2 + 1) - 1, 12 * (T2 + 1) - 1)
    assert page.evaluate("() => ['.hg-model-panel', '.hg-head-panel'].map(s => "
                         "JSON.stringify(document.querySelector(s).getBoundingClientRect()))") == panels
    wait_shown(page, view_key("minilm-l6", TEXT), (3, 6))
    toks2 = hover_tokens(page)
    assert toks2[0]["text"] == "[CLS]" and toks2[-1]["text"] == "[SEP]" and toks2[0]["special"]
    shot(page, "05-model-view-minilm")

    # Everything came from the dashboard itself: no CDN, no other host.
    assert requests and all(r.startswith(dashboard_url) for r in requests), \
        [r for r in requests if not r.startswith(dashboard_url)]
