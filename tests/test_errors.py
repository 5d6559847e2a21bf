"""Every bad input raises a clear error that says what was expected and what was given."""

import pytest
import torch
from torch import nn

import lstm_lab
from lstm_lab import fixtures
from lstm_lab.errors import ShapeError

F64 = torch.float64


def lstm(**kwargs):
    return lstm_lab.LSTM(3, 4, dtype=F64, **kwargs)


# ---------------------------------------------------------------- modules: forward
def test_wrong_feature_size_matches_torch_wording():
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. Expected 3, got 5"):
        lstm()(torch.randn(2, 1, 5, dtype=F64))
    # and it is the message torch itself gives
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. Expected 3, got 5"):
        nn.LSTM(3, 4, dtype=F64)(torch.randn(2, 1, 5, dtype=F64))


@pytest.mark.parametrize("mode,word", [("LSTM", "instead"), ("GRU", "instead"), ("RNN", "tensor instead")])
@pytest.mark.parametrize("dims", [1, 4])
def test_input_must_be_2d_or_3d(mode, word, dims):
    model = getattr(lstm_lab, mode)(3, 4)
    x = torch.randn(*([3] * dims))
    with pytest.raises(ValueError, match=rf"{mode}: Expected input to be 2D or 3D, got {dims}D {word}"):
        model(x)


def test_wrong_h0_shape_says_expected_and_given():
    model = lstm(num_layers=2)
    x = torch.randn(5, 3, 3, dtype=F64)
    h0 = torch.zeros(2, 3, 4, dtype=F64)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(2, 3, 4\), got \[2, 2, 4\]"):
        model(x, (torch.zeros(2, 2, 4, dtype=F64), h0))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(2, 3, 4\), got \[1, 3, 4\]"):
        model(x, (h0, torch.zeros(1, 3, 4, dtype=F64)))


def test_wrong_h0_batch_for_rnn_and_gru():
    for mode in ("RNN", "GRU"):
        model = getattr(lstm_lab, mode)(3, 4, dtype=F64)
        with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 3, 4\), got \[1, 2, 4\]"):
            model(torch.randn(5, 3, 3, dtype=F64), torch.zeros(1, 2, 4, dtype=F64))


def test_h0_dimensions_must_match_batched_or_not():
    with pytest.raises(RuntimeError, match=r"For batched 3-D input, hx and cx should also be 3-D but got \(2-D, 2-D\)"):
        lstm()(torch.randn(5, 2, 3, dtype=F64), (torch.zeros(1, 4, dtype=F64), torch.zeros(1, 4, dtype=F64)))
    with pytest.raises(RuntimeError, match=r"For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"):
        lstm_lab.GRU(3, 4, dtype=F64)(torch.randn(5, 3, dtype=F64), torch.zeros(1, 1, 4, dtype=F64))


def test_lstm_hx_must_be_a_pair():
    with pytest.raises(RuntimeError, match=r"LSTM: hx should be a tuple \(h_0, c_0\), got a single tensor of shape \(1, 2, 4\)"):
        lstm()(torch.randn(5, 2, 3, dtype=F64), torch.zeros(1, 2, 4, dtype=F64))


def test_dtype_mismatch_between_input_and_weights():
    with pytest.raises(ValueError, match=r"RNN input dtype \(torch.float32\) does not match weight dtype \(torch.float64\)"):
        lstm()(torch.randn(5, 2, 3))


def test_h0_dtype_mismatch():
    with pytest.raises(TypeError, match=r"initial state should have the input's dtype torch.float64 on cpu, got torch.float32"):
        lstm_lab.RNN(3, 4, dtype=F64)(torch.randn(5, 2, 3, dtype=F64), torch.zeros(1, 2, 4))


def test_device_mismatch_is_reported_with_both_devices():
    model = lstm()
    x = torch.randn(5, 2, 3, dtype=F64, device="meta")
    with pytest.raises(RuntimeError, match=r"not at the same device, found input tensor at meta and parameter tensor at cpu"):
        model(x)


def test_not_a_tensor():
    with pytest.raises(TypeError, match=r"LSTM: input should be a torch.Tensor, got list"):
        lstm()([[1.0, 2.0, 3.0]])


# ---------------------------------------------------------------- modules: constructor
def test_proj_size_must_be_smaller_than_hidden_size():
    with pytest.raises(ValueError, match=r"proj_size has to be smaller than hidden_size, got proj_size=4 and hidden_size=4"):
        lstm(proj_size=4)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)  # torch refuses it too


def test_proj_size_only_for_lstm():
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not RNN or GRU"):
        lstm_lab.GRU(3, 4, proj_size=2)


def test_unknown_nonlinearity():
    with pytest.raises(ValueError, match=r"Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'."):
        lstm_lab.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"Unknown nonlinearity 'sigmoid'"):
        lstm_lab.rnn_cell(torch.zeros(1, 3), None, torch.zeros(2, 3), torch.zeros(2, 2), nonlinearity="sigmoid")


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match=r"non-zero dropout expects num_layers greater than 1, but got dropout=0.3 and num_layers=1"):
        lstm(dropout=0.3)


