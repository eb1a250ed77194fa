"""The seed lecture's worked examples, with exact numbers."""
import math

import numpy as np
import pytest

import graphdsl

SIGMOID_NEURON = """
input w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3
output f = sigmoid(w0*x0 + w1*x1 + w2)
"""
SIGMOID_GATE = """
gate sigmoid_gate(x) {
    e = exp(-x)
    return 1 / (1 + e)
}
input w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3
output f = sigmoid_gate(w0*x0 + w1*x1 + w2)
"""


def test_mul_add_forward_and_backward_exactly():
    prog = graphdsl.loads("# f(x, y, z) = (x + y) * z\ninput x = -2, y = 5, z = -4\nq = x + y\nf = q * z\noutput f\n")
    res = prog.run(x=-2, y=5, z=-4)
    assert res.outputs == {"f": -12.0}
    assert res.grads == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert res.values["q"] == 3.0
    assert res.node_grads["q"] == -4.0  # df/dq = z


def test_sin_product():
    prog = graphdsl.loads("input x1, x2\noutput f = x1 * x2 + sin(x1)")
    res = prog.run(x1=2.0, x2=3.0)
    assert res.outputs["f"] == 6.0 + math.sin(2.0)
    assert res.grads["x1"] == 3.0 + math.cos(2.0)
    assert res.grads["x2"] == 2.0


@pytest.mark.parametrize("text", [SIGMOID_NEURON, SIGMOID_GATE], ids=["builtin", "compound"])
def test_sigmoid_neuron(text):
    res = graphdsl.loads(text).run()
    s = 1 / (1 + math.exp(-1.0))
    assert res.outputs["f"] == pytest.approx(0.7310585786300049, abs=1e-15)
    expected = {"w0": -1 * s * (1 - s), "x0": 2 * s * (1 - s), "w1": -2 * s * (1 - s),
                "x1": -3 * s * (1 - s), "w2": s * (1 - s)}
    for name, value in expected.items():
        assert res.grads[name] == pytest.approx(value, rel=1e-14)
    rounded = {k: round(v, 4) for k, v in res.grads.items()}
    assert rounded == {"w0": -0.1966, "x0": 0.3932, "w1": -0.3932, "x1": -0.5898, "w2": 0.1966}


def test_compound_sigmoid_is_drawn_as_one_call():
    prog = graphdsl.loads(SIGMOID_GATE)
    calls = {frame[:2] for node in prog.graph.nodes for frame in prog.graph.nodes[node]["scope"]}
    assert calls == {("sigmoid_gate", "f")}


def test_backward_patterns_add_distributes_max_routes_mul_switches():
    prog = graphdsl.loads("input x = 3, y = -4, z = 2, w = -1\noutput f = 2 * (x * y + max(z, w))")
    res = prog.run()
    assert res.outputs["f"] == -20.0
    assert res.grads == {"x": -8.0, "y": 6.0, "z": 2.0, "w": 0.0}


def test_vector_norm():
    prog = graphdsl.loads("input W: [n, n], x: [n]\nq = W @ x\noutput f = sum(q ** 2)")
    W = np.array([[0.1, 0.5], [-0.3, 0.8]])
    x = np.array([0.2, 0.4])
    res = prog.run(W=W, x=x)
    q = W @ x
    assert res.outputs["f"] == pytest.approx(float(q @ q), rel=1e-15)
    np.testing.assert_allclose(res.grads["W"], 2 * np.outer(q, x), rtol=1e-15)
    np.testing.assert_allclose(res.grads["x"], 2 * W.T @ q, rtol=1e-15)


def _logistic_closed_form(x):
    return 64 * x * (1 - x) * (1 - 2 * x) ** 2 * (1 - 8 * x + 8 * x * x) ** 2


def _logistic_derivative(x):  # the lecture's "manual differentiation"
    a, b = 1 - 2 * x, 1 - 8 * x + 8 * x * x
    return (128 * x * (1 - x) * (-8 + 16 * x) * a ** 2 * b + 64 * (1 - x) * a ** 2 * b ** 2
            - 64 * x * a ** 2 * b ** 2 - 256 * x * (1 - x) * a * b ** 2)


@pytest.mark.parametrize("x", [0.1, 0.3, 0.77])
def test_logistic_map_against_the_closed_form(x):
    prog = graphdsl.loads("gate logistic(l) { return 4 * l * (1 - l) }\ninput x\noutput l4 = repeat(logistic, 3, x)")
    res = prog.run(x=x)
    assert res.outputs["l4"] == pytest.approx(_logistic_closed_form(x), rel=1e-12)
    assert res.grads["x"] == pytest.approx(_logistic_derivative(x), rel=1e-11)
    # forward mode carries (v, v') pairs: the same derivative
    outputs, tangents = prog.jvp({"x": x}, {"x": 1.0})
    assert tangents["l4"] == pytest.approx(_logistic_derivative(x), rel=1e-11)
    # and the numerical gradient agrees
    assert prog.check_gradients(x=x).ok


def test_logistic_map_is_bit_identical_to_plain_python():
    prog = graphdsl.loads("gate logistic(l) { return 4 * l * (1 - l) }\ninput x\noutput l = repeat(logistic, 200, x)")
    v = 0.3
    for _ in range(200):
        v = 4 * v * (1 - v)
    assert prog.run(x=0.3).outputs["l"] == v


def test_numerical_gradient_check_of_the_examples():
    for text in (SIGMOID_NEURON, SIGMOID_GATE):
        report = graphdsl.loads(text).check_gradients()
        assert report.ok and report.max_rel_error < 1e-7
