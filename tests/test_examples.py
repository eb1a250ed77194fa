"""Every example runs with no flags and passes graphrun --check; the lecture's numbers hold."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import graphdsl
from graphrun_subprocess import EXAMPLES, graphrun

NAMES = sorted(path.stem for path in EXAMPLES.glob("*.graph"))


@pytest.fixture(scope="module")
def checked():
    """``graphrun EXAMPLE --check`` for every example, run side by side."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = pool.map(lambda name: graphrun(EXAMPLES / f"{name}.graph", "--check"), NAMES)
        return dict(zip(NAMES, runs))


def test_the_promised_examples_exist():
    assert {"mul_add", "sin_product", "sigmoid_neuron", "sigmoid_gate", "backward_patterns",
            "vector_norm", "logistic_map"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_example_passes_the_gradient_check(checked, name):
    done = checked[name]
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    first = graphdsl.load(EXAMPLES / f"{name}.graph").outputs[0]
    assert f"gradient check of {first}: ok" in done.stdout


def run(name):
    return graphdsl.load(EXAMPLES / f"{name}.graph").run()


def test_mul_add():
    res = run("mul_add")
    assert (res.outputs["f"], res.grads) == (-12.0, {"x": -4.0, "y": -4.0, "z": 3.0})


def test_sin_product():
    res = run("sin_product")
    assert res.outputs["f"] == pytest.approx(2 * 5 + np.sin(2))
    assert res.grads == pytest.approx({"x1": 5 + np.cos(2), "x2": 2.0})


@pytest.mark.parametrize("name", ["sigmoid_neuron", "sigmoid_gate"])
def test_the_sigmoid_neuron_has_the_lecture_gradients(name):
    res = run(name)
    assert res.outputs["f"] == pytest.approx(0.73, abs=0.005)
    lecture = {"w0": -0.20, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.20}
    assert res.grads == pytest.approx(lecture, abs=0.006)
    s = 1 / (1 + np.exp(-1.0))
    assert res.grads["w2"] == pytest.approx(s * (1 - s))


def test_backward_patterns():
    res = run("backward_patterns")
    assert (res.outputs["f"], res.grads) == (-20.0, {"x": -8.0, "y": 6.0, "z": 2.0, "w": 0.0})


def test_vector_norm():
    res = run("vector_norm")
    W, x = np.array([[0.1, 0.5], [-0.3, 0.8]]), np.array([0.2, 0.4])
    q = W @ x
    assert res.outputs["f"] == pytest.approx(q @ q)
    assert np.allclose(res.grads["W"], 2 * np.outer(q, x))
    assert np.allclose(res.grads["x"], 2 * W.T @ q)


def test_logistic_map_matches_the_closed_form():
    x = 0.3
    res = run("logistic_map")
    closed = 64 * x * (1 - x) * (1 - 2 * x) ** 2 * (1 - 8 * x + 8 * x * x) ** 2
    assert res.outputs["f"] == pytest.approx(closed)
    derivative = (128 * x * (1 - x) * (-8 + 16 * x) * (1 - 2 * x) ** 2 * (1 - 8 * x + 8 * x ** 2)
                  + 64 * (1 - x) * (1 - 2 * x) ** 2 * (1 - 8 * x + 8 * x ** 2) ** 2
                  - 64 * x * (1 - 2 * x) ** 2 * (1 - 8 * x + 8 * x ** 2) ** 2
                  - 256 * x * (1 - x) * (1 - 2 * x) * (1 - 8 * x + 8 * x ** 2) ** 2)
    assert res.grads["x"] == pytest.approx(derivative)
