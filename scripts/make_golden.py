"""Write lstm_lab/golden.json: the fixed-X numbers, float64, from torch.nn and plain tensor ops.

This script must not use lstm_lab's cells or runners: it is the independent reference the
tests compare them with. It reads only the fixture *inputs* (X and the weights) from lstm_lab.
Run it again after changing a fixture: `python scripts/make_golden.py`; the test suite checks
that every stored number is within ATOL of what this script computes on the machine at hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from lstm_lab import fixtures as fx

F64 = torch.float64
TOL = 1e-14


def _load(module: torch.nn.Module, **weights: torch.Tensor) -> None:
    with torch.no_grad():
        for name, value in weights.items():
            getattr(module, name).copy_(value)


def rnn_numbers() -> dict:
    x, w = fx.fixed_x(), fx.rnn_weights()
    rnn = torch.nn.RNN(3, 2, dtype=F64)
    _load(rnn, weight_ih_l0=w["weight_ih"], weight_hh_l0=w["weight_hh"], bias_ih_l0=w["bias_ih"], bias_hh_l0=w["bias_hh"])
    with torch.no_grad():
        h, h_n = rnn(x)
        h_prev = torch.cat([torch.zeros(1, 2, dtype=F64), h[:-1]])
        pre = x @ w["weight_ih"].T + w["bias_ih"] + h_prev @ w["weight_hh"].T + w["bias_hh"]
        assert torch.allclose(torch.tanh(pre), h, atol=TOL, rtol=0)
        reg_w, reg_b = fx.head("regression")
        regression = torch.nn.functional.linear(h_n[0], reg_w, reg_b)
        lab_w, lab_b = fx.head("labelling")
        logits = torch.nn.functional.linear(h, lab_w, lab_b)
        probs = torch.softmax(logits, dim=-1)
    return {
        "pre": pre.tolist(),
        "h": h.tolist(),
        "h_n": h_n.tolist(),
        "regression": regression.tolist(),
        "labelling_logits": logits.tolist(),
        "labelling_probs": probs.tolist(),
        "labelling_labels": probs.argmax(-1).tolist(),
    }


def birnn_numbers() -> dict:
    """The same RNN weights in both directions, as seed 001 sets them."""
    x, w = fx.fixed_x(), fx.rnn_weights()
    rnn = torch.nn.RNN(3, 2, bidirectional=True, dtype=F64)
    for suffix in ("", "_reverse"):
        _load(rnn, **{f"{k}_l0{suffix}": v for k, v in (("weight_ih", w["weight_ih"]), ("weight_hh", w["weight_hh"]),
                                                         ("bias_ih", w["bias_ih"]), ("bias_hh", w["bias_hh"]))})
    head_w, head_b = fx.head("bidirectional")
    with torch.no_grad():
        output, h_n = rnn(x)
        model_output = torch.nn.functional.linear(torch.cat([h_n[0], h_n[1]]), head_w, head_b)
    return {"output": output.tolist(), "h_n": h_n.tolist(), "model_output": model_output.tolist()}


def lstm_numbers(bias: bool) -> dict:
    x, g = fx.fixed_x(), fx.lstm_gate_weights(bias=bias)
    w_ih = torch.cat([g["W_xi"], g["W_xf"], g["W_xg"], g["W_xo"]])
    w_hh = torch.cat([g["W_hi"], g["W_hf"], g["W_hg"], g["W_ho"]])
    lstm = torch.nn.LSTM(3, 2, bias=bias, dtype=F64)
    weights = {"weight_ih_l0": w_ih, "weight_hh_l0": w_hh}
    b = torch.zeros(8, dtype=F64)
    if bias:
        b = torch.cat([g["b_i"], g["b_f"], g["b_g"], g["b_o"]])
        weights.update(bias_ih_l0=b, bias_hh_l0=torch.zeros(8, dtype=F64))
    _load(lstm, **weights)
    with torch.no_grad():
        h, (h_n, c_n) = lstm(x)
        # c is not an output of torch.nn.LSTM per step: run it one step at a time to get it.
        c, state = [], None
        for t in range(3):
            _, state = lstm(x[t : t + 1], state)
            c.append(state[1][0])
        c = torch.stack(c)
        zeros = torch.zeros(1, 2, dtype=F64)
        h_prev, c_prev = torch.cat([zeros, h[:-1]]), torch.cat([zeros, c[:-1]])
        pre = x @ w_ih.T + h_prev @ w_hh.T + b
        i, f, gg, o = pre[:, 0:2].sigmoid(), pre[:, 2:4].sigmoid(), pre[:, 4:6].tanh(), pre[:, 6:8].sigmoid()
        assert torch.allclose(f * c_prev + i * gg, c, atol=TOL, rtol=0)
        assert torch.allclose(o * torch.tanh(c), h, atol=TOL, rtol=0)
        assert torch.allclose(c[-1], c_n[0], atol=TOL, rtol=0)
    return {"pre": pre.tolist(), "i": i.tolist(), "f": f.tolist(), "g": gg.tolist(), "o": o.tolist(),
            "c": c.tolist(), "h": h.tolist()}


def gru_numbers() -> dict:
    x, w = fx.fixed_x(), fx.gru_weights()
    gru = torch.nn.GRU(3, 2, dtype=F64)
    _load(gru, weight_ih_l0=w["weight_ih"], weight_hh_l0=w["weight_hh"], bias_ih_l0=w["bias_ih"], bias_hh_l0=w["bias_hh"])
    with torch.no_grad():
        h, _ = gru(x)
        h_prev = torch.cat([torch.zeros(1, 2, dtype=F64), h[:-1]])
        gi = x @ w["weight_ih"].T + w["bias_ih"]
        gh = h_prev @ w["weight_hh"].T + w["bias_hh"]
        r = (gi[:, 0:2] + gh[:, 0:2]).sigmoid()
        z = (gi[:, 2:4] + gh[:, 2:4]).sigmoid()
        n = (gi[:, 4:6] + r * gh[:, 4:6]).tanh()
        assert torch.allclose((1 - z) * n + z * h_prev, h, atol=TOL, rtol=0)
    return {"r": r.tolist(), "z": z.tolist(), "n": n.tolist(), "h": h.tolist()}


# float64 numbers from torch.nn differ between CPUs (MKL's AVX2 and AVX-512 kernels) in their last
# 1-8 ulp, about 6e-17 at these magnitudes: compare as numbers, far above that and far below the
# 1e-9 a real change to a fixture or a formula makes.
ATOL = 1e-13


def mismatches(stored, fresh, path="", atol=ATOL) -> list[str]:
    """Every place where two nested golden structures differ: keys, lengths or numbers beyond atol."""
    if isinstance(stored, dict) and isinstance(fresh, dict):
        if stored.keys() != fresh.keys():
            return [f"{path or 'top level'}: keys {sorted(stored)} stored, {sorted(fresh)} computed"]
        return [m for k in stored for m in mismatches(stored[k], fresh[k], f"{path}.{k}".lstrip("."), atol)]
    if isinstance(stored, list) and isinstance(fresh, list):
        if len(stored) != len(fresh):
            return [f"{path}: {len(stored)} entries stored, {len(fresh)} computed"]
        return [m for k, (a, b) in enumerate(zip(stored, fresh)) for m in mismatches(a, b, f"{path}[{k}]", atol)]
    if isinstance(stored, bool) or isinstance(fresh, bool) or type(stored) is not type(fresh):
        return [] if stored == fresh else [f"{path}: {stored!r} stored, {fresh!r} computed"]
    if isinstance(stored, int):
        return [] if stored == fresh else [f"{path}: {stored} stored, {fresh} computed"]
    return [] if abs(stored - fresh) <= atol else [f"{path}: {stored!r} stored, {fresh!r} computed"]


def compute() -> dict:
    return {
        "rnn": rnn_numbers(),
        "birnn": birnn_numbers(),
        "lstm": lstm_numbers(bias=False),
        "lstm_bias": lstm_numbers(bias=True),
        "gru": gru_numbers(),
    }


def render(numbers: dict) -> str:
    return json.dumps(numbers, indent=1, sort_keys=True) + "\n"


OUT = Path(__file__).resolve().parents[1] / "lstm_lab" / "golden.json"

if __name__ == "__main__":
    text = render(compute())
    if "--check" in sys.argv:
        stale = mismatches(json.loads(OUT.read_text()), json.loads(text))
        sys.exit("golden.json is out of date: run scripts/make_golden.py\n" + "\n".join(stale[:10]) if stale else 0)
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(OUT.parents[1])}")
