"""Numbers for people and for JSON: one style shared by graphrun, the pictures and --explain.

Scalars print with six significant digits and without a trailing ``.0`` (``-4``,
``0.731059``); arrays print through numpy with their columns aligned, summarised
with ``...`` when large. JSON cannot hold NaN or infinities, so they become the
strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (which Python's ``float``
and JavaScript's ``Number`` both read back).
"""
from __future__ import annotations

import math

import numpy as np

LARGE = 12  # arrays with more entries than this are introduced by their shape
_EDGE = 3  # entries kept at each end of a summarised axis
_THRESHOLD = 200  # numpy summarises arrays with more entries than this


def format_number(x, digits: int | None = 6) -> str:
    """A float as a person reads it: ``-4``, ``0.731059``, ``1e-08``, ``nan``.

    ``digits=None`` keeps every digit (the shortest text that reads back exactly).

    >>> format_number(-4.0), format_number(0.7310585786300049), format_number(-0.0)
    ('-4', '0.731059', '0')
    """
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"  # also -0.0: the sign of a zero gradient only distracts
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x) if digits is None else f"{x:.{digits}g}"


def shape_text(shape) -> str:
    """``[2, 3]`` for a shape, the way error messages and labels write it."""
    return "[" + ", ".join(str(n) for n in shape) + "]"


def format_value(value) -> str:
    """A scalar or an array for a terminal; arrays may span several lines.

    >>> print(format_value(np.array([[1.0, -2.5], [10.0, 0.25]])))
    [[   1, -2.5],
     [  10, 0.25]]
    """
    if not isinstance(value, np.ndarray) or value.ndim == 0:
        return format_number(value)
    if value.size == 0:
        return f"[] (shape {shape_text(value.shape)})"
    width = max(len(format_number(x)) for x in _edges(value).flat)
    return np.array2string(value, separator=", ", threshold=_THRESHOLD, edgeitems=_EDGE,
                           max_line_width=100,
                           formatter={"all": lambda x: format_number(x).rjust(width)})


def format_compact(value, max_entries: int = 6) -> str:
    """One line: a number, a small array's entries, or a large array's shape.

    >>> format_compact(np.array([1.0, 2.0])), format_compact(np.zeros((3, 4)))
    ('[1, 2]', 'shape [3, 4]')
    """
    if not isinstance(value, np.ndarray) or value.ndim == 0:
        return format_number(value)
    if value.size > max_entries or value.size == 0:
        return f"shape {shape_text(value.shape)}"
    return _nested(value.tolist())


def _nested(items) -> str:
    if isinstance(items, list):
        return "[" + ", ".join(_nested(item) for item in items) + "]"
    return format_number(items)


def _edges(value: np.ndarray) -> np.ndarray:
    """The entries numpy shows when it summarises (all of them for small arrays)."""
    if value.size <= _THRESHOLD:
        return value
    for axis, n in enumerate(value.shape):
        if n > 2 * _EDGE:
            keep = list(range(_EDGE)) + list(range(n - _EDGE, n))
            value = np.take(value, keep, axis=axis)
    return value


def to_json(value):
    """A value as plain JSON data: floats, nested lists, and strings for NaN and infinities.

    >>> to_json(np.array([1.5, np.nan])), to_json(float("-inf"))
    ([1.5, 'NaN'], '-Infinity')
    """
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return to_json(float(value))
        if np.all(np.isfinite(value)):
            return value.astype(np.float64).tolist()
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, (bool, str)) or value is None:
        return value
    x = float(value)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x
