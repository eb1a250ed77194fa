"""Markers for tests that need a part graphdsl does not depend on: they skip, saying
why, where it is missing (CI installs it, so they run there)."""
from __future__ import annotations

import shutil

import pytest

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="needs Graphviz's 'dot' program, which is not on PATH")


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


needs_numba = pytest.mark.skipif(not _has("numba"), reason="needs numba (the 'jit' extra), which is not installed")
