"""forward() and jvp() compiled (forwardmode.py, forwardcode.py) against the reference
interpreter they ran on before: every number bit for bit (signed zeros and types
alike), every error the same. A NaN equals a NaN whatever its sign: CPython's own float
addition returns one operand's NaN or the other's depending on whether its call site
has been specialised yet (the interpreter's ``a + b`` itself changes after warming up).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import graphdsl
from graphdsl.compiled import runner
from graphdsl.compiled import numpycode, source as codegen
from graphdsl.run import interpret as execute
from graphdsl.run.bindings import bind, to_value
from graphdsl.run.export import export
from graphdsl.gates import GATES

from gate_cases import PROGRAMS, gate_call
from test_compile import SCALARS, SHAPE_SETS, _call, graphs, values


def reference_forward(prog, bindings):
    sched = prog.schedule
    with np.errstate(all="ignore"):
        values = execute.forward(sched, bind(sched.leaves, bindings))
    return {name: export(values[slot]) for name, slot in sched.outputs}


def reference_jvp(prog, bindings, tangents):
    sched = prog.schedule
    slots = {leaf.name: leaf.slot for leaf in sched.leaves}
    with np.errstate(all="ignore"):
        values = execute.forward(sched, bind(sched.leaves, bindings))
        ts = execute.tangents(sched, values, {slots[name]: to_value(t, name) for name, t in tangents.items()})
    return ({name: export(values[slot]) for name, slot in sched.outputs},
            {name: export(np.zeros_like(values[slot]) if ts[slot] is None else ts[slot])
             for name, slot in sched.outputs})


def outcome(fn):
    try:
        return "ok", fn()
    except graphdsl.GraphError as err:
        return "error", (type(err), str(err))


def assert_bits(got: dict, want: dict):
    assert got.keys() == want.keys()
    for name in want:
        assert type(got[name]) is type(want[name]), name
        np.testing.assert_array_equal(got[name], want[name], err_msg=name, strict=True)
        signs = np.signbit(got[name]) == np.signbit(want[name])
        assert np.all(signs | np.isnan(want[name])), name


def check(text, tangents=None, **bindings):
    """forward and jvp (for every set of leaves given a tangent, or ``tangents``) against
    the interpreter, twice (the second time on the cached code)."""
    prog = graphdsl.loads(text)
    kind, want = outcome(lambda: reference_forward(prog, bindings))
    for _ in range(2):
        got_kind, got = outcome(lambda: prog.forward(bindings))
        assert got_kind == kind, (got, want)
        assert_bits(got, want) if kind == "ok" else (got == want or pytest.fail(f"{got} != {want}"))
    names = [name for name in prog.inputs + prog.params if name in bindings]
    sets = [tangents] if tangents is not None else \
        [dict.fromkeys(chosen) for k in range(len(names) + 1) for chosen in itertools.combinations(names, k)]
    for chosen in sets:
        ts = {name: chosen[name] if chosen[name] is not None else _direction(bindings[name], name)
              for name in chosen}
        kind, want = outcome(lambda: reference_jvp(prog, bindings, ts))
        for _ in range(2):
            got_kind, got = outcome(lambda: prog.jvp(bindings, ts))
            assert got_kind == kind, (got, want)
            if kind == "ok":
                assert_bits(got[0], want[0])
                assert_bits(got[1], want[1])
            else:
                assert got == want
    return prog


def _direction(value, name):
    """A tangent of the value's shape and type: not 1.0 (which multiplies exactly)."""
    scale = {"a": 0.3, "b": -1.7, "c": 2.9, "x": 0.7, "y": -1.3, "z": 3.1}.get(name, 0.5)
    return scale if isinstance(value, float) else np.full(np.shape(value), scale)


# ---------------------------------------------------------------- every gate
@pytest.mark.parametrize("name", sorted(GATES))
def test_every_gate_on_scalars(name):
    for a, b, c in SCALARS:
        check(_call(name, GATES[name].arity), a=a, b=b, c=c)


@pytest.mark.parametrize("name", sorted(GATES))
def test_every_gate_on_arrays(name):
    gate = GATES[name]
    rng = np.random.default_rng(1)
    for sa, sb in SHAPE_SETS:
        a, b = rng.uniform(0.2, 2.0, sa), rng.uniform(-2.0, 2.0, sb)
        call = gate_call(name, ", ".join("abc"[:gate.arity]))
        text = f"input a, b, c\noutput f = sum({call}) + sum(b) + sum(c), g = {call}"
        check(text, a=float(a) if sa == () else a, b=b, c=rng.uniform(-1.0, 1.0, sb))


