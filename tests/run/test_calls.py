"""How run, forward, run_batch and check_gradients take bindings (calls.py): a positional
mapping always binds; a keyword that names both an input and an option of the method
is a BindingError; no name given is ever silently left unbound."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import graphdsl
from graphdsl.run import interpret as execute
from graphdsl.run.bindings import bind
from graphdsl.run.calls import OPTIONS

METHOD_OPTIONS = {"run": ("of", "check_finite"), "forward": (), "run_batch": ("of", "shared"),
                  "check_gradients": ("of", "eps", "tolerance")}
NAMES = sorted(OPTIONS | {"self", "bindings", "named", "x", "positional"})


def model(names):
    """f = sum of (k+1) * name: every name's gradient and value shows in the numbers."""
    terms = " + ".join(f"{k + 1} * {name}" for k, name in enumerate(names))
    return graphdsl.loads(f"input {', '.join(names)}\noutput f = {terms}, g = {names[0]} * 1")


def expected(prog, bindings):
    sched = prog.schedule
    return execute.forward(sched, bind(sched.leaves, bindings))[dict(sched.outputs)["f"]]


def test_the_issues_input_named_check_finite():
    prog = graphdsl.loads("input check_finite = 1, b = 2\noutput f = check_finite * b")
    with pytest.raises(graphdsl.BindingError, match=r"'check_finite' is both an input or param of this graph "
                                                    r"and an option of run\(\).*run\(\{'check_finite': 1.0\}\)"):
        prog.run(check_finite=3.0)
    for flag in (True, False):  # the keyword is refused whatever its value: each could be a binding
        with pytest.raises(graphdsl.BindingError, match="could mean either"):
            prog.run(check_finite=flag)
    assert prog.run({"check_finite": 3.0}).outputs["f"] == 6.0
    assert prog.run({"check_finite": 3.0}, b=1.0).outputs["f"] == 3.0
    assert prog.run({"check_finite": 3.0}, check_finite=True).outputs["f"] == 6.0  # the mapping binds it
    with pytest.raises(graphdsl.NumericError):
        prog.run({"check_finite": np.inf}, check_finite=True)
    assert prog.run().outputs["f"] == 2.0


def test_an_input_named_self_or_bindings():
    prog = graphdsl.loads("input self, bindings = 2\noutput f = self * bindings")
    for call in (lambda *a, **k: prog.run(*a, **k).outputs, prog.forward,
                 lambda *a, **k: prog.check_gradients(*a, **k).ok):
        assert call(self=3.0) == call({"self": 3.0})
        assert call(self=3.0, bindings=1.0) == call({"self": 3.0, "bindings": 1.0})
    assert prog.forward({"self": 3.0}) == {"f": 6.0}
    np.testing.assert_array_equal(prog.run_batch({"self": [1.0, 2.0]}).outputs["f"], [2.0, 4.0])
    np.testing.assert_array_equal(prog.run_batch(self=[1.0, 2.0], bindings=[3.0, 4.0]).grads["self"], [3.0, 4.0])


@pytest.mark.parametrize("method, option", [(m, o) for m, options in METHOD_OPTIONS.items() for o in options])
def test_every_option_named_input_is_refused_as_a_keyword_and_bound_by_a_mapping(method, option):
    prog = graphdsl.loads(f"input {option} = 2, x = 1\noutput f = {option} * x * 3")
    call = getattr(prog, method)
    value = [1.0, 2.0] if method == "run_batch" else 0.5
    with pytest.raises(graphdsl.BindingError, match=f"'{option}' is both an input or param"):
        call(**{option: value})
    got = call({option: value})
    if method == "run":
        assert got.outputs["f"] == 1.5 and got.grads[option] == 3.0
    elif method == "forward":
        assert got == {"f": 1.5}
    elif method == "run_batch":
        np.testing.assert_array_equal(got.outputs["f"], [3.0, 6.0])
    else:
        assert got.ok and got.worst.analytic == pytest.approx(3.0 if got.worst.name == option else 1.5)


def test_params_named_like_options_and_the_mapping_with_options_next_to_it():
    prog = graphdsl.loads("input x\nparam eps = 2\noutput f = x * eps, g = x + eps")
    with pytest.raises(graphdsl.BindingError, match="'eps' is both"):
        prog.check_gradients(x=1.0, eps=1e-4)
    report = prog.check_gradients({"x": 1.0, "eps": 3.0}, of="g", eps=1e-4, tolerance=1e-3)
    assert report.ok and report.of == "g" and report.tolerance == 1e-3
    assert prog.check_gradients(x=1.0).ok  # eps keeps its default as a param
    assert prog.run({"x": 2.0}, of="g").outputs == {"f": 4.0, "g": 4.0}


def test_a_name_given_twice_and_what_is_not_a_mapping():
    prog = graphdsl.loads("input x, y\noutput f = x * y")
    with pytest.raises(graphdsl.BindingError, match="'x' given both in the mapping and as a keyword of run"):
        prog.run({"x": 1.0, "y": 2.0}, x=3.0)
    with pytest.raises(TypeError, match=r"run\(\) got the output twice: 'f' and of='f'"):
        prog.run("f", of="f")
    with pytest.raises(TypeError, match=r"forward\(\) takes the bindings as a mapping or as keywords, got a str"):
        prog.forward("f")
    with pytest.raises(graphdsl.BindingError, match="named by an input or param's name .a str., got 1"):
        prog.run({1: 2.0, "x": 1.0, "y": 2.0})
    assert prog.run({"x": 3.0}, y=2.0).grads == {"x": 2.0, "y": 3.0}
    mapping = {"x": 1.0, "y": 2.0}
    result = prog.run(mapping)
    mapping["x"] = 10.0  # the run holds a copy of the mapping, not the caller's dict
    assert result.values["x"] == 1.0


def test_a_missing_option_named_input_says_to_bind_it_by_a_mapping():
    prog = graphdsl.loads("input of\noutput f = of * 2")
    with pytest.raises(graphdsl.BindingError, match=r"input 'of' has no value: bind it \(e.g. \{'of': 1.0\}\)"):
        prog.run()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True),
       st.lists(st.floats(-4, 4, allow_nan=False), min_size=5, max_size=5),
       st.sampled_from(sorted(METHOD_OPTIONS)))
def test_no_name_is_ever_silently_left_unbound(names, numbers, method):
    """Bound by a mapping, every name counts; bound by keywords, either every name counts
    or the call is a BindingError naming an ambiguous keyword."""
    prog = model(names)
    bindings = dict(zip(names, numbers))
    want = expected(prog, bindings)
    call = getattr(prog, method)
    batch = {name: np.array([value]) for name, value in bindings.items()}

    def f(result):
        if method == "run":
            return result.outputs["f"]
        if method == "forward":
            return result["f"]
        if method == "run_batch":
            return result.outputs["f"][0]
        return result.ok  # check_gradients: the gradients are right at these values
    by_mapping = call(batch if method == "run_batch" else bindings)
    assert f(by_mapping) == (True if method == "check_gradients" else want)
    clashes = set(names) & set(METHOD_OPTIONS[method])
    if clashes:
        with pytest.raises(graphdsl.BindingError, match="could mean either"):
            call(**(batch if method == "run_batch" else bindings))
    else:
        assert f(call(**(batch if method == "run_batch" else bindings))) == f(by_mapping)
