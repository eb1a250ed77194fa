"""``Program.run_batch`` vectorised: one pass over the schedule with a leading batch axis.

The semantics are those of ``run`` once per row, stacked (``jax.vmap``). Which
bindings carry the batch axis is decided by ``split`` (the rule ``graphrun --batch``
follows too). A value is *batched* when it depends on a binding given with a batch
axis; the rest (shared bindings, defaults, constants and what depends only on them)
is computed once and shared. Gradients are always per row, so the backward pass
carries the batch axis everywhere.

What vectorises (any gate that no batched value reaches runs as in ``run``):

* every elementwise gate (the arithmetic operators and the functions with
  ``partials`` in the gate table): operands are aligned by inserting unit axes after
  the batch axis, so numpy broadcasting pairs each row with its own operands;
* ``sum``, ``mean``, ``softmax``, ``logsumexp``: their ``axis`` is moved past the batch
  axis (``None`` becomes every row axis); softmax and logsumexp need rows of rank ≥ 1;
* ``matmul`` when both operands have rows of rank ≥ 2 (stacked matrices).

Anything else (``dot``, ``transpose``, a matrix-vector ``matmul``, gates added later
without a rule here) and any failure inside the vectorised pass fall back to calling
the compiled ``run`` once per row, which is exactly the reference semantics.
"""
from __future__ import annotations

import numpy as np

from . import rules
from .bindings import bind, to_value, unknown_name
from .compile import QUIET, RESTORE
from .errors import BindingError, GraphError
from .result import BatchResult

REDUCTIONS = {"sum": 0, "mean": 0, "softmax": 1, "logsumexp": 1}  # gate -> least row rank


class NotVectorised(Exception):
    """A step a batched value reaches has no batch rule: use the per-row loop."""


def run_rows(program, of: str, bindings: dict, shared: dict) -> BatchResult:
    """``Program.run_batch``: the vectorised pass, or ``run`` once per row, stacked."""
    batched, shared, rows = split(program._schedule.leaves, bindings, shared)
    vectorised = run_batch(program, of, batched, shared, rows)
    if vectorised is not None:
        return BatchResult(*vectorised, of, rows)
    if rows == 0:  # a row of zeros gives the shapes (and types) of the empty stacks
        one = program._run(of, {**{name: np.zeros(value.shape[1:], value.dtype)
                                   for name, value in batched.items()}, **shared})
        empty = lambda values: {k: np.zeros((0,) + np.shape(v), np.result_type(v)) for k, v in values.items()}
        return BatchResult(empty(one.outputs), empty(one.grads), of, 0)
    results = [program._run(of, {**{name: value[i] for name, value in batched.items()}, **shared})
               for i in range(rows)]
    stack = lambda key: {k: np.stack([getattr(r, key)[k] for r in results]) for k in getattr(results[0], key)}
    return BatchResult(stack("outputs"), stack("grads"), of, rows)


def split(leaves, bindings: dict, shared: dict) -> tuple:
    """``(batched, shared, rows)``: which values carry the batch axis. A value has none,
    and is shared by every row, when it is given in ``shared``, is a scalar, or has the
    rank of its leaf's declared shape; one rank more is one value per row. An array for
    a leaf without a declared shape has its rows along its first axis (which else could
    not be told from a shared value)."""
    by_name = {leaf.name: leaf for leaf in leaves}
    unknown = [name for name in list(bindings) + list(shared) if name not in by_name]
    if unknown:
        raise BindingError(unknown_name(unknown[0], by_name))
    twice = sorted(set(bindings) & set(shared))
    if twice:
        raise BindingError(f"{', '.join(map(repr, twice))} given both as a binding and in shared")
    common = {name: to_value(value, name, by_name[name].span) for name, value in shared.items()}
    batched = {}
    for name, value in bindings.items():
        leaf = by_name[name]
        value = to_value(value, name, leaf.span)
        rank, declared = np.ndim(value), leaf.shape
        if rank == 0 or (declared is not None and rank == len(declared)):
            common[name] = value
        elif declared is None or rank == len(declared) + 1:
            batched[name] = value
        else:
            raise BindingError(f"{leaf.kind} '{name}' is declared with shape {list(declared)}: give one "
                               f"value of that shape, shared by every row, or one per row with a "
                               f"leading batch axis; got shape {list(np.shape(value))}", leaf.span)
    return batched, common, _rows(batched, by_name)


def _rows(batched: dict, leaves: dict) -> int:
    if not batched:
        raise BindingError("run_batch needs at least one binding with a leading batch axis (one "
                           "value per row); values without it are shared by every row")
    lengths = {name: np.shape(value)[0] for name, value in batched.items()}
    if len(set(lengths.values())) > 1:
        listing = ", ".join(f"{name}: {length}" for name, length in lengths.items())
        common = max(lengths.values(), key=list(lengths.values()).count)
        odd = [name for name in lengths if leaves[name].shape is None and lengths[name] != common]
        hint = (f"; {odd[0]} has no declared shape, so its first axis is taken as the batch axis: "
                f"to share one value by every row, declare its shape ({leaves[odd[0]].kind} "
                f"{odd[0]}: [...]) or pass it in shared={{'{odd[0]}': ...}}") if odd else ""
        raise BindingError(f"run_batch bindings must share one leading length ({listing}){hint}")
    return next(iter(lengths.values()))


