"""Comparisons (1.0 or 0.0, no gradient) and ``where``, the elementwise select.

Inside a derivative rule a comparison stays a boolean mask in numpy code (``mask``)
and a Python test in float code (``condition``); as a node of a model it is a float.
"""
from __future__ import annotations

import numpy as np

from .expr import G
from .record import Infix, elementwise


def _as_float(mask):
    value = mask * 1.0
    return value if np.ndim(value) else float(value)


def _comparison(name, symbol, ufunc, doc):
    upper = f"NP_{name.upper()}"
    elementwise(name, None, None, impl=lambda a, b: _as_float(ufunc(a, b)), symbol=symbol,
                infix=Infix(symbol, 0), mask=f"{upper}({{0}}, {{1}})", condition=f"{{0}} {symbol} {{1}}",
                float=f"(1.0 if {{0}} {symbol} {{1}} else 0.0)", exact=True, names={upper: ufunc},
                numpy=lambda options, shapes: None if not any(shapes) or None in shapes else
                f"({upper}({{0}}, {{1}}) * 1.0)",  # _as_float's, an array where an operand is one
                differentiable=False, doc=doc)


_comparison("less", "<", np.less, "a < b: 1.0 or 0.0")
_comparison("less_equal", "<=", np.less_equal, "a <= b: 1.0 or 0.0")
_comparison("greater", ">", np.greater, "a > b: 1.0 or 0.0")
_comparison("greater_equal", ">=", np.greater_equal, "a >= b: 1.0 or 0.0")
_comparison("equal", "==", np.equal, "a == b: 1.0 or 0.0 (for metrics such as accuracy)")
_comparison("not_equal", "!=", np.not_equal, "a != b: 1.0 or 0.0")


def _where(c, a, b):
    value = np.where(c, a, b)
    return value if np.ndim(value) else float(value)


# The cotangent is selected, not multiplied by a 0/1 mask: an infinite cotangent of the
# branch not taken must not become inf * 0 = NaN.
elementwise("where", None, lambda out, c, a, b: G.where(c, 1.0, 0.0), lambda out, c, a, b: G.where(c, 0.0, 1.0),
            impl=_where, simplify=lambda c, a, b: (a if c.value != 0 else b) if c.op == "const" else None, numpy="NP_WHERE({0}, {1}, {2})", float="{1} if {0} else {2}", conditions=(0,), exact=True, names={"NP_WHERE": np.where},
            vjp_rules=(None, lambda g, out, c, a, b: G.where(c, g, 0.0),
                       lambda g, out, c, a, b: G.where(c, 0.0, g)),
            doc="where(c, a, b): a where c is not 0, else b; the gradient follows the choice")
