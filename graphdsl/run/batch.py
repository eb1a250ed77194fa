"""``Program.run_batch`` vectorised: one pass of the interpreter with a leading batch axis.

The semantics are those of ``run`` once per row, stacked (``jax.vmap``). A value is
*batched* when it depends on a binding given with a batch axis; the rest (defaults,
constants and what depends only on them) is computed once and shared. Gradients
are always per row, so the backward pass carries the batch axis everywhere.

How a gate vectorises is its record's ``rows``:

* ``"elementwise"``: operands are aligned by inserting unit axes after the batch axis,
  so numpy broadcasting pairs each row with its own operands;
* ``("axis", r)``: a reduction over ``axis``, moved past the batch axis (``None`` becomes
  every row axis), for rows of rank ≥ r;
* ``"stacked"``: a product of stacked matrices (both operands of rank ≥ 2 per row);
* a function: every operand gets the batch axis (a shared one is broadcast to it) and the
  function gives the options that reach past it (``x[0]`` becomes ``x[:, 0]``).

Anything else (``dot``, ``transpose``, a matrix-vector ``matmul``...) and any failure
inside the vectorised pass fall back to calling ``run`` once per row, which is exactly
the reference semantics.
"""
from __future__ import annotations

import numpy as np

from ..errors import GraphError, NotVectorised
from . import interpret
from .bindings import bind
from .quiet import QUIET, RESTORE

INPLACE_MIN = 1 << 12  # float64 elements from which the records' in-place speed forms pay


def run_batch(schedule, of: str, batched_values: dict, shared: dict, rows: int):
    """Outputs and gradients by name, each with a leading axis of ``rows``; None when the
    graph does not vectorise (the caller then loops over rows). ``batched_values`` have
    the batch axis (see rows.split), ``shared`` values are the same for every row."""
    leaves = schedule.leaves
    token = QUIET()
    try:
        row0 = bind(leaves, {**{name: value[0] for name, value in batched_values.items()}, **shared})
        lanes = Rows(schedule, interpret.shapes(schedule, row0), rows)
        values = interpret.start(schedule, row0)
        for leaf in leaves:
            full = batched_values.get(leaf.name)
            if full is not None:
                values[leaf.slot], lanes.batched[leaf.slot] = full, True
        interpret.forward(schedule, row0, lanes, values)
        return lanes.pack(of, values)
    except (NotVectorised, GraphError, ValueError, TypeError, IndexError, ArithmeticError):
        return None  # the per-row loop runs instead, and reports any failure as run does
    finally:
        RESTORE(token)


class Rows(interpret.Lanes):
    """The interpreter's hooks for values with a leading batch axis."""

    def __init__(self, schedule, shapes, rows):
        self.schedule, self.shapes, self.rows = schedule, shapes, rows
        self.batched = [False] * len(schedule.ids)
        self.backward = False

    def forward(self, step, values):
        if not any(self.batched[a] for a in step.args):
            return step.gate.forward(*[values[a] for a in step.args], **step.options)
        args = self.operands(step, values)
        self.batched[step.slot] = True
        speed = step.gate.speed.get("forward")
        if speed is not None and _large(args[0]):
            return speed(args[0])
        return step.gate.forward(*args, **self.options(step))

    def operands(self, step, values) -> list:
        """Operand values with rows aligned: a batched operand gets unit axes after the batch
        axis up to the rank its row is broadcast to; unbatched ones broadcast by themselves
        (in the backward pass of a reduction they are repeated per row, as views)."""
        gate, shapes = step.gate, self.shapes
        ranks = [len(shapes[a]) for a in step.args]
        if callable(gate.rows):
            return [values[a] if self.batched[a] else np.broadcast_to(values[a], (self.rows,) + shapes[a])
                    for a in step.args]
        if gate.rows == "stacked" and min(ranks) >= 2 or gate.rows == "elementwise":
            target = max(ranks)
        elif isinstance(gate.rows, tuple) and gate.rows[0] == "axis" and ranks[0] >= gate.rows[1]:
            target = ranks[0]
        else:
            raise NotVectorised(gate.name)
        out = []
        for a, rank in zip(step.args, ranks):
            value = values[a]
            if self.batched[a]:
                value = value.reshape((self.rows,) + (1,) * (target - rank) + shapes[a])
            elif self.backward and gate.rows != "elementwise":
                value = np.broadcast_to(value, (self.rows,) + shapes[a])
            out.append(value)
        return out

    def options(self, step) -> dict:
        rank = len(self.shapes[step.args[0]])
        if callable(step.gate.rows):
            return step.gate.rows(step.options, rank, self.rows)
        if "axis" not in step.options:
            return step.options
        axis = step.options["axis"]
        if axis is None:
            axis = tuple(range(rank))
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        return dict(step.options, axis=tuple(a % rank + 1 for a in axes) if rank else ())

    def cotangent(self, step, i, g, out, args):
        speed = step.gate.speed
        if "vjp" in speed and _large(g) and _large(out) and g.shape == out.shape:
            # The rule's g * partial(out), same bits, fewer passes; the seed is ones.
            ct = speed["partial"](out) if step.slot == self.seed_slot else speed["vjp"](g, out)
        else:
            ct = step.gate.vjps[i](g, out, *args, **self.options(step))
        return unbroadcast_rows(ct, self.shapes[step.args[i]])

    def seed(self, value):
        return np.ones((self.rows,) + self.shapes[self.seed_slot], np.result_type(value))

    def pack(self, of: str, values: list):
        sched, rows = self.schedule, self.rows
        self.seed_slot = sched.plans[of].seed
        if not self.batched[self.seed_slot]:
            raise NotVectorised("the output does not depend on the batch")
        self.backward = True
        grads = interpret.backward(sched, of, values, keep=False, lanes=self)
        outputs = {name: self.stacked(values, slot) for name, slot in sched.outputs}
        leaf_grads = {leaf.name: _writeable(grads[leaf.slot]) if grads[leaf.slot] is not None
                      else np.zeros((rows,) + self.shapes[leaf.slot]) for leaf in sched.leaves}
        return outputs, leaf_grads

    def stacked(self, values, slot):
        value = values[slot]
        if self.batched[slot]:
            return _writeable(value)
        return np.repeat(np.asarray(value)[None], self.rows, axis=0)


def _large(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == np.float64 and value.size >= INPLACE_MIN


def _writeable(value):
    value = np.asarray(value)
    return value if value.flags.writeable else value.copy()


def unbroadcast_rows(ct, row_shape: tuple):
    """``unbroadcast`` applied to each row: sum a cotangent of shape (rows, *broadcast row)
    back to (rows, *row_shape), never over the batch axis."""
    shape = np.shape(ct)
    rows, row = shape[0], shape[1:]
    if row == row_shape:
        return ct
    lead = len(row) - len(row_shape)
    if lead < 0:
        return np.broadcast_to(ct, (rows,) + row_shape)
    axes = tuple(range(1, 1 + lead)) + tuple(1 + lead + i for i, n in enumerate(row_shape)
                                             if n == 1 and row[lead + i] != 1)
    return np.reshape(np.sum(ct, axis=axes), (rows,) + row_shape)
