import matplotlib
import pytest
import torch

matplotlib.use("Agg")  # plotting helpers are tested without a display


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
