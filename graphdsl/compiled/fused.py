"""Fused loops with numba (the optional ``jit`` extra): forward and backward of an
elementwise graph in one pass over the elements.

numpy code makes every gate a pass over memory and a temporary the size of the data;
on 10^6 samples that traffic, not the arithmetic, is the time. When every step of a
graph is elementwise and every value is either a scalar or of one common shape, the
whole of ``run`` is one loop: per element, the float code of ``run`` (the same rule
expressions, written by floatcode.py from the gate records, in its "loop" mode: a gate
stated as an expression is written out from it), the outputs and the arrays' gradients
stored, and the terms of the scalar leaves' gradients (numpy's sums of broadcast
cotangents) kept in a buffer per block of BLOCK elements and summed after the block's
loop, which LLVM can then vectorise. Blocks run in parallel (prange); their sums are
added in a fixed order with Kahan's compensation, so the numbers do not depend on the
threads and stay within ~1e-15 of numpy's pairwise sums.

Used from MIN_SIZE elements, never below: the loop was measured faster than numpy's
passes at every size, but a first compile costs ~1-2 s (BENCHMARKS.md, issue 16).
``GRAPHDSL_JIT=0`` turns it off, ``GRAPHDSL_JIT=always`` uses it at any size (the tests).
numba is imported only when a graph qualifies, so without it (or below the threshold)
nothing changes. The generated source is written to the cache folder under a hash of
itself and of what compiles it, and compiled with ``cache=True``: a second process
loads the machine code numba saved beside it.
"""
from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..errors import NoCode
from . import floatcode

MIN_SIZE = 1 << 15  # elements: measured (BENCHMARKS.md, issue 16); a first compile pays off above it
BLOCK = 1024  # elements summed plainly before a compensated add to the total
_NUMBA: list = []  # [the module] or [None]: imported on first need, once
_LOADED: dict = {}  # hash -> compiled function, in this process
_VECTOR_LIBRARY: list = []  # "libmvec" where LLVM vectorises maths with glibc's, else "": set by load()


def mode() -> str:
    """"off", "always" or "auto" (the default), from GRAPHDSL_JIT."""
    value = os.environ.get("GRAPHDSL_JIT", "").strip().lower()
    if value in ("0", "off", "false", "no"):
        return "off"
    return "always" if value in ("always", "force") else "auto"


def numba():
    if not _NUMBA:
        try:
            import numba as module
        except ImportError:
            module = None
        _NUMBA.append(module)
    return _NUMBA[0]


def _vector_library(numba) -> str:
    """Where glibc's vector maths (libmvec) is there and numba has no SVML, LLVM is told
    to use it: a loop over exp, log, sin... then runs 4 elements at a time (a W5 loop in
    ~1/5 of the time; libmvec's results are within 4 ulp). The setting is the process's
    (numba sets SVML the same way), so it is made by the first compile or load of a fused
    loop, never by importing graphdsl or numba; GRAPHDSL_JIT_VECLIB=0 leaves LLVM as numba
    set it."""
    if numba.config.USING_SVML or os.environ.get("GRAPHDSL_JIT_VECLIB", "").strip() == "0":
        return ""
    if not sys.platform.startswith("linux") or platform.machine() not in ("x86_64", "AMD64"):
        return ""
    try:
        import ctypes

        import llvmlite.binding as llvm

        ctypes.CDLL("libmvec.so.1", mode=ctypes.RTLD_GLOBAL)
        llvm.load_library_permanently("libmvec.so.1")  # the JIT resolves _ZGV... symbols here
        llvm.set_option("graphdsl", "-vector-library=LIBMVEC-X86")
    except (OSError, RuntimeError, ImportError):
        return ""
    return "libmvec"


