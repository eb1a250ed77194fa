"""Which bindings of ``run_batch`` carry the batch axis, and the per-row fallback.

One rule, which ``graphrun --batch`` follows too (``split``): a value is shared by
every row when it is given in ``shared``, is a scalar, or has the rank of its leaf's
declared shape; one rank more is one value per row; an array for a leaf without a
declared shape has its rows along its first axis.
"""
from __future__ import annotations

import numpy as np

from ..errors import BindingError
from .bindings import to_value, unknown_name
from .result import BatchResult


def run_rows(program, of: str, bindings: dict, shared: dict, vectorised) -> BatchResult:
    """``Program.run_batch``: ``vectorised(batched, shared, rows)`` (None where the graph
    does not vectorise), else ``run`` once per row, stacked. Dask-array bindings go to
    run/dask.py, imported only then."""
    if any(type(value).__module__.startswith("dask") for value in bindings.values()):
        from . import dask

        return dask.run_batch(program, of, bindings, shared, split)
    batched, shared, rows = split(program.schedule.leaves, bindings, shared)
    found = vectorised(batched, shared, rows)
    if found is not None:
        return BatchResult(*found, of, rows)
    if rows == 0:  # a row of zeros gives the shapes (and types) of the empty stacks
        one = program.run({**{name: np.zeros(value.shape[1:], value.dtype)
                              for name, value in batched.items()}, **shared}, of=of)
        empty = lambda values: {k: np.zeros((0,) + np.shape(v), np.result_type(v)) for k, v in values.items()}
        return BatchResult(empty(one.outputs), empty(one.grads), of, 0)
    results = [program.run({**{name: value[i] for name, value in batched.items()}, **shared}, of=of)
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
