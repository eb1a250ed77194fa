"""The leaves' default values in a schedule: drawn params, ``with_params``, the params
``to_text`` writes, and how the arrays a Program shares with every run are pickled.

A default is shared by every run of a Program, so an array default is read-only: a
run may not write into it, and a result hands out a copy of it (codegen.export). A
pickled Program keeps it so (``dumps``).
"""
from __future__ import annotations

import copyreg
import io
import pickle
from dataclasses import replace

import numpy as np

from .bindings import read_only, to_value
from ..errors import BindingError
from ..graph.leaves import shape_mismatch
from ..graph.model import Model, paused_gc
from ..graph.schedule import Schedule


def drawn(sched: Schedule, model: Model, seed: int) -> Schedule:
    """Draw the initial value of every ``param ~ dist(...)``, in declaration order."""
    rng = np.random.default_rng(seed)
    values = {}
    for name, data in model.leaves:
        if data["kind"] != "param" or data["init"] is None:
            continue
        dist, args = data["init"]
        shape = data["shape"] or ()
        if dist == "normal":
            value = rng.normal(args[0], args[1], size=shape)
        elif dist == "uniform":
            value = rng.uniform(args[0], args[1], size=shape)
        else:
            value = np.zeros(shape)
        values[name] = float(value) if not shape else value
    return replaced(sched, values) if values else sched


def with_params(sched: Schedule, params) -> Schedule:
    """The schedule with these param defaults (checked as bindings are), the rest unchanged."""
    leaves = {leaf.name: leaf for leaf in sched.leaves}
    updated = {}
    for name, value in params.items():
        leaf = leaves.get(name)
        if leaf is None or leaf.kind != "param":
            params_ = [leaf.name for leaf in sched.leaves if leaf.kind == "param"]
            raise BindingError(f"'{name}' is not a param of this graph (params: "
                               f"{', '.join(params_) or 'none'})")
        value = to_value(value, name, leaf.span)
        problem = leaf.shape is not None and shape_mismatch(np.shape(value), leaf.shape, {})
        if problem:
            raise BindingError(f"param '{name}' {problem}", leaf.span)
        updated[name] = value
    return replaced(sched, updated)


def replaced(sched: Schedule, values: dict) -> Schedule:
    leaves = tuple(replace(leaf, default=own(values[leaf.name])) if leaf.name in values else leaf
                   for leaf in sched.leaves)
    return replace(sched, leaves=leaves)


def own(value):
    """A read-only copy of an array: changing the caller's array later must not change the Program."""
    return read_only(np.array(value)) if isinstance(value, np.ndarray) else value


def to_write(model: Model, sched: Schedule) -> dict:
    """The params whose values the model's text does not give (for Program.to_text): set by
    with_params, or drawn (``~``) with another seed than loads' default. Drawn params keep
    their ``~`` only if all of them do: each draw takes the next numbers of one generator."""
    as_read = {leaf.name: leaf.default for leaf in model.schedule.leaves}
    params = {leaf.name: leaf.default for leaf in sched.leaves if leaf.kind == "param"}
    initialized = {name for name, data in model.leaves if data["init"] is not None}
    literal = False  # whether to write the drawn params' values instead of their '~'
    if initialized:
        again = drawn(model.schedule, model, 0).leaves
        literal = not all(_same_bits(params[leaf.name], leaf.default) for leaf in again
                          if leaf.name in initialized)
    return {name: value for name, value in params.items()
            if (literal if name in initialized else value is not as_read[name])}


def _same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def dumps(state) -> bytes:
    """A Program's model and schedule pickled, their arrays as their bytes (see _array)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, np.ndarray: _reduce_array}
    pickler.dump(state)
    return buffer.getvalue()


def _reduce_array(value: np.ndarray):
    if value.dtype.hasobject:
        return value.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
    return _array, (value.dtype.str, value.shape, value.tobytes(), value.flags.writeable)


def _array(dtype: str, shape: tuple, data: bytes, writeable: bool) -> np.ndarray:
    """An array as it was pickled, read-only if it was (numpy's own pickles come back
    writeable, and a default shared by every run must not be), with numpy's own dtype
    object (an unpickled dtype is an equal copy, which numpy's ufuncs and the compiled
    run's type checks take a slower path for)."""
    value = np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape)
    return value.copy() if writeable else value


def loads(state: bytes):
    """What dumps pickled (the caller unpickles its own data), with the cyclic GC paused."""
    with paused_gc():
        return pickle.loads(state)  # noqa: S301 -- the caller unpickles: its data
