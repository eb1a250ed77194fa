"""The compiled fast path of ``Program.run``: one ``Kernel`` per differentiated output.

A call binds, computes and packs; everything else was decided once:

* ``entry(bindings)`` is generated per output. When every leaf is a Python float it
  runs the float code (straight-line ``math`` and float arithmetic, no numpy);
  anything else, or a float operation that raises where numpy would give inf or
  nan, goes to ``general``.
* The float code is written and compiled on the first all-float call; a graph of more
  than TIER_STEPS steps has its first such call interpreted instead (threaded.py: the
  same numbers and exceptions) and compiles at the second.
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

from ..gates.lower import NoCode
from ..graph.model import paused_gc
from ..run import interpret
from ..run.bindings import bind, read_only
from ..run.quiet import QUIET, RESTORE
from ..run.result import Result, lazy
from . import floatcode, fused, numpycode, threaded
from ..run.export import pack
from .source import build, function, source

MAX_SHAPE_VARIANTS = 16  # numpy kernels kept per output (one per set of leaf shapes)
# Float code longer than this is called, not written into the entry: the ~0.1 µs saved
# matters to small graphs only, and a large graph's first run would compile it twice (W6).
INLINE_MAX = 256  # statements
# A graph of more steps interprets its float code on its first call and compiles it at the
# second: writing and compiling it costs ~9 times the interpreted call (W6, 10,000 steps:
# ~325 against ~36 ms); below, compiling costs under ~0.1 s (W3 depth 1,000: 3,000 steps,
# 85 ms) and a program run again would interpret once for nothing.
TIER_STEPS = 4_000
MISSING = object()


class Kernel:
    """The compiled run of one output: ``kernel(bindings) -> Result``.

    forwardmode.ForwardKernel is the same machinery for ``forward``: its hooks are the
    listings, the reference and how the entry hands the numbers back."""

    RESULTS = "outputs, grads"  # the generated code's results, as the entry names them...
    RETURN = "RESULT(PROG, OF, outputs, grads, b)"  # ...and what the entry returns
    QUIET_FLOATS = False  # float code that calls numpy (which warns where math raises)
    FUSE = True  # large elementwise graphs may run as one numba loop (compiled/fused.py)
    TIERED = True  # a large graph's first float call is interpreted (compiled/threaded.py)

    def __init__(self, program, of: str, make_result, schedule=None):
        self.program, self.of, self.make_result = program, of, make_result
        self.schedule = schedule or program.schedule  # (or one whose plan reaches fewer leaves)
        # A large graph's first float call is interpreted (None: not made yet; then False)
        self.tier = None if self.TIERED and len(self.schedule.steps) > TIER_STEPS else False
        self.float_capable = self._float_capable()
        self.floats = self._compile_floats  # replaced by the compiled code on first use (second if tiered)
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
        # (a tiered graph finds out on its first float call, which walks every step anyway)
        return self.tier is None or floatcode.supported(sched, self.of)

    def float_listing(self):
        return floatcode.run_listing(self.schedule, self.of)

    def numpy_listing(self, shapes, float64: bool):
        return numpycode.run_listing(self.schedule, self.of, shapes, float64)

    def finish(self, results, bindings):
        """What a call returns, from what the generated code (or the reference) gave."""
        outputs, grads = results
        return self.make_result(self.program, self.of, outputs, grads, bindings)

    def _compile_floats(self, *leaf_values):
        """The float code, written and compiled on the first all-float call; a tiered graph's
        interpreted (threaded.py) until a call does not raise, and compiled at the next."""
        if self.tier is None:
            self.tier = _interpreter(self)
        tier = self.tier  # (read once: another thread's call may end the tier meanwhile)
        if tier:
            results = tier(*leaf_values)
            self.tier = False
            return results
        with paused_gc():
            listing = self.float_listing()
            self.float_source = source(listing.statements, listing.params, "floats")
            self.floats = build(self.float_source, listing.namespace, "floats")
            self.entry_namespace["FLOATS"] = self.floats
            self._inline_floats(listing)
        return self.floats(*leaf_values)

    def _inline_floats(self, listing) -> None:
        """The entry made again with the float code written into it: a scalar run then
        makes no call and no tuple for it (~0.1 µs of W1's ~1). The function object
        stays (callers hold it); its code is replaced."""
        ns, statements = self.entry_namespace, listing.statements
        names = {name: value for name, value in listing.namespace.items() if not name.startswith("__")}
        if len(statements) > INLINE_MAX or not statements or not statements[-1].text.startswith("return ") or \
                set(names).intersection(ns):
            return
        body = [stmt.text for stmt in statements[:-1]] + [f"{self.RESULTS} = {statements[-1].text[7:]}"]
        ns.update(names)
        self.entry.__code__ = self._entry(listing.params, body, ns).__code__

    def _entry(self, names=None, float_body=None, ns=None):
        """Generated binder: Python floats go straight to the float code, float64 arrays
        and floats to the numpy code of their shapes; anything else through bind().
        ``names`` are the leaves' variables (the float code's parameters, where its
        ``float_body`` is written in)."""
        if ns is None:
            ns = self.entry_namespace = {
                "MISSING": MISSING, "FLOATS": self.floats, "GENERAL": self.general, "ARRAYS": self.run_arrays,
                "RESULT": self.make_result, "PROG": self.program, "OF": self.of, "NDARRAY": np.ndarray,
                "F64": np.dtype(np.float64), "QUIET": QUIET, "RESTORE": RESTORE, "KERNELS": self.arrays,
                "NEW": object.__new__, "RESULT_CLASS": Result}
        self.entry_source = function("entry", ("b",), _entry_lines(self, names, float_body, ns))
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


def _interpreter(kernel):
    """A tiered kernel's interpreter of its float code, made on its first float call."""
    with paused_gc():
        try:
            return threaded.Threaded(kernel.schedule, kernel.of)
        except NoCode:  # no float code after all: the entry without its float lane
            kernel.float_capable = False
            kernel.entry.__code__ = kernel._entry(ns=kernel.entry_namespace).__code__
    raise ValueError("no float code")  # (the entry's fallback: the numpy code)


