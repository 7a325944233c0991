"""The rule that keeps a late answer from being drawn (dashboard/callbacks_grid.py): every output a
view reads has exactly one server callback writing it, so that Dash's own dropping of a superseded
answer covers it. A second writer (as the redraw on hide first token once was, issue 17) fails here
before any browser test has to catch the race it opens."""

from __future__ import annotations

import re
from collections import defaultdict

from tests.dashboard.fakes import FakeBackend

# What the views draw or read. The model view's figure also takes the browser's own synchronous
# patches (the outline from clientside `outline`, the keyboard cursor from model_view.js): those
# run in the page at once, never answer late, and read the grid's geometry from result-meta.
SINGLE_WRITER = ("model-view.figure", "result-meta.data", "head-data.data", "head-base.data", "head-heatmap.figure",
                 "layer-view.figure", "qk-view.figure", "qk-data.data", "hover-view.children", "download-csv.data",
                 "tag-note.children", "tag-counts.children", "selected-head.children", "head-matrix.data",
                 "hover-page.data", "hover-page-note.children")


def writers() -> dict[str, list[tuple[str, bool]]]:
    """output → [(the callback's outputs, runs in the browser)] of a real app's callbacks."""
    from headgaze.dashboard.app import create_app

    app = create_app(engine=FakeBackend())
    found = defaultdict(list)
    for cb in app._callback_list:
        for out in re.findall(r"([\w-]+\.[\w-]+)(?:@\w+)?", cb["output"]):
            found[out].append((cb["output"], bool(cb.get("clientside_function"))))
    return found


def test_every_output_the_views_read_has_one_server_writer():
    found = writers()
    for out in SINGLE_WRITER:
        server = [o for o, clientside in found[out] if not clientside]
        assert len(server) == 1, (out, server)
    assert [c for _, c in found["model-view.figure"]] == [False, True]  # the grid callback, the outline
    # the grid callback writes the figure and what it shows together, in one answer
    grid = [o for o, c in found["model-view.figure"] if not c][0]
    assert "result-meta.data" in grid and "status.children" in grid
    # a long text's full matrix comes in the same answer as its pooled heatmap (never one without the other)
    head = [o for o, c in found["head-heatmap.figure"] if not c][0]
    assert "head-matrix.data" in head and "head-data.data" in head
