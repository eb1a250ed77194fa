"""Program.function: run's numbers, bit for bit, as a plain positional function."""
import inspect
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphdsl
from graph_programs import program

EXAMPLES = sorted(pathlib.Path(__file__).parents[2].joinpath("examples").glob("*.graph"))


def same(a, b) -> bool:
    """Equal bits (0.0 and -0.0 told apart), and the same kind of value; a float NaN equals
    any NaN: CPython takes a NaN's sign from either operand where two meet, depending on
    whether the instruction is specialised yet (run's 8th call of W3 depth 2,000 gives the
    other sign), and a large graph's first run is interpreted (compiled/threaded.py)."""
    if isinstance(a, float) or isinstance(b, float):
        if a != a and b != b:
            return type(a) is type(b)
        return type(a) is type(b) and np.array_equal(np.float64(a).view(np.int64), np.float64(b).view(np.int64))
    return (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
            and np.array_equal(a.view(np.int64), b.view(np.int64)))


def assert_as_run(prog, got, of=None, wrt=None, **bindings):
    res = prog.run(of=of, **bindings)
    outs, grads = got
    assert isinstance(outs, tuple) and isinstance(grads, tuple)
    assert len(outs) == len(prog.outputs)
    for name, value in zip(prog.outputs, outs):
        assert same(value, res.outputs[name]), (name, value, res.outputs[name])
    names = wrt or prog.inputs + prog.params
    assert len(grads) == len(names)
    for name, value in zip(names, grads):
        assert same(value, res.grads[name]), (name, value, res.grads[name])


def defaults(prog) -> dict:
    return {name: prog.defaults()[name] for name in prog.inputs + prog.params if name in prog.defaults()}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_give_runs_bits(path):
    prog = graphdsl.load(path)
    values = defaults(prog)
    rng = np.random.default_rng(1)
    names = prog.inputs + prog.params
    for name in names:  # inputs without a default: drawn in the shape the text declares
        if name not in values:
            shape = next(leaf.shape for leaf in prog.schedule.leaves if leaf.name == name)
            values[name] = rng.normal(size=[3 if not isinstance(d, int) else d for d in shape]) if shape else 0.7
    f = prog.function()
    for _ in range(2):  # the first call makes run's code for these shapes, the second uses it
        assert_as_run(prog, f(*[values[n] for n in names]), **values)
    for of in prog.outputs:
        assert_as_run(prog, prog.function(of=of)(*[values[n] for n in names]), of=of, **values)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000))
def test_random_programs_give_runs_bits(seed):
    text, _ = program(seed)
    prog = graphdsl.loads(text)
    values = defaults(prog)
    f = prog.function()
    names = prog.inputs + prog.params
    assert [p for p in inspect.signature(f).parameters] == list(names)
    assert_as_run(prog, f(), **values)  # every leaf has its default here
    assert_as_run(prog, f(*[values[n] for n in names]), **values)
    assert_as_run(prog, f(*[values[n] for n in names]), **values)


SCALAR_TEXTS = ["input x, y, z\nq = x + y\noutput f = q * z\noutput g = q",
                "input x, y\noutput f = log(x) / y + sqrt(y)",
                "input x, y\noutput f = sigmoid(x * y) + tanh(x) ** y"]


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(SCALAR_TEXTS), st.floats(-3, 3), st.floats(-3, 3), st.floats(-3, 3),
       st.sampled_from([(), (4,), (2, 3)]))
def test_floats_and_arrays_give_runs_bits(text, x, y, z, shape):
    prog = graphdsl.loads(text)
    names = prog.inputs
    values = dict(zip(names, (x, y, z)))
    if shape:  # the first leaf an array: broadcast against the floats
        values[names[0]] = np.full(shape, x) + np.arange(np.prod(shape)).reshape(shape) / 7
    f = prog.function()
    for _ in range(2):
        assert_as_run(prog, f(*values.values()), **values)
    g = prog.function(of=prog.outputs[-1], wrt=list(reversed(names)))
    assert_as_run(prog, g(*values.values()), of=prog.outputs[-1], wrt=list(reversed(names)), **values)


