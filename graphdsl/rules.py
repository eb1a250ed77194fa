"""How each gate is written as Python source, for the compiled run (see codegen.py).

Two tables. ``FLOAT_*`` are templates over Python floats and ``math``: they must
give the bits numpy gives on a float64 scalar for + - * / and comparisons (so
ties, NaN and signed zeros follow numpy's ``maximum``/``sign``), and may differ by
an ulp where ``math`` and numpy implement a transcendental function differently.
Where numpy returns inf or nan but Python raises (x/0, log(0), exp(1000),
sqrt(-1), math domain errors), the float code raises and the caller reruns the
call on the numpy code. ``NUMPY_FORWARD`` inlines the gates whose forward rule is
a bare operator; every other gate calls its own rule from the gate table.

Templates use ``{0}``, ``{1}`` for the operands, ``{out}`` for the gate's value
and ``{g}`` for its cotangent. Upper-case names are entries of the generated
code's namespace (see ``NAMESPACE``).
"""
from __future__ import annotations

import ast
import dis
import functools
import inspect
import math

import numpy as np

# Forward rules on Python floats; a gate with options is keyed (name, options) below.
FLOAT_FORWARD = {
    "add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "div": "{0} / {1}",
    "neg": "-{0}", "identity": "{0}", "pow": "POW({0}, {1})",
    "exp": "EXP({0})", "log": "LOG({0})", "sin": "SIN({0})", "cos": "COS({0})", "tan": "TAN({0})",
    "tanh": "TANH({0})", "sqrt": "SQRT({0})", "square": "{0} * {0}", "reciprocal": "1.0 / {0}",
    "abs": "abs({0})",
    # numpy's maximum/minimum: NaN wins, a tie returns the second operand (signed zeros).
    "relu": "({0} if {0} > 0.0 or {0} != {0} else 0.0)",
    "max": "({0} if {0} > {1} or {0} != {0} else {1})",
    "min": "({0} if {0} < {1} or {0} != {0} else {1})",
    # exp of a non-positive number only, as the gate does.
    "sigmoid": "(1.0 / (1.0 + EXP(-{0})) if {0} >= 0.0 else EXP({0}) / (1.0 + EXP({0})))",
    # Reductions and the softmax family of a scalar (what the gate's rules do for ndim 0).
    "softmax": "1.0", "logsumexp": "{0}", "transpose": "{0}", "dot": "{0} * {1}",
}

# Cotangent of each operand on Python floats: upstream {g} times the local derivative,
# written as the gate table's partials compute it.
_SIGN = "(1.0 if {0} > 0.0 else -1.0 if {0} < 0.0 else 0.0 if {0} == 0.0 else {0})"
FLOAT_VJP = {
    "add": ("{g}", "{g}"), "sub": ("{g}", "-{g}"),
    "mul": ("{g} * {1}", "{g} * {0}"),
    "div": ("{g} * (1.0 / {1})", "{g} * (-{out} / {1})"),
    "neg": ("-{g}",), "identity": ("{g}",),
    "pow": ("{g} * (0.0 if {1} == 0 else {1} * POW({0}, {1} - 1.0))",
            "{g} * (0.0 if {0} == 0 else {out} * LOG({0}))"),
    "exp": ("{g} * {out}",), "log": ("{g} * (1.0 / {0})",),
    "sin": ("{g} * COS({0})",), "cos": ("{g} * -SIN({0})",),
    "tan": ("{g} * (1.0 + {out} * {out})",), "tanh": ("{g} * (1.0 - {out} * {out})",),
    "sqrt": ("{g} * (0.5 / {out})",), "square": ("{g} * (2.0 * {0})",),
    "reciprocal": ("{g} * (-{out} * {out})",), "abs": ("{g} * " + _SIGN,),
    "relu": ("{g} * (1.0 if {0} > 0.0 else 0.0)",),
    "sigmoid": ("{g} * ({out} * (1.0 - {out}))",),
    "max": ("{g} * (1.0 if {0} >= {1} else 0.0)", "{g} * (1.0 if {0} < {1} else 0.0)"),
    "min": ("{g} * (1.0 if {0} <= {1} else 0.0)", "{g} * (1.0 if {0} > {1} else 0.0)"),
    "softmax": ("0.0",), "logsumexp": ("{g}",), "transpose": ("{g}",),
    "dot": ("{g} * {1}", "{g} * {0}"),
}

# Reductions of a scalar without an axis are the scalar itself (np.sum(x) == x, mean divides by 1).
_SCALAR_REDUCTIONS = {"sum", "mean"}

# The numpy code inlines gates whose forward rule is one Python operator.
NUMPY_FORWARD = {"add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "neg": "-{0}",
                 "identity": "{0}", "square": "{0} * {0}"}

