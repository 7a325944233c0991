"""End-to-end: the real service (subprocess) + the dashboard + Chromium, driven like a user."""

from __future__ import annotations

import numpy as np
import pytest

from tests.dashboard.browser import (
    RED,
    click_process,
    grid_info,
    head_view_point,
    hover_tokens,
    open_page,
    select_model,
    shot,
    tile_point,
)

pytestmark = pytest.mark.browser

TEXT = "The fluffy blue monster ate the cookie."


def service_attention(service, text, model):
    from service.client import ServiceClient

    with ServiceClient(service.url) as c:
        return c.attention(text, model)


def test_model_head_and_hover_views(page, dashboard_url, service):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    open_page(page, dashboard_url)
    page.fill("#text-input", TEXT)
    body = click_process(page)
    ref = service_attention(service, TEXT, "smollm2-135m")
    L, H, T, _ = ref.attentions.shape
    assert (L, H) == (30, 9)

    # Model view: one heatmap, rows = layers, columns = heads, labelled.
    g = grid_info(page)
    assert g["meta"]["layers"] == L and g["meta"]["heads"] == H and g["meta"]["tokens"] == T
    assert g["yticks"] == [str(i) for i in range(L)]
    assert g["xticks"] == [str(i) for i in range(H)]
    assert (g["z_rows"], g["z_cols"]) == (L * (T + 1) - 1, H * (T + 1) - 1)
    assert page.locator("#model-view .js-plotly-plot").count() == 1
    assert page.locator("#model-view .hm image").count() == 1  # one mosaic image, not 270 plots
    assert "ms" in body["status"]["children"] and "smollm2-135m" in body["status"]["children"]
    # Both Plotly views keep the modebar's PNG download.
    assert page.locator("#model-view .modebar-btn[data-title='Download plot as a PNG']").count() == 1
    assert page.locator("#head-view .modebar-btn[data-title='Download plot as a PNG']").count() == 1
    shot(page, "01-model-view-smollm2")

    # Click the tile of layer 3, head 5 → selection, outline, head view and hover view follow.
    x, y = tile_point(page, 3, 5)
    page.mouse.click(x, y)
    page.wait_for_function("document.querySelector('#selected-head').textContent === 'layer 3 · head 5'")
    page.wait_for_function("window.headgaze.head && window.headgaze.head.layer === 3 && window.headgaze.head.head === 5")
    page.wait_for_function("""() => { const gd = document.querySelector('#head-view .js-plotly-plot');
        return gd && gd._fullLayout.meta && gd._fullLayout.meta.layer === 3 && gd._fullLayout.meta.head === 5; }""")
    page.wait_for_function("document.querySelector('#hover-view .hg-slot') && "
                           "document.querySelector('#hover-view .hg-slot').dataset.tag.endsWith('-3-5')")
    x0, y0, name = grid_info(page)["shapes"][0]
    assert name == "selected"
    assert (x0, y0) == pytest.approx((5 * (T + 1) - 0.85, 3 * (T + 1) - 0.85))  # outline on that tile
    matrix = np.array(page.evaluate("window.headgaze.head.matrix"))
    np.testing.assert_allclose(matrix, ref.attentions[3, 5], atol=1e-5)
    shot(page, "02-selected-layer3-head5")

    # Hover view: special tokens by name and styled; a real mouse hover resizes the others.
    page.locator("#hover-view").scroll_into_view_if_needed()
    toks = hover_tokens(page)
    assert [t["text"] for t in toks][0] == "<|im_start|>" and toks[0]["special"]
    assert "".join(t["text"] for t in toks if not t["special"]) == TEXT
    assert len({t["size"] for t in toks}) == 1 and not any(t["max"] for t in toks)
    n_requests = len(requests)
    q = 4  # " monster"
    el = page.locator(f"#hover-view .hg-token[data-index='{q}']")
    box = el.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("document.querySelectorAll('#hover-view .hg-token.hg-max').length === 1")
    after = hover_tokens(page)
    row = ref.attentions[3, 5, q]
    reds = [t for t in after if t["bg"] == RED]
    assert len(reds) == 1 and reds[0]["max"]
    assert reds[0]["index"] == int(np.argmax(row))
    others = [t for t in after if t["index"] != q]
    assert len({t["size"] for t in others}) > 1  # sizes changed
    for a in others:  # bigger weight → bigger token
        for b in others:
            if row[a["index"]] > row[b["index"]] + 1e-3:
                assert a["size"] > b["size"], (a, b)
    assert [(t["x"], t["y"]) for t in after] == [(t["x"], t["y"]) for t in toks]  # slots did not move
    shot(page, "03-hover-view", "#hover-view")
    assert not [r for r in requests[n_requests:] if "_dash-update-component" in r], "hover must not hit the server"

    # Head view: hovering a query token shows only its lines, weights as numbers.
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

    # Keyboard: focus the grid, arrow right, Enter → next head.
    page.focus("#model-view-wrap")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#selected-head').textContent === 'layer 3 · head 6'")

    # Switch model → grid dimensions change.
    select_model(page, "all-MiniLM-L6-v2")
    page.wait_for_function("document.querySelector('#attention-share').textContent.includes('MiniLM')")
    click_process(page)
    g2 = grid_info(page)
    ref2 = service_attention(service, TEXT, "minilm-l6")
    assert (g2["meta"]["layers"], g2["meta"]["heads"]) == (6, 12)
    assert g2["yticks"] == [str(i) for i in range(6)] and g2["xticks"] == [str(i) for i in range(12)]
    T2 = ref2.attentions.shape[2]
    assert (g2["z_rows"], g2["z_cols"]) == (6 * (T2 + 1) - 1, 12 * (T2 + 1) - 1)
    page.wait_for_function("document.querySelector('#selected-head').textContent === 'layer 3 · head 6'")
    toks2 = hover_tokens(page)
    assert toks2[0]["text"] == "[CLS]" and toks2[-1]["text"] == "[SEP]" and toks2[0]["special"]
    shot(page, "05-model-view-minilm")

    # Everything came from the dashboard itself: no CDN, no other host.
    assert requests and all(r.startswith(dashboard_url) for r in requests), \
        [r for r in requests if not r.startswith(dashboard_url)]
