"""The format between the grader and a sandbox (``lstm_lab.grading.wire``), and the table's safety: fast, no
sandbox needed."""

import base64
import collections
import json
import re
import sys

import pytest
import torch

from lstm_lab import grade
from lstm_lab.grading import wire


def through(value):
    """``value`` as the other side receives it: encoded, sent as JSON text, decoded."""
    return wire.decode(wire.loads(wire.dumps({"v": wire.encode(value)}))["v"])


def test_values_cross_as_they_are():
    Step = collections.namedtuple("LSTMStep", "i f g o c h")
    step = Step(*(torch.randn(2, 3, dtype=torch.float64) for _ in range(6)))
    value = (torch.arange(6, dtype=torch.int64).reshape(2, 3), {"weight_ih": torch.randn(4, 3), "n": 3},
             [1.5, None, True, "text"], step, torch.tensor([True, False]), torch.zeros(0, 4),
             torch.tensor(2.5, dtype=torch.bfloat16), torch.tensor([1 + 2j], dtype=torch.complex128))
    got = through(value)
    assert isinstance(got, tuple) and len(got) == len(value)
    assert torch.equal(got[0], value[0]) and got[0].dtype == torch.int64
    assert got[1].keys() == value[1].keys() and torch.equal(got[1]["weight_ih"], value[1]["weight_ih"])
    assert got[2] == [1.5, None, True, "text"]
    assert type(got[3]).__name__ == "LSTMStep" and got[3]._fields == Step._fields
    assert all(torch.equal(a, b) for a, b in zip(got[3], step))
    assert got[4].dtype == torch.bool and got[4].tolist() == [True, False]
    assert got[5].shape == (0, 4)
    assert got[6].dtype == torch.bfloat16 and got[6].item() == 2.5
    assert got[7].dtype == torch.complex128 and got[7].item() == 1 + 2j


def test_requires_grad_crosses_and_the_tensors_are_new():
    x = torch.randn(3, requires_grad=True)
    got = through((x, torch.randn(2)))
    assert got[0].requires_grad and not got[1].requires_grad
    assert got[0] is not x and torch.equal(got[0].detach(), x.detach())


def test_a_tensor_subclass_arrives_as_its_numbers_in_a_plain_tensor():
    class Agreeable(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if getattr(func, "__name__", "") in ("__sub__", "sub", "abs", "__eq__", "eq"):
                return torch.tensor(0.0)
            return super().__torch_function__(func, types, args, kwargs or {})

    sneaky = torch.tensor([1.0, 2.0]).as_subclass(Agreeable)
    got = through(sneaky)
    assert type(got) is torch.Tensor and got.tolist() == [1.0, 2.0]
    assert (got - torch.tensor([0.0, 0.0])).tolist() == [1.0, 2.0]  # subtraction is subtraction again


def test_other_objects_arrive_as_a_name_only():
    class Secret:
        def __reduce__(self):  # what pickle would run: never
            raise AssertionError("pickled")

    got = through(Secret())
    assert type(got).__name__ == "Secret" and type(got) is not Secret and "from the student's code" in repr(got)
    function = through(len)
    assert type(function).__name__ == "builtin_function_or_method" and not callable(function)


def tensor(dtype="float64", shape=(2,), data=None, grad=False):
    data = base64.b64encode(torch.zeros(2, dtype=torch.float64).numpy().tobytes()).decode() if data is None else data
    return {"$tensor": [dtype, list(shape), data, grad]}


@pytest.mark.parametrize("bad, says", [
    (tensor(dtype="object"), "unknown dtype 'object'"),
    (tensor(shape=(3,)), "a tensor of shape [3] and dtype float64 needs 24 bytes, got 16"),
    (tensor(shape=(-1,)), "a tensor's shape is a list of at most 16 sizes"),
    (tensor(data="not base64!"), "a tensor's data is not base64"),
    ({"$pickle": "gASVAAAAAAAAAAA="}, "unknown tag '$pickle'"),
    ({"$tuple": [1], "other": 2}, "a tagged value has one key"),
    (json.loads("[" * 40 + "]" * 40), "nested more than 32 levels deep"),
])
def test_what_is_not_in_the_format_is_refused_with_the_reason(bad, says):
    with pytest.raises(wire.WireError, match=re.escape(says)):
        wire.decode(bad)


def test_a_message_that_is_not_json_is_refused():
    with pytest.raises(wire.WireError, match="not JSON"):
        wire.loads(b"{'python': 'literal'}")
    with pytest.raises(wire.WireError, match="a message is a JSON object"):
        wire.loads(b"[1, 2]")


@pytest.mark.parametrize("given, written", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", "'=1+1"), ("\r=1", "'=1"), ("line one\nline two", "line one line two"), ("plain", "plain"),
    ("x" * 1000, "x" * 297 + "..."),
])
def test_a_table_cell_never_starts_a_formula_and_is_one_bounded_line(given, written):
    assert grade.safe_cell(given) == written


def test_shards_split_the_class_the_same_way_everywhere_and_say_what_they_take():
    names = [f"student{k:03d}" for k in range(60)] + ["=1+1", "ünïcödé", ".hidden"]
    shards = [grade.shard_of(name, 3) for name in names]
    assert set(shards) == {1, 2, 3} and shards == [grade.shard_of(name, 3) for name in names]
    assert grade.shard_of("student001", 3) == int(__import__("hashlib").sha256(b"student001").hexdigest(), 16) % 3 + 1
    assert grade.parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "2", "a/b", ""):
        with pytest.raises(grade.GradingError, match="--shard takes K/N with 1 <= K <= N"):
            grade.parse_shard(bad)


def test_a_generator_crosses_as_its_state_and_draws_the_same():
    from lstm_lab.grading.wire import decode, encode

    sent = torch.Generator().manual_seed(7)
    received = decode(json.loads(json.dumps(encode(sent))))
    assert isinstance(received, torch.Generator)
    assert torch.equal(torch.rand(5, generator=received), torch.rand(5, generator=sent))


def test_a_generator_state_of_the_wrong_size_is_refused_in_words():
    from lstm_lab.grading.wire import WireError, decode

    with pytest.raises(WireError, match="a generator's state is .* bytes, got 3"):
        decode({"$generator": base64.b64encode(b"abc").decode("ascii")})


def test_the_sandbox_is_shown_no_folder_of_the_instructors_that_sys_path_happens_to_hold(tmp_path, monkeypatch):
    # python -m lstm_lab.cli puts the current folder first on sys.path: the instructor's home, say
    from lstm_lab.grading import sandbox

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setattr(sys, "path", [str(home), *sys.path])
    roots = sandbox._python_roots()
    assert not any(str(home).startswith(root) or root.startswith(str(home)) for root in roots), roots
    assert any(r.startswith(sys.prefix) or sys.prefix.startswith(r) for r in roots), roots  # the environment is
