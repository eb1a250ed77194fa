"""The losses and metrics gates: forward against plain numpy, both AD modes against
central differences, labels checked, argmax/equal carrying no gradient."""
from __future__ import annotations

import numpy as np
import pytest

import graphdsl
from graphdsl.gates import GATES

H = 1e-6


def _numeric_directional(gate, scores, labels, u, **options):
    plus = gate.forward(scores + H * u, labels, **options)
    minus = gate.forward(scores - H * u, labels, **options)
    return (plus - minus) / (2 * H)


def _check_both_modes(name, scores, labels, **options):
    """jvp(u) and <vjp(g), u> / g against the central difference along a random u."""
    gate = GATES[name]
    out = gate.forward(scores, labels, **options)
    rng = np.random.default_rng(7)
    for _ in range(3):
        u = rng.normal(size=np.shape(scores))
        numeric = _numeric_directional(gate, scores, labels, u, **options)
        assert gate.jvp([u, None], out, scores, labels, **options) == pytest.approx(numeric, rel=1e-6, abs=1e-8)
        ct = gate.vjps[0](2.5, out, scores, labels, **options)
        assert np.shape(ct) == np.shape(scores)
        assert np.sum(ct * u) == pytest.approx(2.5 * numeric, rel=1e-6, abs=1e-8)
    assert gate.vjps[1] is None  # labels are class ids: no gradient flows to them


def _reference_cross_entropy(scores, labels):
    s = np.atleast_2d(scores)
    y = np.atleast_1d(labels).astype(int)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    return -np.mean(np.log(p[np.arange(len(y)), y]))


def _reference_hinge(scores, labels, margin=1.0):
    s = np.atleast_2d(scores)
    y = np.atleast_1d(labels).astype(int)
    total = 0.0
    for i, row in enumerate(s):
        total += sum(max(0.0, row[j] - row[y[i]] + margin) for j in range(len(row)) if j != y[i])
    return total / len(y)


BATCHES = [((5, 3), (5,)), ((4, 7), (4,)), ((3,), ()), ((2, 3, 4), (2, 3))]


def _batch(shapes, seed=0):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=shapes[0]) * 2.0
    labels = rng.integers(0, shapes[0][-1], size=shapes[1]).astype(np.float64)
    return scores, (float(labels) if labels.ndim == 0 else labels)


@pytest.mark.parametrize("shapes", BATCHES, ids=str)
def test_softmax_cross_entropy(shapes):
    scores, labels = _batch(shapes)
    expected = _reference_cross_entropy(scores.reshape(-1, scores.shape[-1]), np.reshape(labels, -1))
    assert GATES["softmax_cross_entropy"].forward(scores, labels) == pytest.approx(expected, rel=1e-12)
    _check_both_modes("softmax_cross_entropy", scores, labels)


@pytest.mark.parametrize("shapes", BATCHES, ids=str)
@pytest.mark.parametrize("margin", [1.0, 0.5])
def test_hinge_loss(shapes, margin):
    scores, labels = _batch(shapes, seed=1)
    expected = _reference_hinge(scores.reshape(-1, scores.shape[-1]), np.reshape(labels, -1), margin)
    assert GATES["hinge_loss"].forward(scores, labels, margin=margin) == pytest.approx(expected, rel=1e-12)
    _check_both_modes("hinge_loss", scores, labels, margin=margin)


def test_hinge_loss_of_the_cs231n_linear_classifier_example():
    # The three-example SVM loss from the course notes: 2.9, 0 and 12.9, mean 5.27.
    scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])  # one row per image
    assert GATES["hinge_loss"].forward(scores, np.array([0.0, 1.0, 2.0])) == pytest.approx(15.8 / 3)


def test_cross_entropy_is_stable_at_1000():
    scores = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0]])
    labels = np.array([2.0, 1.0])
    gate = GATES["softmax_cross_entropy"]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = gate.forward(scores, labels)
        assert out == pytest.approx((2000.0 + np.log(3.0)) / 2)
        grad = gate.vjps[0](1.0, out, scores, labels)
    np.testing.assert_allclose(grad, [[0.5, 0.0, -0.5], [1 / 6, 1 / 6 - 0.5, 1 / 6]], atol=1e-12)


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "hinge_loss"])
@pytest.mark.parametrize("labels,message", [
    ([0.0, 3.0], "found 3 at row 1"), ([0.5, 1.0], "found 0.5 at row 0"), ([-1.0, 0.0], "found -1 at row 0"),
    ([np.nan, 0.0], "found nan at row 0"), ([0.0], "labels should have shape \\[2\\]"),
])
def test_bad_labels_say_what_is_wrong(name, labels, message):
    with pytest.raises(ValueError, match=message):
        GATES[name].forward(np.zeros((2, 3)), np.array(labels))


def test_bad_labels_in_a_graph_name_the_gate_and_line():
    prog = graphdsl.loads("input s: [n, 3], y: [n]\n\noutput loss = softmax_cross_entropy(s, y)")
    with pytest.raises(graphdsl.NumericError, match="(?s)softmax_cross_entropy.*from 0 to 2.*found 7") as info:
        prog.run(s=np.zeros((2, 3)), y=[0, 7])
    assert info.value.line == 3


def test_argmax_and_equal_forward():
    x = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    np.testing.assert_array_equal(GATES["argmax"].forward(x), [1.0, 0.0])  # a tie: the first
    np.testing.assert_array_equal(GATES["argmax"].forward(x, axis=0), [1.0, 0.0, 1.0])
    assert GATES["argmax"].forward(np.array([3.0, 9.0])) == 1.0
    assert GATES["argmax"].forward(4.0) == 0.0
    np.testing.assert_array_equal(GATES["equal"].forward(np.array([1.0, 2.0]), np.array([1.0, 3.0])), [1.0, 0.0])
    assert GATES["equal"].forward(2.0, 2.0) == 1.0


def test_accuracy_metric_carries_no_gradient():
    prog = graphdsl.loads("input s: [n, 3], y: [n]\n"
                          "output accuracy = mean(equal(argmax(s), y))")
    res = prog.run(s=[[0.0, 2.0, 1.0], [3.0, 0.0, 1.0], [0.0, 0.0, 1.0]], y=[1, 0, 0])
    assert res.outputs["accuracy"] == pytest.approx(2 / 3)
    assert res.grads["s"].tolist() == [[0.0] * 3] * 3
    _, tangents = prog.jvp({"s": np.eye(3), "y": [1, 0, 0]}, {"s": np.ones((3, 3))})
    assert tangents["accuracy"] == 0.0


def test_a_softmax_classifier_passes_the_gradient_check():
    prog = graphdsl.loads("input X: [n, 2], y: [n]\nparam W: [2, 3] ~ normal(0, 1), b: [3] ~ normal(0, 1)\n"
                          "s = X @ W + b\n"
                          "output loss = softmax_cross_entropy(s, y) + hinge_loss(s, y, margin=0.5)")
    rng = np.random.default_rng(3)
    report = prog.check_gradients(X=rng.normal(size=(6, 2)), y=[0, 1, 2, 2, 1, 0])
    assert report.ok, str(report)
    assert report.skipped == ("y",)  # the class ids get no gradient
