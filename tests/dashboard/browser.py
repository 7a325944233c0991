"""Browser helpers shared by the dashboard tests and tests/bench/browser_bench.py.

Launching Debian's Chromium through Playwright, and page actions that wait on what the page shows
(never on sleeps). Ports and the WSGI server thread come from tests/support/net.py.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from headgaze.dashboard.views.constants import HOVER_MAX_COLOR, HOVER_PAGE_TOKENS, HOVER_SHADE_RGB
from tests.support.net import ServerThread, free_port  # noqa: F401 - re-exported for the browser tests

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
RED = "rgb({}, {}, {})".format(*bytes.fromhex(HOVER_MAX_COLOR[1:]))  # the hover view's strongest token, computed
SHADE = "rgba({}, {}, {}".format(*HOVER_SHADE_RGB)  # ... and every other token's shade (its alpha follows)
# HEADGAZE_BROWSER_CPU_THROTTLE=4: every test page runs 4x slower (`make test-stability`)
CPU_THROTTLE = float(os.environ.get("HEADGAZE_BROWSER_CPU_THROTTLE") or 1)


def launch_chromium(executable: str = "/usr/bin/chromium"):
    pw = sync_playwright().start()
    br = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    return pw, br


def new_page(browser: Browser, width: int = 1440, height: int = 900, bypass_csp: bool = True):
    """A fresh context and page; ``problems`` collects console errors and page exceptions.

    Playwright's ``wait_for_function`` evaluates its predicate with eval inside the page, which the
    dashboard's Content-Security-Policy forbids; functional tests therefore bypass CSP, and
    test_csp.py drives the page under the real policy without it.
    """
    ctx = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=bypass_csp)
    pg = ctx.new_page()
    problems: list[str] = []
    # Failed loads are reported by URL below (the console message does not name it); the host
    # app of the embedding test has no favicon, which is not the dashboard's concern.
    pg.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}")
          if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    pg.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}")
          if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    pg.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    pg.set_default_timeout(30_000)
    if CPU_THROTTLE > 1:  # slow the page's main thread N-fold (DevTools emulation) to shake out races
        ctx.new_cdp_session(pg).send("Emulation.setCPUThrottlingRate", {"rate": CPU_THROTTLE})
    return ctx, pg, problems


GRID_JS = "document.querySelector('#model-view .js-plotly-plot')"

# What every view shows, by the key it was drawn for (dashboard/shown.py): the grid's view key, each
# head-level figure's {key, layer, head}, the head data hover_view.js and head_view.js use, the hover
# view's running text (the tokens [first, end) of its page), and whether a Process is running.
DRAWN_JS = """() => {
  const meta = (id) => { const gd = document.querySelector('#' + id + ' .js-plotly-plot');
                         return (gd && gd._fullLayout && gd._fullLayout.meta) || null; };
  const pick = (m) => m && m.key ? { key: m.key, layer: m.layer, head: m.view === 'layer' ? m.selected : m.head } : null;
  const grid = meta('model-view'), hd = window.headgaze && window.headgaze.head;
  const box = document.querySelector('#hover-view [data-text]');
  return { grid: (grid && grid.key) || null, grid_image: !!document.querySelector('#model-view .hm image'),
           head_view: pick(meta('head-view')), heatmap: pick(meta('head-heatmap')), layer_view: pick(meta('layer-view')),
           qk_view: pick(meta('qk-view')), head: hd ? { key: hd.key, layer: hd.layer, head: hd.head } : null,
           hover_text: box ? box.getAttribute('data-text') : null,
           hover_tokens: document.querySelectorAll('#hover-view .hg-token').length, head_tokens: hd ? hd.tokens.length : -1,
           hover_span: box ? [+box.getAttribute('data-first'), +box.getAttribute('data-end')] : null,
           selected_head: document.querySelector('#selected-head').textContent,
           busy: document.querySelector('#process-button').classList.contains('hg-busy'),
           status: document.querySelector('#status').textContent,
           status_error: /hg-error/.test(document.querySelector('#status').className) }; }"""
HEAD_VIEWS = ("head_view", "heatmap", "layer_view", "qk_view")
# True when the grid shows `key` (drawn) and every head-level view shows that key and the one head
# of window.headgaze.head (or `want` = [layer, head] when given), and no Process is running.
SHOWN_JS = f"""([key, want]) => {{ const s = ({DRAWN_JS})(), h = s.head;
  if (s.busy || s.grid !== key || !s.grid_image || !h || h.key !== key || s.hover_text !== key || !s.hover_span
      || s.hover_tokens !== s.hover_span[1] - s.hover_span[0] || s.hover_span[1] > s.head_tokens
      || (s.head_tokens <= {HOVER_PAGE_TOKENS} && s.hover_tokens !== s.head_tokens)) {{ return false; }}
  if (want && (h.layer !== want[0] || h.head !== want[1])) {{ return false; }}
  return {list(HEAD_VIEWS)}.every((v) => s[v] && s[v].key === key && s[v].layer === h.layer && s[v].head === h.head); }}"""


def view_key(model: str, text: str, hide_first: bool = False, weighting: str = "attention") -> str:
    """The key the page's views carry for this text, model and switches (dashboard/shown.py)."""
    from headgaze.dashboard.data import AttentionData
    from headgaze.dashboard.shown import view_key as key_of

    return key_of(AttentionData.key(model, text), hide_first, weighting)


