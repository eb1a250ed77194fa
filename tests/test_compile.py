"""The compiled run (compile.py, codegen.py, rules.py) against the reference interpreter.

Tolerances: + - * / neg, comparisons, max/min/relu/abs and every numpy-mode rule
except matrix-vector products give the interpreter's bits (assert_array_equal,
NaN == NaN). Transcendental functions on the float path use ``math`` where the
interpreter uses numpy: they may differ by an ulp (rtol 1e-12 after a few gates).
A matrix-vector product written as one ``@`` may sum in another order (rtol 1e-12).
"""
from __future__ import annotations

import gc
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import graphdsl
from graphdsl import codegen, execute
from graphdsl.bindings import bind
from graphdsl.compile import pack
from graphdsl.gates import GATES

EXACT = {"add", "sub", "mul", "div", "neg", "identity", "square", "reciprocal", "abs", "relu",
         "max", "min", "sum", "mean", "transpose", "dot", "softmax"}


def reference(prog, of=None, **bindings):
    """Outputs and gradients from the reference interpreter, or the error it raises."""
    sched = prog._schedule
    of = of or prog.outputs[0]
    with np.errstate(all="ignore"):
        values = execute.forward(sched, bind(sched.leaves, bindings))
        return pack(sched, values, execute.backward(sched, of, values))


def assert_same(result, expected, rtol=0.0):
    outputs, grads = expected
    assert result.outputs.keys() == outputs.keys() and result.grads.keys() == grads.keys()
    for got, want in [(result.outputs, outputs), (result.grads, grads)]:
        for name in want:
            assert type(got[name]) is type(want[name]), name
            if rtol:
                np.testing.assert_allclose(got[name], want[name], rtol=rtol, atol=1e-300, err_msg=name)
            else:
                np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def outcome(fn):
    try:
        return "ok", fn()
    except graphdsl.GraphError as err:
        return "error", (type(err), str(err))


def check(text, rtol=0.0, of=None, **bindings):
    prog = graphdsl.loads(text)
    kind, expected = outcome(lambda: reference(prog, of, **bindings))
    got_kind, got = outcome(lambda: prog.run(of, **bindings))
    assert got_kind == kind, (got, expected)
    if kind == "error":
        assert got == expected
    else:
        assert_same(got, expected, rtol)
        assert_same(prog.run(of, **bindings), expected, rtol)  # the cached kernel, again
    return prog


# ---------------------------------------------------------------- every gate
def _call(name, arity):
    args = ", ".join("abc"[:arity])
    return f"input a, b, c\noutput f = {name}({args}) + 0 * (a + b + c)"


SCALARS = [(0.7, -1.3, 2.0), (-0.0, 0.0, 1.0), (0.0, 0.0, -2.0), (3.0, 3.0, 0.5), (1000.0, -1000.0, 3.0),
           (float("nan"), 1.0, 1.0), (float("inf"), -2.0, 0.0), (-2.0, 0.5, 4.0)]


@pytest.mark.parametrize("name", sorted(GATES))
def test_every_gate_on_scalars(name):
    gate = GATES[name]
    for a, b, c in SCALARS:
        check(_call(name, gate.arity), 0.0 if name in EXACT else 1e-12, a=a, b=b, c=c)


SHAPE_SETS = [((3,), (3,)), ((2, 3), (3,)), ((3, 1), (1, 4)), ((), (2, 2)), ((2, 3), (3, 2)), ((3,), (3, 2))]


@pytest.mark.parametrize("name", sorted(GATES))
def test_every_gate_on_arrays(name):
    gate = GATES[name]
    rng = np.random.default_rng(1)
    for sa, sb in SHAPE_SETS:
        a, b = rng.uniform(0.2, 2.0, sa), rng.uniform(-2.0, 2.0, sb)
        bind_a = float(a) if sa == () else a
        text = f"input a, b\noutput f = sum({name}({', '.join('ab'[:gate.arity])}))"
        rtol = 1e-12 if name in ("matmul", "dot") else 0.0
        check(text, rtol, a=bind_a, b=b)


# ---------------------------------------------------------------- random graphs
BINARY = ["+", "-", "*", "/"]
UNARY = ["exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "sigmoid", "relu", "abs", "square",
         "reciprocal", "neg"]


