"""Losses and metrics for classifiers: softmax_cross_entropy, hinge_loss, argmax.

The gradients of the two losses are gates of their own (``cross_entropy_grad``,
``hinge_grad``), computed in one pass over a class-major copy of the scores; the
loss rules are written with them, and their own rules make second derivatives.
"""
from __future__ import annotations

import numpy as np

from .expr import G
from .record import Gate, Option, register


def class_ids(scores, labels):
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


def _shifted_class_major(scores):
    """A private copy of scores as [C, M], classes first (numpy reduces fast over a leading
    axis, slowly over a short trailing one), each row's max subtracted so exp never
    overflows (an all -inf row shifts by 0)."""
    t = np.reshape(scores, (-1, np.shape(scores)[-1])).T.copy()
    top = t.max(axis=0)
    t -= np.where(np.isfinite(top), top, 0.0)
    return t


def _cross_entropy(scores, labels):
    return _cross_entropy_keeping(scores, labels)[0]


def _cross_entropy_keeping(scores, labels):
    """The loss, and what its gradient computes again from the scores: the exponentials of
    the shifted scores, their sums and the class ids. (The numpy code's speed form: the
    gradient made from them is the same operations on the same numbers.)"""
    ids = class_ids(scores, labels).reshape(-1)
    t = _shifted_class_major(scores)
    e = np.exp(t)
    z = e.sum(axis=0)
    loss = float((np.log(z) - t[ids, np.arange(ids.size)]).sum()) / max(ids.size, 1)
    return loss, (e, z, ids, np.shape(scores))


def _cross_entropy_grad(scores, labels, scale):
    """scale * d loss / d scores = scale * (softmax(scores) - onehot(labels)) / number of rows."""
    e = np.exp(_shifted_class_major(scores))
    return _grad_from(e, e.sum(axis=0), np.asarray(labels).astype(np.intp).reshape(-1), np.shape(scores), scale)


def _grad_from(e, z, ids, shape, scale):
    probs = e / z
    probs[ids, np.arange(ids.size)] -= 1.0
    probs *= scale / max(ids.size, 1)
    return probs.T.reshape(shape)


def _grad_kept(kept, scale):
    return _grad_from(*kept, scale)


def _rows_of(labels):
    return G.max(G.count(labels), 1.0)


def _ce_grad_dscores(g, out, scores, labels, scale):
    # The Hessian of the mean cross-entropy: softmax's Jacobian, times scale / rows.
    p = G.softmax(scores, axis=-1)
    return (scale / _rows_of(labels)) * (p * (g - G.expand_dims(G.sum(g * p, axis=-1), axis=-1)))


register(Gate("cross_entropy_grad", 3, impl=_cross_entropy_grad,
              vjp_rules=(_ce_grad_dscores, None,
                         lambda g, out, scores, labels, scale: G.sum(g * G.cross_entropy_grad(scores, labels, 1.0))),
              jvp_rule=lambda ts, out, scores, labels, scale: _ce_grad_jvp(ts, out, scores, labels, scale),
              shape=lambda shapes: shapes[0],
              doc="cross_entropy_grad(scores, labels, scale): scale times the gradient of "
                  "softmax_cross_entropy with respect to the scores"))


def _ce_grad_jvp(ts, out, scores, labels, scale):
    total = None
    if ts[0] is not None:
        total = _ce_grad_dscores(ts[0], out, scores, labels, scale)
    if ts[2] is not None:
        term = ts[2] * G.cross_entropy_grad(scores, labels, 1.0)
        total = term if total is None else total + term
    return total


register(Gate("softmax_cross_entropy", 2, impl=_cross_entropy,
              vjp_rules=(lambda g, out, scores, labels: G.cross_entropy_grad(scores, labels, g), None),
              jvp_rule=lambda ts, out, scores, labels: None if ts[0] is None else
              G.sum(ts[0] * G.cross_entropy_grad(scores, labels, 1.0)),
              symbol="CE", shape=lambda shapes: (), roles=("scores", "labels"), class_ids=1,
              speed={"keeping": _cross_entropy_keeping, "vjp_kept": (0, _grad_kept)},
              doc="softmax_cross_entropy(scores, labels): the mean over rows of "
                  "-log softmax(scores)[label]; labels are integer class ids"))


def _hinge_margins(scores, ids, margin):
    """max(0, s_j - s_y + margin) for every class j, with the labelled class itself set to 0."""
    flat = scores.reshape(-1, scores.shape[-1])
    rows, cols = _rows(ids)
    margins = np.maximum(0.0, flat - flat[rows, cols][:, None] + margin)
    margins[rows, cols] = 0.0
    return margins


def _hinge(scores, labels, margin=1.0):
    ids = class_ids(scores, labels)
    margins = _hinge_margins(np.asarray(scores), ids, margin)
    return float(np.sum(margins) / max(margins.shape[0], 1))


def _hinge_grad(scores, labels, margin=1.0):
    """+1/N for each class over the margin; the labelled class gets -count/N (0 at a kink)."""
    ids = np.asarray(labels).astype(np.intp)
    active = (_hinge_margins(np.asarray(scores), ids, margin) > 0.0) * 1.0
    rows, cols = _rows(ids)
    active[rows, cols] = -np.sum(active, axis=1)
    return (active / max(active.shape[0], 1)).reshape(np.shape(scores))


MARGIN = {"margin": Option(1.0, "number")}
register(Gate("hinge_grad", 2, impl=_hinge_grad, vjp_rules=(None, None), options=MARGIN, differentiable=False,
              shape=lambda shapes, margin=1.0: shapes[0],
              doc="hinge_grad(scores, labels, margin=1): the gradient of hinge_loss with respect "
                  "to the scores (piecewise constant: no gradient of its own)"))
register(Gate("hinge_loss", 2, impl=_hinge, options=MARGIN,
              vjp_rules=(lambda g, out, scores, labels, margin=1.0: g * G.hinge_grad(scores, labels, margin=margin),
                         None),
              jvp_rule=lambda ts, out, scores, labels, margin=1.0: None if ts[0] is None else
              G.sum(ts[0] * G.hinge_grad(scores, labels, margin=margin)),
              symbol="hinge", shape=lambda shapes, margin=1.0: (), roles=("scores", "labels"), class_ids=1,
              doc="hinge_loss(scores, labels, margin=1): the multiclass SVM loss, mean over rows of "
                  "the sum over j != y of max(0, s_j - s_y + margin)"))


def _argmax(x, axis=-1):
    # Class ids come back as floats, like every other value; a scalar is its own argmax.
    if np.ndim(x) == 0:
        return 0.0
    value = np.argmax(x, axis=axis).astype(np.float64)
    return value if np.ndim(value) else float(value)


def _argmax_code(options, shapes):
    # _argmax's, where the result is an array
    return None if not shapes[0] or len(shapes[0]) < 2 else "({0}).argmax(axis=%r).astype(NP_FLOAT64)" % (options["axis"],)


register(Gate("argmax", 1, impl=_argmax, vjp_rules=(None,), options={"axis": Option(-1, "axis")},
              numpy=_argmax_code, names={"NP_FLOAT64": np.float64},
              differentiable=False, doc="argmax(x, axis=-1): the index of the largest entry, as a float"))
