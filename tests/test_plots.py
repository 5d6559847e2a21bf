"""lstm_lab.plots draws exactly the tensors it is given, and says so when it is given the wrong thing."""

import io

import matplotlib.image
import pytest
import torch

from lstm_lab import fixtures, plots


def lines(fig):
    return [line for ax in fig.axes for line in ax.get_lines() if len(line.get_xdata()) > 2]


def test_hidden_trajectories_draw_one_line_per_unit_at_steps_1_to_T():
    h = fixtures.golden()["rnn"]["h"]  # seed 001's RNN on the fixed X, (3, 2)
    fig = plots.hidden_trajectories(h)
    drawn = lines(fig)
    assert [line.get_label() for line in drawn] == ["unit 0", "unit 1"]
    for k, line in enumerate(drawn):
        assert list(line.get_xdata()) == [1, 2, 3]
        assert torch.equal(torch.tensor(line.get_ydata(), dtype=torch.float64), h[:, k])


def test_state_path_starts_at_zero_and_visits_every_state():
    h = fixtures.golden()["rnn"]["h"]
    (line,) = lines(plots.state_path(h))
    xy = torch.stack([torch.tensor(line.get_xdata()), torch.tensor(line.get_ydata())], dim=1).double()
    assert torch.equal(xy[0], torch.zeros(2))
    assert torch.equal(xy[1:], h)
    labels = [t.get_text() for t in plots.state_path(h).axes[0].texts]
    assert labels == ["$h_{0}$", "$h_{1}$", "$h_{2}$", "$h_{3}$"]


def test_gate_heatmap_shows_each_gate_units_by_steps_with_its_values_written_in():
    lstm = fixtures.golden()["lstm"]
    fig = plots.gate_heatmap(lstm, order=("i", "f", "g", "o"))
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 4
    for image, name in zip(images, "ifgo"):
        assert torch.equal(torch.tensor(image.get_array().data), lstm[name].T)  # rows units, columns steps
        assert image.get_clim() == plots.VALUE_RANGE[name]
        written = [float(t.get_text()) for t in image.axes.texts]
        assert written == [round(v, 2) for v in lstm[name].T.flatten().tolist()]
    assert [t.get_text() for t in fig.axes[3].get_xticklabels()] == ["1", "2", "3"]


def test_gate_heatmap_never_writes_minus_zero():
    fig = plots.gate_heatmap({"h": torch.tensor([[-0.0004, 0.5], [-0.2, 0.0]])})
    assert [t.get_text() for t in fig.axes[0].texts] == ["0.00", "-0.20", "0.50", "0.00"]


def test_gate_heatmap_default_order_and_gru_gates():
    gru = fixtures.golden()["gru"]
    fig = plots.gate_heatmap({name: gru[name] for name in ("n", "r", "z", "h")})
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_images()]
    assert titles == ["reset gate r", "update gate z", "candidate n", "hidden state h"]


@pytest.mark.parametrize("bad, message", [
    ({"i": torch.zeros(3, 1, 2)}, r"2-D \(time steps, hidden units\).*got shape \(3, 1, 2\)"),
    ({"i": torch.zeros(3, 2), "f": torch.zeros(3, 3)}, r"f should have 2 hidden units"),
    ({"i": torch.zeros(3, 2), "f": torch.zeros(4, 2)}, r"same number of time steps, got \{'i': 3, 'f': 4\}"),
    ({"q": torch.zeros(3, 2)}, r"unknown gate name"),
    ({}, r"dict of \(T, H\) tensors"),
])
def test_gate_heatmap_refuses_bad_input_clearly(bad, message):
    with pytest.raises(ValueError, match=message):
        plots.gate_heatmap(bad)


def test_gate_heatmap_order_asking_for_a_missing_gate():
    with pytest.raises(ValueError, match=r"order asks for \['o'\]"):
        plots.gate_heatmap({"i": torch.zeros(3, 2)}, order=("i", "o"))


def test_state_path_needs_two_units():
    with pytest.raises(ValueError, match=r"should have 2 hidden units.*\(3, 4\)"):
        plots.state_path(torch.zeros(3, 4))


def test_figures_render(tmp_path):
    lstm = fixtures.golden()["lstm"]
    for i, fig in enumerate([plots.hidden_trajectories(lstm["h"]), plots.state_path(lstm["h"]),
                             plots.gate_heatmap(lstm)]):
        fig.savefig(tmp_path / f"{i}.png")
        assert matplotlib.image.imread(tmp_path / f"{i}.png").shape[2] in (3, 4)


def test_moving_average_is_the_mean_of_each_window():
    averaged = plots.moving_average([1.0, 2.0, 3.0, 4.0, 6.0], 2)
    assert averaged.tolist() == [1.5, 2.5, 3.5, 5.0]
    assert plots.moving_average([3.0, 5.0], 1).tolist() == [3.0, 5.0]


def test_moving_average_says_what_width_it_can_take():
    with pytest.raises(ValueError, match="between 1 and the 3 values given, got 4"):
        plots.moving_average([1.0, 2.0, 3.0], 4)


@pytest.mark.parametrize("draw", [lambda h: plots.hidden_trajectories(h), lambda h: plots.state_path(h),
                                  lambda h: plots.gate_heatmap({"h": h})])
def test_a_figure_ending_a_cell_displays_as_a_png_without_pyplot(draw):
    # IPython shows an object through _repr_png_; matplotlib's inline backend is loaded only once pyplot
    # draws, so without this a notebook that never touched pyplot stored "<Figure size ...>" as text
    fig = draw(fixtures.golden()["rnn"]["h"])
    png = fig._repr_png_()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = fig.get_size_inches() * fig.dpi
    image = matplotlib.image.imread(io.BytesIO(png))
    assert image.shape[:2] == (round(height), round(width))
