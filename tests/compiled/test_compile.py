"""The compiled run (graphdsl/compiled/) against the reference interpreter.

Tolerances: + - * / neg, comparisons, max/min/relu/abs and every numpy-mode rule
except matrix-vector products give the interpreter's bits (assert_array_equal,
NaN == NaN). Transcendental functions on the float path use ``math`` where the
interpreter uses numpy: they may differ by an ulp (rtol 1e-12 after a few gates).
A matrix-vector product written as one ``@`` may sum in another order (rtol 1e-12).

These bits are the numpy path's: the module runs with GRAPHDSL_JIT=0. The large-array
tests also run with the fused numba loop forced on (the ``path`` fixture), to
tests/fused_tolerance.py's 1e-13 where the loop takes the graph (exp, tanh... from
libmvec may differ by a few ulps), to the bits where it does not.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import graphdsl
from graphdsl.compiled import numpycode, source as codegen
from graphdsl.run import interpret as execute
from graphdsl.run.bindings import bind
from graphdsl.run.export import pack
from graphdsl.gates import GATES
from fused_tolerance import assert_fused_close, used_fused
from gate_cases import PROGRAMS, gate_call
from optional import needs_numba
from scalar_graphs import BINARY, graphs, values
from tracing import peak_bytes

EXACT = {"add", "sub", "mul", "div", "neg", "identity", "square", "reciprocal", "abs", "relu",
         "max", "min", "sum", "mean", "transpose", "dot", "softmax"}


@pytest.fixture(autouse=True, scope="module")
def numpy_path(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHDSL_JIT", "0")
        mp.setenv("GRAPHDSL_CACHE", str(tmp_path_factory.mktemp("jit-cache")))
        yield


@pytest.fixture(params=["numpy", pytest.param("fused", marks=needs_numba)])
def path(request, monkeypatch):
    """The numpy code (the bits), or the fused loop forced on wherever it applies."""
    monkeypatch.setenv("GRAPHDSL_JIT", "0" if request.param == "numpy" else "always")
    return request.param


def check_on(path, text, **bindings):
    """check(), or with the fused loop: its tolerance where it ran, the bits elsewhere."""
    if path == "numpy":
        return check(text, **bindings)
    prog = graphdsl.loads(text)
    for result in (prog.run(**bindings), prog.run(**bindings)):  # compiled, then cached
        if used_fused(prog, prog.outputs[0]):
            assert_fused_close(prog, result, bindings, prog.outputs[0])
        else:
            assert_same(result, reference(prog, **bindings))
    return prog


def reference(prog, of=None, **bindings):
    """Outputs and gradients from the reference interpreter, or the error it raises."""
    sched = prog.schedule
    of = of or prog.outputs[0]
    with np.errstate(all="ignore"):
        values = execute.forward(sched, bind(sched.leaves, bindings))
        return pack(sched, values, execute.backward(sched, of, values))


def assert_same(result, expected, rtol=0.0, atol=1e-300):
    outputs, grads = expected
    assert result.outputs.keys() == outputs.keys() and result.grads.keys() == grads.keys()
    for got, want in [(result.outputs, outputs), (result.grads, grads)]:
        for name in want:
            assert type(got[name]) is type(want[name]), name
            if rtol:
                np.testing.assert_allclose(got[name], want[name], rtol=rtol, atol=atol, err_msg=name)
            else:
                np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def outcome(fn):
    try:
        return "ok", fn()
    except graphdsl.GraphError as err:
        return "error", (type(err), str(err))


def check(text, rtol=0.0, of=None, atol=1e-300, **bindings):
    prog = graphdsl.loads(text)
    kind, expected = outcome(lambda: reference(prog, of, **bindings))
    got_kind, got = outcome(lambda: prog.run(of, **bindings))
    assert got_kind == kind, (got, expected)
    if kind == "error":
        assert got == expected
    else:
        assert_same(got, expected, rtol, atol)
        assert_same(prog.run(of, **bindings), expected, rtol, atol)  # the cached kernel, again
    return prog


# ---------------------------------------------------------------- every gate
def _call(name, arity):
    args = ", ".join("abc"[:arity])
    return f"input a, b, c\noutput f = {gate_call(name, args)} + 0 * (a + b + c)"


SCALARS = [(0.7, -1.3, 2.0), (-0.0, 0.0, 1.0), (0.0, 0.0, -2.0), (3.0, 3.0, 0.5), (1000.0, -1000.0, 3.0),
           (float("nan"), 1.0, 1.0), (float("inf"), -2.0, 0.0), (-2.0, 0.5, 4.0)]


@pytest.mark.parametrize("name", sorted(GATES))
def test_every_gate_on_scalars(name):
    gate = GATES[name]
    for a, b, c in SCALARS:
        check(_call(name, gate.arity), 0.0 if name in EXACT else 1e-12, a=a, b=b, c=c)


SHAPE_SETS = [((3,), (3,)), ((2, 3), (3,)), ((3, 1), (1, 4)), ((), (2, 2)), ((2, 3), (3, 2)), ((3,), (3, 2))]


@pytest.mark.parametrize("name", sorted(GATES))
def test_every_gate_on_arrays(name):
    gate = GATES[name]
    rng = np.random.default_rng(1)
    for sa, sb in SHAPE_SETS:
        a, b, c = rng.uniform(0.2, 2.0, sa), rng.uniform(-2.0, 2.0, sb), rng.uniform(-1.0, 1.0, sb)
        bind_a = float(a) if sa == () else a
        text = f"input a, b, c\noutput f = sum({gate_call(name, ', '.join('abc'[:gate.arity]))}) + 0 * sum(c)"
        rtol = 1e-12 if name in ("matmul", "dot") else 0.0
        check(text, rtol, a=bind_a, b=b, c=c)


@pytest.mark.parametrize("text,bindings", PROGRAMS, ids=range(len(PROGRAMS)))
def test_indexing_joining_comparisons_and_the_rest_give_the_interpreters_bits(text, bindings):
    check(text, **bindings)
    check(text, **{name: value.astype(np.float32) for name, value in bindings.items()})
    check(text, **{name: value.tolist() for name, value in bindings.items()})


@pytest.mark.parametrize("name", ["index", "reshape", "concat", "stack", "clip"])
def test_the_new_gates_values_are_views_never_handed_out_shared(name):
    text = {"index": "input x: [2, 2]\noutput a = x[0], b = x[0, :]",
            "reshape": "input x: [2, 2]\noutput a = reshape(x, shape=[4]), b = reshape(x, shape=[-1])",
            "concat": "input x: [2]\noutput a = concat(x, x), b = x[::1]",
            "stack": "input x: [2]\noutput a = stack(x, x)[0], b = x[:]",
            "clip": "input x: [2]\noutput a = clip(x, lo=None, hi=None), b = x[:]"}[name]
    x = np.array([[1.0, 2.0], [3.0, 4.0]]) if "[2, 2]" in text else np.array([1.0, 2.0])
    result = graphdsl.loads(text).run(x=x)
    result.outputs["a"][...] = 0.0
    assert np.all(result.outputs["b"] != 0.0) and np.all(x != 0.0)


# ---------------------------------------------------------------- random graphs


@settings(max_examples=150, deadline=None)
@given(graphs(ops=BINARY + ["max", "min"]), values, values, values)
def test_arithmetic_graphs_give_the_interpreters_bits(text, x, y, z):
    check(text, x=x, y=y, z=z)


@settings(max_examples=150, deadline=None)
@given(graphs(), values, values, values)
@example("input x, y, z\nn0 = x * x\nn1 = tanh(n0)\noutput n1", 3.0, 0.0, 0.0)
def test_random_scalar_graphs(text, x, y, z):
    # An ulp between math's and numpy's tanh at x = 9 becomes a relative 4e-9 in
    # 1 - tanh(x)**2 ~ 6e-8: an absolute error of 1e-16, which atol admits.
    check(text, 1e-9, atol=1e-12, x=x, y=y, z=z)


@settings(max_examples=60, deadline=None)
@given(graphs(), st.sampled_from([(3,), (2, 3)]), st.integers(0, 2 ** 31))
def test_random_array_graphs(text, shape, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-3, 3, shape), rng.uniform(-3, 3, shape[-1:])
    check(text, x=x, y=y, z=float(rng.uniform(-3, 3)))


@settings(max_examples=40, deadline=None)
@given(graphs(), values, values, values)
def test_chunked_code_matches(text, x, y, z):
    old = codegen.CHUNK
    codegen.CHUNK = 3
    try:
        check(text, 1e-9, x=x, y=y, z=z)
        check(text, x=np.array([x, y]), y=y, z=z)
    finally:
        codegen.CHUNK = old



def test_float_code_reads_copies_under_the_name_they_have():
    # identity, +, the first operand of -, a scalar's sum and a named output copy their
    # value or cotangent: the float code writes no statement for them.
    text = ("input x, y\na = x\nb = a + y\nc = sum(b) - x\nd = transpose(c)\n"
            "output f = d * b, e = a, k = 2")
    for of in (None, "e", "k"):
        for x, y in [(0.5, -2.0), (-0.0, 0.0), (float("nan"), 1.0)]:
            check(text, of=of, x=x, y=y)
    prog = graphdsl.loads(text)
    prog.run(x=1.0, y=2.0)
    source = prog._kernels[None].kernel.float_source
    assert not [line for line in source.splitlines() if line.strip().split(" = ")[-1].isidentifier()]
    old = codegen.CHUNK
    codegen.CHUNK = 2  # aliases read across chunks
    try:
        check(text, x=0.5, y=-2.0)
    finally:
        codegen.CHUNK = old

# ---------------------------------------------------------------- numerics and errors
@pytest.mark.parametrize("expr, x", [("x / 0", 1.0), ("log(x)", 0.0), ("exp(x)", 1000.0),
                                     ("sqrt(x)", -1.0), ("x ** 2000", 10.0), ("sin(x)", math.inf),
                                     ("0 ** x", -1.0), ("x ** 0.5", -8.0), ("1 / x", -0.0)])
def test_float_errors_fall_back_to_ieee_results(expr, x):
    check(f"input x\noutput f = {expr}", x=x)


def test_logistic_map_is_bit_identical_at_depth_10000():
    text = "gate logistic(l) { return 4 * l * (1 - l) }\ninput x\noutput l = repeat(logistic, 10000, x)"
    prog = check(text, x=0.3)  # bitwise: values and (overflowed) gradients alike
    assert prog.run(x=0.3).outputs["l"] == reference(prog, x=0.3)[0]["l"]
    check(text.replace("10000", "200"), x=0.3)


def test_gate_failures_and_check_finite_name_the_gate_and_line():
    prog = graphdsl.loads("input W, x\ny = W @ x\noutput f = sum(y)")
    with pytest.raises(graphdsl.NumericError) as err:
        prog.run(W=np.ones((2, 3)), x=np.ones(2))
    assert err.value.line == 2 and "matmul" in str(err.value)
    prog = graphdsl.loads("input x\ny = log(x)\noutput f = y * 2")
    with pytest.raises(graphdsl.NumericError) as err:
        prog.run(x=0.0, check_finite=True)
    assert err.value.line == 2
    assert prog.run(x=0.0).outputs["f"] == -math.inf


def test_bindings_of_every_kind():
    text = "input x, y = 2, v: [n]\noutput f = sum(v * x) + y"
    v = np.array([1.0, 2.0])
    for bindings in [dict(x=3, v=v), dict(x=np.float64(3), v=[1, 2]), dict(x=True, y=1, v=v),
                     dict(x=np.float32(3), v=v.astype(np.float32)), dict(x=3.0, v=np.int64(4) * v)]:
        check(text, 1e-6, **bindings)
    for bindings in [dict(x=1.0), dict(x=1.0, v=v, q=1.0), dict(x=1.0, v=np.ones((2, 2))),
                     dict(x="a", v=v)]:
        with pytest.raises(graphdsl.BindingError):
            graphdsl.loads(text).run(**bindings)


def test_outputs_of_and_results():
    text = "input x, y\nc = 3\na = x * y\noutput a, c, y, b = sin(a) + c"
    for of in (None, "a", "c", "y", "b"):
        check(text, 1e-12, of=of, x=0.5, y=2.0)
        check(text, 1e-12, of=of, x=np.array([0.5, 1.0]), y=2.0)
    prog = graphdsl.loads(text)
    res = prog.run("b", x=0.5, y=2.0)
    sched = prog.schedule
    with np.errstate(all="ignore"):
        values = execute.forward(sched, [0.5, 2.0])
    assert res.values == {node: float(v) for node, v in zip(sched.ids, values)}
    assert res.node_grads["a"] == math.cos(1.0) and set(res.node_grads) >= {"x", "y", "a", "b"}
    with pytest.raises(graphdsl.BindingError):
        prog.run(of="nope", x=1.0, y=1.0)


def test_array_kernels_are_kept_per_shape_and_bounded():
    prog = graphdsl.loads("input x\noutput f = sum(x * x)")
    for n in range(1, 40):
        assert prog.run(x=np.ones(n)).grads["x"].tolist() == [2.0] * n
    assert len(prog._kernels[None].kernel.arrays) <= 16


def test_a_long_chain_frees_what_the_backward_pass_does_not_need():
    n, size = 2000, 10_000  # the reference holds 2 x 2000 arrays of 80 kB
    prog = graphdsl.loads(f"gate step(v) {{ return v * 0.5 + 1 }}\ninput x\n"
                          f"output s = sum(repeat(step, {n}, x))")
    x = np.ones(size)
    old, codegen.CHUNK = codegen.CHUNK, 500  # tracemalloc finds each line in time ∝ function size
    try:
        prog.run(x=x)  # compile first
        peak = peak_bytes(lambda: prog.run(x=x))
    finally:
        codegen.CHUNK = old
    assert peak < 20 * x.nbytes, peak
    assert prog.run(x=x).grads["x"].tolist() == reference(prog, x=x)[1]["x"].tolist()


@pytest.mark.parametrize("expr", ["sigmoid(x) * y", "tanh(x) * y", "sum(sigmoid(x * y))",
                                  "sigmoid(tanh(x)) + sigmoid(x)"])
def test_in_place_rules_for_large_arrays_give_the_interpreters_bits(expr, path):
    rng = np.random.default_rng(4)
    x = rng.normal(scale=30, size=5000)
    x[:4] = [0.0, -0.0, np.nan, np.inf]
    text = f"input x, y\noutput f = {expr}"
    check_on(path, text, x=x, y=rng.normal(size=5000))
    check_on(path, text, x=x, y=2.0)
    check(text, 1e-6, x=x.astype(np.float32), y=np.float32(2))  # float32: the plain rules


# ---------------------------------------------------------------- large arrays (in-place forms)
LARGE = ["sigmoid(w0 * x + w1 * y + b)", "sum(sigmoid(x * y - b * x))", "tanh(x * y) * (x - y) / (1 + y * y)",
         "sum(square(x + y) - reciprocal(1 + x * x) * w0)", "-(x / y) * exp(x - y) + sigmoid(-x)",
         "sqrt(1 + x * x) * sigmoid(y) + log(1 + y * y) / (x * w1)"]


def _large_inputs(size):
    rng = np.random.default_rng(6)
    x, y = rng.normal(scale=30, size=size), rng.normal(size=size)
    x[:9] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1000.0, -1000.0, 745.0, -720.0]
    y[:3] = [0.0, -0.0, 1e300]
    return {"x": x, "y": y, "w0": 2.0, "w1": -3.0, "b": 0.5}


def _kernel_source(prog, of, inputs):
    values = [inputs[leaf.name] for leaf in prog.schedule.leaves]
    with np.errstate(all="ignore"):
        shapes = execute.shapes(prog.schedule, values)
    listing = numpycode.run_listing(prog.schedule, of, shapes, True)
    return codegen.source(listing.statements, listing.params, "arrays")


@pytest.mark.parametrize("expr", LARGE)
def test_large_arrays_give_the_interpreters_bits(expr, path):
    """The in-place forms on arrays above INPLACE_MIN elements: the interpreter's bits, at
    ±1000, NaN, ±inf and signed zeros too (with the fused loop: its tolerance)."""
    text = f"input x, y, w0, w1, b\noutput f = {expr}"
    inputs = _large_inputs(5000)
    prog = check_on(path, text, **inputs)
    assert used_fused(prog, "f") == (path == "fused" and not expr.startswith("sum("))
    if path == "numpy":
        assert "out=" in _kernel_source(prog, "f", inputs) or "S" in _kernel_source(prog, "f", inputs)


def _random_array_graph_with(module, threshold: str, *case):
    """One case of test_random_array_graphs with a size threshold lowered to 1 (hypothesis
    runs many cases per test, so pytest's monkeypatch, set once per test, does not fit)."""
    old = getattr(module, threshold)
    setattr(module, threshold, 1)
    try:
        test_random_array_graphs.hypothesis.inner_test(*case)
    finally:
        setattr(module, threshold, old)


@settings(max_examples=60, deadline=None)
@given(graphs(), st.sampled_from([(3,), (2, 3)]), st.integers(0, 2 ** 31))
def test_random_array_graphs_in_place(text, shape, seed):
    """The in-place rules and the reuse of dead temporaries (large arrays only), however
    small the arrays: the same bits as the interpreter."""
    _random_array_graph_with(numpycode, "INPLACE_MIN", text, shape, seed)


def test_dead_temporaries_are_reused_but_never_an_alias():
    inputs = _large_inputs(5000)
    prog = check("input x, y\na = x * y\nb = a + y\nc = b * b\noutput f = c - x", **inputs)
    assert "out=" in _kernel_source(prog, "f", inputs)
    # a is an output's operand through identity: its array must not be overwritten
    check("input x, y\na = x * y\noutput o = a\noutput f = a + y", **inputs)
    check("input x, y\na = x * y\nb = a\nc = a + y\noutput f = sum(c * b)", **inputs)


def test_products_of_a_large_matrix_and_a_vector():
    rng = np.random.default_rng(3)
    W, x = rng.normal(size=(600, 500)), rng.normal(size=500)
    check("input W, x\noutput s = sum((W @ x) ** 2)", 1e-12, W=W, x=x)
    check("input v, W\noutput s = sum(tanh(dot(v, W)))", 1e-12, v=rng.normal(size=600), W=W)


# Aliases (identity, transpose, a compound gate returning its operand), fan-out, several
# outputs, broadcasting operands smaller than the result, defaults, params and constants.
ALIASING = [
    "input x, y\nparam p = [1, 2, 3]\na = x * y\nb = identity(a)\nc = transpose(transpose(a))\n"
    "output o1 = b, o2 = sum(c * a + p), o3 = a - p",
    "gate same(u) { return u }\ninput x, y\na = exp(x)\nb = same(a)\nd = a + y\n"
    "output f = sum(sigmoid(d) * b), g = d",
    "input x, y\ninput w = [0.5, -1.5, 2.0]\nc = [1, 2, 3]\na = x * c\nb = a + w\nq = b * b\n"
    "output f = sum(tanh(q) + q ** 2), s = sigmoid(b), t = c",
    "input x, y\na = sigmoid(x + y)\nb = a * a\nd = b - a\noutput f = mean(d * x) + sum(a), g = tanh(d)",
    "input x, y\nr = x * 2\nm = sum(r, axis=0)\nn = r + m\noutput f = sum(n * n), g = n, h = m",
]


@pytest.mark.parametrize("text", ALIASING, ids=range(len(ALIASING)))
def test_in_place_code_never_writes_an_array_it_does_not_own(text, monkeypatch):
    """With every array 'large', the compiled code may write into dead temporaries (and
    write over their operands): never into a bound array, a default, a param, a constant, an array a run
    returned, or a value read later: outputs and gradients stay the interpreter's."""
    monkeypatch.setattr(numpycode, "INPLACE_MIN", 1)
    rng = np.random.default_rng(4)
    prog = graphdsl.loads(text)
    bindings = {"x": rng.normal(size=(2, 3)), "y": rng.normal(size=3)}
    copies = {name: value.copy() for name, value in bindings.items()}
    defaults = {name: np.copy(value) for name, value in prog.defaults().items()}
    for of in prog.outputs:
        first = prog.run(of, **bindings)
        kept = [{name: value.copy() if isinstance(value, np.ndarray) else value for name, value in d.items()}
                for d in (first.outputs, first.grads)]
        assert_same(first, reference(prog, of, **bindings))
        for d in (first.outputs, first.grads):  # a caller may write into what it was given
            for value in d.values():
                if isinstance(value, np.ndarray):
                    value[...] = 7.0
        assert_same(prog.run(of, **bindings), reference(prog, of, **bindings))
        assert_same(prog.run(of, **bindings), tuple(kept))
    for name, value in copies.items():
        np.testing.assert_array_equal(bindings[name], value)
    for name, value in defaults.items():
        np.testing.assert_array_equal(prog.defaults()[name], value)


@pytest.mark.parametrize("text", ["input x\nc = [1, 2, 3]\noutput y = sum(tanh(x * c + c))",
                                  "input x\noutput y = sum(x * [[1, 2, 3], [4, 5, 6]])"])
def test_array_constants_are_compiled_not_interpreted_on_every_run(text):
    # Listing read its namespace before making it: every array constant raised an
    # AttributeError inside code generation, so each run generated code again, failed,
    # and ran on the reference interpreter (5x slower on small arrays).
    x = np.array([0.1, -0.2, 0.3])
    prog = check(text, x=x)
    assert len(prog._runner.entry("y").kernel.arrays) == 1
    assert "C" in _kernel_source(prog, "y", {"x": x})


@pytest.mark.parametrize("text", ["input x\noutput f = relu(x)", "input x\noutput f = sum(relu(softmax(x)) * x)"])
def test_float32_gradients_through_relu_stay_float32_as_the_interpreters(text):
    # The compiled code multiplied by relu's float64 partial (mask * 1.0), the interpreter
    # by the gate's boolean mask: float64 gradients, and other numbers, for float32 bindings.
    x = np.array([[0.3, -1.2, 2.0], [1.0, 0.5, -0.7]], dtype=np.float32)
    prog = check(text, x=x)
    assert prog.run(x=x).grads["x"].dtype == np.float32


def test_small_float_code_is_written_into_the_entry_and_large_code_is_called():
    """run's first all-float call writes the float code into the entry itself (the same
    function object, which callers hold; the same bits), up to kernel.INLINE_MAX statements."""
    from graphdsl.compiled import kernel
    prog = graphdsl.loads("input x, y, z\nq = x + y\noutput f = q * z + sin(q)")
    entry = prog._runner.entry(None)
    assert "FLOATS(" in entry.kernel.entry_source
    results = [prog.run(x=-2.0, y=5.0, z=-4.0) for _ in range(3)]
    assert prog._runner.entry(None) is entry and "FLOATS(" not in entry.kernel.entry_source
    for res in results:
        assert_same(res, reference(prog, x=-2.0, y=5.0, z=-4.0), rtol=1e-15)
        assert res.values["q"] == 3.0  # the lazy Result made in the entry recomputes its nodes
    assert prog.run(x=1, y=2.0, z=3.0).outputs == prog.run(x=1.0, y=2.0, z=3.0).outputs  # ints: bind()
    deep = graphdsl.loads(f"gate step(v) {{ return v * 0.5 + 1 }}\ninput x\n"
                          f"output s = repeat(step, {kernel.INLINE_MAX}, x)")
    assert deep.run(x=1.0).outputs["s"] == deep.run(x=1.0).outputs["s"] == reference(deep, x=1.0)[0]["s"]
    assert "FLOATS(" in deep._runner.entry(None).kernel.entry_source


@pytest.mark.parametrize("x", [0.3, -0.0, 1e308, float("nan"), float("inf")])
def test_one_op_on_a_constant_is_written_where_it_is_read(x):
    # 4 * l and 1 - l, each read by one step, are not kept from the forward pass to the
    # backward: written out where they are read, the same operations on the same numbers.
    text = ("gate logistic(l) { return 4 * l * (1 - l) }\ninput x\ny = repeat(logistic, 5, x)\n"
            "c = y * 2\noutput f = c + x * 3, d = c")
    prog = check(text, x=x)
    source = prog._kernels[None].kernel.float_source
    assert " = (4.0 * v0) * (1.0 - v0)" in source  # one statement for the three steps
    assert "* 2.0\n" in source  # c = y * 2, read twice, is kept