def test_signature_defaults_keywords_and_arity():
    prog = graphdsl.loads("input x, y = 2\nparam w = 3\noutput f = w * x * y")
    f = prog.function()
    assert str(inspect.signature(f)) == "(x, y=2.0, w=3.0)"
    assert "df/dx" in f.__doc__
    assert f(1.0) == ((6.0,), (6.0, 3.0, 2.0))
    assert f(1.0, w=1.0) == ((2.0,), (2.0, 1.0, 2.0))
    assert f(1, 2, 3) == ((6.0,), (6.0, 3.0, 2.0))  # ints: through run's binding
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'x'"):
        f()
    with pytest.raises(TypeError, match="takes from 1 to 3 positional arguments but 4 were given"):
        f(1.0, 2.0, 3.0, 4.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        f(1.0, z=2.0)


def test_a_required_leaf_after_a_default_makes_the_earlier_ones_required():
    prog = graphdsl.loads("input x = 1, y\noutput f = x * y")
    assert str(inspect.signature(prog.function())) == "(x, y)"


def test_leaf_names_that_are_generated_names_or_python_keywords():
    prog = graphdsl.loads("input v1, k, g0, t\noutput f = v1 * k + g0 * t")
    f = prog.function()
    assert str(inspect.signature(f)) == "(v1, k, g0, t)"
    assert f(1.0, 2.0, 3.0, 4.0) == ((14.0,), (2.0, 1.0, 4.0, 3.0))
    assert f(t=4.0, g0=3.0, k=2.0, v1=1.0) == ((14.0,), (2.0, 1.0, 4.0, 3.0))


def test_errors_and_fallbacks_are_runs():
    prog = graphdsl.loads("input x, y\noutput f = x / y")
    f = prog.function()
    assert_as_run(prog, f(1.0, 0.0), x=1.0, y=0.0)  # Python raises; numpy gives inf, as run
    with pytest.raises(graphdsl.BindingError):
        f("a", 1.0)
    with pytest.raises(ValueError, match="'z' is not an input or param"):
        prog.function(wrt=["z"])
    with pytest.raises(graphdsl.BindingError, match="'h' is not an output"):
        prog.function(of="h")
    assert prog.function(wrt="y")(1.0, 2.0) == ((0.5,), (-0.25,))


def test_aliasing_outputs_are_copies():
    prog = graphdsl.loads("input x: [3]\noutput y = x")
    x = np.arange(3.0)
    (y,), (gx,) = prog.function()(x)
    y[0] = 7.0
    assert x[0] == 0.0


@pytest.mark.parametrize("text", ["input x\ny = repeat(tanh, 3000, x)\noutput f = y * y",
                                  "input x, y\na = x * x\nb = a * y\noutput f = b + a\noutput g = sin(b) / a",
                                  "gate logistic(l) { return 4 * l * (1 - l) }\ninput x\n"
                                  "output l = repeat(logistic, 2000, x)"])
def test_values_read_once_are_inlined_with_runs_bits(text):
    prog = graphdsl.loads(text)
    f = prog.function()
    values = {name: 0.3 + 0.1 * k for k, name in enumerate(prog.inputs)}
    assert_as_run(prog, f(*values.values()), **values)
    for of in prog.outputs:
        assert_as_run(prog, prog.function(of=of)(*values.values()), of=of, **values)


def test_inlining_keeps_order_and_reads_twice_apart():
    from graphdsl.compiled.source import Stmt, inline_once_read

    statements = [Stmt("a = x * 2.0", ("x",), ("a",)), Stmt("b = a * a", ("a",), ("b",)),
                  Stmt("c = y + 1.0", ("y",), ("c",)), Stmt("y = 5.0", (), ("y",)),
                  Stmt("d = c * b", ("c", "b"), ("d",)), Stmt("return d", ("d",))]
    texts = [s.text for s in inline_once_read(statements)]
    # a is read twice in one expression: kept; c's operand y changes before c is read: c is
    # written before that; b and d are read once: inlined where they are read
    assert texts == ["a = x * 2.0", "c = y + 1.0", "y = 5.0", "return (c * (a * a))"]