@pytest.mark.parametrize("text,bindings", PROGRAMS, ids=range(len(PROGRAMS)))
def test_indexing_joining_comparisons_and_the_rest(text, bindings):
    check(text, **bindings)


def test_losses_with_tangents_of_labels_too():
    scores, labels = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]]), np.array([2.0, 0.0])
    for loss in ("softmax_cross_entropy(s, y)", "hinge_loss(s, y)", "mean(equal(argmax(s), y))"):
        check(f"input s, y\noutput f = {loss}", s=scores, y=labels)


# ---------------------------------------------------------------- random graphs
@settings(max_examples=150, deadline=None)
@given(graphs(), values, values, values)
@example("input x, y, z\nn0 = tanh(x)\noutput n0", 0.5493061443340548, 0.0, 0.0)
@example("input x, y, z\nn0 = exp(x)\nn1 = x / y\noutput n0, n1", 0.7, 0.0, 1.0)
def test_random_scalar_graphs_give_the_interpreters_bits(text, x, y, z):
    check(text, x=x, y=y, z=z)


@settings(max_examples=60, deadline=None)
@given(graphs(), st.sampled_from([(3,), (2, 3)]), st.integers(0, 2 ** 31))
def test_random_array_graphs_give_the_interpreters_bits(text, shape, seed):
    rng = np.random.default_rng(seed)
    check(text, x=rng.uniform(-3, 3, shape), y=rng.uniform(-3, 3, shape[-1:]), z=float(rng.uniform(-3, 3)))


@settings(max_examples=30, deadline=None)
@given(graphs(), st.integers(0, 2 ** 31))
def test_large_arrays_in_place_give_the_interpreters_bits(text, seed):
    rng = np.random.default_rng(seed)
    old = numpycode.INPLACE_MIN
    numpycode.INPLACE_MIN = 1  # every array in-place
    try:
        check(text, x=rng.uniform(-3, 3, (2, 3)), y=rng.uniform(-3, 3, 3), z=float(rng.uniform(-3, 3)))
    finally:
        numpycode.INPLACE_MIN = old


@settings(max_examples=30, deadline=None)
@given(graphs(), values, values, values)
def test_chunked_code_gives_the_interpreters_bits(text, x, y, z):
    old = codegen.CHUNK
    codegen.CHUNK = 3
    try:
        check(text, x=x, y=y, z=z)
        check(text, x=np.array([x, y]), y=y, z=z)
    finally:
        codegen.CHUNK = old


@pytest.mark.parametrize("expr, x", [("x / 0", 1.0), ("log(x)", 0.0), ("exp(x)", 1000.0),
                                     ("sqrt(x)", -1.0), ("x ** 2000", 10.0), ("sin(x)", math.inf),
                                     ("0 ** x", -1.0), ("x ** 0.5", -8.0), ("1 / x", -0.0)])
def test_float_errors_give_ieee_results(expr, x):
    check(f"input x\noutput f = {expr}", x=x)


def test_float32_and_other_dtypes_as_the_interpreter():
    for x in (np.float32(0.5), np.array([0.5, -2.0], np.float32), np.array([1, 2]), np.float16(3)):
        check("input x, w = 0.25\noutput f = sigmoid(x * w) * x, g = sum(exp(x))", x=x)


# ---------------------------------------------------------------- compiled, not interpreted
def test_a_value_read_once_is_written_into_its_reader_nested_a_few_deep():
    from graphdsl.compiled.floatcode import FUSE_DEPTH

    n = 3_000  # a chain: every value but a3 (read twice) is read once
    text = "input x\na0 = sin(x)\n" + "".join(f"a{i} = tanh(a{i - 1}) * 0.5\n" for i in range(1, n))
    prog = graphdsl.loads(text + f"output f = a{n - 1} - a3, g = a3\n", max_nodes=10 * n)
    for x in (0.25, -1.5, 3.0):
        assert_bits(prog.forward(x=x), reference_forward(prog, {"x": x}))
    lines = prog._runner.forward_entry.kernel.float_source.splitlines()
    assert len(lines) < len(prog.schedule.steps) // FUSE_DEPTH + 4
    depths = [max(line[:i].count("(") - line[:i].count(")") for i in range(len(line))) for line in lines]
    # each fused level adds a call's and a group's parentheses, and the product by 0.5 read
    # once is written where it is read, in a group of its own (floatcode: one op on a constant)
    assert max(depths) <= 3 * (FUSE_DEPTH + 1)