def drawn(page: Page) -> dict:
    """What every view shows (see DRAWN_JS)."""
    return page.evaluate(DRAWN_JS)


def wait_shown(page: Page, key: str, head: tuple[int, int] | None = None) -> None:
    """Wait until the grid is drawn for the view ``key`` and every view of the selected head (head view,
    heatmap, layer and q·k views, hover view) shows that key and one head (``head`` when given)."""
    try:
        page.wait_for_function(SHOWN_JS, arg=[key, list(head) if head else None])
    except PlaywrightTimeout:  # say what the page shows instead, for the failure's report
        raise AssertionError(f"views never showed {key} {head or ''}; they show {dumps(drawn(page))}") from None


def wait_views_follow(page: Page) -> None:
    """Whatever the grid shows now, wait until every view of the selected head shows the same (the
    callbacks that follow the grid have answered), so the next action does not race them; a page
    whose Process failed before any grid was drawn only waits for the error to be shown."""
    page.wait_for_function(f"""() => {{ const s = ({DRAWN_JS})();
        return !s.busy && (s.grid ? ({SHOWN_JS})([s.grid, null]) : s.status_error); }}""")


def open_page(page: Page, url: str) -> None:
    """Open the page and wait until the example text (or a copied link's view), processed on load, is
    drawn in every view, or its error is shown."""
    page.goto(url)
    page.wait_for_selector("#process-button")
    # Dash has wired the callbacks once the counter shows the example's length.
    page.wait_for_function("document.querySelector('#char-counter').textContent.includes('/')")
    wait_views_follow(page)


def is_process_response(response) -> bool:
    """The response of the grid callback (Process, a model change, a switch): it is the one whose
    outputs include ``result-meta.data`` (no other callback writes it)."""
    return callback_of(response, "result-meta.data") is not None


def callback_of(response_or_request, output: str) -> dict | None:
    """The Dash callback request body (output, inputs, state) when it is a request for ``output``."""
    request = getattr(response_or_request, "request", response_or_request)
    if "_dash-update-component" not in request.url:
        return None
    try:
        body = json.loads(request.post_data or "{}")
    except ValueError:
        return None
    return body if output in str(body.get("output", "")) else None


def select_model(page: Page, label: str) -> None:
    """Choose a model in the dropdown through the UI (open it, click the option with ``label``); a
    model change processes the current text again: wait until that answer is drawn."""
    if label in page.inner_text("#model-select"):
        return
    page.click("#model-select")
    with page.expect_response(is_process_response) as info:
        page.locator("#model-select .VirtualizedSelectOption", has_text=label).first.click()
    page.wait_for_function("(t) => document.querySelector('#model-select').textContent.includes(t)", arg=label)
    wait_drawn(page, info.value.json()["response"])


def click_process(page: Page) -> dict:
    """Click Process; wait until the answer is drawn. Returns the callback's JSON response."""
    with page.expect_response(is_process_response) as info:
        page.click("#process-button")
    body = info.value.json()["response"]
    wait_drawn(page, body)
    return body