def outputs_may_alias(sched) -> bool:
    """Whether an output can be a caller's array itself (``output y = x``) or a view of
    it, which a result must not hand out: the caller would change their own input."""
    aliasing = {leaf.slot for leaf in sched.leaves}
    for step in sched.steps:
        if step.gate.aliases and step.args[0] in aliasing:
            aliasing.add(step.slot)
    return any(slot in aliasing for _, slot in sched.outputs)


def _entry_lines(kernel, names, float_body, ns) -> list:
    leaves = kernel.schedule.leaves
    names = names or [f"v{k}" for k in range(len(leaves))]
    required, optional = ["try:"], []
    for k, (leaf, v) in enumerate(zip(leaves, names)):
        ns[f"K{k}"] = leaf.name
        if leaf.default is None:
            required.append(f"    {v} = b[K{k}]")
        else:
            ns[f"D{k}"] = leaf.default
            optional += [f"{v} = b.get(K{k}, D{k})", f"if {v} is D{k}: m += 1"]
    lines = required + ["except KeyError:", "    return GENERAL(b)"] if len(required) > 1 else []
    given = "len(b) + m" if optional else "len(b)"
    lines += (["m = 0"] if optional else []) + optional + [f"if {given} != {len(leaves)}: return GENERAL(b)"]
    if kernel.float_capable:
        floats = " and ".join(f"{v}.__class__ is float" for v in names) or "True"
        lines += [f"if {floats}:"] + ["    " + line for line in _float_call(kernel, ", ".join(names), float_body)]
    dims: dict = {}
    for k, (leaf, v) in enumerate(zip(leaves, names)):
        lines += _array_lane(k, v, leaf.shape, dims)
    shapes = "".join(f"s{k}, " for k in range(len(leaves)))
    values = f"({', '.join(names)}{',' if len(leaves) == 1 else ''})"
    lines.append(f"key = ({shapes})")
    if not kernel.outputs_may_alias:
        # The numpy code of these shapes, called here: run_arrays' frame costs ~5% of a
        # small matrix's run. A failure goes through run_arrays (the reference interpreter).
        lines += ["k = KERNELS.get(key)",
                  "if k is not None:",
                  "    t = QUIET()",
                  "    try:",
                  f"        {kernel.RESULTS} = k({', '.join(names)})",
                  "    except Exception:",
                  f"        return ARRAYS(b, {values}, key)",
                  "    finally:",
                  "        RESTORE(t)",
                  *["    " + line for line in _returns(kernel)]]
    return lines + [f"return ARRAYS(b, {values}, key)"]


def _float_call(kernel, names: str, body=None) -> list:
    """Entry lines calling the float code, or with its ``body`` written in (inside numpy's
    quiet errstate where it calls numpy); a float operation that raises goes to GENERAL
    (numpy gives inf or nan)."""
    lines = ["try:"] + [f"    {line}" for line in body or [f"{kernel.RESULTS} = FLOATS({names})"]]
    lines += ["except (ArithmeticError, ValueError):", "    return GENERAL(b)"]
    if kernel.QUIET_FLOATS:
        lines = ["t = QUIET()"] + lines + ["finally:", "    RESTORE(t)"]
    return lines + _returns(kernel)


def _returns(kernel) -> list:
    """The entry's return: a lazy Result made in place (no call: ~0.1 µs of W1's run), or
    the kernel's RETURN."""
    if kernel.make_result is not lazy:
        return [f"return {kernel.RETURN}"]
    return ["r = NEW(RESULT_CLASS)", "r.program = PROG; r.of = OF; r.outputs = outputs; r.grads = grads",
            "r._bindings = b", "return r"]


def keep(cache: dict, key, code) -> None:
    """Add compiled code to a cache of at most MAX_SHAPE_VARIANTS, dropping the oldest."""
    if len(cache) >= MAX_SHAPE_VARIANTS:
        cache.pop(next(iter(cache)))
    cache[key] = code


def _array_lane(k: int, v: str, declared, dims: dict) -> list:
    """Entry lines accepting leaf k (variable v) as a Python float or a float64 ndarray of
    its declared shape (named dimensions become generated locals d0, d1...), with its
    shape in s<k>."""
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
