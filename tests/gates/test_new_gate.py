"""A gate is one record: registered in one block, it works everywhere with no other edit
(run on floats and arrays, forward, jvp, run_batch, --explain, the picture, the
gradient check, fmt), because every tier is derived from the record."""
from __future__ import annotations

import numpy as np
import pytest

import graphdsl
from graphdsl.gates import GATES, NAMESPACE, G, Gate, elementwise, register
from graphdsl.inspect.explain import explain


@pytest.fixture
def new_gates():
    """Register ``cube`` (elementwise, its forward an expression) and ``sumsq`` (a reduction
    with a hand-written vjp) for one test, as a user of the gate table would."""
    before_gates, before_names = dict(GATES), dict(NAMESPACE)
    # ---- the one block a new gate takes
    elementwise("cube", lambda out, x: 3.0 * (x * x), forward_rule=lambda x: x * x * x,
                doc="x³: its derivative is 3x²")
    register(Gate("sumsq", 1, impl=lambda x: float(np.sum(x * x)) if np.ndim(x) else x * x,
                  vjp_rules=(lambda g, out, x: G.broadcast_like(g, x) * (2.0 * x),),
                  jvp_rule=lambda ts, out, x: G.sum(ts[0] * (2.0 * x)), shape=lambda shapes: (),
                  rows=("axis", 0), doc="sum of squares"))
    # ----
    yield
    GATES.clear(), GATES.update(before_gates)
    NAMESPACE.clear(), NAMESPACE.update(before_names)


TEXT = "input x = 0.5, w = 1.5\nh = cube(w * x) + x\noutput f = sumsq(h)\n"


def test_run_on_floats_and_arrays(new_gates):
    prog = graphdsl.loads(TEXT)
    for x, w in [(0.5, 1.5), (np.array([0.5, -1.0, 2.0]), 1.5), (np.array([[0.1, 0.2], [0.3, 0.4]]), -0.5)]:
        h = (w * x) ** 3 + x
        dh = 2 * h
        res = prog.run(x=x, w=w)
        np.testing.assert_allclose(res.outputs["f"], np.sum(h * h), rtol=1e-12)
        np.testing.assert_allclose(res.grads["x"], dh * (3 * (w * x) ** 2 * w + 1), rtol=1e-12)
        np.testing.assert_allclose(res.grads["w"], np.sum(dh * 3 * (w * x) ** 2 * x), rtol=1e-12)
        assert prog.forward(x=x, w=w)["f"] == pytest.approx(float(np.sum(h * h)), rel=1e-12)
        _, tangents = prog.jvp({"x": x, "w": w}, {"x": np.ones_like(x) if np.ndim(x) else 1.0})
        assert tangents["f"] == pytest.approx(float(np.sum(res.grads["x"])), rel=1e-12)
        assert prog.check_gradients(x=x, w=w).ok
    # the interpreter (check_finite) and the compiled code agree
    res, ref = prog.run(x=0.7, w=-0.3), prog.run(x=0.7, w=-0.3, check_finite=True)
    assert res.grads == pytest.approx(ref.grads, rel=1e-12)


def test_run_batch_explain_picture_and_fmt(new_gates):
    prog = graphdsl.loads(TEXT)
    rows = np.array([[0.5, -1.0], [2.0, 0.25], [1.0, 1.0]])
    batch = prog.run_batch(x=rows, w=1.5)
    for k in range(3):
        np.testing.assert_allclose(batch.grads["x"][k], prog.run(x=rows[k], w=1.5).grads["x"], rtol=1e-12)
    texts = [step.text for step in explain(prog.run())]
    assert any("local ∂" in text and "cube" in text for text in texts), texts
    assert any("sumsq rule" in text for text in texts), texts
    dot = prog.to_dot(prog.run())
    assert "cube" in dot and "sumsq" in dot
    assert graphdsl.loads(prog.to_text()).run().grads == prog.run().grads


def test_gone_after_the_test():
    assert "cube" not in GATES and "sumsq" not in GATES
    with pytest.raises(graphdsl.GraphDefinitionError, match="unknown gate 'cube'"):
        graphdsl.loads("input x\noutput f = cube(x)")
