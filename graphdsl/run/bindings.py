"""User values -> floats and arrays: defaults, declared shapes, named dimensions."""
from __future__ import annotations

import difflib

import numpy as np

from ..graph.leaves import shape_mismatch
from .calls import OPTIONS
from ..errors import BindingError

_KEEP = (np.float16, np.float32, np.float64)


def to_value(value, name: str, span=None):
    """A Python float for a scalar, a float ndarray otherwise (float64 unless given another float)."""
    if isinstance(value, float) and not isinstance(value, np.generic):
        return value
    try:
        if isinstance(value, (bool, int)) and not isinstance(value, np.generic):
            return float(value)
        if isinstance(value, (list, tuple)):
            # No dtype here: asked for float64, numpy would read None as NaN and "1" as 1.
            value = np.array(value)
            if value.dtype.kind == "O" and all(type(v) in (int, float) for v in value.flat):
                value = value.astype(np.float64)  # ints beyond int64: OverflowError past float64
            if value.dtype.kind not in "biuf":
                raise ValueError(value.dtype)
    except OverflowError:
        raise BindingError(f"'{name}' holds a number too large for a float64", span) from None
    except (ValueError, TypeError):
        raise BindingError(f"'{name}' must be a number or a rectangular array of numbers", span) from None
    if isinstance(value, np.ma.MaskedArray) and np.ma.is_masked(value):
        raise BindingError(f"'{name}' has masked entries: fill them first (.filled(value))", span)
    if isinstance(value, (np.generic, np.ndarray)) and type(value) is not np.ndarray:
        value = np.asarray(value)  # a plain array: for np.matrix, '*' would be a matrix product
    if not isinstance(value, np.ndarray):
        raise BindingError(f"'{name}' must be a number or an array, got {type(value).__name__}", span)
    if value.dtype.type not in _KEEP:
        if value.dtype.kind not in "biuf":
            raise BindingError(f"'{name}' must hold real numbers, got dtype {value.dtype}", span)
        value = value.astype(np.float64)
    if value.ndim == 0:
        return float(value) if value.dtype == np.float64 else value[()]
    return read_only(value)


def read_only(value):
    """An array nothing can write through: a read-only view of it (no copy), so that
    no step of a run can change the caller's array, and results hand out copies."""
    if isinstance(value, np.ndarray) and value.flags.writeable:
        value = value.view()
        value.flags.writeable = False
    return value


def bind(leaves, bindings: dict) -> list:
    """Values for the leaves, in the order of ``leaves``; raises BindingError."""
    known = {leaf.name for leaf in leaves}
    for name in bindings:
        if name not in known:
            raise BindingError(unknown_name(name, known))
    dims: dict = {}
    values = []
    for leaf in leaves:
        if leaf.name in bindings:
            value = to_value(bindings[leaf.name], leaf.name, leaf.span)
        elif leaf.default is not None:
            value = leaf.default
        else:
            example = f"{{'{leaf.name}': 1.0}}" if leaf.name in OPTIONS else f"{leaf.name}=1.0"
            raise BindingError(f"{leaf.kind} '{leaf.name}' has no value: bind it "
                               f"(e.g. {example}) or give it a default", leaf.span)
        if leaf.shape is not None:
            problem = shape_mismatch(np.shape(value), leaf.shape, dims)
            if problem:
                raise BindingError(f"{leaf.kind} '{leaf.name}' {problem}", leaf.span)
        values.append(value)
    return values


def unknown_name(name, known) -> str:
    if not isinstance(name, str):
        return f"a binding is named by an input or param's name (a str), got {name!r}"
    match = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f"; did you mean '{match[0]}'?" if match else ""
    names = sorted(known)
    listing = ", ".join(names[:10]) + (f" and {len(names) - 10:,} more" if len(names) > 10 else "")
    return f"unknown input '{name}'{hint} (inputs and params: {listing or 'none'})"
