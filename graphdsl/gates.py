"""The gate table: one record per built-in, with its forward, reverse-mode (vjp)
and forward-mode (jvp) rules side by side.

Elementwise gates state their local derivatives once (``partials``); both AD
modes are derived from them, so they cannot disagree. Reductions, linear algebra
and the softmax family have hand-written rules. Rules receive the forward output
(``out``) so that exp, sigmoid, tanh and softmax reuse it. Broadcasting is undone
by the executor, not here: a vjp may return a cotangent of the broadcast shape.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

ONE = 1.0  # a partial that is identically 1: vjp passes g through, jvp passes t
MINUS_ONE = -1.0


@dataclass(frozen=True)
class Option:
    default: object
    kind: str  # "axis" (int, list of ints or None) or "number"


@dataclass(frozen=True)
class Gate:
    """A primitive: ``forward(*args, **options)``; ``vjps[i](g, out, *args, **options)``
    is the cotangent of operand i (None: no gradient flows to it);
    ``jvp(tangents, out, *args, **options)`` with ``None`` for zero tangents."""

    name: str
    arity: int
    forward: Callable
    vjps: tuple
    jvp: Callable
    symbol: str = ""
    options: dict = field(default_factory=dict)
    partials: tuple | None = None  # elementwise: partial_i(out, *args) -> local derivative
    differentiable: bool = True
    elementwise: bool = False

    def __reduce__(self):
        # Pickled by name (its rules are functions of this module): a Program's steps hold gates.
        if GATES.get(self.name) is not self:
            raise TypeError(f"gate '{self.name}' is not the registered one: it cannot be pickled by name")
        return _registered, (self.name,)

    def local(self, i, out, *args):
        """The local derivative of operand i for elementwise gates (None otherwise)."""
        if self.partials is None:
            return None
        p = self.partials[i]
        return p if isinstance(p, float) else p(out, *args)


GATES: dict[str, Gate] = {}


def _registered(name: str) -> Gate:
    return GATES[name]


def _register(gate: Gate) -> Gate:
    GATES[gate.name] = gate
    return gate


def _times(g, p):
    return g if p is ONE else (-g if p is MINUS_ONE else None)


def elementwise(name, forward, *partials, symbol=None):
    """Register a gate from its forward rule and one local derivative per operand."""

    def make_vjp(p):
        if p is ONE:
            return lambda g, out, *args: g
        if p is MINUS_ONE:
            return lambda g, out, *args: -g
        return lambda g, out, *args: g * p(out, *args)

    def jvp(tangents, out, *args):
        total = None
        for t, p in zip(tangents, partials):
            if t is None:
                continue
            term = _times(t, p)
            if term is None:
                term = t * p(out, *args)
            total = term if total is None else total + term
        return total

    return _register(Gate(name, len(partials), forward, tuple(make_vjp(p) for p in partials), jvp,
                          symbol or name, partials=partials, elementwise=True))


def _nondifferentiable(name, arity, forward, symbol=None, options=None, elementwise=False):
    return _register(Gate(name, arity, forward, (None,) * arity, lambda tangents, out, *args, **o: None,
                          symbol or name, options or {}, differentiable=False, elementwise=elementwise))


def _ensure_float(x):
    return x if np.ndim(x) else float(x)


# ---------------------------------------------------------------- arithmetic
elementwise("add", lambda a, b: a + b, ONE, ONE, symbol="+")
elementwise("sub", lambda a, b: a - b, ONE, MINUS_ONE, symbol="-")
elementwise("mul", lambda a, b: a * b, lambda out, a, b: b, lambda out, a, b: a, symbol="*")
# Division goes through numpy so that x/0 is inf (IEEE), never ZeroDivisionError on Python floats.
elementwise("div", np.divide, lambda out, a, b: np.divide(1.0, b), lambda out, a, b: np.divide(-out, b),
            symbol="/")
elementwise("neg", lambda a: -a, MINUS_ONE, symbol="-")
elementwise("identity", lambda a: a, ONE, symbol="=")


def _pow_da(out, a, b):
    # d/da a**b = b*a**(b-1), taken as 0 where b == 0 (as JAX and PyTorch do) to avoid 0*inf at a = 0.
    if np.ndim(b) == 0:
        return 0.0 if b == 0 else b * np.power(a, b - 1.0)
    return np.where(b == 0, 0.0, b * np.power(a, b - 1.0))


def _pow_db(out, a, b):
    # d/db a**b = a**b * log(a), taken as 0 where a == 0 (the limit from the right, as JAX does).
    if np.ndim(a) == 0:
        return 0.0 if a == 0 else out * np.log(a)
    return np.where(a == 0, 0.0, out * np.log(np.where(a == 0, 1.0, a)))


elementwise("pow", np.power, _pow_da, _pow_db, symbol="**")

# ---------------------------------------------------------------- elementwise functions
elementwise("exp", np.exp, lambda out, x: out)
elementwise("log", np.log, lambda out, x: np.divide(1.0, x))
elementwise("sin", np.sin, lambda out, x: np.cos(x))
elementwise("cos", np.cos, lambda out, x: -np.sin(x))
elementwise("tan", np.tan, lambda out, x: 1.0 + out * out)
elementwise("tanh", np.tanh, lambda out, x: 1.0 - out * out)
elementwise("sqrt", np.sqrt, lambda out, x: np.divide(0.5, out), symbol="√")
elementwise("square", lambda x: x * x, lambda out, x: 2.0 * x, symbol="x²")
elementwise("reciprocal", lambda x: np.divide(1.0, x), lambda out, x: -out * out, symbol="1/x")
elementwise("abs", np.abs, lambda out, x: np.sign(x), symbol="|x|")
_relu = elementwise("relu", lambda x: np.maximum(x, 0.0), lambda out, x: np.greater(x, 0.0) * 1.0)
# Its vjp keeps the mask boolean: a second full-size float temporary per hidden layer
# doubles the cost of a training step's backward pass through it.
_register(replace(_relu, vjps=(lambda g, out, x: g * np.greater(x, 0.0),)))


def _sigmoid(x):
    # Stable at ±1000: exp is only ever taken of a non-positive number.
    if np.ndim(x) == 0:
        if x >= 0:
            return 1.0 / (1.0 + np.exp(-x))
        e = np.exp(x)
        return e / (1.0 + e)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


elementwise("sigmoid", _sigmoid, lambda out, x: out * (1.0 - out), symbol="σ")

# max/min route the gradient to the winner; a tie goes to the first argument.
elementwise("max", np.maximum, lambda out, a, b: np.greater_equal(a, b) * 1.0,
            lambda out, a, b: np.less(a, b) * 1.0)
elementwise("min", np.minimum, lambda out, a, b: np.less_equal(a, b) * 1.0,
            lambda out, a, b: np.greater(a, b) * 1.0)


# ---------------------------------------------------------------- reductions
def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim if ndim else a for a in axis))


def _expand(g, shape, axis):
    """Broadcast a reduced cotangent back to the operand's shape."""
    if not shape:
        return g
    if axis is None:  # a full reduction: the cotangent is one number, no axes to restore
        return np.broadcast_to(g, shape)
    return np.broadcast_to(np.expand_dims(g, _axes(axis, len(shape))), shape)