def wait_drawn(page: Page, body: dict) -> None:
    """Wait until the grid callback's answer ``body`` is what the page shows: its view key in every
    view, or (an answer that draws nothing) its error in the status line."""
    meta = body.get("result-meta", {}).get("data")
    if meta:
        wait_shown(page, meta["key"])
        return
    page.wait_for_function("(s) => { const el = document.querySelector('#status');"
                           " return el.textContent === s && !document.querySelector('#process-button').classList.contains('hg-busy'); }",
                           arg=body["status"]["children"])


def grid_info(page: Page) -> dict:
    """What the model view shows: its meta, tick labels, heatmap size, veils and the outlines."""
    return page.evaluate(f"""() => {{ const gd = {GRID_JS}; const fl = gd._fullLayout;
        const box = (name) => {{ const t = gd.data.find(d => d.name === name);
            return t && t.x.length ? [Math.min(...t.x), Math.min(...t.y)] : null; }};
        return {{ meta: fl.meta,
                  xticks: Array.from(gd.querySelectorAll('.xtick text')).map(t => t.textContent),
                  yticks: Array.from(gd.querySelectorAll('.ytick text')).map(t => t.textContent),
                  z_rows: gd.calcdata[0][0].z.length, z_cols: gd.calcdata[0][0].z[0].length,
                  shapes: (fl.shapes || []).map(s => [s.x0, s.y0, s.name]),
                  selected: box('selected'), cursor: box('cursor'),
                  tile_px: fl.xaxis.l2p(fl.meta.tile) - fl.xaxis.l2p(0) }}; }}""")


def tile_point(page: Page, layer: int, head: int) -> tuple[float, float]:
    """Viewport coordinates of the centre of one tile of the model view (scrolled into its panel)."""
    js = f"""([layer, head]) => {{ const gd = {GRID_JS}; const fl = gd._fullLayout;
        const s = fl.meta.tile, c = fl.meta.cells; const r = gd.getBoundingClientRect();
        const x = r.left + fl.xaxis._offset + fl.xaxis.l2p(head * s + (c - 1) / 2);
        const y = r.top + fl.yaxis._offset + fl.yaxis.l2p(layer * s + (c - 1) / 2);
        return [x, y]; }}"""
    x, y = page.evaluate(js, [layer, head])
    top, bottom = page.evaluate("() => { const r = document.querySelector('#model-view-wrap').getBoundingClientRect();"
                                " return [Math.max(r.top, 0), Math.min(r.bottom, window.innerHeight)]; }")
    if not top + 20 < y < bottom - 20:  # scroll the tile into the panel's view first
        page.evaluate("(dy) => { document.querySelector('#model-view-wrap').scrollTop += dy; }", y - (top + bottom) / 2)
        x, y = page.evaluate(js, [layer, head])
    return x, y


HEAD_VIEW_JS = "document.querySelector('#head-view .js-plotly-plot')"
HEATMAP_JS = "document.querySelector('#head-heatmap .js-plotly-plot')"


def head_view_row(page: Page, index: int) -> int | None:
    """The head view's row of token ``index`` (a long text's focus window: None when not drawn)."""
    return page.evaluate(f"""(i) => {{ const rows = {HEAD_VIEW_JS}._fullLayout.meta.rows;
        if (!rows) {{ return i; }} const r = rows.indexOf(i); return r < 0 ? null : r; }}""", index)


def head_view_point(page: Page, side: str, index: int) -> tuple[float, float]:
    """Viewport coordinates of a token marker in the head view (side 'query' or 'key'); in a long text's
    focus window the token must be drawn (see :func:`focus_on`)."""
    row = head_view_row(page, index)
    assert row is not None, f"token {index} is not in the head view's focus window"
    return tuple(page.evaluate("""([side, r]) => { const gd = document.querySelector('#head-view .js-plotly-plot');
        const fl = gd._fullLayout; const b = gd.getBoundingClientRect();
        const x = b.left + fl.xaxis._offset + fl.xaxis.l2p(side === 'query' ? 0 : 1);
        const y = b.top + fl.yaxis._offset + fl.yaxis.l2p(-r);
        return [x, y]; }""", [side, row]))


