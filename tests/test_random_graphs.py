"""Random graphs, differentiated three ways: reverse mode, forward mode and central differences.

The generator only combines values through gates that are smooth on the values it
can produce (log of 1 + a², division by 1 + b²; kinks such as max, abs and relu are
tested on their own in test_gates), so every disagreement is a bug.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphdsl
from fused_tolerance import assert_fused_close, used_fused
from optional import needs_numba

UNARY = ["sin({a})", "cos({a})", "tanh({a})", "sigmoid({a})", "exp(tanh({a}))", "log(1 + square({a}))",
         "sqrt(1 + {a} * {a})", "-{a}", "{a} ** 2"]
BINARY = ["{a} + {b}", "{a} - {b}", "{a} * {b}", "{a} / (1 + {b} ** 2)",
          "{a} * sin({b}) + {b}", "(1 + {a} ** 2) ** tanh({b})"]


@st.composite
def graphs(draw, size=3, reduced=True):
    """A graph and its bindings: arrays of ``size`` numbers; the output summed to a scalar,
    or (``reduced=False``) elementwise throughout, with x0 an array, as the fused loop
    of the jit extra takes it."""
    n_inputs = draw(st.integers(1, 3))
    shapes = [draw(st.sampled_from([(), (size,)])) for _ in range(n_inputs)]
    if not reduced:
        shapes[0] = (size,)
    names = [f"x{i}" for i in range(n_inputs)]
    lines = [f"input {', '.join(names)}"]
    nodes = list(names)
    for k in range(draw(st.integers(1, 8))):
        a = draw(st.sampled_from(nodes))
        if draw(st.booleans()):
            expr = draw(st.sampled_from(UNARY)).format(a=a)
        else:
            expr = draw(st.sampled_from(BINARY)).format(a=a, b=draw(st.sampled_from(nodes)))
        nodes.append(f"n{k}")
        lines.append(f"n{k} = {expr}")
    total = " + ".join(nodes[-2:])
    lines.append(f"output f = sum({total})" if reduced else f"output f = {total} + 0 * x0")
    if size == 3:
        values = {name: draw(st.lists(st.floats(-2, 2), min_size=3, max_size=3)) if shape else draw(st.floats(-2, 2))
                  for name, shape in zip(names, shapes)}
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
        values = {name: rng.uniform(-2, 2, size=shape) if shape else float(rng.uniform(-2, 2))
                  for name, shape in zip(names, shapes)}
    return "\n".join(lines), {k: np.array(v) if isinstance(v, list) else v for k, v in values.items()}


def numeric_gradient(prog, values, name, eps=1e-6):
    base = np.array(values[name], dtype=float)
    grad = np.zeros_like(base)
    for index in np.ndindex(base.shape):
        shifted = []
        for step in (eps, -eps):
            x = base.copy()
            x[index] += step
            shifted.append(prog.forward(**{**values, name: x if x.ndim else float(x)})["f"])
        grad[index] = (shifted[0] - shifted[1]) / (2 * eps)
    return grad


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_reverse_forward_and_numeric_gradients_agree(case):
    text, values = case
    prog = graphdsl.loads(text)
    res = prog.run(**values)
    scale = 1e-6 * max(1.0, abs(res.outputs["f"]))
    rng = np.random.default_rng(0)
    directions = {name: rng.normal(size=np.shape(v)) for name, v in values.items()}
    _, tangents = prog.jvp(values, directions)
    expected_tangent = 0.0
    for name in values:
        numeric = numeric_gradient(prog, values, name)
        np.testing.assert_allclose(res.grads[name], numeric, rtol=1e-5, atol=scale * 10, err_msg=text)
        expected_tangent += float(np.sum(res.grads[name] * directions[name]))
    np.testing.assert_allclose(tangents["f"], expected_tangent, rtol=1e-9, atol=1e-9, err_msg=text)


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_in_place_code_agrees_with_the_interpreter(case):
    """The same graphs with the in-place forms of large arrays, however small the arrays
    (the numpy path: the fused loop is never used on three-number arrays)."""
    from graphdsl.compiled import numpycode
    from graphdsl.run.export import pack
    from graphdsl.run import interpret
    from graphdsl.run.bindings import bind
    text, values = case
    old = numpycode.INPLACE_MIN
    numpycode.INPLACE_MIN = 1
    try:
        prog = graphdsl.loads(text)
        res = prog.run(**values)
    finally:
        numpycode.INPLACE_MIN = old
    sched = prog.schedule
    with np.errstate(all="ignore"):
        forward = interpret.forward(sched, bind(sched.leaves, values))
        outputs, grads = pack(sched, forward, interpret.backward(sched, "f", forward))
    np.testing.assert_allclose(res.outputs["f"], outputs["f"], rtol=1e-12, err_msg=text)
    for name in values:
        np.testing.assert_allclose(res.grads[name], grads[name], rtol=1e-12, atol=1e-300, err_msg=text)


@pytest.fixture(scope="module")
def jit_on(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHDSL_CACHE", str(tmp_path_factory.mktemp("jit-cache")))
        mp.setenv("GRAPHDSL_JIT", "always")
        yield


@needs_numba
@settings(max_examples=30, deadline=None)
@given(graphs(size=700, reduced=False))
def test_the_fused_loop_agrees_with_the_interpreter(jit_on, case):
    """The same random graphs, elementwise, on 700-number arrays, with the JIT forced on:
    one fused loop, the interpreter's numbers to 1e-13 relative (exp, tanh... may differ by
    a few ulps, which a later cancellation makes large against a small result, never
    against the values it cancelled: tests/fused_tolerance.py)."""
    text, values = case
    prog = graphdsl.loads(text)
    res = prog.run(**values)
    assert used_fused(prog, "f"), text
    assert np.all(np.isfinite(res.outputs["f"])), text  # (the generator's graphs are smooth)
    assert_fused_close(prog, res, values, "f")
