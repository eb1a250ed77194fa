"""The gradient check names what is wrong: the worst entry, the gate whose rule disagrees
with finite differences (checked step by step on the run's values), and whether
forward and reverse mode agree. Wrong rules are planted in the gate table for the
duration of a test."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphdsl
from fuzzing import budget
from gate_cases import PROGRAMS
from graphdsl.run import interpret as execute
from graphdsl.gates import GATES
from graphdsl.inspect.gradcheck import check_rules

MODEL = """\
input x = 0.7, W = [[1, -2], [0.5, 3]]
h = tanh(W @ [1, 2] * x)
q = sum(softmax(h)) + logsumexp(h)
output f = q * sigmoid(x) + sum(h * h)
"""


@pytest.fixture
def planted(monkeypatch):
    """Replace one rule of a gate for the duration of a test: planted("tanh", vjp=...)."""
    def plant(name, vjp=None, jvp=None):
        gate = GATES[name]
        changes = {}
        if vjp is not None:  # the rule as an expression, for operand 0 (the gates planted are unary)
            changes["vjp_rules"] = (vjp,) + (gate.vjp_rules or (None,) * gate.arity)[1:]
        if jvp is not None:
            changes["jvp_rule"] = jvp
        monkeypatch.setitem(GATES, name, dataclasses.replace(gate, **changes))
    return plant


def test_a_correct_model_passes_every_check():
    report = graphdsl.loads(MODEL, "model.graph").check_gradients()
    assert report.ok and report.max_rel_error < 1e-6
    assert report.rules == () and report.unsmooth == ()  # nothing failed: gates not checked
    assert report.modes is not None and report.modes.ok and report.modes.rel_error < 1e-12
    assert str(report).startswith("gradient check of f: ok, largest relative error")


def test_a_wrong_reverse_rule_is_named_with_its_gate_and_line(planted):
    planted("tanh", vjp=lambda g, out, x: 2 * g * (1 - out * out))  # twice the derivative
    report = graphdsl.loads(MODEL, "model.graph").check_gradients()
    # run's gradients are wrong now (unless a compiled path has a rule of its own for tanh);
    # the reference backward pass surely is, so forward and reverse mode disagree.
    assert not report.modes.ok
    (rule,) = report.rules
    assert (rule.gate, rule.node, rule.mode, rule.operand) == ("tanh", "h", "reverse", 0)
    assert (rule.span.file, rule.span.line, rule.span.column) == ("model.graph", 2, 5)
    assert rule.analytic == pytest.approx(2 * rule.numeric, rel=1e-6)
    text = str(report)
    assert "model.graph:2:5: gate 'tanh' (node h)" in text
    assert "reverse-mode rule for operand 1 disagrees" in text and "DISAGREE" in text


def test_a_wrong_forward_rule_is_named_though_the_gradients_are_right(planted):
    planted("sigmoid", jvp=lambda tangents, out, x: -tangents[0] * out * (1 - out))  # sign flipped
    report = graphdsl.loads(MODEL, "model.graph").check_gradients()
    assert report.ok  # run's reverse-mode gradients are still right...
    (rule,) = report.rules  # ...but forward mode is not
    assert (rule.gate, rule.mode, rule.span.line, rule.span.column) == ("sigmoid", "forward", 4, 16)
    assert not report.modes.ok
    assert "forward-mode rule" in str(report)


def test_a_wrong_rule_of_a_gate_with_options_is_named(planted):
    def softmax_vjp(g, out, x, axis=-1):
        return out * g  # forgets the  - sum(g * out)  term
    planted("softmax", vjp=softmax_vjp)
    report = graphdsl.loads(MODEL, "model.graph").check_gradients()
    assert [(r.gate, r.mode, r.span.line) for r in report.rules] == [("softmax", "reverse", 3)]


def test_the_worst_entry_names_input_element_values_and_tolerance():
    # relu at 0 (x[1]): reverse mode says 0, central differences see half the slope, 1.5.
    prog = graphdsl.loads("input x = [1, 0, 2], y = [4, 5, 6]\noutput f = sum(relu(x) * [1, 3, 5] + y)")
    report = prog.check_gradients()
    assert not report.ok and report.tolerance == 1e-5
    worst = report.worst
    assert (worst.name, worst.index, worst.analytic, worst.rel_error) == ("x", (1,), 0.0, 1.0)
    assert worst.numeric == pytest.approx(1.5, rel=1e-6)
    assert report.per_input == {"x": 1.0, "y": pytest.approx(0, abs=1e-8)}
    assert str(report).startswith("gradient check of f: FAILED, largest relative error 1 (tolerance "
                                  "1e-05) at df/dx[1]: analytic 0, numeric 1.5")


def test_a_kink_is_reported_as_not_smooth_instead_of_blaming_the_gate():
    report = graphdsl.loads("input x = 0\noutput y = relu(x) * 3", "k.graph").check_gradients()
    assert not report.ok and report.rules == ()
    assert [(node, gate) for node, gate, _ in report.unsmooth] == [("y#1", "relu")]
    assert "gate 'relu' (node y#1) at k.graph:2:12 is not smooth" in str(report)


@pytest.mark.parametrize("text", ["input x = 1e-9\noutput y = log(x)", "input x = 0\noutput y = 1 / x",
                                  "input a = 2, b = 2\noutput y = max(a, b) * 2"])
def test_singularities_and_ties_blame_no_rule(text):
    report = graphdsl.loads(text).check_gradients()
    assert report.rules == ()
    assert not report.ok and report.unsmooth


@pytest.mark.parametrize("text, bindings", [
    ("input x\noutput y = sum(softmax(x) * [1, 2, 3])", {"x": [0.1, -2.0, 3.0]}),
    ("input x\noutput y = mean(logsumexp(x, axis=0) ** 2)", {"x": np.arange(6.0).reshape(3, 2) / 5}),
    ("input A, B\noutput y = sum(tanh(A @ B))", {"A": np.eye(2) + 0.3, "B": [[1.0, -1.0, 0.5], [2.0, 0.1, 0.3]]}),
    ("input a, b\noutput y = sum(dot(a, b) / (1 + a ** 2))", {"a": [0.5, 1.5], "b": [[1.0, 2.0], [3.0, 4.0]]}),
    ("input x\noutput y = sum(transpose(x) * [[1], [2]])", {"x": [[0.5, 0.25]]}),
    ("input x, c\noutput y = sum(sqrt(x) + reciprocal(x) + abs(x) - x ** c)", {"x": [0.5, 2.0], "c": 1.5}),
    ("input s, l\noutput y = softmax_cross_entropy(s, l) + hinge_loss(s, l)",
     {"s": [[0.2, 1.0, -0.5], [1.5, 0.1, 0.3]], "l": [2, 0]}),
    *PROGRAMS,  # indexing, comparisons, where, reshape, concat, stack, clip, log_softmax, onehot
])
def test_no_rule_of_the_gate_table_is_blamed_at_smooth_points(text, bindings):
    report = graphdsl.loads(text).check_gradients(**bindings)
    assert report.ok and report.rules == () and report.modes.ok, str(report)


def test_a_float32_binding_is_checked_in_float64():
    prog = graphdsl.loads("input x\noutput y = sum(exp(x) * x)")
    report = prog.check_gradients(x=np.array([0.1, 0.2, 0.3], dtype=np.float32))
    assert report.ok and report.max_rel_error < 1e-7


def test_inputs_no_gradient_reaches_are_skipped_and_named():
    report = graphdsl.loads("input x = 1, y = 2\noutput f = x * 3").check_gradients()
    assert report.ok and report.skipped == ("y",) and report.modes.ok


def test_a_graph_without_differentiable_leaves_has_no_mode_check():
    report = graphdsl.loads("output f = 3").check_gradients()
    assert report.ok and report.modes is None and report.worst is None


# Every differentiable gate, at values that include zeros, ties, negatives and poles:
# the local check may call a point not smooth, but it must never blame a correct rule.
CASES = [("a + b", (3,), (3,)), ("a - b", (2, 3), (3,)), ("a * b", (), (3,)), ("a / b", (3,), ()),
         ("-a", (3,), None), ("a ** b", (3,), (3,)), ("a ** 2", (3,), None), ("exp(a)", (3,), None),
         ("log(a)", (3,), None), ("sin(a)", (3,), None), ("cos(a)", (3,), None), ("tan(a)", (3,), None),
         ("tanh(a)", (3,), None), ("sqrt(a)", (3,), None), ("square(a)", (3,), None),
         ("reciprocal(a)", (3,), None), ("abs(a)", (3,), None), ("relu(a)", (3,), None),
         ("sigmoid(a)", (3,), None), ("max(a, b)", (3,), (3,)), ("min(a, b)", (3,), ()),
         ("sum(a, axis=0)", (2, 3), None), ("mean(a, axis=[0, 1])", (2, 3), None),
         ("softmax(a, axis=0)", (2, 3), None), ("logsumexp(a)", (2, 3), None), ("a @ b", (2, 3), (3,)),
         ("a @ b", (3,), (3, 2)), ("dot(a, b)", (2, 3), (3, 2)), ("dot(a, b)", (), (3,)),
         ("transpose(a) * [1, 2]", (2, 3), None), ("hinge_loss(a, [0, 2], margin=0.5)", (2, 3), None),
         ("softmax_cross_entropy(a, [1, 0])", (2, 3), None)]
VALUES = st.sampled_from([0.0, 0.0, 1.0, -1.0, 0.5, 2.0, -2.0, 1e-9, 3.0])


@budget(150)
@given(st.sampled_from(CASES), st.data())
def test_the_local_check_never_blames_a_correct_rule(case, data):
    text, *shapes = case
    bindings = {name: np.array(data.draw(st.lists(VALUES, min_size=int(np.prod(shape)),
                                                  max_size=int(np.prod(shape))))).reshape(shape)
                for name, shape in zip("ab", shapes) if shape is not None}
    inputs = ", ".join(bindings)
    prog = graphdsl.loads(f"input {inputs}\noutput y = sum({text}) * 1.5")
    report = prog.check_gradients(**bindings)
    assert report.rules == (), str(report)
    assert report.modes is None or report.modes.ok, str(report)
    with np.errstate(all="ignore"):  # the rules are checked even where the gradients pass
        values = execute.forward(prog.schedule, list(bindings.values()))
        rules, _ = check_rules(prog.schedule, "y", values, 1e-6, 1e-5, np.random.default_rng(1))
    assert rules == [], rules


@pytest.mark.parametrize("name", ["of", "check_finite"])
def test_inputs_named_as_runs_keywords_are_checked_at_their_values(name):
    # The analytic gradients come from run's path: an input named 'of' was a TypeError
    # (two values for run's 'of'), one named 'check_finite' was taken for the flag, and
    # its gradient computed at the default against differences at the bound value.
    prog = graphdsl.loads(f"input {name} = 2.0\noutput y = {name} ** 3")
    report = prog.check_gradients()
    assert report.ok and report.worst.analytic == pytest.approx(12.0)
    if name != "of":
        report = prog.check_gradients(**{name: 5.0})
        assert report.ok and report.worst.analytic == pytest.approx(75.0)