@pytest.mark.parametrize("dropout", [-0.1, 1.5, True, "0.5"])
def test_dropout_out_of_range(dropout):
    with pytest.raises(ValueError, match=r"dropout should be a number in range \[0, 1\]"):
        lstm(num_layers=2, dropout=dropout)


@pytest.mark.parametrize("kwargs,message", [
    (dict(hidden_size=0), "hidden_size must be greater than zero"),
    (dict(hidden_size=2.5), "hidden_size should be of type int, got: float"),
    (dict(num_layers=0), "num_layers must be greater than zero"),
    (dict(bias=1), "bias should be of type bool, got: int"),
    (dict(batch_first="yes"), "batch_first should be of type bool, got: str"),
])
def test_constructor_argument_checks(kwargs, message):
    args = dict(input_size=3, hidden_size=4) | kwargs
    with pytest.raises((ValueError, TypeError), match=message):
        lstm_lab.LSTM(**args)


# ---------------------------------------------------------------- functional cells
def rnn_args(**overrides):
    args = dict(x=fixtures.fixed_x()[:1], state=None) | fixtures.rnn_weights() | overrides
    return args


def test_seed001_broadcast_bias_is_refused():
    """Seed 001 typed the biases as [1.0]: torch would broadcast it to every unit silently."""
    as_written = fixtures.rnn_weights_as_written()
    with pytest.raises(ShapeError, match=r"bias_ih should have shape \(2,\), one entry per gate unit, got \(1,\)"):
        lstm_lab.rnn_cell(**rnn_args(bias_ih=as_written["bias_ih"]))


def test_seed001_one_row_recurrent_matrix_is_refused():
    as_written = fixtures.rnn_weights_as_written()
    with pytest.raises(ShapeError, match=r"weight_hh should have shape \(2, 2\) to match weight_ih \(2, 3\), got \(1, 2\)"):
        lstm_lab.rnn_cell(**rnn_args(weight_hh=as_written["weight_hh"]))


def test_lstm_weight_rows_must_be_four_blocks():
    w = fixtures.lstm_weights()
    with pytest.raises(ShapeError, match=r"weight_ih should have 4\*hidden_size rows \(gate blocks i, f, g, o stacked\), got shape \(7, 3\)"):
        lstm_lab.lstm_cell(fixtures.fixed_x()[:1], None, w["weight_ih"][:7], w["weight_hh"])


def test_functional_cell_input_size_and_state_shape():
    w = fixtures.lstm_weights()
    with pytest.raises(ShapeError, match="input has inconsistent input_size: got 2 expected 3"):
        lstm_lab.lstm_cell(torch.zeros(1, 2, dtype=F64), None, w["weight_ih"], w["weight_hh"])
    with pytest.raises(ShapeError, match=r"c should have shape \(1, 2\) \(batch, hidden\) to match the input \(1, 3\), got \(2,\)"):
        lstm_lab.lstm_cell(fixtures.fixed_x()[:1], (torch.zeros(1, 2, dtype=F64), torch.zeros(2, dtype=F64)),
                           w["weight_ih"], w["weight_hh"])
    with pytest.raises(ShapeError, match=r"Expected input to be 1D or 2D, got 3D instead"):
        lstm_lab.lstm_cell(torch.zeros(1, 1, 3, dtype=F64), None, w["weight_ih"], w["weight_hh"])


def test_functional_cell_dtype_and_device():
    w = fixtures.gru_weights()
    with pytest.raises(TypeError, match=r"weight_ih has dtype torch.float64 but the input has dtype torch.float32"):
        lstm_lab.gru_cell(torch.zeros(1, 3), None, w["weight_ih"], w["weight_hh"])
    with pytest.raises(RuntimeError, match=r"found input tensor at meta and weight_ih at cpu"):
        lstm_lab.gru_cell(torch.zeros(1, 3, dtype=F64, device="meta"), None, w["weight_ih"], w["weight_hh"])
    with pytest.raises(TypeError, match=r"bias_hh has dtype torch.float32 but the input has dtype torch.float64"):
        lstm_lab.gru_cell(torch.zeros(1, 3, dtype=F64), None, w["weight_ih"], w["weight_hh"], w["bias_ih"],
                          w["bias_hh"].float())


def test_lstm_state_must_be_a_pair():
    w = fixtures.lstm_weights()
    with pytest.raises(ShapeError, match=r"state should be a pair \(h, c\), got Tensor"):
        lstm_lab.lstm_cell(fixtures.fixed_x()[:1], torch.zeros(1, 2, dtype=F64), w["weight_ih"], w["weight_hh"])


def test_cell_module_input_dims_match_torch_wording():
    with pytest.raises(ValueError, match=r"LSTMCell: Expected input to be 1D or 2D, got 3D instead"):
        lstm_lab.LSTMCell(3, 4)(torch.zeros(1, 1, 3))
    with pytest.raises(ValueError, match=r"GRUCell: Expected hidden to be 1D or 2D, got 3D instead"):
        lstm_lab.GRUCell(3, 4)(torch.zeros(1, 3), torch.zeros(1, 1, 4))


def test_no_assert_statements_guard_user_input():
    """`python -O` strips asserts: input checks must be real errors."""
    import ast
    import pathlib

    package = pathlib.Path(lstm_lab.__file__).parent
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text())
        asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert not asserts, f"{path.name} uses assert at lines {asserts}"