def _count(shape, axis):
    return math.prod(shape[a] for a in _axes(axis, len(shape))) if shape else 1


def _sum(x, axis=None):
    return np.sum(x, axis=axis)


def _mean(x, axis=None):
    # The sum over the count, as np.mean computes it, but an empty mean is NaN under the
    # caller's errstate instead of np.mean's "Mean of empty slice" RuntimeWarning.
    return np.divide(np.sum(x, axis=axis), _count(np.shape(x), axis))


_register(Gate("sum", 1, _sum, (lambda g, out, x, axis=None: _expand(g, np.shape(x), axis),),
               lambda ts, out, x, axis=None: np.sum(ts[0], axis=axis), "Σ",
               {"axis": Option(None, "axis")}))
_register(Gate("mean", 1, _mean,
               (lambda g, out, x, axis=None: _expand(np.divide(g, _count(np.shape(x), axis)), np.shape(x), axis),),
               lambda ts, out, x, axis=None: _mean(ts[0], axis=axis), "mean",
               {"axis": Option(None, "axis")}))


# ---------------------------------------------------------------- softmax family
def _shift(x, axis):
    # Subtract the max so exp never overflows; an all -inf slice shifts by 0.
    m = np.max(x, axis=axis, keepdims=True)
    return x - np.where(np.isfinite(m), m, 0.0)


def _softmax(x, axis=-1):
    if np.ndim(x) == 0:
        return 1.0
    e = np.exp(_shift(x, axis))
    return e / np.sum(e, axis=axis, keepdims=True)


