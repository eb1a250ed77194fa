"""The compiled fast path of ``Program.run``: one ``Kernel`` per differentiated output.

A call binds, computes and packs; everything else was decided once:

* ``entry(bindings)`` is generated per output. When every leaf is a Python float it
  runs the float code (straight-line ``math`` and float arithmetic, no numpy);
  anything else, or a float operation that raises where numpy would give inf or
  nan, goes to ``general``.
* ``general`` binds through bindings.bind (the errors users see), then runs numpy
  code specialised to the leaves' shapes, generated on the first call with those
  shapes (a forward pass that keeps nothing it no longer needs finds every shape).
* Any failure inside compiled code reruns the call on the reference interpreter,
  which raises the NumericError naming the gate and its line, as it always did.
* The Result is lazy: node values and node gradients are recomputed by the
  reference interpreter on first access.
"""
from __future__ import annotations

import numpy as np

from ..graph.model import paused_gc
from ..run import interpret
from ..run.bindings import bind, read_only
from ..run.quiet import QUIET, RESTORE
from . import floatcode, fused, numpycode
from ..run.export import pack
from .source import build, function, source

MAX_SHAPE_VARIANTS = 16  # numpy kernels kept per output (one per set of leaf shapes)
MISSING = object()


class Kernel:
    """The compiled run of one output: ``kernel(bindings) -> Result``.

    forwardmode.ForwardKernel is the same machinery for ``forward``: its hooks are the
    listings, the reference and how the entry hands the numbers back."""

    RESULTS = "outputs, grads"  # the generated code's results, as the entry names them...
    RETURN = "RESULT(PROG, OF, outputs, grads, b)"  # ...and what the entry returns
    QUIET_FLOATS = False  # float code that calls numpy (which warns where math raises)
    FUSE = True  # large elementwise graphs may run as one numba loop (compiled/fused.py)

    def __init__(self, program, of: str, make_result):
        self.program, self.of, self.make_result = program, of, make_result
        self.schedule = program.schedule
        self.float_capable = self._float_capable()
        self.floats = self._compile_floats  # replaced by the compiled code on first use
        self.arrays: dict = {}
        self.outputs_may_alias = outputs_may_alias(self.schedule)
        self.entry = self._entry()
        self.entry.kernel = self  # for inspection: prog._kernels[of].kernel.float_source

    # ------------------------------------------------------------ float code
    def _float_capable(self) -> bool:
        """Whether every leaf may be a float and every step has float code (its listing is
        written on the first all-float call: a graph that only ever sees arrays never does)."""
        sched = self.schedule
        if any(leaf.shape or (leaf.default is not None and not isinstance(leaf.default, float))
               for leaf in sched.leaves):
            return False
        if any(np.ndim(value) for _, value in sched.constants):
            return False
        return floatcode.supported(sched, self.of)

    def float_listing(self):
        return floatcode.run_listing(self.schedule, self.of)

    def numpy_listing(self, shapes, float64: bool):
        return numpycode.run_listing(self.schedule, self.of, shapes, float64)

    def finish(self, results, bindings):
        """What a call returns, from what the generated code (or the reference) gave."""
        outputs, grads = results
        return self.make_result(self.program, self.of, outputs, grads, bindings)

    def _compile_floats(self, *leaf_values):
        with paused_gc():
            listing = self.float_listing()
            self.float_source = source(listing.statements, listing.params, "floats")
            self.floats = build(self.float_source, listing.namespace, "floats")
        self.entry_namespace["FLOATS"] = self.floats
        return self.floats(*leaf_values)

    def _entry(self):
        """Generated binder: Python floats go straight to the float code, float64 arrays
        and floats to the numpy code of their shapes; anything else through bind()."""
        leaves = self.schedule.leaves
        ns = {"MISSING": MISSING, "FLOATS": self.floats, "GENERAL": self.general,
              "ARRAYS": self.run_arrays, "RESULT": self.make_result, "PROG": self.program,
              "OF": self.of, "NDARRAY": np.ndarray, "F64": np.dtype(np.float64)}
        required, optional = ["try:"], ["m = 0"]
        for k, leaf in enumerate(leaves):
            ns[f"K{k}"] = leaf.name
            if leaf.default is None:
                required.append(f"    v{k} = b[K{k}]")
            else:
                ns[f"D{k}"] = leaf.default
                optional += [f"v{k} = b.get(K{k}, D{k})", f"if v{k} is D{k}: m += 1"]
        lines = required + ["except KeyError:", "    return GENERAL(b)"] if len(required) > 1 else []
        lines += optional + [f"if len(b) + m != {len(leaves)}: return GENERAL(b)"]
        names = ", ".join(f"v{k}" for k in range(len(leaves)))
        if self.float_capable:
            floats = " and ".join(f"v{k}.__class__ is float" for k in range(len(leaves))) or "True"
            ns.update(QUIET=QUIET, RESTORE=RESTORE)
            lines += [f"if {floats}:"] + ["    " + line for line in _float_call(self, names)]
        dims: dict = {}
        for k, leaf in enumerate(leaves):
            lines += _array_lane(k, leaf.shape, dims)
        shapes = "".join(f"s{k}, " for k in range(len(leaves)))
        values = f"({names}{',' if len(leaves) == 1 else ''})"
        lines.append(f"key = ({shapes})")
        if not self.outputs_may_alias:
            # The numpy code of these shapes, called here: run_arrays' frame costs ~5% of a
            # small matrix's run. A failure goes through run_arrays (the reference interpreter).
            ns.update(KERNELS=self.arrays, QUIET=QUIET, RESTORE=RESTORE)
            lines += ["k = KERNELS.get(key)",
                      "if k is not None:",
                      "    t = QUIET()",
                      "    try:",
                      f"        {self.RESULTS} = k({names})",
                      "    except Exception:",
                      f"        return ARRAYS(b, {values}, key)",
                      "    finally:",
                      "        RESTORE(t)",
                      f"    return {self.RETURN}"]
        lines.append(f"return ARRAYS(b, {values}, key)")
        self.entry_source = function("entry", ("b",), lines)
        self.entry_namespace = ns
        return build(self.entry_source, ns, "entry")

    # ------------------------------------------------------------ numpy code
    def general(self, bindings: dict):
        """Any bindings: bind() converts them (or raises the BindingError users see)."""
        leaf_values = bind(self.schedule.leaves, bindings)
        if self.float_capable and all(v.__class__ is float for v in leaf_values):
            token = QUIET() if self.QUIET_FLOATS else None
            try:
                return self.finish(self.floats(*leaf_values), bindings)
            except (ArithmeticError, ValueError):
                pass
            finally:
                if token is not None:
                    RESTORE(token)
        key = tuple(np.shape(v) for v in leaf_values)
        if not all(v.__class__ is float or getattr(v, "dtype", None) == np.float64 for v in leaf_values):
            key += ("not float64",)  # the entry's own keys are float64 values only
        return self.run_arrays(bindings, leaf_values, key)

    def run_arrays(self, bindings: dict, leaf_values, key: tuple):
        if self.outputs_may_alias:  # read-only views, as bind() makes: results hand out copies
            leaf_values = [read_only(value) for value in leaf_values]
        token = QUIET()
        try:
            kernel = self.arrays.get(key) or self._specialise(key, leaf_values)
            results = kernel(*leaf_values)
        except Exception:  # noqa: BLE001 -- the reference interpreter names the failing gate
            results = self._reference(list(leaf_values))
        finally:
            RESTORE(token)
        return self.finish(results, bindings)

    def _specialise(self, key, leaf_values):
        shapes = self.shapes(leaf_values)
        with paused_gc():
            float64 = not key or key[-1] != "not float64"
            kernel = fused.kernel(self.schedule, self.of, shapes, float64) if self.FUSE else None
            if kernel is None:  # (fused: one numba loop, where the graph and the size allow)
                listing = self.numpy_listing(shapes, float64)
                kernel = build(source(listing.statements, listing.params, "arrays"), listing.namespace, "arrays")
        keep(self.arrays, key, kernel)
        return kernel

    def shapes(self, leaf_values) -> list:
        return fused.shapes(self.schedule, leaf_values) or interpret.shapes(self.schedule, leaf_values)

    def _reference(self, leaf_values):
        values = interpret.forward(self.schedule, leaf_values)
        grads = interpret.backward(self.schedule, self.of, values)
        return pack(self.schedule, values, grads)


