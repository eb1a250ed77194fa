"""Elementwise functions: exp, log, the trigonometric functions, sigmoid, relu, max, min, clip...

Each states its forward (numpy's function, or an expression over other gates) and its
local derivative as an expression. Float templates use ``math`` and may differ from
numpy by an ulp for transcendental functions; for everything else they give numpy's bits
(``max`` lets NaN win and returns its second operand on a tie, as ``np.maximum`` does).
"""
from __future__ import annotations

import math

import numpy as np

from .expr import G
from .lower import literal
from .record import Gate, Option, elementwise, register


def _unary(name, partial, fn, float_fn, **fields):
    upper = name.upper()
    return elementwise(name, partial, impl=fn, numpy=f"NP_{upper}({{0}})", float=f"{upper}({{0}})",
                       names={f"NP_{upper}": fn, upper: float_fn}, numpy_names={upper: fn}, **fields)


_unary("exp", lambda out, x: out, np.exp, math.exp, doc="e to the x; its derivative is its value")
_unary("log", lambda out, x: 1.0 / x, np.log, math.log, doc="natural logarithm (log 0 is -inf)")
_unary("sin", lambda out, x: G.cos(x), np.sin, math.sin, doc="sine")
_unary("cos", lambda out, x: -G.sin(x), np.cos, math.cos, doc="cosine")
_unary("tan", lambda out, x: 1.0 + out * out, np.tan, math.tan, doc="tangent")
_unary("sqrt", lambda out, x: 0.5 / out, np.sqrt, math.sqrt, symbol="√", doc="square root")


# ---------------------------------------------------------------- in-place forms (large float64 arrays)
# The same ufuncs on the same values as the rules (so the same bits), with temporaries
# reused through ``out=``: on arrays of 10^6 numbers a fresh temporary costs as much as the
# arithmetic (allocation and page faults). compiled/ uses them above its size threshold.
def _exp_minus_abs(x):
    """exp(-|x|) in one new array."""
    e = np.abs(x)
    np.negative(e, out=e)
    return np.exp(e, out=e)


def sigmoid_inplace(x):
    """where(x >= 0, 1 / (1 + e), e / (1 + e)) with e = exp(-|x|), without where: the
    numerator max(e, x >= 0) is 1.0 where x >= 0 and e elsewhere (0 <= e <= 1, and NaN
    stays NaN), so the quotient has the rule's bits; numpy's masked loops (where, copyto,
    ufuncs with where=) were measured 10x slower than these unmasked passes."""
    e = _exp_minus_abs(x)
    d = np.add(1.0, e)
    n = np.greater_equal(x, 0.0).astype(np.float64)
    np.maximum(e, n, out=e)
    return np.divide(e, d, out=e)


def sigmoid_over(x):
    """sigmoid_inplace written over x itself (an array nothing reads afterwards)."""
    n = np.greater_equal(x, 0.0)
    e = np.abs(x, out=x)
    np.negative(e, out=e)
    np.exp(e, out=e)
    d = np.add(1.0, e)
    np.maximum(e, n, out=e)
    return np.divide(e, d, out=e)


def sigmoid_vjp_inplace(g, out):
    """g * (out * (1.0 - out)) in one temporary."""
    t = np.subtract(1.0, out)
    np.multiply(out, t, out=t)
    return np.multiply(g, t, out=t)


def sigmoid_partial_inplace(out):
    """out * (1.0 - out): the cotangent when the upstream one is ones (1.0 * x is x)."""
    t = np.subtract(1.0, out)
    return np.multiply(out, t, out=t)


def tanh_vjp_inplace(g, out):
    """g * (1.0 - out * out)."""
    t = np.multiply(out, out)
    np.subtract(1.0, t, out=t)
    return np.multiply(g, t, out=t)


def tanh_partial_inplace(out):
    t = np.multiply(out, out)
    return np.subtract(1.0, t, out=t)


_unary("tanh", lambda out, x: 1.0 - out * out, np.tanh, math.tanh, doc="hyperbolic tangent",
       speed={"vjp": tanh_vjp_inplace, "partial": tanh_partial_inplace})


def _sigmoid(x):
    # Stable at ±1000: exp is only ever taken of a non-positive number.
    e = G.exp(-G.abs(x))
    return G.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


# Its float code takes exp of the branch's own sign: the same number as exp(-|x|), and NaN
# keeps its sign bit as it did.
_SIGMOID_FLOAT = "(1.0 / (1.0 + EXP(-{0})) if {0} >= 0.0 else EXP({0}) / (1.0 + EXP({0})))"
elementwise("sigmoid", lambda out, x: out * (1.0 - out), forward_rule=_sigmoid, symbol="σ", float=_SIGMOID_FLOAT,
            speed={"forward": sigmoid_inplace, "over": sigmoid_over, "vjp": sigmoid_vjp_inplace,
                   "partial": sigmoid_partial_inplace},
            doc="1 / (1 + exp(-x)), computed without overflow")
