"""Indexing: ``x[1]``, ``x[-1]``, ``x[1:3]``, ``x[:, 0]``, ``x[::2]`` (numpy's basic
indexing with whole numbers), ``scatter_like``, which puts a cotangent back where the
index took it from, and ``onehot``.

The index is the option ``at``: one item per axis, a whole number or a slice written as
a (start, stop, step) triple with None for what is left out (``1:3`` is (1, 3, None)).
"""
from __future__ import annotations

import numpy as np

from .expr import G
from .record import Gate, Option, register

FULL = (None, None, None)  # the slice ':'


def key(at) -> tuple:
    """The ``at`` option as numpy's index."""
    return tuple(item if isinstance(item, int) else slice(*item) for item in at)


def subscript(at) -> str:
    """How the index is written: ``[1:3, 0]``."""
    return "[" + ", ".join(_item_text(item) for item in at) + "]"


def _item_text(item) -> str:
    if isinstance(item, int):
        return str(item)
    start, stop, step = ("" if part is None else str(part) for part in item)
    return f"{start}:{stop}" + (f":{step}" if step else "")


def shape_text(shape) -> str:
    """A shape for a message: ``[2, 3]``, a size not known yet as ``?``."""
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _axes(count: int) -> str:
    return f"{count} ax{'i' if count == 1 else 'e'}s"


def _index(x, at=()):
    return np.asarray(x)[key(at)]


def _index_shape(shapes, at=()):
    shape = shapes[0]
    if len(at) > len(shape):
        raise IndexError("too many indices")
    out = []
    for item, size in zip(at, shape):
        if isinstance(item, int):
            if size is not None and not -size <= item < size:
                raise IndexError("out of range")
        else:
            out.append(None if size is None else len(range(*slice(*item).indices(size))))
    return tuple(out) + tuple(shape[len(at):])


def _index_problem(shapes, at=()):
    """An index that cannot fit the operand's shape, named with the shape."""
    shape = shapes[0]
    if shape is None:
        return None
    shown = shape_text(shape)
    if len(at) > len(shape):
        what = "a scalar" if not shape else f"a value of shape {shown} ({_axes(len(shape))})"
        return f"the index {subscript(at)} takes {_axes(len(at))}, but it is applied to {what}"
    for axis, (item, size) in enumerate(zip(at, shape)):
        if isinstance(item, int) and size is not None and not -size <= item < size:
            valid = f"{-size} to {size - 1}" if size else "none: the axis is empty"
            return (f"index {item} of {subscript(at)} is out of range for shape {shown}: axis {axis} "
                    f"has {size} entries (valid indices: {valid})")
    return None


def _index_code(options, shapes):
    return "{0}" + subscript(options["at"])  # numpy's own syntax: the fastest way to a view


def _batched_index(options, rank, rows):
    return dict(options, at=(FULL,) + tuple(options["at"]))


AT = {"at": Option(None, "subscript", required=True)}
register(Gate("index", 1, impl=_index, options=AT, vjp_rules=(lambda g, out, x, at=(): G.scatter_like(g, x, at=at),),
              linear=True, postfix=lambda options: subscript(options["at"]), numpy=_index_code, aliases=True,
              keeps_ones=True, rows=_batched_index, shape=_index_shape, check=_index_problem,
              explain=("{g} put back in its place, in zeros shaped like {0}",),
              doc="x[1], x[-1], x[1:3], x[:, 0], x[::2]: numpy's basic indexing with whole numbers; "
                  "the gradient goes back to the entries taken"))


def _scatter(g, like, at=()):
    out = np.zeros(np.shape(like), np.result_type(g))
    out[key(at)] = g
    return out


register(Gate("scatter_like", 2, impl=_scatter, options=AT, linear=True,
              vjp_rules=(lambda g, out, ct, like, at=(): G.index(g, at=at), None),
              rows=_batched_index, shape=lambda shapes, at=(): shapes[1],
              explain=("the entries of {g} that the index took", None),
              doc="scatter_like(g, x, at=[...]): zeros shaped like x, with g at x[...] (the "
                  "gradient of indexing)"))


def class_ids(labels, n: int):
    """Labels as integer class ids from 0 to n - 1, or a ValueError naming the first that is not."""
    labels = np.asarray(labels)
    with np.errstate(invalid="ignore"):
        ids = labels.astype(np.intp)
    if (ids == labels).all() and (ids.size == 0 or ids.view(np.uintp).max() < n):
        return ids  # (seen as unsigned, a negative id is huge: one comparison checks both ends)
    bad = ~np.isin(labels, np.arange(n))
    where = np.unravel_index(int(np.argmax(bad)), bad.shape)
    place = f" at {list(map(int, where))}" if where else ""
    raise ValueError(f"onehot needs integer class ids from 0 to {n - 1} (n={n}); found "
                     f"{float(labels[where]):g}{place}")


def _onehot(labels, n=1):
    return (class_ids(labels, n)[..., None] == np.arange(n)) * 1.0


register(Gate("onehot", 1, impl=_onehot, options={"n": Option(None, "positive", required=True)}, vjp_rules=(None,),
              differentiable=False, rows="elementwise", shape=lambda shapes, n=1: tuple(shapes[0]) + (n,),
              doc="onehot(labels, n=3): integer class ids as rows of 0 and 1, one column per class"))