def outputs_may_alias(sched) -> bool:
    """Whether an output can be a caller's array itself (``output y = x``) or a view of
    it, which a result must not hand out: the caller would change their own input."""
    aliasing = {leaf.slot for leaf in sched.leaves}
    for step in sched.steps:
        if step.gate.aliases and step.args[0] in aliasing:
            aliasing.add(step.slot)
    return any(slot in aliasing for _, slot in sched.outputs)


def _float_call(kernel, names: str) -> list:
    """Entry lines calling the float code (inside numpy's quiet errstate where it calls
    numpy); a float operation that raises goes to GENERAL (numpy gives inf or nan)."""
    lines = ["try:", f"    {kernel.RESULTS} = FLOATS({names})",
             "except (ArithmeticError, ValueError):", "    return GENERAL(b)"]
    if kernel.QUIET_FLOATS:
        lines = ["t = QUIET()"] + lines + ["finally:", "    RESTORE(t)"]
    return lines + [f"return {kernel.RETURN}"]


def keep(cache: dict, key, code) -> None:
    """Add compiled code to a cache of at most MAX_SHAPE_VARIANTS, dropping the oldest."""
    if len(cache) >= MAX_SHAPE_VARIANTS:
        cache.pop(next(iter(cache)))
    cache[key] = code


def _array_lane(k: int, declared, dims: dict) -> list:
    """Entry lines accepting leaf k as a Python float or a float64 ndarray of its declared
    shape (named dimensions become generated locals d0, d1...), with its shape in s<k>."""
    v = f"v{k}"
    rank = "== 0" if declared is None else f"!= {len(declared)}"
    # (An unpickled array's dtype equals float64 without being numpy's own dtype object.)
    lines = [f"if {v}.__class__ is NDARRAY:",
             f"    if {v}.dtype is not F64 and {v}.dtype != F64 or {v}.ndim {rank}: return GENERAL(b)",
             f"    s{k} = {v}.shape"]
    for j, dim in enumerate(declared or ()):
        if isinstance(dim, int):
            lines.append(f"    if s{k}[{j}] != {dim}: return GENERAL(b)")
        elif dim in dims:
            lines.append(f"    if s{k}[{j}] != {dims[dim]}: return GENERAL(b)")
        else:
            dims[dim] = f"d{len(dims)}"
            lines.append(f"    {dims[dim]} = s{k}[{j}]")
    float_ok = "" if declared else f"elif {v}.__class__ is float: s{k} = ()\n"
    return lines + (float_ok + "else: return GENERAL(b)").split("\n")
