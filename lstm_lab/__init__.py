"""lstm_lab: recurrent networks from scratch in PyTorch, matching torch.nn exactly.

    errors     input checks in torch's wording (ShapeError)
    gates      the gates' names, one table (GATES, GATE_WORDS)
    cells      one step: rnn_cell, lstm_cell, gru_cell (+ *_trace with every gate); the teaching forms,
               each step's equations beside its derivative, input_projection and the slopes
    loop       a layer step by step under autograd (the teaching form), the RNN's layer
    lstm_function, gru_function  one layer, fast (forward in buffers, backward by hand), held to the
               teaching form by tests; layer_forward picks each layer's path
    runners    sequences: a layer over a sequence, stacked and bidirectional, variable lengths
    modules    RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell: drop-in twins of torch.nn's
    layouts    per-gate <-> fused weights, and other courses' gate orders
    fixtures   the fixed 3x3 X, the seed-001 weights and the golden numbers
    parity     twins(...) and assert_matches_torch: the one check, for tests and notebooks, that a
               model matches torch.nn (values, states, every gradient)
    display    fixed-precision printing, tables, errors without tracebacks, show_source
    bptt       backpropagation through time written by hand, for teaching
    mistakes   the seeds' bugs re-created, each next to its one-line fix (for the notebooks)
    checks     exercise checks that say what is wrong
    explorers  interactive explorers: compute (plain functions), plots, widgets (ipywidgets)
    student    student versions of the exercise notebooks (`lstm-lab student`)

No module imports one above it in the README's package picture (tests/test_structure.py).
"""

# Imported on first use (PEP 562), so that `lstm-lab --help` answers without loading torch.
_WHERE = {
    **dict.fromkeys(("GRUStep", "LSTMStep", "RNNStep", "gru_cell", "gru_cell_trace", "lstm_cell", "lstm_cell_trace",
                     "rnn_cell", "rnn_cell_trace"), "cells"),
    "ShapeError": "errors",
    **dict.fromkeys(("GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell"), "modules"),
    **dict.fromkeys(("run_layer", "run_stack"), "runners"),
}


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lstm_lab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__version__ = "0.1.0"

__all__ = [
    "GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell", "ShapeError",
    "GRUStep", "LSTMStep", "RNNStep",
    "gru_cell", "gru_cell_trace", "lstm_cell", "lstm_cell_trace", "rnn_cell", "rnn_cell_trace",
    "run_layer", "run_stack",
]