def _softmax_vjp(g, out, x, axis=-1):
    if np.ndim(x) == 0:
        return 0.0
    return out * (g - np.sum(g * out, axis=axis, keepdims=True))


def _logsumexp(x, axis=-1):
    if np.ndim(x) == 0:
        return x
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    total = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return _ensure_float(np.squeeze(total, axis=axis) if axis is not None else total.reshape(()))


def _logsumexp_weights(out, x, axis):
    # softmax(x) along axis, from the forward output: exp(x - logsumexp(x)).
    return np.exp(x - np.expand_dims(out, _axes(axis, np.ndim(x))))


_register(Gate("softmax", 1, _softmax, (_softmax_vjp,),
               lambda ts, out, x, axis=-1: _softmax_vjp(ts[0], out, x, axis), "softmax",
               {"axis": Option(-1, "axis")}))
_register(Gate("logsumexp", 1, _logsumexp,
               (lambda g, out, x, axis=-1: g if np.ndim(x) == 0 else
                _expand(g, np.shape(x), axis) * _logsumexp_weights(out, x, axis),),
               lambda ts, out, x, axis=-1: ts[0] if np.ndim(x) == 0 else
               np.sum(ts[0] * _logsumexp_weights(out, x, axis), axis=axis), "logsumexp",
               {"axis": Option(-1, "axis")}))


# ---------------------------------------------------------------- linear algebra
def _matmul_vjp_a(g, out, a, b):
    if np.ndim(b) == 1:
        return g * b if np.ndim(a) == 1 else np.multiply.outer(g, b)
    if np.ndim(a) == 1:
        return (b @ np.expand_dims(g, -1))[..., 0]
    return g @ np.swapaxes(b, -1, -2)


def _matmul_vjp_b(g, out, a, b):
    if np.ndim(a) == 1:
        return g * a if np.ndim(b) == 1 else np.expand_dims(a, -1) * np.expand_dims(g, -2)
    if np.ndim(b) == 1:
        return (np.swapaxes(a, -1, -2) @ np.expand_dims(g, -1))[..., 0]
    return np.swapaxes(a, -1, -2) @ g


def _bilinear_jvp(product):
    def jvp(tangents, out, a, b):
        ta, tb = tangents
        total = None if ta is None else product(ta, b)
        if tb is not None:
            total = product(a, tb) if total is None else total + product(a, tb)
        return total
    return jvp


_register(Gate("matmul", 2, np.matmul, (_matmul_vjp_a, _matmul_vjp_b), _bilinear_jvp(np.matmul), "@"))