def run_batch(program, of: str, batched_values: dict, shared: dict, rows: int):
    """Outputs and gradients by name, each with a leading axis of ``rows``; None when the
    graph does not vectorise (the caller then loops over rows)."""
    sched = program._schedule
    leaves = sched.leaves
    token = QUIET()
    try:
        row0 = bind(leaves, {**{name: value[0] for name, value in batched_values.items()}, **shared})
        shapes = program._kernel(of).kernel.shapes(row0)
        values, batched = [None] * len(sched.ids), [False] * len(sched.ids)
        for leaf, value in zip(leaves, row0):
            full = batched_values.get(leaf.name)
            values[leaf.slot] = value if full is None else full
            batched[leaf.slot] = full is not None
        for slot, value in sched.constants:
            values[slot] = value
        pass_ = _Pass(sched, shapes, values, batched, rows)
        pass_.forward()
        return pass_.pack(of)
    except (NotVectorised, GraphError, ValueError, TypeError, IndexError, ArithmeticError):
        return None  # the per-row loop runs instead, and reports any failure as run does
    finally:
        RESTORE(token)


class _Pass:
    def __init__(self, sched, shapes, values, batched, rows):
        self.sched, self.shapes, self.values, self.batched, self.rows = sched, shapes, values, batched, rows

    # ------------------------------------------------------------ forward
    def forward(self):
        for step in self.sched.steps:
            if not any(self.batched[a] for a in step.args):
                self.values[step.slot] = step.gate.forward(*[self.values[a] for a in step.args],
                                                           **step.options)
                continue
            args, options = self.operands(step), self.options(step)
            if step.gate.name in rules.INPLACE_FORWARD and _large(args[0]):
                self.values[step.slot] = _INPLACE_FORWARD[step.gate.name](args[0])
            else:
                self.values[step.slot] = step.gate.forward(*args, **options)
            self.batched[step.slot] = True

    def operands(self, step, backward=False) -> list:
        """Operand values with rows aligned: a batched operand gets unit axes after the batch
        axis up to the rank its row is broadcast to; unbatched ones broadcast by themselves
        (in the backward pass of a reduction they are repeated per row, as views)."""
        gate, shapes = step.gate, self.shapes
        ranks = [len(shapes[a]) for a in step.args]
        if gate.name == "matmul":
            if min(ranks) < 2:
                raise NotVectorised("matmul of a vector")
            target = max(ranks)
        elif gate.partials is not None:
            target = max(ranks)
        elif gate.name in REDUCTIONS and ranks[0] >= REDUCTIONS[gate.name]:
            target = ranks[0]
        else:
            raise NotVectorised(gate.name)
        out = []
        for a, rank in zip(step.args, ranks):
            value = self.values[a]
            if self.batched[a]:
                row = shapes[a]
                value = value.reshape((self.rows,) + (1,) * (target - rank) + row)
            elif backward and gate.partials is None:
                value = np.broadcast_to(value, (self.rows,) + shapes[a])
            out.append(value)
        return out

    def options(self, step) -> dict:
        if "axis" not in step.options:
            return step.options
        rank = len(self.shapes[step.args[0]])
        axis = step.options["axis"]
        if axis is None:
            axis = tuple(range(rank))
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        return dict(step.options, axis=tuple(a % rank + 1 for a in axes) if rank else ())

    # ------------------------------------------------------------ backward
    def pack(self, of: str):
        sched, rows = self.sched, self.rows
        plan = sched.plans[of]
        if not self.batched[plan.seed]:
            raise NotVectorised("the output does not depend on the batch")
        grads = [None] * len(sched.ids)
        grads[plan.seed] = np.ones((rows,) + self.shapes[plan.seed], np.result_type(self.values[plan.seed]))
        for back in plan.steps:
            step = back.step
            g = grads[step.slot]
            if g is None:
                continue
            args = self.operands(step, backward=True)
            options = self.options(step)  # the cotangent is per row even where the value is shared
            out = self.values[step.slot]
            for i, (a, need) in enumerate(zip(step.args, back.needs)):
                if not need:
                    continue
                if step.gate.name in _INPLACE_VJP and _large(g) and _large(out) and g.shape == out.shape:
                    # The rule's g * partial(out), same bits, fewer passes; the seed is ones.
                    ct = _INPLACE_PARTIAL[step.gate.name](out) if step.slot == plan.seed else \
                        _INPLACE_VJP[step.gate.name](g, out)
                else:
                    ct = step.gate.vjps[i](g, out, *args, **options)
                ct = unbroadcast_rows(ct, self.shapes[a])
                grads[a] = ct if grads[a] is None else grads[a] + ct
            grads[step.slot] = None  # a node's gradient is complete once its step ran
        outputs = {name: self.stacked(slot) for name, slot in sched.outputs}
        leaf_grads = {leaf.name: _writeable(grads[leaf.slot]) if grads[leaf.slot] is not None
                      else np.zeros((rows,) + self.shapes[leaf.slot]) for leaf in sched.leaves}
        return outputs, leaf_grads

    def stacked(self, slot):
        value = self.values[slot]
        if self.batched[slot]:
            return _writeable(value)
        return np.repeat(np.asarray(value)[None], self.rows, axis=0)


# The in-place rules of the compiled run (rules.py): the same ufuncs on the same values as
# the gate table's rules, with fewer full-size temporaries, for large float64 arrays.
_INPLACE_FORWARD = {"sigmoid": rules.sigmoid_inplace}
_INPLACE_VJP = {"sigmoid": rules.sigmoid_vjp_inplace, "tanh": rules.tanh_vjp_inplace}
_INPLACE_PARTIAL = {"sigmoid": rules.sigmoid_partial_inplace, "tanh": rules.tanh_partial_inplace}


def _large(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == np.float64 and value.size >= rules.INPLACE_MIN


def _writeable(value):
    value = np.asarray(value)
    return value if value.flags.writeable else value.copy()


def unbroadcast_rows(ct, row_shape: tuple):
    """``execute.unbroadcast`` applied to each row: sum a cotangent of shape
    (rows, *broadcast row) back to (rows, *row_shape), never over the batch axis."""
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
