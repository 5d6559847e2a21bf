"""Interactive explorers: move an LSTM's weights, an RNN's weight scale, and watch what happens.

    compute   plain functions (weights in, gate traces and gradient norms out), tested without Jupyter
    plots     the figures, built once and updated in place
    widgets   ipywidgets that wire sliders to ``compute`` and show ``plots``

``compute`` and ``plots`` import no ipywidgets, so they work (and are tested) anywhere.
"""

from . import compute, plots

__all__ = ["compute", "plots", "LSTMExplorer", "RNNExplorer", "ConnectivityExplorer"]


def __getattr__(name):
    # The widgets (and ipywidgets) load only when an explorer is asked for.
    if name in ("LSTMExplorer", "RNNExplorer", "ConnectivityExplorer"):
        from . import widgets

        return getattr(widgets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