@st.composite
def graphs(draw, ops=BINARY + UNARY + ["max", "min", "**"]):
    names = ["x", "y", "z"]
    lines = ["input x, y, z"]
    for i in range(draw(st.integers(1, 25))):
        op = draw(st.sampled_from(ops))
        a = draw(st.sampled_from(names + ["2", "0.5"]))
        b = draw(st.sampled_from(names))
        if op in BINARY or op == "**":
            expr = f"{a} {op} {b}"
        elif op in ("max", "min"):
            expr = f"{op}({a}, {b})"
        else:
            expr = f"{op}({b})"
        lines.append(f"n{i} = {expr}")
        names.append(f"n{i}")
    outputs = draw(st.lists(st.sampled_from(names[3:]), min_size=1, max_size=3, unique=True))
    return "\n".join(lines + [f"output {', '.join(outputs)}"])


values = st.floats(-4, 4, allow_nan=False) | st.sampled_from([0.0, -0.0, 1e300, float("nan")])


@settings(max_examples=150, deadline=None)
@given(graphs(ops=BINARY + ["max", "min"]), values, values, values)
def test_arithmetic_graphs_give_the_interpreters_bits(text, x, y, z):
    check(text, x=x, y=y, z=z)


@settings(max_examples=150, deadline=None)
@given(graphs(), values, values, values)
def test_random_scalar_graphs(text, x, y, z):
    check(text, 1e-9, x=x, y=y, z=z)


@settings(max_examples=60, deadline=None)
@given(graphs(), st.sampled_from([(3,), (2, 3)]), st.integers(0, 2 ** 31))
def test_random_array_graphs(text, shape, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-3, 3, shape), rng.uniform(-3, 3, shape[-1:])
    check(text, x=x, y=y, z=float(rng.uniform(-3, 3)))


@settings(max_examples=40, deadline=None)
@given(graphs(), values, values, values)
def test_chunked_code_matches(text, x, y, z):
    old = codegen.CHUNK
    codegen.CHUNK = 3
    try:
        check(text, 1e-9, x=x, y=y, z=z)
        check(text, x=np.array([x, y]), y=y, z=z)
    finally:
        codegen.CHUNK = old



def test_float_code_reads_copies_under_the_name_they_have():
    # identity, +, the first operand of -, a scalar's sum and a named output copy their
    # value or cotangent: the float code writes no statement for them.
    text = ("input x, y\na = x\nb = a + y\nc = sum(b) - x\nd = transpose(c)\n"
            "output f = d * b, e = a, k = 2")
    for of in (None, "e", "k"):
        for x, y in [(0.5, -2.0), (-0.0, 0.0), (float("nan"), 1.0)]:
            check(text, of=of, x=x, y=y)
    prog = graphdsl.loads(text)
    prog.run(x=1.0, y=2.0)
    source = prog._kernels[None].kernel.float_source
    assert not [line for line in source.splitlines() if line.strip().split(" = ")[-1].isidentifier()]
    old = codegen.CHUNK
    codegen.CHUNK = 2  # aliases read across chunks
    try:
        check(text, x=0.5, y=-2.0)
    finally:
        codegen.CHUNK = old

# ---------------------------------------------------------------- numerics and errors
@pytest.mark.parametrize("expr, x", [("x / 0", 1.0), ("log(x)", 0.0), ("exp(x)", 1000.0),
                                     ("sqrt(x)", -1.0), ("x ** 2000", 10.0), ("sin(x)", math.inf),
                                     ("0 ** x", -1.0), ("x ** 0.5", -8.0), ("1 / x", -0.0)])
def test_float_errors_fall_back_to_ieee_results(expr, x):
    check(f"input x\noutput f = {expr}", x=x)


def test_logistic_map_is_bit_identical_at_depth_10000():
    text = "gate logistic(l) { return 4 * l * (1 - l) }\ninput x\noutput l = repeat(logistic, 10000, x)"
    prog = check(text, x=0.3)  # bitwise: values and (overflowed) gradients alike
    assert prog.run(x=0.3).outputs["l"] == reference(prog, x=0.3)[0]["l"]
    check(text.replace("10000", "200"), x=0.3)


