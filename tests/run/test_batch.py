"""run_batch (batch.py) against run called once per row, stacked.

Arithmetic gives the loop's bits. Transcendental functions differ by an ulp where
a row of ``run`` took the float path (``math``) and the batch numpy's vector code;
reductions and stacked matmul may sum in another order (rtol 1e-12, 1e-9 after
chains of up to 25 gates).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import graphdsl
from graphdsl.run import batch, rows as rows_module

from gate_cases import PROGRAMS
from scalar_graphs import graphs


def loop(prog, of, bindings, rows):
    results = [prog.run(of, **{k: v[i] for k, v in bindings.items()}) for i in range(rows)]
    return ({k: np.stack([r.outputs[k] for r in results]) for k in results[0].outputs},
            {k: np.stack([r.grads[k] for r in results]) for k in results[0].grads})


def check(text, bindings, rtol=0.0, of=None, vectorised=True):
    prog = graphdsl.loads(text)
    rows = len(next(iter(bindings.values())))
    got = prog.run_batch(of, **bindings)
    assert (batch.run_batch(prog.schedule, of or prog.outputs[0], bindings, {}, rows) is not None) == vectorised
    outputs, grads = loop(prog, of, bindings, rows)
    assert got.rows == rows and got.of == (of or prog.outputs[0])
    for mine, theirs in [(got.outputs, outputs), (got.grads, grads)]:
        assert mine.keys() == theirs.keys()
        for name in theirs:
            assert mine[name].shape == theirs[name].shape, name
            assert mine[name].flags.writeable
            if rtol:
                np.testing.assert_allclose(mine[name], theirs[name], rtol=rtol, atol=1e-14, err_msg=name)
            else:
                np.testing.assert_array_equal(mine[name], theirs[name], err_msg=name)


@pytest.mark.parametrize("text,bindings", PROGRAMS, ids=range(len(PROGRAMS)))
def test_indexing_joining_comparisons_and_the_rest_take_the_batch_axis(text, bindings):
    """Indexing, reshape, concat and stack reach past the batch axis (their records' rows
    give the options for it); a matrix-vector product falls back to the loop."""
    rows = {name: np.stack([value, value if name == "labels" else value * 1.5 - 0.25, value[::-1]])
            for name, value in bindings.items()}
    check(text, rows, rtol=1e-12, vectorised="@" not in text)


NEURON = "input x0, x1, w0 = 2, w1 = -3, b = -3\noutput n = sigmoid(w0*x0 + w1*x1 + b)"


def test_sigmoid_neuron_rows_with_shared_defaults():
    rng = np.random.default_rng(0)
    check(NEURON, {"x0": rng.normal(size=50), "x1": rng.normal(size=50)}, rtol=1e-12)
    check(NEURON, {name: rng.normal(size=7) for name in ("x0", "x1", "w0", "w1", "b")}, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(graphs(ops=["+", "-", "*", "/", "max", "min"]), st.integers(0, 2 ** 31))
def test_arithmetic_graphs_give_the_loops_bits(text, seed):
    rng = np.random.default_rng(seed)
    check(text, {"x": rng.uniform(-3, 3, (5, 2)), "y": rng.uniform(-3, 3, (5, 1)),
                 "z": rng.uniform(-3, 3, (5,))})


@settings(max_examples=60, deadline=None)
@given(graphs(), st.integers(0, 2 ** 31), st.sampled_from([(), (3,), (2, 3)]))
def test_random_elementwise_graphs(text, seed, row):
    rng = np.random.default_rng(seed)
    bindings = {"x": rng.uniform(-3, 3, (4,) + row), "z": rng.uniform(-3, 3, (4,))}
    prog = graphdsl.loads(text)
    prog_bindings = dict(bindings)
    try:
        loop(prog, None, prog_bindings | {"y": np.full((4,) + row[-1:], 0.5)}, 4)
    except graphdsl.GraphError:
        return
    check(text, prog_bindings | {"y": np.full((4,) + row[-1:], 0.5)}, rtol=1e-9)


@pytest.mark.parametrize("expr", ["sum(x)", "mean(x)", "sum(x, axis=0) * w", "mean(x, axis=-1)",
                                  "sum(x, axis=[0, 1])", "sum(softmax(x) * w)",
                                  "sum(softmax(x, axis=0) * w)", "sum(logsumexp(x))",
                                  "sum(logsumexp(x, axis=0) * w)", "sum(x * w) + sum(w)"])
def test_reductions_take_the_batch_axis(expr):
    rng = np.random.default_rng(1)
    text = f"input x, w = [1, 2, 3]\noutput f = {expr}"
    check(text, {"x": rng.normal(size=(5, 2, 3))}, rtol=1e-12)
    check(text, {"x": rng.normal(size=(5, 2, 3)), "w": rng.normal(size=(5, 3))}, rtol=1e-12)


def test_stacked_matmul_vectorises_and_vectors_fall_back():
    rng = np.random.default_rng(2)
    text = "input A, B: [3, 2] = [[1, 2], [3, 4], [5, 6]]\noutput f = sum((A @ B) ** 2)"
    check(text, {"A": rng.normal(size=(6, 4, 3))}, rtol=1e-12)
    check(text, {"A": rng.normal(size=(6, 4, 3)), "B": rng.normal(size=(6, 3, 2))}, rtol=1e-12)
    check("input W, x\noutput f = sum((W @ x) ** 2)",
          {"W": rng.normal(size=(6, 4, 3)), "x": rng.normal(size=(6, 3))}, rtol=1e-12, vectorised=False)
    check("input x\noutput f = sum(transpose(x) * 2)", {"x": rng.normal(size=(3, 2, 2))},
          vectorised=False)


def test_outputs_that_do_not_depend_on_the_batch_and_other_outputs():
    text = "input x, w = 2\nc = w * 3\noutput c, f = x * c"
    check(text, {"x": np.arange(4.0)}, of="f")
    check(text, {"x": np.arange(4.0)}, vectorised=False)  # of c: the loop


def test_errors_are_those_of_run():
    prog = graphdsl.loads(NEURON)
    with pytest.raises(graphdsl.BindingError, match="must share one leading length"):
        prog.run_batch(x0=np.ones(3), x1=np.ones(4))
    with pytest.raises(graphdsl.BindingError, match="needs at least one binding with a leading batch axis"):
        prog.run_batch(x0=1.0, x1=2.0)
    with pytest.raises(graphdsl.BindingError, match="unknown input 'q'"):
        prog.run_batch(x0=np.ones(3), q=np.ones(3))
    prog = graphdsl.loads("input W, x\noutput f = sum(W @ x)")
    with pytest.raises(graphdsl.NumericError) as err:
        prog.run_batch(W=np.ones((2, 2, 3)), x=np.ones((2, 2)))
    assert err.value.line == 2


def test_a_million_rows_are_vectorised():
    rows = 1_000_000
    rng = np.random.default_rng(3)
    prog = graphdsl.loads(NEURON)
    x0, x1 = rng.normal(size=rows), rng.normal(size=rows)
    res = prog.run_batch(x0=x0, x1=x1)
    z = 2 * x0 - 3 * x1 - 3
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(res.outputs["n"], s, rtol=1e-12)
    np.testing.assert_allclose(res.grads["w1"], s * (1 - s) * x1, rtol=1e-9, atol=1e-300)
    i = 123_456
    one = prog.run(x0=x0[i], x1=x1[i])
    assert res.outputs["n"][i] == pytest.approx(one.outputs["n"], rel=1e-12)
    assert res.grads["x0"][i] == pytest.approx(one.grads["x0"], rel=1e-12)


# ---------------------------------------------------------------- values shared by every row
def loop_shared(prog, of, batched, shared, rows):
    return loop(prog, of, {**batched, **{k: np.broadcast_to(v, (rows,) + np.shape(v)) for k, v in shared.items()}},
                rows)


def check_shared(text, batched, once, vectorised, rtol=0.0, shared=None):
    """run_batch with values given ``once`` (and in ``shared``) against run once per row
    with those values."""
    prog = graphdsl.loads(text)
    rows = len(next(iter(batched.values())))
    got = prog.run_batch({**batched, **once}, shared=shared)
    assert got.rows == rows
    splits = rows_module.split(prog.schedule.leaves, {**batched, **once}, shared or {})
    assert (batch.run_batch(prog.schedule, got.of, *splits) is not None) == vectorised
    outputs, grads = loop_shared(prog, None, batched, {**once, **(shared or {})}, rows)
    for mine, theirs in [(got.outputs, outputs), (got.grads, grads)]:
        assert mine.keys() == theirs.keys()
        for name in theirs:
            np.testing.assert_allclose(mine[name], theirs[name], rtol=rtol, atol=0, err_msg=name)


def test_the_issues_shared_scalar_in_both_paths():
    xs = np.array([0.5, -1.0, 2.0])
    check_shared("input x, y\noutput f = sin(x) * y", {"x": xs}, {"y": 5.0}, True, rtol=1e-15)
    check_shared("input x, y\noutput f = sum(transpose(x) * y)", {"x": xs}, {"y": 5.0}, False)


def test_declared_shapes_tell_a_shared_value_from_one_per_row():
    rng = np.random.default_rng(5)
    text = "input x: [3], W: [2, 3], s: [] = 1\noutput f = sum(tanh(W * x) * s)"
    x, W = rng.normal(size=(4, 3)), rng.normal(size=(2, 3))
    check_shared(text, {"x": x}, {"W": W}, True, rtol=1e-15)
    check_shared(text, {"W": rng.normal(size=(4, 2, 3))}, {"x": x[0], "s": 2.0}, True, rtol=1e-15)
    check_shared(text, {"x": x, "s": np.arange(4.0)}, {"W": W}, True, rtol=1e-15)
    check_shared("input x: [n], W: [m, n]\noutput f = sum(transpose(W) * 2) + sum(x)",
                 {"x": x}, {"W": W}, False)


def test_an_undeclared_array_has_its_rows_first_and_shared_shares_it():
    prog = graphdsl.loads("input x, W\noutput f = sum(W * x)")
    x, W = np.arange(3.0), np.ones((2, 2))
    with pytest.raises(graphdsl.BindingError, match=r"leading length \(x: 3, W: 2\); W has no declared shape, "
                                                    r"so its first axis is taken as the batch axis: .* declare "
                                                    r"its shape \(input W: \[...\]\) or pass it in "
                                                    r"shared=\{'W': ...\}"):
        prog.run_batch(x=x, W=W)
    with pytest.raises(graphdsl.BindingError, match=r"leading length \(x: 3, y: 3, W: 2\); W has no declared"):
        graphdsl.loads("input x, y, W\noutput f = sum(W * x * y)").run_batch(x=x, y=x, W=W)
    check_shared("input x, W\noutput f = sum(W * x)", {"x": x}, {}, True, shared={"W": W})
    check_shared("input x, W\noutput f = sum(transpose(W) * x)", {"x": x}, {}, False, shared={"W": W})


def test_what_fits_neither_reading_is_a_binding_error():
    prog = graphdsl.loads("input x, W: [2, 2]\noutput f = sum(W * x)")
    with pytest.raises(graphdsl.BindingError, match=r"input 'W' is declared with shape \[2, 2\]: give one value "
                                                    r"of that shape, shared by every row, or one per row .* got "
                                                    r"shape \[2\]") as err:
        prog.run_batch(x=np.arange(3.0), W=np.ones(2))
    assert (err.value.line, err.value.column) == (1, 10)
    with pytest.raises(graphdsl.BindingError, match=r"should have shape \[2, 2\], got a scalar"):
        prog.run_batch(x=np.arange(3.0), W=1.0)
    with pytest.raises(graphdsl.BindingError, match="'x' given both as a binding and in shared"):
        prog.run_batch(x=np.arange(3.0), shared={"x": 1.0})
    with pytest.raises(graphdsl.BindingError, match="unknown input 'q'"):
        prog.run_batch(x=np.arange(3.0), shared={"q": 1.0})
    with pytest.raises(TypeError, match="run_batch takes shared as a dict of name -> value, got list"):
        prog.run_batch(x=np.arange(3.0), shared=[1.0])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 4), st.lists(st.booleans(), min_size=4, max_size=4), st.booleans(),
       st.integers(0, 2 ** 31))
def test_shared_values_are_those_of_run_per_row(rows, shared_flags, vectorises, seed):
    """Each leaf given once or once per row (at least one per row): the batch equals run
    per row with the shared values, on the vectorised path and on the loop."""
    rng = np.random.default_rng(seed)
    shapes = {"a": (), "b": (3,), "c": (2, 3), "d": ()}
    body = "sum(tanh(a * b + c) * d)" if vectorises else "sum(transpose(c) * 2) + sum(a * b * d)"
    text = "input a: [], b: [3], c: [2, 3], d\noutput f = " + body
    flags = list(shared_flags)
    flags[seed % 4] = False  # one value per row at least
    batched, shared = {}, {}
    for (name, shape), once in zip(shapes.items(), flags):
        if once:
            shared[name] = rng.normal(size=shape) if shape else float(rng.normal())
        else:
            batched[name] = rng.normal(size=(rows,) + shape)
    if rows == 0:  # both paths give empty stacks of a row's shape
        result = graphdsl.loads(text).run_batch({**batched, **shared})
        assert result.outputs["f"].shape == (0,)
        assert {name: value.shape for name, value in result.grads.items()} == \
            {name: (0,) + shape for name, shape in shapes.items()}
        return
    check_shared(text, batched, shared, vectorises, rtol=1e-12)
