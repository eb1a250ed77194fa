"""The numpy code's speed forms give the reference interpreter's numbers, bit for bit:
softmax cross-entropy's gradient made from what its forward kept, sums back to a
broadcast operand's shape with their axes worked out in advance, and fit's step code."""
from pathlib import Path

import numpy as np
import pytest

import graphdsl
from graphdsl.train.datafiles import read_data

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def same(a, b):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert np.shape(a) == np.shape(b)


def assert_run_is_the_interpreters(prog, **bindings):
    for _ in range(3):  # the first call, then the compiled code
        result = prog.run(**bindings)
        # (a compiled run's node values and gradients are the reference interpreter's, made now)
        for name in prog.outputs:
            same(result.outputs[name], result.values[name])
        for name in result.grads:
            same(result.grads[name], result.node_grads.get(name, np.zeros_like(result.grads[name])))


@pytest.mark.parametrize("rows", [1, 7, 300])
def test_cross_entropy_gradient_from_the_kept_exponentials(rows):
    prog = graphdsl.load(EXAMPLES / "two_layer_net.graph")
    rng = np.random.default_rng(rows)
    params = {name: rng.normal(size=np.shape(value)) for name, value in prog.defaults().items()
              if name in prog.params}
    assert_run_is_the_interpreters(prog, X=rng.normal(size=(rows, 2)), y=rng.integers(0, 3, rows) * 1.0,
                                   **params)
    source = prog._kernels[None].kernel  # the kept form is what the code uses
    arrays = next(iter(source.arrays.values()))
    assert any(name.startswith("s") for name in arrays.__code__.co_varnames)


def test_cross_entropy_extremes_and_its_second_use():
    # -inf and huge scores (the shift), a loss read twice (two cotangents summed), a second
    # derivative through cross_entropy_grad's own rules
    prog = graphdsl.loads("input s: [n, 3]\ninput y: [n]\nl = softmax_cross_entropy(s, y)\n"
                          "output f = l * l + l\noutput h = softmax_cross_entropy(s * 2, y)")
    s = np.array([[1e300, -1e300, 0.0], [-np.inf, 0.0, 1.0], [3.0, 3.0, 3.0]])
    assert_run_is_the_interpreters(prog, s=s, y=np.array([0.0, 2.0, 1.0]))
    twice = prog.grad("f", ["s"])
    np.testing.assert_allclose(twice.run(s=s[1:], y=np.array([2.0, 1.0])).outputs["df_ds"],
                               prog.run(s=s[1:], y=np.array([2.0, 1.0])).grads["s"])


def test_bad_labels_still_fail_with_the_loss_named():
    prog = graphdsl.loads("input s: [2, 3]\ninput y: [2]\noutput f = softmax_cross_entropy(s, y)")
    with pytest.raises(graphdsl.errors.GraphError, match="labels"):
        prog.run(s=np.zeros((2, 3)), y=np.array([0.0, 3.0]))


@pytest.mark.parametrize("shapes", [
    {"x": (4, 3), "b": (3,), "c": (4, 1), "d": (1, 3)},
    {"x": (2, 4, 3), "b": (4, 1), "c": (1, 1, 3), "d": (3,)},
    {"x": (5,), "b": (1,), "c": (5,), "d": (1,)},
])
def test_sums_back_to_broadcast_shapes(shapes):
    prog = graphdsl.loads("input x, b, c, d\noutput f = sum(x * b + c * d) + sum(b * b)")
    rng = np.random.default_rng(0)
    assert_run_is_the_interpreters(prog, **{k: rng.normal(size=v) for k, v in shapes.items()})
    assert_run_is_the_interpreters(prog, **dict({k: rng.normal(size=v) for k, v in shapes.items()}, b=1.5))


def test_fit_steps_are_runs_steps():
    """Full-batch SGD through fit equals SGD written over run's gradients, bit for bit."""
    prog = graphdsl.load(EXAMPLES / "two_layer_net.graph")
    data = read_data(EXAMPLES / "spiral.npz")
    history = prog.fit(data, epochs=4, lr=0.5)
    params = {name: np.array(value) for name, value in prog.defaults().items() if name in prog.params}
    losses = []
    for _ in range(4):
        result = prog.run(X=data["X"], y=data["y"], **params)
        losses.append(result.outputs["loss"])
        for name in params:
            params[name] -= 0.5 * result.grads[name]
    assert history.losses == losses
    for name in params:
        same(history.params[name], params[name])


