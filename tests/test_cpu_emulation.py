"""The emulated older CPU of the test command's second notebook pass takes effect.

run.sh runs the notebooks a second time with tests/emulated_cpu.env (an AVX2 laptop) and
LSTM_LAB_CPU_EMULATION=1, and runs this file in that pass too. If a future torch, MKL or oneDNN
ignored one of the variables, the pass would quietly test the machine's own kernels again.
"""

import os
import platform
import re
import subprocess
import sys
import warnings
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


def mkl_instruction_set(line: str) -> str | None:
    """The instruction set MKL's verbose line names, or None. MKL names it only on Intel's CPUs
    ("... Intel(R) Advanced Vector Extensions 2 (Intel(R) AVX2) enabled processors ..."); on others it says
    "Intel(R) Architecture processors" whatever the variables say."""
    named = re.search(r"\(Intel\(R\) ((?:AVX|SSE)[^)]*)\)", line.split("architecture", 1)[-1])
    return named.group(1) if named else None


def kernels(report: str) -> dict:
    """Which instruction set torch, MKL and oneDNN each said they use (MKL: None where it does not say)."""
    lines = report.splitlines()
    aten = next(line.split()[1] for line in lines if line.startswith("aten "))
    mkl = next(line for line in lines if line.startswith("MKL_VERBOSE oneMKL"))
    onednn = next(line for line in lines if ",isa:" in line)
    return {"aten": aten, "mkl": mkl_instruction_set(mkl), "onednn": onednn.split(",isa:", 1)[1].strip()}


def test_the_env_file_names_the_three_libraries():
    assert set(EMULATED) == {"ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA"}


@pytest.mark.parametrize("line, named", [
    ("MKL_VERBOSE oneMKL 2024.0 Update 2 Product build 20240605 for Intel(R) 64 architecture Intel(R) Advanced "
     "Vector Extensions 2 (Intel(R) AVX2) enabled processors, Lnx 2.10GHz lp64 gnu_thread", "AVX2"),
    ("MKL_VERBOSE oneMKL 2024.0 Update 2 Product build 20240605 for Intel(R) 64 architecture Intel(R) Advanced "
     "Vector Extensions 512 (Intel(R) AVX-512) with support for INT8, BF16, FP16 (limited) instructions, and Intel(R) "
     "Advanced Matrix Extensions (Intel(R) AMX) enabled processors, Lnx 2.10GHz lp64 gnu_thread", "AVX-512"),
    ("MKL_VERBOSE oneMKL 2024.0 Update 2 Product build 20240605 for Intel(R) 64 architecture Intel(R) Architecture "
     "processors, Lnx 2.00GHz lp64 gnu_thread", None),  # an AMD CPU: MKL does not say
])
def test_mkls_line_is_read_for_the_instruction_set_it_names(line, named):
    assert mkl_instruction_set(line) == named


@pytest.mark.skipif(not X86, reason="the emulation variables name x86 kernels; run.sh sets them on x86-64 only")
def test_each_variable_switches_its_library_to_avx2():
    """ATen and oneDNN say which kernels they use on every x86 CPU; MKL only on Intel's. Where MKL does not say,
    this test confirms the other two and says (in a warning) that MKL's switch cannot be confirmed here."""
    seen = kernels(probe(EMULATED))
    assert seen["aten"] == "AVX2", seen
    assert seen["onednn"] == "Intel AVX2", seen
    if seen["mkl"] is None:
        warnings.warn("MKL names its instruction set only on Intel CPUs: MKL_ENABLE_INSTRUCTIONS=AVX2 cannot be "
                      "confirmed on this CPU (ATen's and oneDNN's switches were)", UserWarning)
    else:
        assert seen["mkl"] == "AVX2", seen


def test_this_pass_runs_on_the_cpu_it_claims():
    """In the emulated pass, this process (and so every notebook kernel it starts) uses AVX2 kernels."""
    if os.environ.get("LSTM_LAB_CPU_EMULATION") == "1":
        assert {k: os.environ.get(k) for k in EMULATED} == EMULATED
        assert torch.backends.cpu.get_cpu_capability() == "AVX2"
    else:
        native = kernels(probe({}))["aten"]
        assert torch.backends.cpu.get_cpu_capability() == native
