"""Gates that move values between shapes: what the rules of reductions, matmul and
broadcasting are written with (transpose, expand_dims, squeeze, broadcast_like, sum_like),
and reshape. They are linear: each one's tangent is itself applied to the tangent."""
from __future__ import annotations

import math

import numpy as np

from .expr import G
from .record import Gate, Option, register


def unbroadcast(ct, shape: tuple):
    """Sum a cotangent back to an operand's shape (undoing numpy broadcasting)."""
    ct_shape = np.shape(ct)
    if ct_shape == shape:
        return ct
    if len(ct_shape) < len(shape):
        return np.broadcast_to(ct, shape)
    total = np.sum(ct, axis=summed_axes(ct_shape, shape), keepdims=False)
    return np.reshape(total, shape) if shape else float(total) if np.ndim(total) == 0 else total


def summed_axes(ct_shape: tuple, shape: tuple) -> tuple:
    """The axes of a cotangent that broadcasting added or widened from ``shape``."""
    lead = len(ct_shape) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and ct_shape[lead + i] != 1)


def axes_of(axis, ndim: int) -> tuple:
    """An ``axis`` option (None, an int or several) as sorted non-negative axes of ``ndim``."""
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim if ndim else a for a in axis))


def _known(shape) -> bool:
    return shape is not None and None not in shape


def _same_shape(a, b) -> bool:
    return _known(a.shape) and a.shape == b.shape


def _transpose(x):
    return np.transpose(x) if np.ndim(x) > 1 else x


def _transpose_code(options, shapes):
    rank = None if shapes[0] is None else len(shapes[0])
    return "{0}" if rank is not None and rank <= 1 else "{0}.T" if rank == 2 else None


register(Gate("transpose", 1, impl=_transpose, vjp_rules=(lambda g, out, x: G.transpose(g),), linear=True,
              symbol="ᵀ", numpy=_transpose_code, float="{0}", aliases=True, keeps_ones=True, explain=("({g})ᵀ",),
              shape=lambda shapes: tuple(reversed(shapes[0])),
              simplify=lambda x: x.args[0] if x.op == "transpose" else (x if x.ndim is not None and x.ndim <= 1
                                                                        else None),
              doc="the axes reversed (a matrix's transpose); a vector is its own transpose"))
register(Gate("matrix_transpose", 1, impl=lambda x: np.swapaxes(x, -1, -2),
              vjp_rules=(lambda g, out, x: G.matrix_transpose(g),), linear=True, symbol="ᵀ",
              numpy=lambda options, shapes: "{0}.T" if shapes[0] is not None and len(shapes[0]) == 2 else
              "NP_SWAPAXES({0}, -1, -2)", names={"NP_SWAPAXES": np.swapaxes}, aliases=True, keeps_ones=True,
              shape=lambda shapes: shapes[0][:-2] + (shapes[0][-1], shapes[0][-2]),
              doc="the last two axes swapped (each matrix of a stack transposed)"))


def _expand_shape(shapes, axis):
    shape = list(shapes[0])
    rank = len(shape) + len(axis if isinstance(axis, tuple) else (axis,))
    for a in axes_of(axis, rank):
        shape.insert(a, 1)
    return tuple(shape)


def _expand_code(options, shapes):
    if options["axis"] == -1:
        return "{0}[..., None]"  # the same view as np.expand_dims, without its Python layers
    return "NP_EXPAND_DIMS({0}, %r)" % (options["axis"],)


register(Gate("expand_dims", 1, impl=lambda x, axis=0: np.expand_dims(x, axis),
              vjp_rules=(lambda g, out, x, axis=0: G.squeeze(g, axis=axis),), linear=True,
              options={"axis": Option(0, "axis")}, numpy=_expand_code, names={"NP_EXPAND_DIMS": np.expand_dims},
              aliases=True, keeps_ones=True, shape=_expand_shape,
              doc="expand_dims(x, axis=0): a new axis of length 1 at each axis given"))
register(Gate("squeeze", 1, impl=lambda x, axis=0: np.squeeze(x, axis),
              vjp_rules=(lambda g, out, x, axis=0: G.expand_dims(g, axis=axis),), linear=True,
              options={"axis": Option(0, "axis")}, numpy=lambda options, shapes: "NP_SQUEEZE({0}, %r)" % (options["axis"],), aliases=True,
              names={"NP_SQUEEZE": np.squeeze}, keeps_ones=True,
              shape=lambda shapes, axis=0: tuple(d for k, d in enumerate(shapes[0])
                                                 if k not in axes_of(axis, len(shapes[0]))),
              doc="squeeze(x, axis=0): the axes given, each of length 1, removed"))