@pytest.mark.parametrize("text", [
    "h = relu(X @ W + b)\noutput f = sum(h * h)",
    "z = X @ W + b\nh = relu(z)\noutput f = sum(h) + sum(z * z)",  # relu's operand read again
    "h = relu(X @ W)\noutput f = sum(h @ V) + sum(h)",  # relu's value read twice
    "h = relu(X @ W)\nk = relu(h)\noutput f = sum(k @ V) + sum(h @ V)",  # relu of relu
    "output f = sum(relu(X @ W) @ V) + sum(relu(X) * X)",  # relu of a bound array
    "h = relu(X @ W + b)\noutput f = sum(sigmoid(h) @ V), g = h",  # relu's value an output
])
def test_large_arrays_written_in_place_give_the_interpreters_numbers(text):
    # Above INPLACE_MIN elements the code writes values and cotangents into arrays that
    # nothing reads afterwards; it must never write into one that is read later, or bound.
    prog = graphdsl.loads("input X: [n, 50]\ninput W: [50, 100]\ninput b: [100]\ninput V: [100, 3]\n" + text)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 50))
    X[0, :3] = [np.nan, -0.0, np.inf]
    bindings = {"X": X, "W": rng.normal(size=(50, 100)), "b": rng.normal(size=100), "V": rng.normal(size=(100, 3))}
    kept = {name: value.copy() for name, value in bindings.items()}
    with np.errstate(all="ignore"):
        assert_run_is_the_interpreters(prog, **bindings)
    for name, value in bindings.items():
        same(value, kept[name])


@pytest.mark.parametrize("text", [
    "h = x * 2.0\nk = h * 1.0\nr = relu(k)\noutput f = sum(r) + sum(h)",  # k is h's array
    "h = x * 2.0\nk = h * 1.0\na = relu(h)\noutput f = sum(a) + sum(k)",
    "h = x * 1.0\nr = relu(h)\noutput f = sum(r * w)",  # h is the caller's x
    "h = x * 2.0\nk = h * 1.0\nr = k + 1.0\noutput f = sum(r * h)",
    "h = x / 1.0 - 0.0\nr = relu(h ** 1.0)\noutput f = sum(r * w), g = h",
])
def test_a_step_that_is_its_operand_is_never_written_over(text):
    # x * 1.0 is x itself in the code: two names for one array, which nothing may write into
    prog = graphdsl.loads("input x, w\n" + text)
    x, w = np.linspace(-1.0, 1.0, 4096), np.linspace(2.0, 3.0, 4096)
    kept = x.copy(), w.copy()
    assert_run_is_the_interpreters(prog, x=x, w=w)
    same(x, kept[0])
    same(w, kept[1])


@pytest.mark.parametrize("text, results", [
    ("output y = exp(x)", [("outputs", "y"), ("grads", "x")]),  # the gradient is the value
    ("h = x * 2.0\noutput y = h * w, h", [("outputs", "h"), ("grads", "w")]),
    ("output y = x * 1.0", [("outputs", "y"), ("grads", "x")]),
])
def test_no_two_results_and_no_result_and_binding_share_an_array(text, results):
    prog = graphdsl.loads("input x, w\n" + text)
    x, w = np.linspace(-1.0, 1.0, 8), np.ones(8)
    for _ in range(2):
        result = prog.run(x=x, w=w)
        arrays = [getattr(result, kind)[name] for kind, name in results]
        assert not np.shares_memory(arrays[0], arrays[1])
        assert not any(np.shares_memory(array, bound) for array in arrays for bound in (x, w))


def test_fit_trains_a_param_that_is_copied_before_relu():
    prog = graphdsl.loads("input x: [n, 64]\nparam W: [64, 64] ~ normal(0, 1)\nh = W * 1.0\n"
                          "output loss = sum((x @ relu(h)) ** 2.0) * 0.001")
    data = {"x": np.random.default_rng(0).normal(size=(32, 64))}
    history = prog.fit(data, epochs=3, lr=0.01)
    W = np.array(prog.defaults()["W"])
    for _ in range(3):
        W = W - 0.01 * prog.run(x=data["x"], W=W).grads["W"]
    same(history.params["W"], W)
    assert (history.params["W"] < 0).any()
