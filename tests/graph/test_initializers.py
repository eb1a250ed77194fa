"""param W: [2, 3] ~ normal(mean, std) / uniform(lo, hi) / zeros(): drawn once, when the
graph is loaded, from numpy's default_rng(seed), in declaration order."""
from __future__ import annotations

import numpy as np
import pytest

import graphdsl

SOURCE = """
param W: [200, 50] ~ normal(1, 0.5)
param U: [4, 5] ~ uniform(-2, 3)
param b: [5] ~ zeros()
param s ~ normal(0, 1)
param fixed = [1, 2]
output y = sum(W) + sum(U) + sum(b) + s + sum(fixed)
"""


def test_draws_follow_their_distribution():
    params = graphdsl.loads(SOURCE).defaults()
    W, U = params["W"], params["U"]
    assert W.shape == (200, 50) and W.dtype == np.float64
    assert W.mean() == pytest.approx(1.0, abs=0.02) and W.std() == pytest.approx(0.5, abs=0.02)
    assert U.shape == (4, 5) and U.min() >= -2 and U.max() < 3
    np.testing.assert_array_equal(params["b"], np.zeros(5))
    assert isinstance(params["s"], float)
    np.testing.assert_array_equal(params["fixed"], [1.0, 2.0])


def test_draws_are_seeded_and_in_declaration_order():
    rng = np.random.default_rng(7)
    W, U, s = rng.normal(1, 0.5, size=(200, 50)), rng.uniform(-2, 3, size=(4, 5)), rng.normal(0, 1)
    params = graphdsl.loads(SOURCE, seed=7).defaults()
    np.testing.assert_array_equal(params["W"], W)
    np.testing.assert_array_equal(params["U"], U)
    assert params["s"] == s


def test_same_seed_same_values_other_seed_other_values(tmp_path):
    path = tmp_path / "m.graph"
    path.write_text(SOURCE)
    a, b, c = graphdsl.load(path).defaults(), graphdsl.load(path, seed=0).defaults(), graphdsl.load(path, seed=1).defaults()
    np.testing.assert_array_equal(a["W"], b["W"])
    assert not np.array_equal(a["W"], c["W"])


@pytest.mark.parametrize("source,message,column", [
    ("param W: [2] ~ normal(0, -1)", "normal\\(mean, std\\) needs std >= 0", 26),
    ("param W: [2] ~ uniform(1, 0)", "uniform\\(lo, hi\\) needs lo <= hi", 24),
    ("param W: [2] ~ zeros(1)", "zeros takes no arguments", 16),
    ("param W: [2] ~ normal(0)", "normal takes two numbers", 16),
    ("param W: [2] ~ normal(0, [1, 2])", "not arrays", 26),
    ("param W: [2] ~ gauss(0, 1)", "unknown initializer 'gauss'", 16),
    ("param W: [n] ~ normal(0, 1)", "shape needs numbers, not 'n'", 11),
    ("input W: [2] ~ normal(0, 1)", "only a param can be drawn at random", 16),
])
def test_bad_initializers_are_definition_errors(source, message, column):
    with pytest.raises(graphdsl.GraphDefinitionError, match=message) as info:
        graphdsl.loads(source + "\noutput y = sum(W)")
    assert (info.value.line, info.value.column) == (1, column)