def test_gate_failures_and_check_finite_name_the_gate_and_line():
    prog = graphdsl.loads("input W, x\ny = W @ x\noutput f = sum(y)")
    with pytest.raises(graphdsl.NumericError) as err:
        prog.run(W=np.ones((2, 3)), x=np.ones(2))
    assert err.value.line == 2 and "matmul" in str(err.value)
    prog = graphdsl.loads("input x\ny = log(x)\noutput f = y * 2")
    with pytest.raises(graphdsl.NumericError) as err:
        prog.run(x=0.0, check_finite=True)
    assert err.value.line == 2
    assert prog.run(x=0.0).outputs["f"] == -math.inf


def test_bindings_of_every_kind():
    text = "input x, y = 2, v: [n]\noutput f = sum(v * x) + y"
    v = np.array([1.0, 2.0])
    for bindings in [dict(x=3, v=v), dict(x=np.float64(3), v=[1, 2]), dict(x=True, y=1, v=v),
                     dict(x=np.float32(3), v=v.astype(np.float32)), dict(x=3.0, v=np.int64(4) * v)]:
        check(text, 1e-6, **bindings)
    for bindings in [dict(x=1.0), dict(x=1.0, v=v, q=1.0), dict(x=1.0, v=np.ones((2, 2))),
                     dict(x="a", v=v)]:
        with pytest.raises(graphdsl.BindingError):
            graphdsl.loads(text).run(**bindings)


def test_outputs_of_and_results():
    text = "input x, y\nc = 3\na = x * y\noutput a, c, y, b = sin(a) + c"
    for of in (None, "a", "c", "y", "b"):
        check(text, 1e-12, of=of, x=0.5, y=2.0)
        check(text, 1e-12, of=of, x=np.array([0.5, 1.0]), y=2.0)
    prog = graphdsl.loads(text)
    res = prog.run("b", x=0.5, y=2.0)
    sched = prog._schedule
    with np.errstate(all="ignore"):
        values = execute.forward(sched, [0.5, 2.0])
    assert res.values == {node: float(v) for node, v in zip(sched.ids, values)}
    assert res.node_grads["a"] == math.cos(1.0) and set(res.node_grads) >= {"x", "y", "a", "b"}
    with pytest.raises(graphdsl.BindingError):
        prog.run(of="nope", x=1.0, y=1.0)


def test_array_kernels_are_kept_per_shape_and_bounded():
    prog = graphdsl.loads("input x\noutput f = sum(x * x)")
    for n in range(1, 40):
        assert prog.run(x=np.ones(n)).grads["x"].tolist() == [2.0] * n
    assert len(prog._kernels[None].kernel.arrays) <= 16


def _peak(fn) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_long_chain_frees_what_the_backward_pass_does_not_need():
    n, size = 2000, 10_000  # the reference holds 2 x 2000 arrays of 80 kB
    prog = graphdsl.loads(f"gate step(v) {{ return v * 0.5 + 1 }}\ninput x\n"
                          f"output s = sum(repeat(step, {n}, x))")
    x = np.ones(size)
    old, codegen.CHUNK = codegen.CHUNK, 500  # tracemalloc finds each line in time ∝ function size
    try:
        prog.run(x=x)  # compile first
        peak = _peak(lambda: prog.run(x=x))
    finally:
        codegen.CHUNK = old
    assert peak < 20 * x.nbytes, peak
    assert prog.run(x=x).grads["x"].tolist() == reference(prog, x=x)[1]["x"].tolist()


@pytest.mark.parametrize("expr", ["sigmoid(x) * y", "tanh(x) * y", "sum(sigmoid(x * y))",
                                  "sigmoid(tanh(x)) + sigmoid(x)"])
def test_in_place_rules_for_large_arrays_give_the_interpreters_bits(expr):
    rng = np.random.default_rng(4)
    x = rng.normal(scale=30, size=5000)
    x[:4] = [0.0, -0.0, np.nan, np.inf]
    text = f"input x, y\noutput f = {expr}"
    check(text, x=x, y=rng.normal(size=5000))
    check(text, x=x, y=2.0)
    check(text, 1e-6, x=x.astype(np.float32), y=np.float32(2))  # float32: the plain rules