def _dot(a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return a * b
    if np.ndim(a) > 2 or np.ndim(b) > 2:
        raise ValueError("dot takes scalars, vectors and matrices; use @ for stacks of matrices")
    return np.matmul(a, b)


def _dot_vjp(matmul_rule, scalar_rule):
    def vjp(g, out, a, b):
        if np.ndim(a) == 0 or np.ndim(b) == 0:
            return scalar_rule(g, a, b)
        return matmul_rule(g, out, a, b)
    return vjp


_register(Gate("dot", 2, _dot, (_dot_vjp(_matmul_vjp_a, lambda g, a, b: g * b),
                                 _dot_vjp(_matmul_vjp_b, lambda g, a, b: g * a)),
               _bilinear_jvp(_dot), "·"))
def _transpose(x):
    return np.transpose(x) if np.ndim(x) > 1 else x


_register(Gate("transpose", 1, _transpose, (lambda g, out, x: _transpose(g),),
               lambda ts, out, x: _transpose(ts[0]), "ᵀ"))


# ---------------------------------------------------------------- losses and metrics
def _class_ids(scores, labels):
    """The labels as integer indices into the last axis of ``scores``, or a ValueError saying
    which label is wrong. One label per row of scores: shape ``scores.shape[:-1]``."""
    if np.ndim(scores) == 0:
        raise ValueError("scores need a class axis: one score per class (shape [C] or [N, C])")
    classes, rows = scores.shape[-1], scores.shape[:-1]
    if np.shape(labels) != rows:
        raise ValueError(f"labels should have shape {list(rows)} (one class id per row of scores "
                         f"{list(scores.shape)}), got shape {list(np.shape(labels))}")
    labels = np.asarray(labels)
    with np.errstate(invalid="ignore"):
        ids = labels.astype(np.intp)
    # Seen as unsigned, a negative id is huge: one comparison checks both ends of the range.
    if (ids == labels).all() and (ids.size == 0 or ids.view(np.uintp).max() < classes):
        return ids
    bad = ~np.isin(labels, np.arange(classes))
    where = np.unravel_index(int(np.argmax(bad)), bad.shape)
    place = f" at row {', '.join(map(str, where))}" if where else ""
    raise ValueError(f"labels must be integer class ids from 0 to {classes - 1} (scores have {classes} "
                     f"classes); found {labels[where]:g}{place}")


def _rows(ids):
    """Index arrays that pick each row's labelled entry of a [..., C] array flattened to [M, C]."""
    flat = ids.reshape(-1)
    return np.arange(flat.size), flat


def _class_major(scores):
    """A private copy of scores as [C, M], classes first: numpy reduces fast over a leading
    axis, but slowly over a short trailing one such as 3 classes."""
    return np.reshape(scores, (-1, np.shape(scores)[-1])).T.copy()


def _shifted_class_major(scores):
    # Subtract each row's max so exp never overflows; an all -inf row shifts by 0.
    t = _class_major(scores)
    top = t.max(axis=0)
    t -= np.where(np.isfinite(top), top, 0.0)
    return t


def _cross_entropy(scores, labels):
    ids = _class_ids(scores, labels).reshape(-1)
    t = _shifted_class_major(scores)
    log_z = np.log(np.exp(t).sum(axis=0))
    return float((log_z - t[ids, np.arange(ids.size)]).sum()) / max(ids.size, 1)


def _cross_entropy_dscores(scores, labels, scale=1.0):
    """scale * d loss / d scores = scale * (softmax(scores) - onehot(labels)) / number of rows."""
    ids = np.asarray(labels).astype(np.intp).reshape(-1)
    probs = np.exp(_shifted_class_major(scores))
    probs /= probs.sum(axis=0)
    probs[ids, np.arange(ids.size)] -= 1.0
    probs *= scale / max(ids.size, 1)
    return probs.T.reshape(np.shape(scores))


_register(Gate("softmax_cross_entropy", 2, _cross_entropy,
               (lambda g, out, scores, labels: _cross_entropy_dscores(scores, labels, g), None),
               lambda ts, out, scores, labels: None if ts[0] is None else
               float(np.sum(ts[0] * _cross_entropy_dscores(scores, labels))), "CE"))


def _hinge_margins(scores, ids, margin):
    """max(0, s_j - s_y + margin) for every class j, with the labelled class itself set to 0."""
    flat = scores.reshape(-1, scores.shape[-1])
    rows, cols = _rows(ids)
    margins = np.maximum(0.0, flat - flat[rows, cols][:, None] + margin)
    margins[rows, cols] = 0.0
    return margins


def _hinge(scores, labels, margin=1.0):
    ids = _class_ids(scores, labels)
    margins = _hinge_margins(np.asarray(scores), ids, margin)
    return float(np.sum(margins) / max(margins.shape[0], 1))


def _hinge_dscores(scores, labels, margin=1.0):
    """+1/N for each class over the margin; the labelled class gets -count/N (0 at a kink)."""
    ids = np.asarray(labels).astype(np.intp)
    active = (_hinge_margins(np.asarray(scores), ids, margin) > 0.0) * 1.0
    rows, cols = _rows(ids)
    active[rows, cols] = -np.sum(active, axis=1)
    return (active / max(active.shape[0], 1)).reshape(np.shape(scores))


_register(Gate("hinge_loss", 2, _hinge,
               (lambda g, out, scores, labels, margin=1.0: g * _hinge_dscores(scores, labels, margin), None),
               lambda ts, out, scores, labels, margin=1.0: None if ts[0] is None else
               float(np.sum(ts[0] * _hinge_dscores(scores, labels, margin))), "hinge",
               {"margin": Option(1.0, "number")}))


def _argmax(x, axis=-1):
    # Class ids come back as floats, like every other value; a scalar is its own argmax.
    if np.ndim(x) == 0:
        return 0.0
    return _ensure_float(np.argmax(x, axis=axis).astype(np.float64))


def _equal(a, b):
    return _ensure_float(np.equal(a, b) * 1.0)


_nondifferentiable("argmax", 1, _argmax, options={"axis": Option(-1, "axis")})
_nondifferentiable("equal", 2, _equal, symbol="==")
