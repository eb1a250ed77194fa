"""``Program.run_batch`` on ``dask.array`` bindings: each chunk of rows is one task.

Imported only when a binding is a dask array (``is_dask`` tells without importing
dask), so that nothing else ever imports it. Every chunk runs the same vectorised
evaluator as numpy bindings (``Program.run_batch`` on that chunk's rows), hence the same
numbers. The Program is one key of the task graph: Dask sends it, pickled, once to
each worker that runs a chunk (unpickling is 3-27 times cheaper than parsing the text
again, BENCHMARKS.md "Sending a Program to workers"), and every chunk on that worker
uses the one copy, with its compiled code.
"""
from __future__ import annotations

import hashlib
import pickle

import numpy as np

import dask
import dask.array as da

from ..errors import BindingError
from .result import BatchResult


def is_dask(value) -> bool:
    """Whether ``value`` is a dask collection, told without importing dask."""
    return type(value).__module__.startswith("dask")


def program_key(program):
    """The Program as one delayed key, named by its pickle: one transfer per worker."""
    state = pickle.dumps(program, protocol=5)
    name = "graphdsl-program-" + hashlib.sha256(state).hexdigest()[:24]
    return dask.delayed(program, name=name, pure=True)


def run_batch(program, of: str, bindings: dict, shared: dict, split) -> BatchResult:
    """``run_batch`` with dask-array bindings: a BatchResult whose outputs and gradients
    are dask arrays chunked as the (first) batched binding along the rows. ``split`` is
    rows.split, the one rule of which values carry the batch axis."""
    batched, common = _classify(program, bindings, shared, split)
    first = next(iter(batched.values()))
    rows, chunks = first.shape[0], first.chunks[0]
    for name, value in batched.items():
        if value.shape[0] != rows:
            lengths = ", ".join(f"{n}: {v.shape[0]}" for n, v in batched.items())
            raise BindingError(f"run_batch bindings must share one leading length ({lengths})")
    # rows chunked as the first binding's; the rest of each row whole, in one chunk
    batched = {name: value.rechunk((chunks,) + tuple(-1 for _ in value.shape[1:]))
               for name, value in batched.items()}
    outputs, grads = _probe(program, of, batched, common)
    # One task per chunk, which packs every output and gradient of its rows as columns of
    # one array; each result is a lazy slice of it (computing several shares the task).
    layout, width = {}, 0
    for kind, made in (("outputs", outputs), ("grads", grads)):
        for name, (row, dtype) in made.items():
            size = int(np.prod(row, dtype=np.int64))
            layout[kind, name] = (width, size, row, dtype)
            width += size
    dtype = np.result_type(*[d for _, _, _, d in layout.values()]) if layout else np.float64
    names, prog = list(batched), program_key(program)
    args = [prog, None, of, None, names, None, common, None, layout, None, width, None]
    for k, name in enumerate(names):
        args += [batched[name], ("i",) + tuple(f"a{k}_{d}" for d in range(batched[name].ndim - 1))]
    packed = da.blockwise(_chunk, ("i", "j"), *args, new_axes={"j": width}, dtype=dtype, concatenate=True,
                          name="graphdsl-batch-" + dask.base.tokenize(prog.key, names, of, common,
                                                                         *batched.values()))
    result = object.__new__(BatchResult)  # (dask arrays: nothing is shared to copy)
    result.outputs, result.grads, result.of, result.rows = {}, {}, of, rows
    for (kind, name), (start, size, row, dtype_k) in layout.items():
        # (a scalar per row is one column: a getitem task per chunk, no reshape)
        part = packed[:, start] if row == () else packed[:, start:start + size].reshape((rows,) + row)
        part = part.astype(dtype_k, copy=False)
        getattr(result, kind)[name] = part
    return result


def _chunk(program, of: str, names: list, shared: dict, layout: dict, width: int, *blocks) -> np.ndarray:
    """One chunk on a worker: the vectorised evaluator on its rows, packed as columns."""
    result = program.run_batch(dict(zip(names, blocks)), of=of, shared=shared)
    rows = result.rows
    packed = np.empty((rows, width), np.result_type(*[d for _, _, _, d in layout.values()]))
    for (kind, name), (start, size, _, _) in layout.items():
        packed[:, start:start + size] = np.reshape(getattr(result, kind)[name], (rows, size))
    return packed


def _classify(program, bindings: dict, shared: dict, split) -> tuple:
    """``(batched dask arrays, shared values)`` by run_batch's rule (rows.split). A dask
    value without the batch axis is computed here (it is one row's size); a numpy value
    with it is chunked as the dask ones."""
    lazy = {name: value for name, value in bindings.items() if is_dask(value)}
    shared = {name: (value.compute() if is_dask(value) else value) for name, value in shared.items()}
    for name, value in lazy.items():
        if not hasattr(value, "chunks") or not hasattr(value, "ndim"):
            raise BindingError(f"'{name}' is a {type(value).__name__}: run_batch takes dask arrays "
                               "(a DataFrame's columns: df[name].to_dask_array(lengths=True))")
        if any(np.isnan(n) for n in value.shape):
            raise BindingError(f"'{name}' has chunks of unknown length: call its "
                               "compute_chunk_sizes() (or to_dask_array(lengths=True)) first")
    # zero-stride stand-ins of the dask values' shapes: split applies the rule unchanged
    stand_in = {name: np.broadcast_to(np.zeros((), value.dtype), value.shape) for name, value in lazy.items()}
    batched, common, _ = split(program.schedule.leaves, {**bindings, **stand_in}, shared)
    if not any(name in lazy for name in batched):
        raise BindingError("run_batch with dask arrays needs at least one of them with a leading "
                           "batch axis (one value per row)")
    first = next(name for name in bindings if name in batched and name in lazy)
    rows = lazy[first].chunks[0]
    ordered = {first: lazy[first]}
    for name in batched:
        if name != first:  # a numpy value with the batch axis, among dask ones
            ordered[name] = lazy[name] if name in lazy else da.from_array(batched[name], chunks=(rows,) + tuple(
                -1 for _ in np.shape(batched[name])[1:]))
    common = {name: (lazy[name].compute() if name in lazy else value) for name, value in common.items()}
    return ordered, common


def _probe(program, of: str, batched: dict, common: dict) -> tuple:
    """The per-row shape and dtype of every output and gradient: one row of zeros through
    the same evaluator (its numbers are not used)."""
    zeros = {name: np.zeros((1,) + value.shape[1:], value.dtype) for name, value in batched.items()}
    with np.errstate(all="ignore"):
        probe = program.run_batch(zeros, of=of, shared=common)
    describe = lambda values: {name: (np.shape(v)[1:], np.result_type(v)) for name, v in values.items()}
    return describe(probe.outputs), describe(probe.grads)
