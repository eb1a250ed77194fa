"""matmul and dot: bilinear, so each operand's cotangent is a product with the other, and
the tangent is ta·b + a·tb. Their rules depend on the operands' ranks (1 or more)."""
from __future__ import annotations

import numpy as np

from .expr import G
from .record import Gate, Infix, register


def _matmul_da(g, out, a, b):
    if b.ndim == 1:
        return g * b if a.ndim == 1 else G.expand_dims(g, axis=-1) * b
    if a.ndim == 1:
        return b @ g if b.ndim == 2 else G.squeeze(b @ G.expand_dims(g, axis=-1), axis=-1)
    return g @ G.matrix_transpose(b)


def _matmul_db(g, out, a, b):
    if a.ndim == 1:
        if b.ndim == 1:
            return g * a
        return G.expand_dims(a, axis=-1) * (g if b.ndim == 2 else G.expand_dims(g, axis=-2))
    if b.ndim == 1:
        at = G.matrix_transpose(a)
        return at @ g if a.ndim == 2 else G.squeeze(at @ G.expand_dims(g, axis=-1), axis=-1)
    return G.matrix_transpose(a) @ g


def _bilinear(name):
    def jvp(ts, out, a, b):
        ta, tb = ts
        total = None if ta is None else G.__getattr__(name)(ta, b)
        if tb is not None:
            term = G.__getattr__(name)(a, tb)
            total = term if total is None else total + term
        return total
    return jvp


def _matmul_shape(shapes):
    a, b = shapes
    if not a or not b:
        raise ValueError("matmul of a scalar")
    lead_a, lead_b = (a[:-2], b[:-2])
    rows = () if len(a) == 1 else (a[-2],)
    cols = () if len(b) == 1 else (b[-1],)
    lead = tuple(np.broadcast_shapes(tuple(1 if d is None else d for d in lead_a),
                                     tuple(1 if d is None else d for d in lead_b)))
    return lead + rows + cols


def shape_clash(name: str, shapes: list) -> str | None:
    a, b = (list(s) for s in shapes)
    if not a or not b:
        return (f"{name} needs operands with at least one dimension, got shapes {a} and {b} "
                f"(use * to multiply by a scalar)")
    inner = b[0] if len(b) == 1 else b[-2]
    if a[-1] != inner:
        where = "first" if len(b) == 1 else "second-to-last"
        return (f"{name} cannot multiply shapes {a} and {b}: the last dimension of the left "
                f"operand ({a[-1]}) must equal the {where} dimension of the right one ({inner})")
    return f"{name} cannot multiply shapes {a} and {b}: their leading dimensions do not broadcast"


register(Gate("matmul", 2, impl=np.matmul, vjp_rules=(_matmul_da, _matmul_db), jvp_rule=_bilinear("matmul"),
              by_rank=True, symbol="@", infix=Infix("@", 2), numpy="NP_MATMUL({0}, {1})",
              picture="a @ b", roles=("a", "b"), explain=("{g} @ {1}ᵀ", "{0}ᵀ @ {g}"),
              names={"NP_MATMUL": np.matmul}, rows="stacked", shape=_matmul_shape,
              speed={"fresh": True},  # always a new array: a later elementwise step may write into it
              shape_error=lambda shapes: shape_clash("matmul", shapes),
              doc="a @ b, numpy's matmul: matrix products, stacks of them, and vectors"))


def _dot(a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return a * b
    if np.ndim(a) > 2 or np.ndim(b) > 2:
        raise ValueError("dot takes scalars, vectors and matrices; use @ for stacks of matrices")
    return np.matmul(a, b)


def _dot_rule(matmul_rule, scalar_rule):
    def vjp(g, out, a, b):
        if a.ndim == 0 or b.ndim == 0:
            return scalar_rule(g, a, b)
        return matmul_rule(g, out, a, b)
    return vjp


def _dot_shape(shapes):
    a, b = shapes
    return tuple(np.broadcast_shapes(a, b)) if not a or not b else _matmul_shape(shapes)


register(Gate("dot", 2, impl=_dot, vjp_rules=(_dot_rule(_matmul_da, lambda g, a, b: g * b),
                                              _dot_rule(_matmul_db, lambda g, a, b: g * a)),
              jvp_rule=_bilinear("dot"), by_rank=True, symbol="·", float="{0} * {1}", shape=_dot_shape,
              picture="a · b", roles=("a", "b"), explain=("{g} @ {1}ᵀ", "{0}ᵀ @ {g}"),
              shape_error=lambda shapes: shape_clash("dot", shapes) if all(0 < len(s) <= 2 for s in shapes)
              else None,
              doc="dot(a, b): products of scalars, vectors and matrices"))