NAMESPACE = {
    "POW": math.pow, "EXP": math.exp, "LOG": math.log, "SIN": math.sin, "COS": math.cos,
    "TAN": math.tan, "TANH": math.tanh, "SQRT": math.sqrt,
}

# The same templates with numpy's functions give the interpreter's bits exactly (the
# float code of ``forward`` and ``jvp``, whose numbers never changed when they were
# compiled): on float64 scalars numpy's exp, log, tan and tanh differ from math's in
# the last bit for a few percent of arguments. They return numpy scalars, whose
# arithmetic is IEEE like Python's, and do not raise: inf and nan come back as numpy's.
EXACT_FUNCTIONS = {
    "POW": np.power, "EXP": np.exp, "LOG": np.log, "SIN": np.sin, "COS": np.cos,
    "TAN": np.tan, "TANH": np.tanh, "SQRT": np.sqrt,
}


def float_forward(gate, options: dict) -> str | None:
    """The float template of a gate's forward rule, or None when it has none."""
    if gate.name in _SCALAR_REDUCTIONS:
        return "{0}" if options.get("axis") is None else None
    return FLOAT_FORWARD.get(gate.name)


def float_vjp(gate, options: dict, i: int) -> str | None:
    if gate.name in _SCALAR_REDUCTIONS:
        return "{g}" if options.get("axis") is None else None
    rules = FLOAT_VJP.get(gate.name)
    return rules[i] if rules else None


