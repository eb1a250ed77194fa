"""numpy's floating-point warnings off for the length of a run, cheaply.

``np.errstate(all="ignore")`` costs about 1 µs to enter and leave, as much as a whole
compiled run of a small matrix graph (BENCHMARKS.md, W4 n = 16). Setting numpy's own
context variable to a state prepared once costs a tenth of that. It is private to numpy,
so tests/run/test_quiet.py checks that it still holds what errstate sets, and falls back
to the public context manager where it is missing.
"""
from __future__ import annotations

import numpy as np


def _quiet():
    try:
        from numpy._core._ufunc_config import _extobj_contextvar as var
    except ImportError:  # another numpy: the public context manager
        return _public()
    with np.errstate(all="ignore"):
        ignore = var.get()
    return (lambda: var.set(ignore)), var.reset


def _public():
    def enter():
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    return enter, lambda state: state.__exit__(None, None, None)


QUIET, RESTORE = _quiet()
