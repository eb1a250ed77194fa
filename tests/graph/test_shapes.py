"""graph/shapes.py: what the declared shapes already show to be wrong is an error of the
model when it loads; what they leave open is the same error, at the same place, when a run
binds values that do not fit."""
from __future__ import annotations

import numpy as np
import pytest

import graphdsl


@pytest.mark.parametrize("text,column,words", [
    ("input x: [3]\noutput y = x[5]", 13, "index 5 of [5] is out of range for shape [3]: axis 0 has 3 entries "
                                          "(valid indices: -3 to 2)"),
    ("input x: [3]\noutput y = x[-4]", 13, "index -4 of [-4] is out of range for shape [3]"),
    ("input x: [2, 3]\noutput y = x[0, 3]", 13, "index 3 of [0, 3] is out of range for shape [2, 3]: axis 1"),
    ("input x: [2, 3]\noutput y = x[1][3]", 16, "index 3 of [3] is out of range for shape [3]"),
    ("input x: [3]\noutput y = x[0, 0]", 13, "the index [0, 0] takes 2 axes, but it is applied to a value of "
                                             "shape [3] (1 axis)"),
    ("input x: [3]\noutput y = x[0][0]", 16, "the index [0] takes 1 axis, but it is applied to a scalar"),
    ("output y = [1, 2, 3][3]", 21, "index 3 of [3] is out of range for shape [3]"),
    ("input x: [n, 3]\noutput y = x[:, 3]", 13, "index 3 of [:, 3] is out of range for shape [?, 3]"),
    ("input x: [2, 3]\noutput y = reshape(x, shape=[4, -1])", 12,
     "reshape cannot make shape [4, -1] from shape [2, 3] (6 entries)"),
    ("input x: [2, 3]\noutput y = reshape(x[0], shape=[2])", 12, "from shape [3] (3 entries)"),
    ("input a: [2, 3], b: [2, 4]\noutput y = concat(a, b)", 12,
     "concat along axis 0 needs the operands' other axes to agree, got shapes [2, 3], [2, 4]"),
    ("input a: [2], b\noutput y = concat(a, sum(a))", 12, "concat needs operands with at least one axis"),
    ("input a: [2, 3]\noutput y = concat(a, a, axis=2)", 12, "concat's axis 2 is out of range"),
    ("input a: [2], b: [3]\noutput y = stack(a, b)", 12, "stack needs operands of one shape, got shapes [2], [3]"),
    ("input a\noutput y = clip(a, lo=1, hi=0)", 12, "clip needs lo <= hi, got lo=1 and hi=0"),
    ("gate last(v) { return v[3] }\ninput x: [3]\noutput y = last(x)", 24, "index 3 of [3] is out of range"),
])
def test_declared_shapes_that_do_not_fit_are_model_errors(text, column, words):
    with pytest.raises(graphdsl.GraphDefinitionError) as caught:
        graphdsl.loads(text, "m.graph")
    err = caught.value
    assert (err.line, err.column) == (text.count("\n") + 1 if "gate" not in text else 1, column), err.message
    assert words in err.message


@pytest.mark.parametrize("text,value,words", [
    ("input x\noutput y = x[5]", [1.0, 2.0, 3.0], "index 5 of [5] is out of range for shape [3]"),
    ("input x\noutput y = x[0, 0]", [1.0, 2.0], "the index [0, 0] takes 2 axes, but it is applied to a value of shape [2]"),
    ("input x\noutput y = x[0]", 2.0, "the index [0] takes 1 axis, but it is applied to a scalar"),
    ("input x: [n]\noutput y = x[2]", [1.0, 2.0], "index 2 of [2] is out of range for shape [2]"),
    ("input x\noutput y = reshape(x, shape=[2, 2])", [1.0, 2.0, 3.0], "reshape cannot make shape [2, 2] from shape [3]"),
    ("input x\noutput y = concat(x, [1, 2])", [[1.0, 2.0]], "concat needs operands with the same number of axes"),
    ("input x\noutput y = stack(x, [1, 2])", [1.0], "stack needs operands of one shape, got shapes [1], [2]"),
])
def test_values_that_do_not_fit_are_shape_errors_at_the_gate(text, value, words):
    prog = graphdsl.loads(text, "m.graph")
    for run in (lambda: prog.run(x=value), lambda: prog.forward(x=value), lambda: prog.run(x=value, check_finite=True),
                lambda: prog.jvp({"x": value}, {"x": np.ones(np.shape(value)) if np.ndim(value) else 1.0})):
        with pytest.raises(graphdsl.ShapeError) as caught:
            run()
        assert (caught.value.line, caught.value.column) == (2, prog.graph.nodes["y"]["span"].column)
        assert words in caught.value.message


def test_a_label_that_is_not_a_class_id_is_named_at_the_gate():
    prog = graphdsl.loads("input labels\noutput y = onehot(labels, n=3)", "m.graph")
    with pytest.raises(graphdsl.NumericError) as caught:
        prog.run(labels=[0, 3])
    assert (caught.value.line, caught.value.column) == (2, 12)
    assert "onehot needs integer class ids from 0 to 2 (n=3); found 3 at [1]" in caught.value.message


def test_graphs_without_checks_are_not_walked_and_unknown_shapes_pass():
    big = "input x\n" + "\n".join(f"v{k} = x * {k}" for k in range(2000)) + "\noutput v1999"
    assert graphdsl.loads(big).run(x=1.0).outputs["v1999"] == 1999.0
    prog = graphdsl.loads("input x, k: [n]\noutput y = x[7] + sum(k[2:9])")  # nothing known: the run decides
    assert prog.run(x=np.arange(8.0), k=np.ones(3)).outputs["y"] == 8.0