@functools.lru_cache(maxsize=None)
def reads(fn, arity: int) -> tuple:
    """Which positional parameters a rule's code actually reads, so that values it
    ignores need not be kept for the backward pass. Conservative (all True) for
    anything that is not plain Python code with named parameters."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
        return (True,) * arity
    names = code.co_varnames[:code.co_argcount]
    loaded = set(code.co_cellvars)  # captured by an inner function: assume read
    for ins in dis.get_instructions(code):
        if ins.opname.startswith("LOAD_FAST") or ins.opname == "LOAD_DEREF":
            loaded.update(ins.argval if isinstance(ins.argval, tuple) else (ins.argval,))
    flags = tuple(name in loaded for name in names[:arity])
    return flags + (True,) * (arity - len(flags))


def matmul_vjp(na: int, nb: int, i: int) -> str:
    """The branch of the matmul/dot rule that these operand ranks (1 or 2) take, chosen
    once. Outer products are the rule's own products; a matrix-vector product is
    written as one ``@`` (the rule's ``(a.T @ g[:, None])[:, 0]`` is the same sum, which
    BLAS may order differently: equal to ~1 ulp)."""
    if i == 0:
        if nb == 1:
            return "{g} * {1}" if na == 1 else "{g}[:, None] * {1}"
        if na == 1:
            return "{1} @ {g}"
        return "{g} @ {1}.T"
    if na == 1:
        return "{g} * {0}" if nb == 1 else "{0}[:, None] * {g}"
    if nb == 1:
        return "{g} @ {0}"
    return "{0}.T @ {g}"


def pow_partial(exponent: float) -> str:
    """d/da a**c for a constant exponent c, as the pow rule computes it; pow(a, 1.0) is
    exactly a (an exact result is always returned exactly), so c = 2 needs no pow call."""
    if exponent == 0:
        return "0.0"
    if exponent - 1.0 == 1.0:
        return f"({exponent!r} * {{0}})"
    return f"({exponent!r} * POWER({{0}}, {exponent - 1.0!r}))"


NAMESPACE.update(POWER=np.power, ADD_REDUCE=np.add.reduce)


# ---------------------------------------------------------------- large float64 arrays
# The same ufuncs on the same values as the gate table's rules (so the same bits), with
# temporaries reused through ``out=``: on arrays of 10^6 numbers a fresh temporary costs
# as much as the arithmetic (allocation and page faults). Used by codegen only for
# float64 arrays of at least INPLACE_MIN elements, where every temporary is float64.
INPLACE_MIN = 1 << 12


def exp_minus_abs(x):
    """exp(-|x|) in one new array (np.copysign(x, -1.0) is one pass instead of two, but numpy
    has no vector loop for it: measured twice as slow as abs and negative together)."""
    e = np.abs(x)
    np.negative(e, out=e)
    return np.exp(e, out=e)


def sigmoid_inplace(x):
    """gates._sigmoid: where(x >= 0, 1 / (1 + e), e / (1 + e)) with e = exp(-|x|), without
    where: the numerator max(e, x >= 0) is 1.0 where x >= 0 and e elsewhere (0 <= e <= 1,
    and NaN stays NaN), so the quotient has the rule's bits. numpy's masked loops (where,
    copyto and ufuncs with where=) were measured 10x slower than these unmasked passes."""
    e = exp_minus_abs(x)
    d = np.add(1.0, e)  # 1.0 + e, as the rule computes it (both branches)
    n = np.greater_equal(x, 0.0).astype(np.float64)
    np.maximum(e, n, out=e)
    return np.divide(e, d, out=e)


def sigmoid_over(x):
    """sigmoid_inplace, written over x itself (an array nothing reads afterwards): two fresh
    full-size arrays fewer, and on arrays of 10^6 numbers each fresh array costs about a
    millisecond of page faults, more than the arithmetic."""
    n = np.greater_equal(x, 0.0)
    e = np.abs(x, out=x)
    np.negative(e, out=e)
    np.exp(e, out=e)
    d = np.add(1.0, e)
    np.maximum(e, n, out=e)
    return np.divide(e, d, out=e)


def sigmoid_vjp_inplace(g, out):
    """g * (out * (1.0 - out)), the sigmoid partial times the cotangent, in one temporary."""
    t = np.subtract(1.0, out)
    np.multiply(out, t, out=t)
    return np.multiply(g, t, out=t)


def tanh_vjp_inplace(g, out):
    """g * (1.0 - out * out)."""
    t = np.multiply(out, out)
    np.subtract(1.0, t, out=t)
    return np.multiply(g, t, out=t)


def sigmoid_partial_inplace(out):
    """out * (1.0 - out): the cotangent when the upstream one is exactly ones (1.0 * x is x)."""
    t = np.subtract(1.0, out)
    return np.multiply(out, t, out=t)


def tanh_partial_inplace(out):
    t = np.multiply(out, out)
    return np.subtract(1.0, t, out=t)


INPLACE_FORWARD = {"sigmoid": "SIGMOID_INPLACE({0})"}
# When the upstream cotangent is the seed of an array output (ones_like of the gate's own
# value), ones * partial is the partial itself: neither the ones nor the product are made.
INPLACE_PARTIAL = {"sigmoid": "SIGMOID_PARTIAL_INPLACE({out})", "tanh": "TANH_PARTIAL_INPLACE({out})"}
INPLACE_VJP = {"sigmoid": "SIGMOID_VJP_INPLACE({g}, {out})", "tanh": "TANH_VJP_INPLACE({g}, {out})"}
# Unary rules that may write over their operand's array when nothing reads it afterwards.
INPLACE_OVER = {"sigmoid": "SIGMOID_OVER({0})"}
NAMESPACE.update(SIGMOID_INPLACE=sigmoid_inplace, SIGMOID_OVER=sigmoid_over,
                 SIGMOID_VJP_INPLACE=sigmoid_vjp_inplace, TANH_VJP_INPLACE=tanh_vjp_inplace,
                 SIGMOID_PARTIAL_INPLACE=sigmoid_partial_inplace, TANH_PARTIAL_INPLACE=tanh_partial_inplace)


# ---------------------------------------------------------------- fused (numexpr) expressions
# With the optional numexpr installed, runs of elementwise gates over large float64 arrays
# are evaluated as one numexpr expression (one pass over the data instead of one per gate;
# see codegen._fuse). Only operations that are exact in IEEE arithmetic are fused
# (+ - * /), so a fused run gives the bits of the gate-by-gate code; the
# transcendental functions stay numpy's own (numexpr's would differ in the last bit, and on
# the machine measured numpy's vectorised exp was several times faster than numexpr's).
FUSED_FORWARD = {"add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "div": "{0} / {1}",
                 "neg": "-{0}", "identity": "{0}", "square": "{0} * {0}", "reciprocal": "1.0 / {0}"}
# (sigmoid is not fused: its exp is numpy's, and sigmoid_over below, written over its
# operand's array, was faster than exp(-|x|) followed by one numexpr pass.)
# Local derivatives times the cotangent, written as the gate table's partials compute them
# (add, sub, neg, identity and mul are written by codegen: g, -g, g * other operand).
FUSED_VJP = {
    "div": ("{g} * (1.0 / {1})", "{g} * (-{out} / {1})"), "square": ("{g} * (2.0 * {0})",),
    "reciprocal": ("{g} * (-{out} * {out})",), "exp": ("{g} * {out}",), "log": ("{g} * (1.0 / {0})",),
    "tan": ("{g} * (1.0 + {out} * {out})",), "tanh": ("{g} * (1.0 - {out} * {out})",),
    "sqrt": ("{g} * (0.5 / {out})",), "sigmoid": ("{g} * ({out} * (1.0 - {out}))",),
}
# The partial alone, where the cotangent is the seed of an array output (ones: 1.0 * p is p).
FUSED_PARTIAL = {"tanh": "1.0 - {out} * {out}", "sigmoid": "{out} * (1.0 - {out})"}


def operations(expr: str) -> int:
    """How many passes over the data numpy would make for a fused expression (numexpr
    makes one): its operators and calls."""
    return sum(isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call))
               for node in ast.walk(ast.parse(expr, mode="eval")))
