"""Program.grad: the backward pass written as gates gives run()'s numbers, composes into
second derivatives (checked against central differences) and Hessian-vector products."""
from __future__ import annotations

import math
import pickle
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

import graphdsl
from graphdsl import BindingError, GraphDefinitionError
from graphdsl.graph.build import build_model
from graphdsl.graph.derivative import derivative_syntax
from graphdsl.lang.parse import parse
from graphdsl.lang.syntax import same_tree
from graphdsl.gates import GATES, expr
from tests.gate_cases import PROGRAMS, gate_call
from tests.test_random_graphs import graphs

EXAMPLES = sorted(Path(__file__).resolve().parents[2].joinpath("examples").glob("*.graph"))


def same(a, b) -> None:
    """Bit for bit: the derivative program does the interpreter's operations in its order."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape and np.array_equal(a, b, equal_nan=True), (a, b)


def same_model(a, b) -> None:
    """The same nodes, gates, operands, options, constants, leaves and outputs."""
    sa, sb = a.schedule, b.schedule
    assert set(sa.ids) == set(sb.ids) and a.outputs == b.outputs and a.inputs == b.inputs
    steps = {s.node: (s.gate.name, tuple(sa.ids[x] for x in s.args), s.options, s.symbol) for s in sa.steps}
    assert steps == {s.node: (s.gate.name, tuple(sb.ids[x] for x in s.args), s.options, s.symbol)
                     for s in sb.steps}
    consts = {sa.ids[slot]: np.asarray(v).tolist() for slot, v in sa.constants}
    assert consts == {sb.ids[slot]: np.asarray(v).tolist() for slot, v in sb.constants}
    assert [(l.name, l.kind, l.shape) for l in sa.leaves] == [(l.name, l.kind, l.shape) for l in sb.leaves]


def agree(prog, bindings=None, of=None) -> None:
    bindings = bindings or {}
    result = prog.run(bindings, of=of)
    of = of or prog.outputs[0]
    derived = prog.grad(of=of)
    same_model(derived._model, build_model(parse(derived._source, derived.file)))  # as its text reads
    got = derived.run(bindings).outputs
    assert list(got) == [of] + [f"d{of}_d{name}" for name in prog.inputs + prog.params]
    same(got[of], result.outputs[of])
    for name in prog.inputs + prog.params:
        same(got[f"d{of}_d{name}"], result.grads[name])
    fwd = derived.forward(bindings)  # its compiled forward too: run's templates, run's bits
    assert list(fwd) == list(got)
    for name in got:
        same(fwd[name], got[name])


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_gives_the_gradients_of_run(path):
    agree(graphdsl.load(path))
    derived = graphdsl.load(path).grad()
    assert derived.to_text() == derived._source  # written in the canonical layout already


@pytest.mark.parametrize("case", range(len(PROGRAMS)))
def test_the_programs_of_every_gate_give_the_gradients_of_run(case):
    text, bindings = PROGRAMS[case]
    prog = graphdsl.loads(text)
    for of in prog.outputs:
        agree(prog, bindings, of)


def test_a_slice_is_scattered_back_with_its_index_as_an_option():
    prog = graphdsl.loads("input x: [5]\ny = x * 2\noutput f = sum(y[1:4:2] * y[-1])")
    text = prog.grad().to_text()
    assert ", at=[[1, 4, 2]])  # from line 3: output f = sum(y[1:4:2] * y[-1])" in text
    agree(prog, {"x": np.arange(5.0)})


@settings(max_examples=40, deadline=None)
@given(graphs())
def test_random_graphs_with_broadcasting(case):
    text, values = case
    agree(graphdsl.loads(text), values)


def test_the_seed_example_reads_as_the_lecture_writes_it():
    text = graphdsl.load(EXAMPLES[0].with_name("mul_add.graph")).grad().to_text()
    assert text.endswith("input x: [] = -2, y: [] = 5, z: [] = -4\nq = x + y\nf = q * z\n"
                         "df_dx = z  # from line 3: q = x + y\n"
                         "df_dy = z  # from line 3: q = x + y\n"
                         "df_dz = q  # from line 4: f = q * z\n"
                         "output f, df_dx, df_dy, df_dz\n")
    assert graphdsl.loads(text).to_text() == text  # canonical already


def test_wrt_names_and_suffixes():
    prog = graphdsl.loads("input x = 2, y = 3\ndf_dx = x * y\noutput f = df_dx * x")
    derived = prog.grad(wrt=["x"])
    assert derived.outputs == ("f", "df_dx_2")
    assert derived.run().outputs["df_dx_2"] == 12.0
    assert derived.inputs == prog.inputs
    clash = graphdsl.loads("input x = [1, 2], W: [2, 2] = [[1, 2], [3, 4]]\ndf = x * 3\nf_1 = [5, 7]\n"
                           "output f = (df + f_1) @ W")
    agree(clash)
    text = clash.grad().to_text()
    assert "df_2 = broadcast_like(1.0, f)\n" in text and "\nf_1 = [5.0, 7.0]\n" in text
    with pytest.raises(BindingError, match="'z' is not an input or param"):
        prog.grad(wrt=["z"])
    with pytest.raises(BindingError, match="'g' is not an output"):
        prog.grad(of="g")


@pytest.mark.parametrize("text,of", [("input x = 2\noutput x", None), ("input x = 1\noutput c = 3", None),
                                     ("input x = 2\ny = x * x\noutput f = y, g = y * 2", "g"),
                                     ("input x: [3] = [1, 5, 2]\noutput f = argmax(x)", None)])
def test_outputs_that_are_leaves_constants_or_not_differentiable(text, of):
    prog = graphdsl.loads(text)
    agree(prog, of=of)
    assert prog.grad(of=of, wrt=[]).outputs == (of or prog.outputs[0],)


def test_only_what_reaches_the_gradients_is_written():
    prog = graphdsl.loads("input x = 2, y = 3\nunused = exp(y) * 7\noutput f = x * x, g = unused")
    text = prog.grad(wrt=["x"]).to_text()
    code = [line.split("#")[0] for line in text.splitlines()]
    assert not any("unused" in line or "exp" in line for line in code)
    assert graphdsl.loads(text).run().outputs["df_dx"] == 4.0


def test_shared_subexpressions_are_written_once():
    prog = graphdsl.loads("input x: [] = 0.3\nt = sigmoid(x)\noutput f = t * t")
    code = "".join(line.split("#")[0] for line in prog.grad().to_text().splitlines(True))
    assert code.count("sigmoid(") == 1
    assert code.count("t + t") == 1


def test_params_with_initializers_and_compound_gates():
    text = ("gate layer(w, v) { return tanh(w @ v) }\n"
            "input x: [3] = [0.5, -1, 2]\nparam W: [2, 3] ~ normal(0, 1)\nparam b: [2] ~ uniform(-1, 1)\n"
            "output f = sum(layer(W, x) + b)")
    prog = graphdsl.loads(text, seed=3)
    agree(prog)
    assert np.array_equal(prog.grad().defaults()["W"], prog.defaults()["W"])


# ---------------------------------------------------------------- second derivatives
UNARY = ["exp", "log", "sin", "cos", "tan", "tanh", "sigmoid", "sqrt", "square", "reciprocal",
         "softmax", "logsumexp", "log_softmax", "sum", "mean", "neg"]
BINARY = ["{a} + {b}", "{a} - {b}", "{a} * {b}", "{a} / {b}", "{a} ** {b}", "{a} @ {b}", "dot({a}, {b})"]


def hessian_times_ones(prog, x, wrt, eps=1e-5):
    """sum over the outputs of d(df_dwrt)/d(wrt) by central differences of the first derivative."""
    first = prog.grad(wrt=[wrt])
    name = f"d{prog.outputs[0]}_d{wrt}"
    base = np.asarray(x[wrt], dtype=float)
    out = np.zeros(base.shape)
    for i in np.ndindex(base.shape):
        up, down = base.copy(), base.copy()
        up[i] += eps
        down[i] -= eps
        hi = np.sum(first.run(dict(x, **{wrt: up})).outputs[name])
        lo = np.sum(first.run(dict(x, **{wrt: down})).outputs[name])
        out[i] = (hi - lo) / (2 * eps)
    return out


def second(prog, bindings, wrt):
    first = prog.grad(wrt=[wrt])
    of = f"d{prog.outputs[0]}_d{wrt}"
    return first.grad(of=of, wrt=[wrt]).run(bindings).outputs[f"d{of}_d{wrt}"]


@pytest.mark.parametrize("gate", UNARY)
@pytest.mark.parametrize("shape", [(), (2, 3)])
def test_second_derivative_of_every_unary_gate(gate, shape):
    rng = np.random.default_rng(len(gate))
    x = rng.uniform(0.3, 1.2, size=shape) if shape else 0.7
    decl = f"[{', '.join(map(str, shape))}]"
    prog = graphdsl.loads(f"input x: {decl}\noutput f = sum({gate}(x) * {gate}(x))")
    got = second(prog, {"x": x}, "x")
    np.testing.assert_allclose(got, hessian_times_ones(prog, {"x": x}, "x"), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("form", BINARY)
@pytest.mark.parametrize("scalars", [False, True])
def test_second_derivative_of_every_binary_gate_with_broadcasting(form, scalars):
    rng = np.random.default_rng(7)
    matrix = "@" in form or "dot" in form
    a_shape, b_shape = ((2, 3), (3, 2)) if matrix else ((2, 3), (3,))
    if scalars and "@" in form:
        a_shape, b_shape = (3,), (3,)
    elif scalars:
        a_shape, b_shape = (), ()
    values = {"a": rng.uniform(0.5, 1.5, size=a_shape), "b": rng.uniform(0.5, 1.5, size=b_shape)}
    decl = ", ".join(f"{n}: [{', '.join(map(str, v.shape))}]" for n, v in values.items())
    first = "a" if not a_shape else "a[0]" if len(a_shape) == 1 else "a[0, 0]"
    prog = graphdsl.loads(f"input {decl}\nh = {form.format(a='a', b='b')}\noutput f = sum(h * h * {first})")
    for wrt in ("a", "b"):
        got = second(prog, values, wrt)
        np.testing.assert_allclose(got, hessian_times_ones(prog, values, wrt), rtol=1e-5, atol=1e-6)


# Operand shapes where a gate needs others than vectors of 3 (labels are class ids).
SHAPES = {"cross_entropy_grad": ((3, 3), (3,), ()), "hinge_loss": ((3, 3), (3,)),
          "softmax_cross_entropy": ((3, 3), (3,)), "matrix_transpose": ((2, 3),),
          "scatter_like": ((), (3,)), "squeeze": ((1, 3),)}


@pytest.mark.parametrize("name", sorted(n for n, g in GATES.items() if g.differentiable and any(g.flows)))
def test_second_derivative_of_every_differentiable_gate(name):
    gate = GATES[name]
    rng = np.random.default_rng(len(name))
    operands = [f"a{i}" for i in range(gate.arity)]
    shapes = SHAPES.get(name, ((3,),) * gate.arity)
    values = {n: rng.uniform(0.3, 1.2, size=shape) for n, shape in zip(operands, shapes)}
    if gate.class_ids is not None:
        values[operands[gate.class_ids]] = np.array([0.0, 2.0, 1.0])
    decl = ", ".join(f"{n}: [{', '.join(map(str, np.shape(v)))}]" for n, v in values.items())
    prog = graphdsl.loads(f"input {decl}\nh = {gate_call(name, ', '.join(operands))}\noutput f = sum(h * h)")
    for i, wrt in enumerate(operands):
        if gate.flows[i] and i != gate.class_ids:
            got = second(prog, values, wrt)
            np.testing.assert_allclose(got, hessian_times_ones(prog, values, wrt), rtol=1e-5, atol=1e-6)


def test_second_derivative_of_the_logistic_map():
    prog = graphdsl.load(EXAMPLES[0].with_name("logistic_map.graph"))
    h = prog.grad(of="f").grad(of="df_dx", wrt=["x"])
    assert h.outputs == ("df_dx", "ddf_dx_dx")
    np.testing.assert_allclose(h.run(x=0.3).outputs["ddf_dx_dx"],
                               hessian_times_ones(prog, {"x": 0.3}, "x"), rtol=1e-6)


@pytest.mark.parametrize("form", ["relu(x)", "abs(x)", "max(x, 0.25)", "min(x, 0.25)", "max(x, y)", "min(y, x)"])
def test_piecewise_linear_gates_have_zero_second_derivative_away_from_kinks(form):
    prog = graphdsl.loads(f"input x: [4], y: [4]\noutput f = sum({form} * 3)")
    values = {"x": np.array([-1.5, -0.5, 0.5, 1.5]), "y": np.array([0.0, 1.0, -1.0, 2.0])}
    got = second(prog, values, "x")
    assert np.array_equal(got, np.zeros(4))


def test_non_differentiable_gates_contribute_zero():
    prog = graphdsl.loads("input x: [3] = [1, 5, 2]\noutput f = sum(x * argmax(x)) + sum(x == 2)")
    agree(prog)
    assert np.array_equal(prog.grad().run().outputs["df_dx"], [1.0, 1.0, 1.0])


def test_hessian_vector_product_of_a_squared_norm():
    rng = np.random.default_rng(0)
    W, x, v = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=4)
    prog = graphdsl.loads("input W: [3, 4], x: [4]\noutput f = sum(square(W @ x))")
    _, tangents = prog.grad(wrt=["x"]).jvp({"W": W, "x": x}, {"x": v})
    np.testing.assert_allclose(tangents["df_dx"], 2 * W.T @ W @ v, rtol=1e-13)


def test_a_rank_the_rules_need_is_asked_for():
    prog = graphdsl.loads("input W = [[1, 2]], x\noutput f = sum(W @ x)")
    with pytest.raises(GraphDefinitionError, match="rank"):
        prog.grad()


def test_a_long_chain_builds_in_linear_time():
    n = 4_000
    text = "input x = 0.5\na0 = sin(x)\n" + "".join(f"a{i} = sin(a{i - 1})\n" for i in range(1, n))
    prog = graphdsl.loads(text + f"output f = a{n - 1}\n")
    kept = len(expr._INTERNED)
    start = time.perf_counter()
    derived = prog.grad()
    took = time.perf_counter() - start
    assert len(expr._INTERNED) == kept  # its expressions are not kept for the life of the process
    assert derived.run().outputs["df_dx"] == prog.run().grads["x"]
    assert took < 15, took


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_syntax_and_model_made_with_the_text_are_what_reading_the_text_gives(path):
    prog = graphdsl.load(path)
    for wrt in (None, prog.inputs[:1]):
        derived = prog.grad(wrt=wrt)
        module = derivative_syntax(prog, prog.outputs[0], wrt, prog._source)
        assert same_tree(module.statements, parse(derived._source, module.file).statements)
        same_model(derived._model, build_model(parse(derived._source, module.file)))
        again = derived.grad(of=derived.outputs[-1])  # and the derivative of a derivative program
        same_model(again._model, build_model(parse(again._source, module.file)))


def test_declarations_keep_their_comments_and_the_values_of_with_params():
    text = ("# heading\n\nout = w * x  # not a declaration\n# about x\ninput x: [2] = [1,\n  2]  # two\n"
            "y = x * 3; param w = 0\noutput f = sum(out * y)\n")
    prog = graphdsl.loads(text).with_params({"w": 0.1 + 0.2})
    derived = prog.grad()
    assert derived.defaults()["w"] == 0.1 + 0.2
    head = derived.to_text().split("out = ")[0]
    assert head == "# heading\n\n# about x\ninput x: [2] = [1, 2]  # two\nparam w: [] = 0.30000000000000004\n"
    agree(prog)


def test_an_undeclared_leaf_with_a_scalar_default_is_declared_a_scalar():
    prog = graphdsl.loads("input x = 2, y\noutput f = x * y")
    derived = prog.grad()
    assert derived.to_text().startswith("input x: [] = 2, y\n")
    assert "df_dx = sum_like(broadcast_like(y, f), x)" in derived.to_text()  # y may be an array
    agree(prog, {"y": np.array([1.0, 2.0]), "x": 3.0})
    with pytest.raises(graphdsl.BindingError):  # an array for x is refused, not given a scalar's gradient
        derived.run(x=np.array([1.0, 2.0]), y=1.0)


def test_forward_of_a_derivative_program_gives_runs_bits_where_numpy_and_math_differ():
    # numpy's tanh and math's differ by an ulp on some floats: the derivative program's
    # forward follows run (math), as its gradients are run's; a model's forward numpy.
    prog = graphdsl.loads("input x\noutput f = tanh(x) * tanh(x * 3.0)")
    xs = [float(x) for x in np.linspace(-3.0, 3.0, 2001)]
    derived = prog.grad()
    for x in xs:
        got, result = derived.forward({"x": x}), prog.run(x=x)
        assert got["f"] == result.outputs["f"] == math.tanh(x) * math.tanh(x * 3.0)
        assert got["df_dx"] == result.grads["x"]
        assert prog.forward(x=x)["f"] == float(np.tanh(x)) * float(np.tanh(x * 3.0))
    again = pickle.loads(pickle.dumps(derived.with_params({})))  # the model keeps the flag
    assert [again.forward(x=x) for x in xs] == [derived.forward(x=x) for x in xs]
