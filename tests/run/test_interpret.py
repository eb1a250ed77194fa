"""The reference interpreters: broadcasting undone once, errors named at their gate."""
import warnings

import numpy as np
import pytest

import graphdsl
from graphdsl.run.interpret import broadcast_to, unbroadcast


@pytest.mark.parametrize("shape,target", [((3, 4), (3, 4)), ((3, 4), ()), ((3, 4), (4,)), ((3, 4), (3, 1)),
                                          ((3, 4), (1, 4)), ((2, 3, 4), (3, 1)), ((3,), ())])
def test_unbroadcast_sums_back_to_the_operand_shape(shape, target):
    ct = np.arange(np.prod(shape), dtype=float).reshape(shape)
    out = unbroadcast(ct, target)
    assert np.shape(out) == target
    assert np.sum(out) == np.sum(ct)


def test_broadcast_to_gives_tangents_the_value_shape():
    assert broadcast_to(1.0, (2, 2)).shape == (2, 2)
    assert broadcast_to(np.ones(3), (3,)).shape == (3,)


@pytest.mark.parametrize("a,b", [((), (3,)), ((3, 1), (1, 4)), ((1, 4), (3, 4)), ((3,), (2, 3))])
def test_gradients_through_broadcasting_have_operand_shapes(a, b):
    prog = graphdsl.loads("input a, b\noutput f = sum(a * b + a / (b * b + 1))")
    rng = np.random.default_rng(0)
    va, vb = rng.normal(size=a), rng.normal(size=b)
    res = prog.run(a=va, b=vb)
    assert np.shape(res.grads["a"]) == a and np.shape(res.grads["b"]) == b
    assert prog.check_gradients(a=va, b=vb).ok


def test_a_numpy_failure_names_the_gate_and_its_line():
    prog = graphdsl.loads("input W, x\nq = W @ x\noutput f = sum(q)", name="m.graph")
    with pytest.raises(graphdsl.NumericError) as info:
        prog.run(W=np.ones((2, 3)), x=np.ones(2))
    err = info.value
    assert (err.line, err.column) == (2, 7) and "matmul" in err.message
    assert "[2, 3]" in err.message and "[2]" in err.message


def test_check_finite_finds_the_first_bad_value_at_its_origin():
    prog = graphdsl.loads("input x = 0\na = log(x)\nb = a * 2\noutput f = b + 1", name="m.graph")
    assert prog.run().outputs["f"] == -np.inf  # without the flag: IEEE numbers, no exception
    with pytest.raises(graphdsl.NumericError) as info:
        prog.run(check_finite=True)
    assert (info.value.line, info.value.column) == (2, 5)
    assert info.value.message.startswith("log produced -inf from input 0")


def test_check_finite_finds_a_bad_gradient():
    prog = graphdsl.loads("input x = 0\noutput f = sqrt(x) * 0 + x", name="m.graph")
    res = prog.run()
    assert np.isnan(res.grads["x"])
    with pytest.raises(graphdsl.NumericError) as info:
        prog.run(check_finite=True)
    assert "gradient" in info.value.message and info.value.line == 2


def test_no_runtime_warnings_reach_the_user():
    prog = graphdsl.loads("input x = 0\noutput f = log(x) + 1 / x + sqrt(-1 + x)")
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")  # any RuntimeWarning (or FloatingPointError) would fail here
        res = prog.run()
        prog.forward()
        prog.jvp({}, {"x": 1.0})
    assert np.isnan(res.outputs["f"])


@pytest.mark.parametrize("text", ["input x\noutput f = sum(x)", "input x\noutput f = mean(exp(x)) * 2",
                                  "input x\noutput f = sum(softmax(x))"])
def test_float32_bindings_get_float32_gradients_through_a_scalar_output(text):
    # A reduction's output is a numpy float32 scalar: the seed must be one of that dtype,
    # not the Python float 1.0 that made every gradient float64 (JAX and PyTorch keep float32).
    prog = graphdsl.loads(text)
    x = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    assert prog.run(x=x).grads["x"].dtype == np.float32
    assert prog.run(x=x, check_finite=True).grads["x"].dtype == np.float32  # the interpreter
    assert prog.run_batch(x=np.stack([x, x])).grads["x"].dtype == np.float32
    assert prog.run(x=x.astype(np.float64)).grads["x"].dtype == np.float64


def test_operands_whose_shapes_clash_raise_an_error_that_is_a_binding_and_a_numeric_error():
    prog = graphdsl.loads("input x, y\nW = [[1, 2], [3, 4]]\noutput f = sum(x + y)\noutput g = sum(W @ x)",
                          "m.graph")
    for call, position, words in [
            (lambda: prog.run(x=np.ones(2), y=np.ones(3)), (3, 18), "gate 'add' cannot combine shapes [2] and [3]"),
            (lambda: prog.forward(x=np.ones(3), y=1.0), (4, 18), "matmul cannot multiply shapes [2, 2] and [3]"),
            (lambda: prog.run_batch(x=np.ones((2, 2)), y=np.ones((2, 3))), (3, 18), "cannot combine shapes")]:
        with pytest.raises(graphdsl.ShapeError) as caught:
            call()
        assert isinstance(caught.value, graphdsl.BindingError) and isinstance(caught.value, graphdsl.NumericError)
        assert (caught.value.line, caught.value.column) == position and words in caught.value.message