elementwise("square", lambda out, x: 2.0 * x, forward_rule=lambda x: x * x, symbol="x²", doc="x * x")
elementwise("reciprocal", lambda out, x: -out * out, forward_rule=lambda x: 1.0 / x, symbol="1/x",
            doc="1 / x")
def relu_over(x):
    """max(x, 0) written over x itself (an array nothing reads afterwards)."""
    return np.maximum(x, 0.0, out=x)


def relu_vjp(g, out):
    return np.multiply(g, np.greater(out, 0.0))


def relu_vjp_over(g, out, dst):
    """relu_vjp written into dst (g's own array, which nothing reads afterwards)."""
    return np.multiply(g, np.greater(out, 0.0), out=dst)


# The gradient's mask is read off the value (out > 0 exactly where x > 0, NaN neither), so
# that x, which is often a large temporary, is not kept for the backward pass.
elementwise("relu", lambda out, x: out > 0.0, forward_rule=lambda x: G.max(x, 0.0),
            speed={"over": relu_over, "vjp": relu_vjp, "vjp_over": relu_vjp_over,
                   "partial": lambda out: np.greater(out, 0.0) * 1.0},
            doc="max(x, 0): the gradient passes where x > 0")

# numpy's sign: NaN stays NaN; its derivative is zero wherever it has one.
_SIGN = "(1.0 if {0} > 0.0 else -1.0 if {0} < 0.0 else 0.0 if {0} == 0.0 else {0})"
elementwise("sign", None, impl=np.sign, numpy="NP_SIGN({0})", float=_SIGN, exact=True,
            names={"NP_SIGN": np.sign}, differentiable=False, doc="-1, 0 or 1 (no gradient)")
elementwise("abs", lambda out, x: G.sign(x), impl=np.abs, numpy="NP_ABS({0})", float="abs({0})",
            exact=True, symbol="|x|", names={"NP_ABS": np.abs}, doc="|x|; its derivative is sign(x)")

# max/min route the gradient to the winner; a tie goes to the first argument. NaN wins.
elementwise("max", lambda out, a, b: a >= b, lambda out, a, b: a < b, impl=np.maximum,
            picture="max(a, b)", roles=("a", "b"),
            numpy="NP_MAXIMUM({0}, {1})", float="({0} if {0} > {1} or {0} != {0} else {1})", exact=True,
            names={"NP_MAXIMUM": np.maximum}, doc="the larger of a and b, elementwise (max routes)")
elementwise("min", lambda out, a, b: a <= b, lambda out, a, b: a > b, impl=np.minimum,
            picture="min(a, b)", roles=("a", "b"),
            numpy="NP_MINIMUM({0}, {1})", float="({0} if {0} < {1} or {0} != {0} else {1})", exact=True,
            names={"NP_MINIMUM": np.minimum}, doc="the smaller of a and b, elementwise")


# clip: np.clip's bits (NaN stays NaN; x itself where it is a bound); the gradient passes
# where lo <= x <= hi. A bound of None is no bound.
def _clip(x, lo=0.0, hi=1.0):
    return x if lo is None and hi is None else np.clip(x, lo, hi)


def _inside(x, lo, hi):
    """lo <= x <= hi as comparisons (a product is their 'and'); None where nothing bounds x."""
    above = None if lo is None else x >= lo
    below = None if hi is None else x <= hi
    if above is None or below is None:
        return below if above is None else above
    return above * below


def _clip_flow(g, x, lo, hi):
    inside = _inside(x, lo, hi)
    return g if inside is None else G.where(inside, g, 0.0)


def _clip_code(mode):
    def code(options, shapes):
        lo, hi = (None if options[b] is None else literal(options[b]) for b in ("lo", "hi"))
        if mode == "numpy":
            return "{0}" if lo is None and hi is None else f"NP_CLIP({{0}}, {lo}, {hi})"
        text = "{0}" if hi is None else f"({hi} if {{0}} > {hi} else {{0}})"
        return text if lo is None else f"({lo} if {{0}} < {lo} else {text})"
    return code


def _clip_problem(shapes, lo=0.0, hi=1.0):
    if lo is not None and hi is not None and lo > hi:
        return f"clip needs lo <= hi, got lo={lo:g} and hi={hi:g}"
    return None


BOUNDS = {"lo": Option(0.0, "bound"), "hi": Option(1.0, "bound")}
register(Gate("clip", 1, impl=_clip, options=BOUNDS,
              vjp_rules=(lambda g, out, x, lo=0.0, hi=1.0: _clip_flow(g, x, lo, hi),),
              jvp_rule=lambda ts, out, x, lo=0.0, hi=1.0: _clip_flow(ts[0], x, lo, hi),
              numpy=_clip_code("numpy"), float=_clip_code("float"), names={"NP_CLIP": np.clip}, exact=True,
              aliases=True,  # (without bounds, x itself)
              rows="elementwise", shape=lambda shapes, lo=0.0, hi=1.0: shapes[0], check=_clip_problem,
              explain=("{g} where lo ≤ {0} ≤ hi, else 0",),
              doc="clip(x, lo=0, hi=1): x held between lo and hi (None: no bound); the gradient "
                  "passes where lo <= x <= hi"))
