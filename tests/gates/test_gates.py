"""Every gate's forward, vjp and jvp against numpy and central differences.

For an operand x, a random direction u and a random cotangent v:
  jvp(u)                    ≈ (f(x + h·u) − f(x − h·u)) / 2h
  ⟨unbroadcast(vjp(v)), u⟩  ≈ ⟨v, (f(x + h·u) − f(x − h·u)) / 2h⟩
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from graphdsl.run.interpret import unbroadcast
from graphdsl.gates import GATES

SHAPES = [(), (3,), (3, 4), (3, 1), (1, 4)]
H = 1e-6


def _pairs():
    for a, b in itertools.product(SHAPES, SHAPES):
        try:
            np.broadcast_shapes(a, b)
        except ValueError:
            continue
        yield a, b


def _sample(rng, shape, domain):
    low, high = domain
    x = rng.uniform(low, high, size=shape)
    return float(x) if shape == () else x


def _as_array(x):
    return np.asarray(x, dtype=np.float64)


def _check(name, args, options=None, rtol=1e-6, seed=0):
    """Both AD modes of one gate at one point, operand by operand."""
    gate = GATES[name].of_arity(len(args))
    options = options or {}
    rng = np.random.default_rng(seed)
    out = gate.forward(*args, **options)
    v = rng.normal(size=np.shape(out))
    for i, x in enumerate(args):
        if gate.vjps[i] is None:
            continue
        u = rng.normal(size=np.shape(x))
        plus = list(args)
        minus = list(args)
        plus[i] = _as_array(x) + H * u
        minus[i] = _as_array(x) - H * u
        numeric = (_as_array(gate.forward(*plus, **options)) - _as_array(gate.forward(*minus, **options))) / (2 * H)
        tangents = [None] * len(args)
        tangents[i] = u if np.ndim(x) else float(u)
        jvp = _as_array(gate.jvp(tangents, out, *args, **options))
        np.testing.assert_allclose(np.broadcast_to(jvp, numeric.shape), numeric, rtol=rtol, atol=1e-7,
                                   err_msg=f"{name} jvp, operand {i}")
        ct = unbroadcast(gate.vjps[i](v, out, *args, **options), np.shape(x))
        assert np.shape(ct) == np.shape(x), f"{name} vjp shape, operand {i}"
        np.testing.assert_allclose(np.sum(_as_array(ct) * u), np.sum(v * numeric), rtol=rtol, atol=1e-7,
                                   err_msg=f"{name} vjp, operand {i}")


UNARY = {
    "exp": (-2, 2), "log": (0.5, 3), "sin": (-3, 3), "cos": (-3, 3), "tan": (-1, 1), "tanh": (-2, 2),
    "sigmoid": (-4, 4), "relu": (0.1, 2), "abs": (0.1, 2), "sqrt": (0.5, 3), "square": (-2, 2),
    "reciprocal": (0.5, 2), "neg": (-2, 2), "identity": (-2, 2),
}
BINARY = {"add": ((-2, 2), (-2, 2)), "sub": ((-2, 2), (-2, 2)), "mul": ((-2, 2), (-2, 2)),
          "div": ((-2, 2), (0.5, 2)), "pow": ((0.5, 2), (-2, 2)), "max": ((-2, 2), (-2, 2)),
          "min": ((-2, 2), (-2, 2))}
NUMPY = {"exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh,
         "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "relu": lambda x: np.maximum(x, 0), "abs": np.abs,
         "sqrt": np.sqrt, "square": np.square, "reciprocal": np.reciprocal, "neg": np.negative,
         "identity": lambda x: x, "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
         "pow": np.power, "max": np.maximum, "min": np.minimum}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", SHAPES)
def test_unary_elementwise(name, shape):
    rng = np.random.default_rng(1)
    x = _sample(rng, shape, UNARY[name])
    np.testing.assert_allclose(GATES[name].forward(x), NUMPY[name](x), rtol=1e-14)
    _check(name, [x])


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", list(_pairs()), ids=str)
def test_binary_elementwise_broadcasting(name, shapes):
    rng = np.random.default_rng(2)
    a = _sample(rng, shapes[0], BINARY[name][0])
    b = _sample(rng, shapes[1], BINARY[name][1])
    np.testing.assert_allclose(GATES[name].forward(a, b), NUMPY[name](a, b), rtol=1e-14)
    _check(name, [a, b])


REDUCTIONS = [("sum", (3, 4), {"axis": None}), ("sum", (3, 4), {"axis": 0}), ("sum", (3, 4), {"axis": -1}),
              ("sum", (2, 3, 4), {"axis": (0, 2)}), ("sum", (), {"axis": None}), ("sum", (5,), {"axis": 0}),
              ("mean", (3, 4), {"axis": None}), ("mean", (3, 4), {"axis": 1}), ("mean", (2, 3, 4), {"axis": (0, 1)}),
              ("mean", (), {"axis": None}),
              ("softmax", (5,), {"axis": -1}), ("softmax", (3, 4), {"axis": 0}), ("softmax", (3, 4), {"axis": -1}),
              ("softmax", (), {"axis": -1}),
              ("logsumexp", (5,), {"axis": -1}), ("logsumexp", (3, 4), {"axis": 0}),
              ("logsumexp", (3, 4), {"axis": -1}), ("logsumexp", (3, 4), {"axis": None}),
              ("logsumexp", (), {"axis": -1}), ("transpose", (3, 4), {}), ("transpose", (2, 3, 4), {}),
              ("transpose", (3,), {}), ("transpose", (), {})]


@pytest.mark.parametrize("name,shape,options", REDUCTIONS, ids=str)
def test_reductions_and_softmax_family(name, shape, options):
    rng = np.random.default_rng(3)
    x = _sample(rng, shape, (-2, 2))
    _check(name, [x], options)


def test_reduction_forward_values():
    x = np.arange(12.0).reshape(3, 4)
    assert GATES["sum"].forward(x) == 66.0
    np.testing.assert_array_equal(GATES["mean"].forward(x, axis=0), x.mean(axis=0))
    np.testing.assert_allclose(GATES["softmax"].forward(x).sum(axis=-1), 1.0)
    np.testing.assert_allclose(GATES["logsumexp"].forward(x, axis=-1), np.log(np.exp(x).sum(axis=-1)))
    np.testing.assert_array_equal(GATES["transpose"].forward(x), x.T)


MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
                 ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((1, 2, 3), (5, 3, 4)), ((3,), (5, 3, 4)),
                 ((5, 2, 3), (3,))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes):
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    np.testing.assert_allclose(GATES["matmul"].forward(a, b), a @ b, rtol=1e-14)
    _check("matmul", [a, b])


@pytest.mark.parametrize("shapes", [((), ()), ((), (3,)), ((3,), ()), ((3,), (3,)), ((2, 3), (3,)),
                                    ((3,), (3, 4)), ((2, 3), (3, 4))], ids=str)
def test_dot(shapes):
    rng = np.random.default_rng(5)
    a, b = (_sample(rng, s, (-2, 2)) for s in shapes)
    np.testing.assert_allclose(GATES["dot"].forward(a, b), np.dot(a, b), rtol=1e-14)
    _check("dot", [a, b])


def test_dot_rejects_stacks():
    with pytest.raises(ValueError, match="use @"):
        GATES["dot"].forward(np.ones((2, 2, 2)), np.ones((2, 2)))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_route_ties_to_the_first_argument(name):
    gate = GATES[name]
    out = gate.forward(2.0, 2.0)
    assert gate.vjps[0](1.0, out, 2.0, 2.0) == 1.0
    assert gate.vjps[1](1.0, out, 2.0, 2.0) == 0.0
    assert gate.jvp([1.0, None], out, 2.0, 2.0) == 1.0
    assert gate.jvp([None, 1.0], out, 2.0, 2.0) == 0.0
    a, b = np.array([1.0, 3.0, 2.0]), np.array([2.0, 1.0, 2.0])
    out = gate.forward(a, b)
    winner_a = (a >= b) if name == "max" else (a <= b)
    np.testing.assert_array_equal(gate.vjps[0](np.ones(3), out, a, b), winner_a * 1.0)
    np.testing.assert_array_equal(gate.vjps[1](np.ones(3), out, a, b), (~winner_a) * 1.0)


def test_max_routes_and_mul_switches_as_in_the_lecture():
    assert GATES["max"].vjps[0](2.0, 2.0, 2.0, -1.0) == 2.0  # z = 2 wins: it gets the gradient
    assert GATES["max"].vjps[1](2.0, 2.0, 2.0, -1.0) == 0.0
    assert GATES["mul"].vjps[0](2.0, -12.0, 3.0, -4.0) == -8.0  # dx = upstream * y
    assert GATES["mul"].vjps[1](2.0, -12.0, 3.0, -4.0) == 6.0  # dy = upstream * x


@pytest.mark.parametrize("x", [1000.0, -1000.0])
def test_sigmoid_is_stable_at_1000(x):
    gate = GATES["sigmoid"]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = gate.forward(x)
        assert out == (1.0 if x > 0 else 0.0)
        assert gate.vjps[0](1.0, out, x) == 0.0
        arr = np.array([x, 0.0, -x])
        np.testing.assert_array_equal(gate.forward(arr), [1.0 if x > 0 else 0.0, 0.5, 0.0 if x > 0 else 1.0])


def test_softmax_and_logsumexp_are_stable_at_1000():
    x = np.array([1000.0, 0.0, -1000.0])
    with np.errstate(over="raise", invalid="raise"):
        np.testing.assert_allclose(GATES["softmax"].forward(x), [1.0, 0.0, 0.0])
        np.testing.assert_allclose(GATES["logsumexp"].forward(np.array([1000.0, 1000.0])), 1000 + np.log(2))
        np.testing.assert_allclose(GATES["logsumexp"].forward(np.array([-1000.0, -1000.0])), -1000 + np.log(2))
        out = GATES["logsumexp"].forward(x)
        grad = GATES["logsumexp"].vjps[0](1.0, out, x)
        np.testing.assert_allclose(grad, [1.0, 0.0, 0.0])
        s = GATES["softmax"].forward(x)
        assert np.all(np.isfinite(GATES["softmax"].vjps[0](np.array([1.0, 2.0, 3.0]), s, x)))


def test_logsumexp_of_all_minus_infinity_is_minus_infinity():
    with np.errstate(divide="ignore"):  # the executor runs gates under the same rule
        assert GATES["logsumexp"].forward(np.array([-np.inf, -np.inf])) == -np.inf


def test_pow_derivatives_at_zero_follow_jax_and_pytorch():
    gate = GATES["pow"]
    assert gate.vjps[0](1.0, 1.0, 0.0, 0.0) == 0.0  # d/da a**0 at a = 0
    assert gate.vjps[1](1.0, 0.0, 0.0, 2.0) == 0.0  # d/db 0**b
    assert gate.vjps[0](1.0, 0.0, 0.0, 2.0) == 0.0  # d/da a**2 at 0
    with np.errstate(all="ignore"):  # the untaken branch of np.where divides by zero
        np.testing.assert_array_equal(gate.vjps[0](np.ones(2), np.ones(2), np.zeros(2), np.zeros(2)), [0.0, 0.0])


def test_relu_and_abs_subgradient_at_zero_is_zero():
    assert GATES["relu"].vjps[0](1.0, 0.0, 0.0) == 0.0
    assert GATES["abs"].vjps[0](1.0, 0.0, 0.0) == 0.0


def test_division_by_zero_is_ieee_not_an_exception():
    with np.errstate(all="ignore"):
        assert GATES["div"].forward(1.0, 0.0) == np.inf
        assert GATES["reciprocal"].forward(0.0) == np.inf
        assert GATES["log"].vjps[0](1.0, -np.inf, 0.0) == np.inf


SHAPING = [("expand_dims", [(3,)], {"axis": 0}), ("expand_dims", [(3, 4)], {"axis": -1}),
           ("expand_dims", [(3,)], {"axis": (0, 2)}), ("squeeze", [(3, 1)], {"axis": -1}),
           ("squeeze", [(1, 3)], {"axis": 0}), ("squeeze", [(1, 3, 1)], {"axis": (0, 2)}),
           ("matrix_transpose", [(3, 4)], {}), ("matrix_transpose", [(2, 3, 4)], {}),
           ("broadcast_like", [(3, 1), (3, 4)], {}), ("broadcast_like", [(), (2, 3)], {}),
           ("broadcast_like", [(4,), (3, 4)], {}), ("sum_like", [(3, 4), (3, 1)], {}),
           ("sum_like", [(2, 3, 4), (4,)], {}), ("sum_like", [(3, 4), ()], {}), ("sum_like", [(3,), (3,)], {})]


@pytest.mark.parametrize("name,shapes,options", SHAPING, ids=str)
def test_shape_moving_gates(name, shapes, options):
    """The gates derivative rules are written with: linear, so both modes are exact."""
    rng = np.random.default_rng(7)
    args = [_sample(rng, s, (-2, 2)) for s in shapes]
    _check(name, args, options)


@pytest.mark.parametrize("shapes", [((), (), ()), ((3,), (3,), (3,)), ((3, 1), (1, 4), ()), ((4,), (3, 4), (3, 1))],
                         ids=str)
def test_where_routes_the_gradient_to_the_branch_taken(shapes):
    rng = np.random.default_rng(8)
    c = (rng.uniform(-1, 1, size=shapes[0]) > 0) * 1.0
    c = float(c) if shapes[0] == () else c
    a, b = (_sample(rng, s, (-2, 2)) for s in shapes[1:])
    np.testing.assert_array_equal(GATES["where"].forward(c, a, b), np.where(c, a, b))
    _check("where", [c, a, b])
    inf = np.full(np.shape(GATES["where"].forward(c, a, b)), np.inf)  # no inf * 0 = NaN in the branch not taken
    assert not np.any(np.isnan(GATES["where"].vjps[1](inf, None, c, a, b)))


ALL, LAST = (None, None, None), (-1, None, None)  # the slices ':' and '-1:'
INDEXING = [("index", [(3,)], {"at": (1,)}), ("index", [(3,)], {"at": (-1,)}), ("index", [(3,)], {"at": ((1, 3, None),)}),
            ("index", [(3, 4)], {"at": (ALL, 0)}), ("index", [(3, 4)], {"at": ((None, None, 2),)}),
            ("index", [(3, 4)], {"at": (2, -1)}), ("index", [(3, 1)], {"at": ((None, None, -1), 0)}),
            ("index", [(1, 4)], {"at": (0, (1, None, 2))}), ("index", [(3, 4)], {"at": (LAST, (None, -1, None))}),
            ("scatter_like", [(), (3,)], {"at": (1,)}), ("scatter_like", [(2,), (3, 4)], {"at": ((None, None, 2), 0)}),
            ("reshape", [(3, 4)], {"shape": (2, -1)}), ("reshape", [(3, 4)], {"shape": (-1,)}),
            ("reshape", [(3, 1)], {"shape": (1, 3)}), ("reshape", [(1, 4)], {"shape": (2, 2, 1)}),
            ("reshape", [()], {"shape": (1, 1)}), ("reshape", [(3,)], {"shape": (3,)}),
            ("reshape_like", [(3, 4), (4, 3)], {}), ("reshape_like", [(1, 4), (4,)], {}),
            ("concat", [(3,), (3,)], {"axis": 0}), ("concat", [(3, 4), (3, 4)], {"axis": -1}),
            ("concat", [(3, 1), (3, 4)], {"axis": 1}), ("concat", [(1, 4), (3, 4), (1, 4)], {"axis": 0}),
            ("stack", [(), ()], {"axis": 0}), ("stack", [(3,), (3,), (3,)], {"axis": -1}),
            ("stack", [(3, 4), (3, 4)], {"axis": 1}), ("stack", [(1, 4), (1, 4)], {"axis": 0}),
            ("clip", [()], {"lo": -0.5, "hi": 0.5}), ("clip", [(3,)], {"lo": -1.0, "hi": None}),
            ("clip", [(3, 4)], {"lo": None, "hi": 0.0}), ("clip", [(3, 1)], {"lo": 0.0, "hi": 1.0}),
            ("clip", [(1, 4)], {"lo": None, "hi": None}),
            ("log_softmax", [()], {"axis": -1}), ("log_softmax", [(5,)], {"axis": -1}),
            ("log_softmax", [(3, 4)], {"axis": 0}), ("log_softmax", [(3, 1)], {"axis": -1}),
            ("log_softmax", [(1, 4)], {"axis": (0, 1)}), ("log_softmax", [(3, 4)], {"axis": None})]


def _log_softmax(x, axis):
    return 0.0 if np.ndim(x) == 0 else x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))


REFERENCE = {
    "index": lambda x, at: x[tuple(i if isinstance(i, int) else slice(*i) for i in at)],
    "scatter_like": lambda g, like, at: _scatter(g, like, at),
    "reshape": lambda x, shape: np.reshape(x, shape), "reshape_like": lambda x, like: np.reshape(x, np.shape(like)),
    "concat": lambda *args, axis: np.concatenate(args, axis=axis), "stack": lambda *args, axis: np.stack(args, axis=axis),
    "clip": lambda x, lo, hi: x if lo is None and hi is None else np.clip(x, lo, hi), "log_softmax": _log_softmax,
}


def _scatter(g, like, at):
    out = np.zeros(np.shape(like))
    out[tuple(i if isinstance(i, int) else slice(*i) for i in at)] = g
    return out


@pytest.mark.parametrize("name,shapes,options", INDEXING, ids=str)
def test_indexing_joining_and_the_softmax_log(name, shapes, options):
    """The gates of SPEC §1 "More gates and syntax": forward against numpy, both modes
    against central differences."""
    rng = np.random.default_rng(9)
    args = [_sample(rng, s, (-2, 2)) for s in shapes]
    np.testing.assert_allclose(GATES[name].of_arity(len(args)).forward(*args, **options),
                               REFERENCE[name](*args, **options), rtol=1e-14, atol=1e-14)
    _check(name, args, options)


def test_every_gate_is_covered_by_these_tests():
    covered = set(UNARY) | set(BINARY) | {n for n, _, _ in REDUCTIONS} | {"matmul", "dot"}
    covered |= {n for n, _, _ in SHAPING} | {"where"} | {n for n, _, _ in INDEXING}
    covered |= {"softmax_cross_entropy", "hinge_loss", "cross_entropy_grad"}  # test_gates_losses.py: class ids
    differentiable = {name for name, gate in GATES.items() if gate.differentiable}
    assert differentiable - covered == set(), "add the new gates to the table of cases"


@pytest.mark.parametrize("name", sorted(n for n, g in GATES.items() if g.elementwise and any(g.flows)))
def test_elementwise_local_derivative_matches_its_vjp(name):
    gate = GATES[name]
    rng = np.random.default_rng(6)
    domains = {"where": [(-1, 1), (-2, 2), (-2, 2)]}.get(name) or UNARY.get(name) and [UNARY[name]] or \
        list(BINARY[name])
    args = [rng.uniform(lo, hi) for lo, hi in domains]
    out = gate.forward(*args)
    for i in range(gate.arity):
        if gate.flows[i]:
            assert gate.local(i, out, *args) == pytest.approx(gate.vjps[i](1.0, out, *args))


def test_log_softmax_is_stable_at_1000():
    gate = GATES["log_softmax"]
    x = np.array([1000.0, 0.0, -1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = gate.forward(x)
        np.testing.assert_allclose(out, [0.0, -1000.0, -2000.0])
        np.testing.assert_allclose(gate.vjps[0](np.ones(3), out, x), [-2.0, 1.0, 1.0])
        np.testing.assert_allclose(gate.forward(np.array([-1000.0, -1000.0])), [-np.log(2)] * 2)


def test_clip_passes_the_gradient_where_lo_le_x_le_hi():
    gate = GATES["clip"]
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan])
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(gate.forward(x, lo=0.0, hi=1.0), [0.0, 0.0, 0.5, 1.0, 1.0, np.nan])
        np.testing.assert_array_equal(gate.vjps[0](np.full(6, np.inf), None, x, lo=0.0, hi=1.0),
                                      [0.0, np.inf, np.inf, np.inf, 0.0, 0.0])  # inf, never inf * 0
    assert gate.forward(-0.0, lo=0.0, hi=1.0) == 0.0 and np.signbit(gate.forward(-0.0, lo=0.0, hi=1.0))
    assert gate.check([None], lo=2.0, hi=1.0) == "clip needs lo <= hi, got lo=2 and hi=1"
