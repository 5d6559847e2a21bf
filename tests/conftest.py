import matplotlib
import pytest
import torch

matplotlib.use("Agg")  # plotting helpers are tested without a display


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """lstm_lab built into a wheel and installed into a fresh environment outside the clone (installed_env)."""
    from installed_env import install

    return install(tmp_path_factory.mktemp("installed"))

