"""What the API hands out: Python floats and writable arrays, never one array twice."""
from __future__ import annotations

import numpy as np


def export(value):
    """A Python float for a scalar, a writable ndarray otherwise."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return float(value)
        return value if value.flags.writeable else value.copy()
    return float(value)


def owned(value):
    """A Python float for a scalar, else a copy: for a result that may be a caller's array."""
    if isinstance(value, np.ndarray) and value.ndim:
        return value.copy()
    return float(value)


def unshared(outputs: dict, grads: dict) -> tuple:
    """The results with no array handed out twice. A cotangent passed on unchanged (by
    +, identity, a sum of a scalar) is one array for several gradients, and two outputs
    may be views of one array: changing one in place would change the others, so the
    second and later are copies. (Read-only views of bound arrays cannot be changed.)"""
    seen = set()
    for results in (outputs, grads):
        for name, value in results.items():
            if value.__class__ is np.ndarray and value.flags.writeable:
                owner = value
                while isinstance(owner.base, np.ndarray):  # a view (a transpose, a row...)
                    owner = owner.base
                if id(owner) in seen:
                    results[name] = value.copy()
                seen.add(id(owner))
    return outputs, grads


def pack(sched, values, grads):
    """Outputs and leaf gradients by name from the reference interpreter's slots."""
    outputs = {name: export(values[slot]) for name, slot in sched.outputs}
    leaf_grads = {leaf.name: export(grads[leaf.slot]) if grads[leaf.slot] is not None
                  else export(np.zeros_like(values[leaf.slot])) for leaf in sched.leaves}
    return unshared(outputs, leaf_grads)
