"""Reductions and the softmax family: sum, mean, softmax, log_softmax, logsumexp (and count, what a
mean divides by). Their rules move a cotangent back across the reduced axes."""
from __future__ import annotations

import math

import numpy as np

from .expr import G
from .record import Gate, Option, register
from .shaping import ADD_REDUCE, axes_of


def _count(shape, axis) -> int:
    return math.prod(shape[a] for a in axes_of(axis, len(shape))) if shape else 1


def _reduced(shapes, axis=None):
    shape = shapes[0]
    gone = axes_of(axis, len(shape))
    return tuple(d for k, d in enumerate(shape) if k not in gone)


def _restore(g, x, axis):
    """A reduced cotangent broadcast back to x's shape (the reduced axes restored)."""
    if axis is None or x.ndim == 0:  # (a sum of a scalar over axis 0 is the scalar)
        return G.broadcast_like(g, x)
    return G.broadcast_like(G.expand_dims(g, axis=axes_of(axis, x.ndim)), x)


def _mean(x, axis=None):
    # The sum over the count, as np.mean computes it, but an empty mean is NaN under the
    # caller's errstate instead of np.mean's "Mean of empty slice" RuntimeWarning.
    return np.divide(np.sum(x, axis=axis), _count(np.shape(x), axis))


def _mean_code(options, shapes):
    # _mean's own sum and division (np.sum of an ndarray is np.add.reduce), the count known now
    if not shapes[0] or None in shapes[0]:
        return None
    return "NP_DIVIDE(ADD_REDUCE({0}, axis=%r), %r)" % (options["axis"], _count(shapes[0], options["axis"]))


def _scalar_when_whole(options, shapes):
    return "{0}" if options.get("axis") is None else None


def _sum_code(options, shapes):
    # np.sum of an ndarray is np.add.reduce, minus two layers of Python.
    return "ADD_REDUCE({0}, axis=%r)" % (options["axis"],) if shapes[0] else None


def _count_simplify(x, axis=None):
    if x.shape is not None and None not in x.shape:
        return float(_count(x.shape, axis))  # known once the shapes are: a constant
    return None


AXIS_ALL = {"axis": Option(None, "axis")}
AXIS_LAST = {"axis": Option(-1, "axis")}

register(Gate("sum", 1, impl=lambda x, axis=None: np.sum(x, axis=axis), linear=True, by_rank=True,
              vjp_rules=(lambda g, out, x, axis=None: _restore(g, x, axis),), symbol="Σ", options=AXIS_ALL,
              explain=("{g} copied to every entry of {0}",),
              numpy=_sum_code, float=_scalar_when_whole, names={"ADD_REDUCE": ADD_REDUCE},
              rows=("axis", 0), shape=_reduced, keeps_ones=False,
              doc="sum(x, axis=None): the sum over the axes given (all by default)"))
register(Gate("count", 1, impl=lambda x, axis=None: float(_count(np.shape(x), axis)), vjp_rules=(None,),
              options=AXIS_ALL, float=lambda options, shapes: "1.0" if options.get("axis") is None else None,
              differentiable=False, shape=lambda shapes, axis=None: (), simplify=_count_simplify,
              doc="count(x, axis=None): how many entries a sum over those axes adds up"))
register(Gate("mean", 1, impl=_mean, linear=True, by_rank=True, options=AXIS_ALL,
              vjp_rules=(lambda g, out, x, axis=None: _restore(g / G.count(x, axis=axis), x, axis),),
              explain=("{g} / (entries averaged) copied to every entry of {0}",),
              float=_scalar_when_whole, rows=("axis", 0), shape=_reduced, numpy=_mean_code,
              names={"ADD_REDUCE": ADD_REDUCE, "NP_DIVIDE": np.divide},
              doc="mean(x, axis=None): the mean over the axes given (all by default)"))


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
    if x.ndim == 0:
        return 0.0
    return out * (g - G.expand_dims(G.sum(g * out, axis=axis), axis=axes_of(axis, x.ndim)))


def _logsumexp(x, axis=-1):
    if np.ndim(x) == 0:
        return x
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    total = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    total = np.squeeze(total, axis=axis) if axis is not None else total.reshape(())
    return total if np.ndim(total) else float(total)


def _weights(out, x, axis):
    """softmax(x) along axis, from the forward output: exp(x - logsumexp(x))."""
    return G.exp(x - G.expand_dims(out, axis=axes_of(axis, x.ndim)))


register(Gate("softmax", 1, impl=_softmax, by_rank=True, options=AXIS_LAST, vjp_rules=(_softmax_vjp,),
              jvp_rule=lambda ts, out, x, axis=-1: _softmax_vjp(ts[0], out, x, axis), float="1.0",
              explain=("{out} ⊙ ({g} − Σ {g} ⊙ {out})",),
              rows=("axis", 1), shape=lambda shapes, axis=-1: shapes[0],
              doc="softmax(x, axis=-1): exp(x) / sum(exp(x)) along the axis, without overflow"))
register(Gate("logsumexp", 1, impl=_logsumexp, by_rank=True, options=AXIS_LAST,
              vjp_rules=(lambda g, out, x, axis=-1: g if x.ndim == 0 else
                         _restore(g, x, axis) * _weights(out, x, axis),),
              jvp_rule=lambda ts, out, x, axis=-1: ts[0] if x.ndim == 0 else
              G.sum(ts[0] * _weights(out, x, axis), axis=axis),
              float="{0}", rows=("axis", 1), shape=_reduced, explain=("{g} × softmax({0})",),
              doc="logsumexp(x, axis=-1): log(sum(exp(x))) along the axis, without overflow"))


def _log_softmax(x, axis=-1):
    if np.ndim(x) == 0:
        return 0.0
    shifted = _shift(x, axis)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _log_softmax_flow(g, out, x, axis):
    """g − softmax(x) · Σ g along the axis (softmax(x) is exp(out): never overflows)."""
    if x.ndim == 0:
        return 0.0
    return g - G.exp(out) * G.expand_dims(G.sum(g, axis=axis), axis=axes_of(axis, x.ndim))


register(Gate("log_softmax", 1, impl=_log_softmax, by_rank=True, options=AXIS_LAST,
              vjp_rules=(lambda g, out, x, axis=-1: _log_softmax_flow(g, out, x, axis),),
              jvp_rule=lambda ts, out, x, axis=-1: 0.0 if x.ndim == 0 else
              ts[0] - G.expand_dims(G.sum(G.exp(out) * ts[0], axis=axis), axis=axes_of(axis, x.ndim)),
              float="0.0", rows=("axis", 1), shape=lambda shapes, axis=-1: shapes[0],
              explain=("{g} − softmax({0}) × Σ {g}",),
              doc="log_softmax(x, axis=-1): x − logsumexp(x) along the axis, without overflow"))
