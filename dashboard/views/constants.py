"""Constants shared by the views' Python and browser code, defined once here.

The browser gets them through :func:`browser_config` (the page's ``hg-config`` store and each
figure's ``layout.meta``), never by writing them a second time in JavaScript.
"""

from __future__ import annotations

FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}
COLORSCALE = "Viridis"  # perceptually uniform and colour-blind safe
SELECT_COLOR = "#ff1744"  # outline of the selected tile
CURSOR_COLOR = "#ffffff"  # dotted outline of the keyboard cursor
BADGE_COLOR = "#ffbf47"  # dot on a tagged head
DIM_FILL = "rgba(255,255,255,0.78)"  # veil over heads without the filtered tag
LINE_COLOR = "#e4572e"  # head view lines
SPECIAL_COLOR = "#7a4fbf"  # special tokens
QK_SCORE_COLOR = "#1d2433"  # q·k view: scores before softmax
# q·k view: products per dimension, diverging around 0 (blue negative, red positive; ColorBrewer RdBu)
QK_COLORSCALE = [[0.0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"], [1.0, "#b2182b"]]
INK = "#1d2433"
ANSWER_COLOR = "#00a6a6"  # a generated answer: its tokens' labels and the line where it starts
KNOCKOUT_COLOR = "#b2182b"  # knocked-out heads: the mark on their tiles
KNOCKOUT_CAPTION = ("Zero ablation: the knocked-out heads write nothing. Each bar is how much less (red) or more likely "
                    "that token becomes without them, given the tokens before it (for an encoder: how similar each token's final state "
                    "stays). It measures what the output loses, not whether the model needs the head: another head may "
                    "make up for it, and a zero is a value the model never saw in training.")
# the knock-out strip: Δ log-prob diverging around 0 (red: the heads helped predict the token; ColorBrewer RdBu)
KNOCKOUT_COLORSCALE = [[0.0, "#b2182b"], [0.25, "#ef8a62"], [0.5, "#f7f7f7"], [0.75, "#67a9cf"], [1.0, "#2166ac"]]

DEFAULT_MAX_CHARS = 50  # the page's character limit (create_app(max_chars=...) changes it)
GAP = 1  # empty cells between tiles
TILE_MIN_PX = 48  # smallest tile on screen; the panel scrolls when the grid is taller
TILE_MAX_PX = 120
TOP_K = 3  # head and layer views draw each query's TOP_K strongest keys
MIN_LINE_WEIGHT = 0.02  # ... and none weaker than this
TOKEN_ROW_PX = 22  # head view: vertical space per token
# Head view of a long text: beyond FOCUS_MAX_TOKENS tokens it draws a focus window of FOCUS_QUERIES
# queries (with the keys their lines reach), moved from the heatmap or the hover view; drawing every
# token's label took Plotly ~250 ms at 512 tokens and made a column of 1,024 labels nobody reads.
FOCUS_MAX_TOKENS = 96
FOCUS_QUERIES = 16
# Heatmap of a long text: beyond HEATMAP_MAX_CELLS tokens it is drawn max-pooled to at most this many cells
# a side (each cell the largest weight of a block of queries × keys); the hover still names the exact
# (query, key) and its weight, read from the full matrix kept in the browser (head_view.js).
HEATMAP_MAX_CELLS = 512
# Layer view: every head of the layer, every token; beyond LAYER_MAX_TOKENS it says so instead (at 2,048
# tokens it would fetch 9 full matrices and draw 4,096 labels and 55,000 lines).
LAYER_MAX_TOKENS = 512
# Hover view: beyond HOVER_PAGE_TOKENS tokens the running text is shown a page of HOVER_PAGE_TOKENS tokens
# at a time (previous / next), so a hover shades one page's chips, not 2,048.
HOVER_PAGE_TOKENS = 1024
# A Process (or switch) running longer than this shows "running the model… n s" (assets/progress.js).
PROGRESS_AFTER_S = 1.0
HOVER_EM = (0.6, 1.9)  # hover view: font size range (em) for weight 0 → the row's maximum
# Hover view: the strongest token is the only red one (it is also the page's --hg-red); every other
# token is shaded in blue (ColorBrewer RdBu's #2166ac), its alpha following the weight, so that no
# tint of it can be taken for the strongest.
HOVER_MAX_COLOR = "#d7191c"
HOVER_SHADE_RGB = (33, 102, 172)
HOVER_SHADE_ALPHA = (0.06, 0.55)  # alpha for weight 0 → the row's maximum
# Distinct colours for the heads of the layer view (Plotly's Dark24 cycle: up to 24 heads apart).
HEAD_COLORS = ["#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#222A2A", "#B68100", "#750D86",
               "#EB663B", "#511CFB", "#00A08B", "#FB00D1", "#FC0080", "#B2828D", "#6C7C32", "#778AAE",
               "#862A16", "#A777F1", "#620042", "#1616A7", "#DA60CA", "#6C4516", "#0D2A63", "#AF0038"]


def browser_config(max_chars: int) -> dict:
    """What the page's scripts need, handed over once in the ``hg-config`` store."""
    return {"maxChars": max_chars, "selectColor": SELECT_COLOR, "cursorColor": CURSOR_COLOR,
            "hoverEm": list(HOVER_EM), "lineColor": LINE_COLOR, "topK": TOP_K, "ink": INK,
            "specialColor": SPECIAL_COLOR, "focusMaxTokens": FOCUS_MAX_TOKENS, "focusQueries": FOCUS_QUERIES,
            "rowPx": TOKEN_ROW_PX, "hoverShade": ",".join(map(str, HOVER_SHADE_RGB)),
            "hoverAlpha": list(HOVER_SHADE_ALPHA), "answerColor": ANSWER_COLOR,
            "knockoutColor": KNOCKOUT_COLOR, "progressAfterMs": int(PROGRESS_AFTER_S * 1000)}


def badge_xy(layer: int, head: int, tile: int, cells: int) -> tuple[float, float]:
    """The badge's place: near the top-right corner inside the tile (data coordinates)."""
    return head * tile + cells - 1 - 0.1 * cells, layer * tile + 0.1 * cells