def heatmap_row_point(page: Page, row: int) -> tuple[float, float]:
    """Viewport coordinates of query row ``row`` of the heatmap, halfway across."""
    return tuple(page.evaluate(f"""(i) => {{ const gd = {HEATMAP_JS}; const fl = gd._fullLayout;
        const r = gd.getBoundingClientRect();
        return [r.left + fl.xaxis._offset + fl.xaxis._length / 2, r.top + fl.yaxis._offset + fl.yaxis.l2p(i)]; }}""", row))


def focus_on(page: Page, query: int) -> None:
    """Make the head view draw query ``query``: in a long text's focus window, hover a neighbouring
    heatmap row (so that the q·k view does not show ``query`` yet) and wait until the window holds it
    (a short text draws every token: nothing to do)."""
    window = f"(q) => {{ const w = {HEAD_VIEW_JS}._fullLayout.meta.window; return !w || (w[0] <= q && q <= w[1]); }}"
    if page.evaluate(window, query):
        return
    T = page.evaluate(f"{HEAD_VIEW_JS}._fullLayout.meta.tokens")
    page.locator("#head-heatmap").scroll_into_view_if_needed()
    x, y = heatmap_row_point(page, query + 1 if query + 1 < T else query - 1)
    page.mouse.move(x, y)
    page.wait_for_function(window, arg=query)


def hover_tokens(page: Page) -> list[dict]:
    """The hover view's tokens: text, scale, shade (background alpha), classes, layout position."""
    return page.evaluate(r"""() => Array.from(document.querySelectorAll('#hover-view .hg-token')).map(el => {
        const bg = getComputedStyle(el).backgroundColor, m = /scale\(([0-9.]+)\)/.exec(el.style.transform || '');
        const alpha = /rgba\([^)]*,\s*([0-9.]+)\)/.exec(el.style.backgroundColor || '');
        return { index: +el.dataset.index, text: el.textContent, scale: m ? +m[1] : 1, shade: alpha ? +alpha[1] : 0,
                 max: el.classList.contains('hg-max'), special: el.classList.contains('hg-special'),
                 hovered: el.classList.contains('hg-hovered'), bg: bg, x: el.offsetLeft, y: el.offsetTop }; })""")


def hover_text(page: Page) -> str:
    """The hover view's running text without its special tokens (what the user typed)."""
    return page.evaluate("""() => { const box = document.querySelector('#hover-view [data-text]').cloneNode(true);
        box.querySelectorAll('.hg-special').forEach(el => el.remove()); return box.textContent; }""")


def shot(page: Page, name: str, selector: str | None = None) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if selector:
        page.locator(selector).screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)
    return path


def dumps(obj) -> str:
    return json.dumps(obj, indent=1, default=str)[:2000]


def option(page, group: str, label: str):
    """The radio/checkbox input of a Dash RadioItems/Checklist option, found by its label."""
    return page.locator(f"#{group} label").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")).locator("input")


def dimmed(page) -> set[tuple[int, int]]:
    names = page.evaluate(f"() => ({GRID_JS}._fullLayout.shapes || []).map(s => s.name)")
    return {tuple(int(v) for v in n.split("-")[1:]) for n in names if n and n.startswith("dim-")}


def badge_count(page) -> int:
    return page.evaluate(f"() => {GRID_JS}.data[1].x.length")


def all_heads(L, H):
    return {(layer, head) for layer in range(L) for head in range(H)}


def carrying(tags, tag):
    return {(layer, head) for layer, row in enumerate(tags) for head, ts in enumerate(row) if tag in ts}


def wait_dims(page, n: int) -> None:
    page.wait_for_function(f"""(n) => {{ const gd = {GRID_JS};
        return gd && gd._fullLayout && gd._fullLayout.meta && gd._fullLayout.meta.key === window.headgaze.head.key
               && (gd._fullLayout.shapes || []).filter(s => s.name && s.name.startsWith('dim-')).length === n; }}""",
                           arg=n)


def select_head(page, layer: int, head: int) -> None:
    """Click the tile of (layer, head) and wait until every view of the head shows it."""
    x, y = tile_point(page, layer, head)
    page.mouse.click(x, y)
    page.wait_for_function(f"() => ({DRAWN_JS})().grid !== null")
    wait_shown(page, drawn(page)["grid"], (layer, head))