def _broadcast_code(options, shapes):
    if _known(shapes[1]) and shapes[0] == ():
        return "FULL(%r, {0})" % (shapes[1],)  # a writable array, as a sum's cotangent is used
    return "NP_BROADCAST_TO({0}, NP_SHAPE({1}))"


register(Gate("broadcast_like", 2, impl=lambda x, like: np.broadcast_to(x, np.shape(like)),
              vjp_rules=(lambda g, out, x, like: G.sum_like(g, x), None), linear=True,
              numpy=_broadcast_code, float="{0}", keeps_ones=True,
              names={"FULL": np.full, "NP_BROADCAST_TO": np.broadcast_to, "NP_SHAPE": np.shape},
              shape=lambda shapes: shapes[1], simplify=lambda x, like: x if _same_shape(x, like) else None,
              doc="broadcast_like(x, y): x broadcast to y's shape"))
ADD_REDUCE = np.add.reduce  # (one object: the namespace holds it once, for sum and sum_like)


def _sum_like_code(options, shapes):
    """unbroadcast's sum with its axes worked out now, where both shapes are known (the same
    np.add.reduce over the same axes: the same bits, without unbroadcast's Python)."""
    ct, like = shapes
    if not (_known(ct) and _known(like)) or not like or len(ct) < len(like):
        return ("UB({0}, %r)" % (like,)) if _known(like) else "UB({0}, NP_SHAPE({1}))"
    axes = summed_axes(ct, like)
    if not axes:  # nothing to sum (a reshape, or the same shape): unbroadcast's own way
        return "UB({0}, %r)" % (like,)
    total = "ADD_REDUCE({0}, axis=%r)" % (axes[0] if len(axes) == 1 else axes,)
    summed = tuple(n for i, n in enumerate(ct) if i not in axes)
    return total if summed == tuple(like) else "NP_RESHAPE(%s, %r)" % (total, like)


SUM_LIKE = "sum_like"
register(Gate(SUM_LIKE, 2, impl=lambda x, like: unbroadcast(x, np.shape(like)),
              vjp_rules=(lambda g, out, x, like: G.broadcast_like(g, x), None), linear=True,
              numpy=_sum_like_code, float="{0}",
              names={"UB": unbroadcast, "ADD_REDUCE": ADD_REDUCE, "NP_RESHAPE": np.reshape},
              shape=lambda shapes: shapes[1], simplify=lambda x, like: x if _same_shape(x, like) else None,
              doc="sum_like(x, y): x summed back to y's shape (undoes broadcasting)"))


def _reshaped(x, shape):
    value = np.reshape(x, shape)
    return value if value.ndim else value[()]  # a scalar, as numpy's own scalars


def _reshape_shape(shapes, shape=()):
    shape = tuple(shape)
    if -1 not in shape:
        return shape
    source = shapes[0]
    known = math.prod(d for d in shape if d != -1)
    if None in source:
        return tuple(None if d == -1 else d for d in shape)
    total = math.prod(source)
    if known == 0 or total % known:
        raise ValueError("the shape does not fit")
    return tuple(total // known if d == -1 else d for d in shape)


def _reshape_problem(shapes, shape=()):
    source = shapes[0]
    if source is None or None in source:
        return None
    try:
        _reshape_shape(shapes, shape)
    except ValueError:
        pass
    else:
        if -1 in shape or math.prod(source) == math.prod(shape):
            return None
    entries = math.prod(source)
    return (f"reshape cannot make shape {list(shape)} from shape {list(source)} "
            f"({entries} entr{'y' if entries == 1 else 'ies'})")


def _reshape_code(options, shapes):
    return "NP_RESHAPE({0}, %r)" % (tuple(options["shape"]),) if options["shape"] else None


register(Gate("reshape", 1, impl=lambda x, shape=(): _reshaped(x, shape),
              options={"shape": Option(None, "shape", required=True)},
              vjp_rules=(lambda g, out, x, shape=(): G.reshape_like(g, x),), linear=True, aliases=True,
              keeps_ones=True, numpy=_reshape_code, names={"NP_RESHAPE": np.reshape},
              rows=lambda options, rank, rows: dict(options, shape=(rows,) + tuple(options["shape"])),
              shape=_reshape_shape, check=_reshape_problem, explain=("{g} reshaped back to the shape of {0}",),
              doc="reshape(x, shape=[2, -1]): the entries of x in a new shape (-1: the size that fits)"))
register(Gate("reshape_like", 2, impl=lambda x, like: _reshaped(x, np.shape(like)),
              vjp_rules=(lambda g, out, x, like: G.reshape_like(g, x), None), linear=True, aliases=True,
              keeps_ones=True, rows=lambda options, rank, rows: options, shape=lambda shapes: shapes[1],
              simplify=lambda x, like: x if _same_shape(x, like) else None,
              doc="reshape_like(x, y): the entries of x in the shape of y (the gradient of reshape)"))
