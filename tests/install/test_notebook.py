"""headgaze in a real notebook, executed by nbclient on a real ipykernel: `headgaze.attention` in
process (the arrays' shapes), `headgaze.figures.model_view` (a figure with L×H tiles), and
`headgaze.show` (the dashboard inline: an iframe in the cell's output whose page answers)."""

from __future__ import annotations

import json

import nbformat
import pytest
import requests
from nbclient import NotebookClient

from tests.support.net import free_port

CELLS = [
    """import headgaze, json
res = headgaze.attention("The fluffy blue monster ate the cookie.", model="minilm-l6", models_dir=MODELS)
print(json.dumps({"shape": list(res.attentions.shape), "tokens": len(res.tokens), "text": res.text}))""",
    """fig = headgaze.figures.model_view(res)
meta = fig.layout.meta
print(json.dumps({"layers": meta["layers"], "heads": meta["heads"], "traces": len(fig.data),
                  "mosaic": fig.data[0].type, "head": headgaze.figures.head_view(res, 2, 3).layout.meta["head"]}))""",
    """app = headgaze.show(res, models_dir=MODELS, port=PORT)""",
]


@pytest.mark.slow
def test_a_notebook_runs_attention_figures_and_the_inline_dashboard(models_dir, tmp_path):
    port = free_port()
    setup = f"MODELS = {json.dumps(str(models_dir))}\nPORT = {port}"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup), *map(nbformat.v4.new_code_cell, CELLS)])
    client = NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        client.execute_cell(nb.cells[0], 0)
        for i in range(1, len(nb.cells)):
            client.execute_cell(nb.cells[i], i)
        arrays = json.loads(nb.cells[1].outputs[0]["text"])
        assert arrays["shape"][:2] == [6, 12] and arrays["shape"][2] == arrays["shape"][3] == arrays["tokens"]
        assert arrays["text"] == "The fluffy blue monster ate the cookie."
        figure = json.loads(nb.cells[2].outputs[0]["text"])
        assert (figure["layers"], figure["heads"], figure["mosaic"], figure["head"]) == (6, 12, "heatmap", 3)
        html = json.dumps([o.get("data", {}) for o in nb.cells[3].outputs])
        assert "<iframe" in html and f":{port}" in html, html[:500]
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=30)  # the kernel serves the inline dashboard
        assert page.status_code == 200 and "_dash-config" in page.text
        layout = requests.get(f"http://127.0.0.1:{port}/_dash-layout", timeout=30).text
        assert "The fluffy blue monster ate the cookie." in layout and "minilm-l6" in layout
