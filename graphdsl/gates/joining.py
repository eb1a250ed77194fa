"""Gates that join values: ``concat(a, b, ..., axis=0)`` along an axis they have, and
``stack(a, b, ..., axis=0)`` along a new one. They take two or more operands (variadic:
their records for n operands come from ``_per_operand``), and are linear: each operand's
cotangent is its part of the output's, cut out with ``index``."""
from __future__ import annotations

import string

import numpy as np

from .expr import G
from .indexing import FULL, shape_text
from .record import Gate, Option, register


def _per_operand(part):
    """The fields of a join of n operands: each operand's rule (``part(k)``), words and pin."""
    def fields(n: int) -> dict:
        return {"vjp_rules": tuple(part(k) for k in range(n)),
                "roles": tuple(string.ascii_lowercase[k] if k < 26 else f"#{k + 1}" for k in range(n)),
                "explain": tuple(f"the part of {{g}} that {{{k}}} fills" for k in range(n))}
    return fields


def _concat_part(k: int):
    def rule(g, out, *args, axis=0):
        at = axis % args[0].ndim
        start = sum(a.shape[at] for a in args[:k])
        return G.index(g, at=(FULL,) * at + ((start, start + args[k].shape[at], None),))
    return rule


def _stack_part(k: int):
    def rule(g, out, *args, axis=0):
        return G.index(g, at=(FULL,) * (axis % (args[0].ndim + 1)) + (k,))
    return rule


def _join_jvp(name):
    def jvp(ts, out, *args, axis=0):
        if all(t is None for t in ts):
            return None
        parts = [G.broadcast_like(0.0, a) if t is None else t for t, a in zip(ts, args)]
        return G.__getattr__(name)(*parts, axis=axis)
    return jvp


def _join_code(function):
    def code(options, shapes):
        operands = ", ".join("{%d}" % k for k in range(len(shapes)))
        return f"{function}(({operands}), axis={options['axis']!r})"
    return code


def _axis_problem(name: str, axis: int, rank: int, shape) -> str | None:
    if -rank <= axis < rank:
        return None
    return f"{name}'s axis {axis} is out of range for operands of shape {shape_text(shape)}"


def _concat_problem(shapes, axis=0):
    known = [s for s in shapes if s is not None]
    if any(len(s) == 0 for s in known):
        return f"concat needs operands with at least one axis, got shapes {_listed(shapes)} (use stack for scalars)"
    if len({len(s) for s in known}) > 1:
        return f"concat needs operands with the same number of axes, got shapes {_listed(shapes)}"
    if not known:
        return None
    problem = _axis_problem("concat", axis, len(known[0]), known[0])
    if problem:
        return problem
    at = axis % len(known[0])
    for k in range(len(known[0])):
        sizes = {s[k] for s in known if s[k] is not None}
        if k != at and len(sizes) > 1:
            return (f"concat along axis {axis} needs the operands' other axes to agree, got shapes "
                    f"{_listed(shapes)}")
    return None


def _concat_shape(shapes, axis=0):
    if _concat_problem(shapes, axis):
        raise ValueError("the operands do not join")
    at = axis % len(shapes[0])
    sizes = [s[at] for s in shapes]
    dims = [next((s[k] for s in shapes if s[k] is not None), None) for k in range(len(shapes[0]))]
    dims[at] = None if None in sizes else sum(sizes)
    return tuple(dims)


def _stack_problem(shapes, axis=0):
    known = [s for s in shapes if s is not None]
    if not known:
        return None
    if len({len(s) for s in known}) > 1 or any(
            len({s[k] for s in known if s[k] is not None}) > 1 for k in range(len(known[0]))):
        return f"stack needs operands of one shape, got shapes {_listed(shapes)}"
    return _axis_problem("stack", axis, len(known[0]) + 1, known[0])


def _stack_shape(shapes, axis=0):
    if _stack_problem(shapes, axis):
        raise ValueError("the operands do not stack")
    dims = [next((s[k] for s in shapes if s[k] is not None), None) for k in range(len(shapes[0]))]
    dims.insert(axis % (len(dims) + 1), len(shapes))
    return tuple(dims)


def _listed(shapes) -> str:
    return ", ".join("unknown" if s is None else shape_text(s) for s in shapes)


AXIS_FIRST = {"axis": Option(0, "integer")}
register(Gate("concat", 2, impl=lambda *args, axis=0: np.concatenate(args, axis=axis),
              variadic=_per_operand(_concat_part), jvp_rule=_join_jvp("concat"), by_shape=True,
              options=AXIS_FIRST, numpy=_join_code("NP_CONCATENATE"), names={"NP_CONCATENATE": np.concatenate},
              rows=lambda options, rank, rows: dict(options, axis=options["axis"] % rank + 1),
              shape=_concat_shape, check=_concat_problem,
              doc="concat(a, b, ..., axis=0): the operands joined along an axis they have"))
register(Gate("stack", 2, impl=lambda *args, axis=0: np.stack(args, axis=axis),
              variadic=_per_operand(_stack_part), jvp_rule=_join_jvp("stack"), by_rank=True,
              options=AXIS_FIRST, numpy=_join_code("NP_STACK"), names={"NP_STACK": np.stack},
              rows=lambda options, rank, rows: dict(options, axis=options["axis"] % (rank + 1) + 1),
              shape=_stack_shape, check=_stack_problem,
              doc="stack(a, b, ..., axis=0): the operands, of one shape, along a new axis"))
