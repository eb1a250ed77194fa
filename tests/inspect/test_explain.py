"""explain: the backward pass in the lecture's words, and the per-edge gradients."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import graphdsl
from gate_cases import gate_call
from graphdsl.gates import GATES
from graphdsl.inspect.dot import to_dot
from graphdsl.inspect.explain import edge_gradients, explain

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.graph"))


def texts(source, **bindings):
    return [step.text for step in explain(graphdsl.loads(source).run(**bindings))]


def test_the_lecture_example_step_by_step():
    assert texts("input x = -2, y = 5, z = -4\nq = x + y\nf = q * z\noutput f") == [
        "df/df = 1   (the seed: the gradient of f with respect to itself)",
        "df/dq = -4 × 1 = -4   (local ∂f/∂q of f = q * z, line 3, × upstream df/df)",
        "df/dz = 3 × 1 = 3   (local ∂f/∂z of f = q * z, line 3, × upstream df/df)",
        "df/dx = 1 × -4 = -4   (local ∂q/∂x of q = x + y, line 2, × upstream df/dq)",
        "df/dy = 1 × -4 = -4   (local ∂q/∂y of q = x + y, line 2, × upstream df/dq)",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_contributions_add_up_to_every_gradient(path):
    result = graphdsl.load(path).run()
    totals = defaultdict(float)
    for edge in edge_gradients(result):
        totals[result.program.graph.nodes[edge.step.node]["args"][edge.index]] += edge.gradient
    for node, grad in result.node_grads.items():
        if node != result.of:
            assert np.allclose(totals[node], grad)
    last = {step.target: step.total for step in explain(result)}
    for name, grad in result.grads.items():
        assert np.allclose(last.get(name, 0.0), grad)


def test_fan_out_shows_each_share_and_the_sum():
    lines = texts("input x = 3\na = x * 2\nb = sin(x)\noutput f = a + b")
    shares = [line for line in lines if line.startswith("df/dx +=")]
    assert len(shares) == 2
    assert "df/dx so far: -0.989992" in shares[0]
    assert "df/dx in all: 1.01001" in shares[1]


def test_anonymous_nodes_are_spelled_out():
    lines = texts("input x = 3, y = -4, z = 2, w = -1\nf = 2 * (x * y + max(z, w))\noutput f")
    assert lines[1].startswith("df/d(x * y + max(z, w)) = 2 × 1 = 2   (local ∂f/∂(x * y + max(z, w)) "
                               "of f = 2 * (x * y + max(z, w)), line 2")
    assert "df/dw = 0 × 2 = 0   (local ∂(max(z, w))/∂w of max(z, w), line 2" in lines[5]


@pytest.mark.parametrize("expression,spelled", [
    ("-x ** 2", "-x ** 2"), ("(x + y) * x", "(x + y) * x"), ("x - (y - x)", "x - (y - x)"),
    ("(x ** y) ** x", "(x ** y) ** x"), ("-(x * y)", "-(x * y)"), ("exp(x / y)", "exp(x / y)"),
])
def test_expressions_keep_their_precedence(expression, spelled):
    lines = texts(f"input x = 1.5, y = 2\noutput f = sum({expression})")
    assert f"sum rule of f = sum({spelled}), line 2" in lines[1]


def test_calls_name_their_locals_with_a_dot():
    lines = texts("gate sg(x) { e = exp(-x)\nreturn 1 / (1 + e) }\ninput x = 1\noutput f = sg(x)")
    assert any(line.startswith("df/df.e = 1 × ") for line in lines)


def test_matrix_rules_are_said_in_symbols_with_values():
    lines = texts("input W = [[0.1, 0.5], [-0.3, 0.8]], x = [0.2, 0.4]\nq = W @ x\noutput f = sum(q ** 2)")
    assert lines[1] == ("df/d(q ** 2) = df/df copied to every entry of (q ** 2) = [1, 1]   "
                        "(sum rule of f = sum(q ** 2), line 3, upstream df/df = 1)")
    assert lines[3] == ("df/dW = df/dq @ xᵀ = [[0.088, 0.176], [0.104, 0.208]]   "
                        "(matmul rule of q = W @ x, line 2, upstream df/dq = [0.44, 0.52])")
    assert lines[4].startswith("df/dx = Wᵀ @ df/dq = [-0.112, 0.636]")


def test_other_rules_and_broadcasting():
    lines = texts("input x = [1, 2, 3], b = 2\ns = softmax(x * b)\noutput f = mean(s * [1, 0, 0]) + logsumexp(x)")
    joined = "\n".join(lines)
    assert "mean rule of" in joined and "softmax rule of s = softmax(x * b)" in joined
    assert "logsumexp rule of logsumexp(x)" in joined
    assert "summed to one number" in joined


def test_steps_as_json_even_with_nan():
    steps = explain(graphdsl.loads("input x = 0\noutput f = log(x) * 0").run())
    data = json.loads(json.dumps([s.as_dict() for s in steps], allow_nan=False))
    assert data[0]["target"] == "f" and data[0]["node"] is None
    assert data[-1]["target"] == "x" and data[-1]["gradient"] == "NaN" and data[-1]["line"] == 2
    assert set(data[-1]) == {"of", "node", "target", "operand", "gate", "expression", "line", "rule",
                             "shares", "text", "local", "upstream", "gradient", "total"}


def test_indexing_and_joining_are_spelled_as_written_and_said_in_words():
    lines = texts("input x = [1, 2, 3]\noutput f = sum(concat(x[1:] * 2, x, axis=0) ** 2) + (x[0] > 1)")
    joined = "\n".join(lines)
    assert "df/dx += df/d(x[1:]) put back in its place, in zeros shaped like x = [0, 16, 24]" in joined
    assert "index rule of x[1:], line 2" in joined
    assert "the part of df/d(concat(x[1:] * 2, x)) that (x[1:] * 2) fills = [8, 12]" in joined
    assert "the part of df/d(concat(x[1:] * 2, x)) that x fills = [2, 4, 6]" in joined
    assert not any("x[0] > 1" in line.split("(")[0] for line in lines)  # a comparison passes no gradient
    assert texts("input x = [[1, 2], [3, 4]]\noutput f = sum(x[:, 0])")[-1].startswith(
        "df/dx = df/d(x[:, 0]) put back in its place, in zeros shaped like x = [[1, 0], [1, 0]]")


def test_options_that_are_not_the_default_are_spelled_out():
    lines = texts("input x = [[1, 2], [3, 4]]\noutput f = sum(reshape(x, shape=[4])) + sum(clip(x, lo=-1, hi=None)[0])")
    joined = "\n".join(lines)
    assert "reshape rule of reshape(x, shape=[4])" in joined and "clip(x, lo=-1, hi=None)[0]" in joined
    assert "where lo ≤ x ≤ hi, else 0 = [[1, 1], [0, 0]]" in joined


VECTORS = {"a": np.array([1.0, 2.0, 0.0]), "b": np.array([0.5, -1.0, 2.0]), "c": np.array([0.25, 3.0, -2.0])}
CLASSES = {"a": np.array([[0.2, 1.0, -0.5], [1.5, 0.1, 0.3]]), "b": np.array([2.0, 0.0]), "c": 0.5}
OPERANDS = {"cross_entropy_grad": CLASSES, "softmax_cross_entropy": CLASSES, "hinge_loss": CLASSES,
            "hinge_grad": CLASSES, "matrix_transpose": {"a": CLASSES["a"]}, "squeeze": {"a": np.ones((1, 3))},
            "scatter_like": {"a": 2.0, "b": VECTORS["b"]}}


@pytest.mark.parametrize("name", sorted(GATES))
def test_every_gate_explains_and_draws(name):
    arity = GATES[name].arity
    prog = graphdsl.loads(f"input a, b, c\noutput f = sum({gate_call(name, ', '.join('abc'[:arity]))})")
    result = prog.run(**{**VECTORS, **OPERANDS.get(name, {})})
    steps = explain(result)
    assert steps[0].target == "f" and all(step.text for step in steps)
    assert 'id="node:f"' in to_dot(prog, result)
