"""Calls of any gate with the options it needs, and programs that use the gates and syntax
of SPEC §1 "More gates and syntax": shared by the compiled, batch and inspect tests."""
from __future__ import annotations

import numpy as np

from graphdsl.gates import GATES

# A literal of each kind of option a gate may require (every other option has a default).
_SAMPLE = {"subscript": "[0]", "shape": "[-1]", "positive": "3"}


def gate_call(name: str, operands: str) -> str:
    """``name(operands, option=...)`` with a value for each option the gate requires."""
    required = [f"{key}={_SAMPLE[spec.kind]}" for key, spec in GATES[name].options.items() if spec.required]
    return f"{name}({', '.join([operands] + required)})"


# (text, bindings of one run: arrays of the leaves' declared shapes)
PROGRAMS = [
    ("input x: [3, 4]\noutput f = sum(x[1:3, 0] * x[-1, ::2]) + x[0, 0] ** 2",
     {"x": np.arange(12.0).reshape(3, 4) / 7 - 0.4}),
    ("input x: [3, 4], w: [4]\nh = x @ w\noutput f = sum(where(h > 0, h, 0.1 * h)), n = sum(x >= 0.2)",
     {"x": np.linspace(-1, 1, 12).reshape(3, 4), "w": np.array([0.5, -1.0, 2.0, 0.25])}),
    ("input x: [3, 4]\nr = reshape(x, shape=[2, -1])\noutput f = sum(r[1] * r[0]), g = sum(reshape(x[0], shape=[2, 2]))",
     {"x": np.linspace(-2, 2, 12).reshape(3, 4)}),
    ("input a: [3], b: [2]\nc = concat(a, b, a * b[0], axis=0)\noutput f = sum(c * c) + sum(stack(a, a * 2, axis=-1)[1])",
     {"a": np.array([0.5, -1.5, 2.0]), "b": np.array([1.25, -0.5])}),
    ("input m: [2, 3], n: [2, 2]\nj = concat(m, n, axis=1)\ns = stack(m, m, m)\noutput f = sum(j ** 2) + sum(s[2, :, 1:])",
     {"m": np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]]), "n": np.array([[2.0, 1.0], [-3.0, 0.5]])}),
    ("input x: [5]\noutput f = sum(clip(x, lo=-1, hi=0.5) * x) + sum(clip(x, lo=None, hi=0)) + sum(clip(x, hi=None))",
     {"x": np.array([-2.0, -0.5, -0.125, 0.25, 3.0])}),
    ("input s: [2, 3], labels: [2]\nlp = log_softmax(s, axis=-1)\noutput loss = -sum(lp * onehot(labels, n=3)) / 2",
     {"s": np.array([[1000.0, 0.0, -1000.0], [0.5, -0.25, 2.0]]), "labels": np.array([1.0, 2.0])}),
    ("input s: [2, 3]\noutput f = sum(log_softmax(s, axis=0) * s) + sum(exp(log_softmax(s)))",
     {"s": np.array([[1.0, 2.0, -3.0], [0.5, -0.25, 2.0]])}),
    ("gate first(v) { return v[0] }\ninput x: [3]\noutput f = first(x) * first(x[1:]) + equal(x[2], x[-1])",
     {"x": np.array([0.5, -2.0, 3.0])}),
]