def cache_dir() -> Path:
    root = os.environ.get("GRAPHDSL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "graphdsl")
    return Path(root) / "jit"


def kernel(schedule, of: str, shapes: list, float64: bool):
    """The fused ``run`` of these shapes, ``kernel(*leaf values) -> (outputs, grads)``, or
    None where it does not apply (or does not pay, or numba is missing)."""
    setting = mode()
    if setting == "off" or not float64:
        return None
    size = _common_size(schedule, of, shapes)
    if size is None or (size < MIN_SIZE and setting != "always") or numba() is None:
        return None
    try:
        return Fused(schedule, of, shapes)
    except NoCode:
        return None


def _common_size(schedule, of: str, shapes: list):
    """The number of elements when every step is elementwise, every value a scalar or of
    one shape, and every output of that shape; else None."""
    if not schedule.steps or not all(step.gate.elementwise for step in schedule.steps):
        return None
    if any(np.ndim(value) for _, value in schedule.constants):
        return None
    common = {tuple(shape) for shape in shapes if shape != ()}
    if len(common) != 1:
        return None
    shape, = common
    if any(tuple(shapes[slot]) != shape for _, slot in schedule.outputs):
        return None
    return math.prod(shape) or None


def shapes(schedule, leaf_values):
    """Every node's shape from the operands' shapes alone, where every step is elementwise
    (numpy's broadcasting); None otherwise, or where they do not broadcast (the caller's
    forward pass finds the shapes, or the error). A first call on 10^6 samples then does
    not compute every value once just to learn its shape."""
    if not all(step.gate.elementwise for step in schedule.steps):
        return None
    found = [()] * len(schedule.ids)
    for leaf, value in zip(schedule.leaves, leaf_values):
        found[leaf.slot] = np.shape(value)
    for slot, value in schedule.constants:
        found[slot] = np.shape(value)
    for step in schedule.steps:
        shape = step.gate.infer_shape([found[a] for a in step.args], step.options or {})
        if shape is None or None in shape:
            return None
        found[step.slot] = tuple(shape)
    return found


class Fused:
    """The loop's source, its compiled function and the call that lays out its arrays."""

    def __init__(self, schedule, of: str, shapes: list):
        self.schedule, self.of = schedule, of
        self.shape = next(tuple(shapes[slot]) for _, slot in schedule.outputs)
        statements, names, grads = floatcode.element_program(schedule, of)
        leaves = schedule.leaves
        self.arrays = [leaf for leaf in leaves if shapes[leaf.slot] != ()]
        self.scalars = [leaf for leaf in leaves if shapes[leaf.slot] == ()]
        self.array_grads = [leaf for leaf in self.arrays if leaf.slot in grads]
        self.scalar_grads = [leaf for leaf in self.scalars if leaf.slot in grads]
        self.output_names = [name for name, _ in schedule.outputs]
        self.source = self._source(statements, names, grads)
        self.function = load(self.source)

    def _source(self, statements, names, grads) -> str:
        params = ([f"in_{leaf.slot}" for leaf in self.arrays] + [f"v{leaf.slot}" for leaf in self.scalars] +
                  [f"out_{k}" for k in range(len(self.output_names))] +
                  [f"gr_{leaf.slot}" for leaf in self.array_grads] + ["red_", "n_"])
        sums = [f"{k}" for k in range(len(self.scalar_grads))]
        arrays = ([f"in_{leaf.slot}" for leaf in self.arrays] + [f"out_{k}" for k in range(len(self.output_names))]
                  + [f"gr_{leaf.slot}" for leaf in self.array_grads])
        body = [f"v{leaf.slot} = in_{leaf.slot}b_[i_]" for leaf in self.arrays]
        body += [stmt.text for stmt in statements]
        body += [f"out_{k}b_[i_] = {names[slot]}" for k, (_, slot) in enumerate(self.schedule.outputs)]
        body += [f"gr_{leaf.slot}b_[i_] = {grads[leaf.slot]}" for leaf in self.array_grads]
        # The terms of the sums go to a block's buffer and are added in a loop of their own:
        # a sum in the loop itself would keep LLVM from vectorising it (exp over 4 lanes).
        body += [f"buf_[{k}, i_] = {grads[leaf.slot]}" for k, leaf in zip(sums, self.scalar_grads)]
        # Blocks run in parallel (prange); each block's sums are kept and added in order
        # afterwards, so the numbers do not depend on the number of threads.
        lines = [f"nblk_ = (n_ + {BLOCK - 1}) // {BLOCK}", f"part_ = np.empty((nblk_, {max(1, len(sums))}))",
                 "for b_ in numba.prange(nblk_):",
                 f"    start_ = b_ * {BLOCK}", f"    stop_ = min(start_ + {BLOCK}, n_)",
                 f"    buf_ = np.empty(({max(1, len(sums))}, {BLOCK}))"]
        # Each block reads and writes slices of its own, indexed from 0 by the loop: an index
        # LLVM can tell is never negative (no wrap-around test), so it vectorises the loop.
        lines += [f"    {name}b_ = {name}[start_:stop_]" for name in arrays]
        lines += ["    for i_ in range(stop_ - start_):"] + [f"        {line}" for line in body]
        # A block's sum in eight running sums, as numpy's pairwise sum starts: one chain of
        # dependent adds would wait on each add's latency (W5: ~2 of its ~3.5 ms).
        lanes = [f"r{j}_" for j in range(8)]
        for k in sums:
            lines += ["    m_ = stop_ - start_", f"    {' = '.join(lanes)} = 0.0",
                      "    for j_ in range(0, m_ - 7, 8):"]
            lines += [f"        {lane} += buf_[{k}, j_ + {j}]" for j, lane in enumerate(lanes)]
            lines += ["    blk_ = ((r0_ + r1_) + (r2_ + r3_)) + ((r4_ + r5_) + (r6_ + r7_))",
                      "    for j_ in range(m_ - m_ % 8, m_):", f"        blk_ += buf_[{k}, j_]",
                      f"    part_[b_, {k}] = blk_"]
        if sums:  # Kahan: the blocks' sums added with their rounding errors carried
            lines += [f"tot_{k} = 0.0; cmp_{k} = 0.0" for k in sums]
            lines += ["for b_ in range(nblk_):"]
            for k in sums:
                lines += [f"    y_ = part_[b_, {k}] - cmp_{k}", f"    s_ = tot_{k} + y_",
                          f"    cmp_{k} = (s_ - tot_{k}) - y_", f"    tot_{k} = s_"]
            lines += [f"red_[{k}] = tot_{k}" for k in sums]
        # inputs read-only (bound values are read-only views; a writable array converts)
        types = (["IN_"] * len(self.arrays) + ["numba.float64"] * len(self.scalars) +
                 ["OUT_"] * (len(self.output_names) + len(self.array_grads) + 1) + ["numba.int64"])
        head = ["# generated by graphdsl (compiled/fused.py) from the gate records' rules",
                "import numba", "import numpy as np", "from graphdsl.gates.expr import NAMESPACE as _NAMESPACE",
                "globals().update(_NAMESPACE)",
                "IN_ = numba.types.Array(numba.float64, 1, 'C', readonly=True)",
                "OUT_ = numba.float64[::1]", "",
                f"@numba.njit(numba.void({', '.join(types)}), cache=True, error_model='numpy', nogil=True, parallel=True)",
                f"def fused({', '.join(params)}):"]
        return "\n".join(head + [f"    {line}" for line in lines]) + "\n"

    def __call__(self, *values):
        n, shape = math.prod(self.shape), self.shape
        by_slot = {leaf.slot: value for leaf, value in zip(self.schedule.leaves, values)}
        arrays = [np.ascontiguousarray(by_slot[leaf.slot]).reshape(-1) for leaf in self.arrays]
        scalars = [float(by_slot[leaf.slot]) for leaf in self.scalars]
        outputs = [np.empty(n) for _ in self.output_names]
        grads = [np.empty(n) for _ in self.array_grads]
        red = np.empty(max(1, len(self.scalar_grads)))
        self.function(*arrays, *scalars, *outputs, *grads, red, n)
        found = {leaf.name: g.reshape(shape) for leaf, g in zip(self.array_grads, grads)}
        found.update((leaf.name, float(red[k])) for k, leaf in enumerate(self.scalar_grads))
        leaf_grads = {leaf.name: found[leaf.name] if leaf.name in found else
                      (0.0 if leaf in self.scalars else np.zeros(shape)) for leaf in self.schedule.leaves}
        return {name: out.reshape(shape) for name, out in zip(self.output_names, outputs)}, leaf_grads


def load(source: str):
    """The compiled function of a generated module: written once under the hash of its
    text (and of the versions that compile it), imported, compiled or loaded from numba's
    cache beside it."""
    mod = numba()
    if not _VECTOR_LIBRARY:
        _VECTOR_LIBRARY.append(_vector_library(mod))
    versions = [mod.__version__, np.__version__, sys.version, _VECTOR_LIBRARY[0]]
    key = hashlib.sha256("\n".join([source] + versions).encode()).hexdigest()[:24]
    found = _LOADED.get(key)
    if found is not None:
        return found
    path = _write(f"graphdsl_jit_{key}.py", source)
    spec = importlib.util.spec_from_file_location(f"graphdsl_jit_{key}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # numba's cache finds the function's globals by module name
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001 -- a rule numba cannot type: numpy code instead
        del sys.modules[spec.name]
        raise NoCode(f"numba: {type(error).__name__}: {error}") from error
    found = _LOADED[key] = module.fused
    return found


def _write(name: str, source: str) -> Path:
    """The file, written atomically if it is not there (a file numba has cached code for
    is never rewritten: its cache is keyed by the file's time stamp)."""
    for folder in (cache_dir(), Path(tempfile.gettempdir()) / f"graphdsl-jit-{getattr(os, 'getuid', lambda: 0)()}"):
        path = folder / name
        try:
            if not path.exists():
                folder.mkdir(parents=True, exist_ok=True)
                partial = folder / f".{name}.{os.getpid()}"
                partial.write_text(source)
                os.replace(partial, path)
            return path
        except OSError:
            continue
    raise NoCode("no writable cache folder")
