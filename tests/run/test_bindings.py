"""Bindings: defaults, overrides, conversion, declared shapes and named dimensions."""
import numpy as np
import pytest

import graphdsl
from graphdsl import BindingError


def binding_error(prog, **bindings):
    with pytest.raises(BindingError) as info:
        prog.run(**bindings)
    return info.value


def test_defaults_and_overrides():
    prog = graphdsl.loads("input x = -2, y = 5\noutput f = x * y")
    assert prog.run().outputs["f"] == -10.0
    assert prog.run(y=1).outputs["f"] == -2.0


def test_missing_binding_names_the_input_and_its_declaration():
    prog = graphdsl.loads("input x\ninput y = 2\noutput f = x * y", name="m.graph")
    err = binding_error(prog)
    assert "'x'" in err.message and (err.line, err.column) == (1, 7)


def test_unknown_binding_suggests_a_name():
    prog = graphdsl.loads("input alpha = 1\noutput f = alpha * 2")
    err = binding_error(prog, alpah=2)
    assert "unknown input 'alpah'" in err.message and "did you mean 'alpha'" in err.message


@pytest.mark.parametrize("value", ["abc", None, {"a": 1}, [[1, 2], [3]], np.array(["a"]), 1 + 2j])
def test_values_that_are_not_numbers(value):
    prog = graphdsl.loads("input x\noutput f = x * 2")
    assert "'x'" in binding_error(prog, x=value).message


@pytest.mark.parametrize("value", [["1", "2"], [1, None], [[1.5], ["x"]], (1, None)])
def test_lists_holding_anything_but_numbers_are_refused(value):
    # numpy, asked for float64, would read "1" as 1 and None as NaN: a silent wrong binding
    prog = graphdsl.loads("input x\noutput f = sum(x)", "m.graph")
    err = binding_error(prog, x=value)
    assert str(err) == "m.graph:1:7: 'x' must be a number or a rectangular array of numbers"
    assert prog.run(x=[True, 2, 0.5]).outputs["f"] == 3.5


def test_conversion_keeps_float_dtypes_and_converts_the_rest():
    prog = graphdsl.loads("input x\noutput f = x * 2")
    assert prog.run(x=np.float32(1.5)).outputs["f"] == 3.0
    assert prog.run(x=True).outputs["f"] == 2.0
    out32 = prog.run(x=np.ones(2, dtype=np.float32)).outputs["f"]
    assert out32.dtype == np.float32
    assert prog.run(x=np.arange(3)).outputs["f"].dtype == np.float64
    assert type(prog.run(x=np.array(2.0)).outputs["f"]) is float


def test_declared_shapes():
    prog = graphdsl.loads("input W: [2, 3], b: [3] = [0, 0, 0]\noutput f = sum(W + b)", name="m.graph")
    assert prog.run(W=np.ones((2, 3))).outputs["f"] == 6.0
    err = binding_error(prog, W=np.ones((3, 2)))
    assert "should have shape [2, 3], got shape [3, 2]" in err.message and err.line == 1
    assert "got a scalar" in binding_error(prog, W=1.0).message


def test_named_dimensions_agree_across_inputs_within_one_run():
    prog = graphdsl.loads("input W: [n, m], x: [m]\noutput f = sum(W @ x)")
    assert prog.run(W=np.ones((2, 3)), x=np.ones(3)).outputs["f"] == 6.0
    assert prog.run(W=np.ones((4, 5)), x=np.ones(5)).outputs["f"] == 20.0  # each run binds anew
    err = binding_error(prog, W=np.ones((2, 3)), x=np.ones(4))
    assert "m = 3" in err.message and "'x'" in err.message


def test_scalar_shape_declaration():
    prog = graphdsl.loads("input x: [] = 2\noutput f = x * 2")
    assert prog.run().outputs["f"] == 4.0
    assert "shape []" in binding_error(prog, x=[1.0]).message


def test_inputs_are_never_modified():
    prog = graphdsl.loads("input W, x\noutput f = sum((W @ x) ** 2)")
    W, x = np.arange(4.0).reshape(2, 2), np.array([1.0, -1.0])
    before = W.copy(), x.copy()
    prog.run(W=W, x=x)
    prog.jvp({"W": W, "x": x}, {"x": x})
    prog.check_gradients(W=W, x=x)
    np.testing.assert_array_equal(W, before[0])
    np.testing.assert_array_equal(x, before[1])
