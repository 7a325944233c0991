"""Issue 11 in the browser (SmolLM2, the example text): the query · key view of the selected head
and the weighting switch, checked against the service's own numbers.

- q·k view: the key with the highest score before softmax is the key with the highest weight, and
  the weights drawn are the head's attention row; hovering a query token in the head view or a row
  of the heatmap redraws it for that query with no server request.
- weighting switch: for the sink head layer 23 head 3 the heatmap drawn after switching to
  "weight × value norm" is α_ij·‖f(x_j)‖ renormalised from the service's head answer (ServiceClient),
  the first-token column drops, the legend says so, the model view's mosaic changes and the link
  keeps the switch.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.dashboard.browser import (
    HEATMAP_JS,
    head_view_point,
    heatmap_row_point,
    open_page,
    option,
    select_head,
    shot,
    view_key,
    wait_shown,
)

pytestmark = pytest.mark.browser

EXAMPLE = "The fluffy blue monster ate the cookie."
QK_JS = "document.querySelector('#qk-view .js-plotly-plot')"


def wait_qk(page, layer: int, head: int) -> None:
    page.wait_for_function(f"""([l, h]) => {{ const gd = {QK_JS};
        return gd && gd._fullLayout && gd._fullLayout.meta && gd._fullLayout.meta.view === 'qk'
               && gd._fullLayout.meta.layer === l && gd._fullLayout.meta.head === h; }}""", arg=[layer, head])


def qk_drawn(page) -> dict:
    """What the q·k view shows: its query, the bars (weights), the markers (scores), the heatmap size."""
    return page.evaluate(f"""() => {{ const gd = {QK_JS};
        return {{ query: gd._fullLayout.meta.query, weights: Array.from(gd.data[0].y),
                  scores: Array.from(gd.data[1].y), dims: gd.data[2].z.length, keys: gd.data[2].z[0].length,
                  title: gd._fullLayout.title.text }}; }}""")


def count_updates(page) -> list[str]:
    """Every Dash callback request the page sends from now on (appended as they go out)."""
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "_dash-update-component" in r.url else None)
    return sent


def test_qk_view_strongest_score_is_strongest_weight_and_hover_needs_no_request(page, dashboard_url):
    open_page(page, dashboard_url)
    select_head(page, 5, 2)
    wait_qk(page, 5, 2)
    drawn = qk_drawn(page)
    T = len(page.evaluate("() => window.headgaze.head.tokens"))
    assert drawn["keys"] == T and drawn["dims"] > 1, drawn
    scores = np.array([np.nan if s is None else s for s in drawn["scores"]], dtype=float)
    assert int(np.nanargmax(scores)) == int(np.argmax(drawn["weights"])), drawn
    row = page.evaluate("(q) => Array.from(window.headgaze.head.matrix[q])", drawn["query"])
    np.testing.assert_allclose(drawn["weights"], row, atol=2e-3)  # the model's attention row (float16 on the wire)

    sent = count_updates(page)
    targets = [i for i in range(1, T) if i != drawn["query"]][:2]
    x, y = head_view_point(page, "query", targets[0])
    page.mouse.move(x, y)
    page.wait_for_function(f"(q) => {QK_JS}._fullLayout.meta.query === q", arg=targets[0])
    x, y = heatmap_row_point(page, targets[1])
    page.mouse.move(x, y)
    page.wait_for_function(f"(q) => {QK_JS}._fullLayout.meta.query === q", arg=targets[1])
    hovered = qk_drawn(page)
    scores = np.array([np.nan if s is None else s for s in hovered["scores"]], dtype=float)
    assert np.isnan(scores[targets[1] + 1:]).all()  # a causal query sees no future key
    assert int(np.nanargmax(scores)) == int(np.argmax(hovered["weights"]))
    row = page.evaluate("(q) => Array.from(window.headgaze.head.matrix[q])", targets[1])
    np.testing.assert_allclose(hovered["weights"], row, atol=2e-3)
    assert sent == [], sent
    shot(page, "qk-view", "#qk-view")

    # The switches redraw the view on the server: for the query in focus, not the last token again.
    for group, label in (("hide-first-token", "hide first token"), ("weighting", "weight × value norm")):
        with page.expect_response(lambda r: "_dash-update-component" in r.url
                                  and "qk-view.figure" in (r.request.post_data or "")) as info:
            option(page, group, label).click()
        assert info.value.json()["response"]["qk-view"]["figure"]["layout"]["meta"]["query"] == targets[1]
        page.wait_for_function(f"(q) => {QK_JS}._fullLayout.meta.query === q", arg=targets[1])


def test_weighting_switch_draws_weight_times_value_norm_of_the_sink_head(page, dashboard_url, service):
    from headgaze.service.client import ServiceClient

    layer, head = 23, 3
    open_page(page, dashboard_url)
    select_head(page, layer, head)
    before = np.array(page.evaluate("() => window.headgaze.head.matrix.map(r => Array.from(r))"))
    grid_sum = "() => { const gd = document.querySelector('#model-view .js-plotly-plot'); const gap = gd._fullLayout.meta.gap;" \
               " let s = 0; for (const r of gd.calcdata[0][0].z) for (const v of r) if (v !== gap) s += v; return s; }"
    sum_before = page.evaluate(grid_sum)
    assert page.inner_text("#weighting-legend") == ""

    option(page, "weighting", "weight × value norm").check()
    wait_shown(page, view_key("smollm2-135m", EXAMPLE, weighting="value_norm"), (layer, head))
    page.wait_for_function(f"(s) => ({grid_sum})() !== s", arg=sum_before)
    after = np.array(page.evaluate("() => window.headgaze.head.matrix.map(r => Array.from(r))"))

    with ServiceClient(service.url) as client:
        res = client.head(EXAMPLE, "smollm2-135m", layer, head)
    alpha, norms = np.asarray(res.attention, dtype=np.float64), np.asarray(res.value_norms, dtype=np.float64)
    expected = alpha * norms[None, :]
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(before, alpha, atol=2e-3)
    np.testing.assert_allclose(after, expected, atol=2e-3)
    assert (after[1:, 0] < before[1:, 0] - 0.05).all(), (before[:, 0], after[:, 0])  # the sink fades
    assert "renormalised to sum to 1" in page.inner_text("#weighting-legend")
    assert "weight × value norm" in page.evaluate(f"() => {HEATMAP_JS}._fullLayout.meta.weighting === 'value_norm' "
                                                  f"&& {HEATMAP_JS}.data[0].colorbar.title.text")
    assert "weighting=value_norm" in page.url
    shot(page, "weighting-value-norm")
