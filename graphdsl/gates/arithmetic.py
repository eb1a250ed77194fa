"""The arithmetic operators: + - * / ** and unary minus (and ``identity``, which names a value).

Float templates give the bits numpy gives on float64 scalars. Division and powers go
through numpy in numpy code, so that ``x / 0`` is inf (IEEE) even on Python floats.
"""
from __future__ import annotations

import math

import numpy as np

from .expr import G
from .record import Infix, elementwise


def _simplify_mul(a, b):
    for one, other in ((a, b), (b, a)):
        if one.is_const(1.0) or (one.ones and other.shape is not None and other.shape == _result(a, b)):
            return other  # 1 * x is x, bit for bit; so is ones * x when no broadcasting happens
        if one.is_const(-1.0):
            return -other
    return None


def _result(a, b):
    if a.shape is None or b.shape is None or None in a.shape + b.shape:
        return None
    return tuple(np.broadcast_shapes(a.shape, b.shape))


def _simplify_div(a, b):
    return a if b.is_const(1.0) else None


def _simplify_sub(a, b):
    return a if b.is_const(0.0) and math.copysign(1, b.value) > 0 else None


def _simplify_neg(a):
    return a.args[0] if a.op == "neg" else None


def _simplify_pow(a, b):
    return a if b.is_const(1.0) else None  # pow(x, 1.0) is exactly x


elementwise("add", lambda out, a, b: 1.0, lambda out, a, b: 1.0, impl=lambda a, b: a + b, symbol="+",
            infix=Infix("+", 1), numpy="{0} + {1}", float="{0} + {1}", exact=True,
            speed={"ufunc": "NP_ADD"}, names={"NP_ADD": np.add},
            doc="a + b: both operands get the upstream gradient (add distributes)")
elementwise("sub", lambda out, a, b: 1.0, lambda out, a, b: -1.0, impl=lambda a, b: a - b, symbol="-",
            picture="a − b", roles=("a", "b"),
            infix=Infix("-", 1), numpy="{0} - {1}", float="{0} - {1}", exact=True, simplify=_simplify_sub,
            speed={"ufunc": "NP_SUBTRACT"}, names={"NP_SUBTRACT": np.subtract},
            doc="a - b")
elementwise("mul", lambda out, a, b: b, lambda out, a, b: a, impl=lambda a, b: a * b, symbol="*",
            infix=Infix("*", 2), numpy="{0} * {1}", float="{0} * {1}", exact=True, simplify=_simplify_mul, masks=(0, 1),
            speed={"ufunc": "NP_MULTIPLY"}, names={"NP_MULTIPLY": np.multiply},
            doc="a * b: each operand gets the upstream gradient times the other (mul switches)")
elementwise("div", lambda out, a, b: 1.0 / b, lambda out, a, b: -out / b, impl=np.divide, symbol="/",
            picture="a / b", roles=("a", "b"),
            infix=Infix("/", 2), numpy="NP_DIVIDE({0}, {1})", float="{0} / {1}", exact=True,
            simplify=_simplify_div, names={"NP_DIVIDE": np.divide}, doc="a / b (x / 0 is inf)")
elementwise("neg", lambda out, a: -1.0, impl=lambda a: -a, symbol="-", prefix="-", picture="−x", numpy="-{0}",
            float="-{0}", exact=True, simplify=_simplify_neg, doc="-a")
elementwise("identity", lambda out, a: 1.0, impl=lambda a: a, symbol="=", numpy="{0}", float="{0}", transparent=True,
            exact=True, aliases=True, keeps_ones=True, doc="the value itself (output y = x)")


def _pow_da(out, a, b):
    # b * a**(b-1), taken as 0 where b == 0 (as JAX and PyTorch do): no 0 * inf at a = 0.
    return G.where(G.equal(b, 0.0), 0.0, b * a ** (b - 1.0))


def _pow_db(out, a, b):
    # a**b * log(a), taken as 0 where a == 0 (the limit from the right, as JAX does).
    return G.where(G.equal(a, 0.0), 0.0, out * G.log(a))


elementwise("pow", _pow_da, _pow_db, impl=np.power, symbol="**", infix=Infix("**", 4, right=True),
            picture="aᵇ", roles=("a", "b"),
            numpy="NP_POWER({0}, {1})", float="POW({0}, {1})", simplify=_simplify_pow,
            names={"NP_POWER": np.power, "POW": math.pow}, numpy_names={"POW": np.power},
            # numpy's power of a float64 array by 2.0 is its square: the same bits, faster
            speed={"constant": {(1, 2.0): "{0} * {0}"}},
            doc="a ** b (right-associative; -x**2 is -(x**2))")
