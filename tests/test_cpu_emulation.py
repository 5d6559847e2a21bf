"""The emulated older CPU of the test command's second notebook pass takes effect.

run.sh runs the notebooks a second time with tests/emulated_cpu.env (an AVX2 laptop) and
LSTM_LAB_CPU_EMULATION=1, and runs this file in that pass too. If a future torch, MKL or oneDNN
ignored one of the variables, the pass would quietly test the machine's own kernels again.
"""

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ENV_FILE = Path(__file__).with_name("emulated_cpu.env")
EMULATED = dict(line.split("=", 1) for line in ENV_FILE.read_text().split() if "=" in line)
X86 = platform.machine().lower() in ("x86_64", "amd64")

PROBE = """
import torch
print("aten", torch.backends.cpu.get_cpu_capability())
a = torch.randn(64, 64, dtype=torch.float64)
a @ a                                                   # one MKL GEMM
with torch.no_grad():
    torch.nn.LSTM(4, 8)(torch.randn(3, 2, 4))           # one oneDNN RNN
"""


def probe(extra_env: dict) -> str:
    env = {k: v for k, v in os.environ.items() if k not in EMULATED and k != "LSTM_LAB_CPU_EMULATION"}
    env.update(extra_env, MKL_VERBOSE="1", ONEDNN_VERBOSE="1")
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def kernels(report: str) -> dict:
    """Which instruction set torch, MKL and oneDNN each said they use."""
    lines = report.splitlines()
    aten = next(line.split()[1] for line in lines if line.startswith("aten "))
    mkl = next(line for line in lines if line.startswith("MKL_VERBOSE oneMKL"))
    onednn = next(line for line in lines if ",isa:" in line)
    return {"aten": aten, "mkl": mkl.split("architecture", 1)[1].strip(), "onednn": onednn.split(",isa:", 1)[1]}


def test_the_env_file_names_the_three_libraries():
    assert set(EMULATED) == {"ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA"}


@pytest.mark.skipif(not X86, reason="the emulation variables name x86 kernels; run.sh sets them on x86-64 only")
def test_each_variable_switches_its_library_to_avx2():
    seen = kernels(probe(EMULATED))
    assert seen["aten"] == "AVX2", seen
    assert "(Intel(R) AVX2)" in seen["mkl"] and "AVX-512" not in seen["mkl"], seen
    assert seen["onednn"].strip() == "Intel AVX2", seen


def test_this_pass_runs_on_the_cpu_it_claims():
    """In the emulated pass, this process (and so every notebook kernel it starts) uses AVX2 kernels."""
    if os.environ.get("LSTM_LAB_CPU_EMULATION") == "1":
        assert {k: os.environ.get(k) for k in EMULATED} == EMULATED
        assert torch.backends.cpu.get_cpu_capability() == "AVX2"
    else:
        native = kernels(probe({}))["aten"]
        assert torch.backends.cpu.get_cpu_capability() == native
