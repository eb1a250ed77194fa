"""Numeric faults are reported where they start: with check_finite, the first node whose
value or gradient is NaN or infinite is named with its gate, operands and line. Without
it, the numbers follow IEEE 754 and numpy never prints a RuntimeWarning."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import graphdsl
from graphdsl.inspect.explain import explain
from graphrun_subprocess import graphrun


def fault(text: str, **bindings) -> graphdsl.NumericError:
    prog = graphdsl.loads(text, "model.graph")
    with pytest.raises(graphdsl.NumericError) as caught:
        prog.run(check_finite=True, **bindings)
    return caught.value


@pytest.mark.parametrize("text, bindings, line, column, message", [
    ("input x = 0\ny = log(x)\noutput z = y * 2", {}, 2, 5, "log produced -inf from input 0"),
    ("input x = -1\noutput z = sqrt(x) + 1", {}, 2, 12, "sqrt produced NaN from input -1"),
    ("input x = 1, y = 0\noutput z = x / y", {}, 2, 14, "div produced inf from inputs 1, 0"),
    ("input x = 1000\noutput z = exp(x) * 0", {}, 2, 12, "exp produced inf from input 1000"),
    ("input x = 1e200\noutput z = x * x - x * x", {}, 2, 14, "mul produced inf from inputs 1e+200, 1e+200"),
    ("input x\noutput z = sum(log(x))", {"x": [1.0, 0.0, 2.0]}, 2, 16, "log produced -inf at [1] from input 0"),
    ("input x = [[1, 2], [3, 0]]\noutput z = sum(1 / x)", {}, 2, 18,
     "div produced inf at [1, 1] from inputs 1, 0"),
    ("gate f(a) {\n  b = a - 1\n  return log(b)\n}\ninput x = 1\noutput z = f(x) + 1", {}, 3, 10,
     "log produced -inf from input 0"),
])
def test_the_first_non_finite_value_is_reported_at_its_gate(text, bindings, line, column, message):
    err = fault(text, **bindings)
    assert (err.file, err.line, err.column) == ("model.graph", line, column)
    assert err.message == message
    assert err.render().startswith(f"model.graph:{line}:{column}: error: {message}\n")


def test_a_non_finite_gradient_is_reported_where_it_flows_back():
    err = fault("input x = 0\noutput z = sqrt(x) * 3")
    assert (err.line, err.column) == (2, 12)
    assert err.message == ("the gradient of z became inf flowing back through gate 'sqrt' "
                           "(operands 0; upstream gradient 3)")


def test_a_non_finite_binding_is_blamed_on_its_input():
    err = fault("input x, y = 1\noutput z = x + y", x=np.array([1.0, np.nan]))
    assert (err.line, err.column) == (1, 7)
    assert err.message == "input 'x' holds NaN at [1]: the value bound to it is not finite"


def test_without_the_check_the_numbers_follow_ieee_754():
    prog = graphdsl.loads("input x = 0\noutput z = log(x), w = 1 / x, n = sqrt(x - 1)")
    result = prog.run()
    assert result.outputs == {"z": -np.inf, "w": np.inf, "n": pytest.approx(np.nan, nan_ok=True)}
    assert result.grads["x"] == np.inf


MODELS = ["input x = 0\noutput z = log(x) + 1 / x + sqrt(x - 1) + x ** -1",
          "input x = [1000, -1000, 0]\noutput z = sum(exp(x) * log(x) / x + tan(x * 1e308))",
          "input x = [0, 1e-320]\noutput z = sum(x / x + reciprocal(x) + softmax(x / 0))",
          "input x = 1e308\noutput z = x * 10 - x * 10 + logsumexp(x * [10, -10, 1])",
          "input x = []\noutput z = mean(x) + sum(mean(x, axis=0) * 2)"]


@pytest.mark.parametrize("text", MODELS)
def test_no_numpy_warning_escapes_any_entry_point(text):
    prog = graphdsl.loads(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = prog.run()
        prog.forward()
        prog.jvp(prog.defaults(), {"x": np.ones_like(prog.defaults()["x"])})
        prog.check_gradients()
        prog.run_batch(x=np.stack([np.asarray(prog.defaults()["x"])] * 2))
        prog.to_dot(result)
        explain(result)
        with pytest.raises(graphdsl.NumericError):
            prog.run(check_finite=True)


def test_no_numpy_warning_escapes_training():
    prog = graphdsl.loads("input x\nparam w = 500\noutput loss = mean(exp(w * x) + log(x - x))")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(graphdsl.NumericError):
            prog.fit({"x": [1.0, 2.0]}, epochs=3, lr=0.1)


def test_graphrun_check_finite_and_silence(tmp_path):
    model = tmp_path / "model.graph"
    model.write_text("input x = 0\ny = log(x)\noutput z = y * 2\n")
    plain = graphrun(model)
    assert plain.returncode == 0 and "Warning" not in plain.stderr and plain.stderr == ""
    checked = graphrun(model, "--check-finite")
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    assert checked.stderr.startswith(f"{model}:2:5: error: log produced -inf from input 0\n")
