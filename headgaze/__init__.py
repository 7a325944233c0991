"""headgaze: look inside the attention heads of a language model.

One import name for everything: `headgaze.export` (a model into ONNX with every attention exposed),
`headgaze.service` (the onnxruntime attention service and its client), `headgaze.dashboard` (the Dash
app). From Python or a notebook:

    import headgaze
    res = headgaze.attention("The fluffy blue monster ate the cookie.")   # in process, an AttentionResult
    headgaze.show(res)                                                    # the dashboard, inline
    fig = headgaze.figures.model_view(res)                                # the Plotly figures themselves

`import headgaze` stays light: onnxruntime, torch and dash load only when a call needs them.
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"
__all__ = ["attention", "attention_grid", "head", "generate", "ablate", "show", "figures", "engine", "__version__"]

_NOTEBOOK = ("attention", "attention_grid", "head", "generate", "ablate", "show", "engine")


def __getattr__(name: str):
    """The notebook calls (headgaze/notebook.py) and `figures`, imported on first use."""
    if name in _NOTEBOOK:
        return getattr(import_module("headgaze.notebook"), name)
    if name == "figures":
        return import_module("headgaze.figures")
    raise AttributeError(f"module 'headgaze' has no attribute {name!r}")