def test_the_sigmoid_neuron_runs_on_generated_float_code():
    prog = graphdsl.loads("input x0, x1, w0, w1, b\noutput n = sigmoid(w0*x0 + w1*x1 + b)")
    bindings = {"x0": -1.0, "x1": -2.0, "w0": 2.0, "w1": -3.0, "b": -3.0}
    prog.forward(bindings)
    assert "EXP(" in prog._runner.forward_entry.kernel.float_source
    prog.jvp(bindings, {"x0": 1.0})
    assert prog._runner.tangents.floats[(0,)] is not None
    prog.jvp(bindings, {"x0": np.float64(1.0), "b": 2})
    assert list(prog._runner.tangents.floats) == [(0,), (0, 4)]


def test_graphs_beyond_the_compile_limit_run_on_the_interpreter(monkeypatch):
    monkeypatch.setattr(runner, "COMPILE_LIMIT", 2)
    prog = check("input x, y\na = x * y\nb = sin(a)\noutput f = b * x", x=0.7, y=-1.2)
    assert prog._runner.forward_entry == prog._runner._interpret_forward
    assert not prog._runner.tangents.compiled and not prog._runner.tangents.floats


def test_results_never_share_an_array_with_the_caller_or_each_other():
    prog = graphdsl.loads("input x\na = identity(x)\noutput y = a, z = transpose(a), w = a * 2")
    x, tx = np.arange(4.0).reshape(2, 2), np.ones((2, 2))
    for outputs in (prog.forward(x=x), *prog.jvp({"x": x}, {"x": tx})):
        for value in outputs.values():
            value[...] = -1.0
    np.testing.assert_array_equal(x, np.arange(4.0).reshape(2, 2))
    np.testing.assert_array_equal(tx, np.ones((2, 2)))
    outputs, tangents = prog.jvp({"x": x}, {"x": tx})
    assert not np.shares_memory(outputs["y"], outputs["z"])
    assert not np.shares_memory(tangents["y"], tangents["z"])


# ---------------------------------------------------------------- tangents have their leaf's shape
@pytest.mark.parametrize("value, tangent", [(np.zeros(2), 1.0), (np.zeros(2), [1.0, 2.0, 3.0]),
                                            (np.zeros((2, 2)), [1.0, 2.0]), (0.5, [1.0]),
                                            (0.5, np.ones((1, 1)))])
def test_a_tangent_of_another_shape_is_a_binding_error(value, tangent):
    prog = graphdsl.loads("input x\noutput f = sum(x * 2)")
    with pytest.raises(graphdsl.BindingError, match="the tangent of 'x' must have the shape of its value") \
            as err:
        prog.jvp({"x": value}, {"x": tangent})
    assert err.value.line == 1 and err.value.column == 7


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 3), max_size=3), st.lists(st.integers(1, 3), max_size=3))
def test_a_tangent_is_taken_exactly_when_its_shape_is_its_leafs(value_shape, tangent_shape):
    prog = graphdsl.loads("input x\noutput f = x * 3")
    value, tangent = np.ones(value_shape), np.full(tangent_shape, 2.0)
    if tuple(value_shape) == tuple(tangent_shape):
        np.testing.assert_array_equal(prog.jvp({"x": value}, {"x": tangent})[1]["f"], tangent * 3)
    else:
        with pytest.raises(graphdsl.BindingError, match="must have the shape of its value"):
            prog.jvp({"x": value}, {"x": tangent})


def test_tangents_of_unknown_names_and_bad_values():
    prog = graphdsl.loads("input x = 1\noutput f = x * 3")
    for tangents, message in [({"y": 1.0}, "tangent for unknown input 'y'"), ({1: 1.0}, "unknown input 1"),
                              ({"x": "a"}, "'x' must be a number"), ({"x": None}, "'x' must be a number")]:
        with pytest.raises(graphdsl.BindingError, match=message):
            prog.jvp({}, tangents)
