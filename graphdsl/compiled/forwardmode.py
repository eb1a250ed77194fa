"""``Program.forward`` and ``Program.jvp`` compiled (their listings are floatcode's and
numpycode's ``forward_listing`` and ``tangent_listing``).

* ``ForwardKernel`` is compile.Kernel with the forward pass alone: the same generated
  binder (Python floats to the float code, float64 arrays to the numpy code of their
  shapes, anything else through bind()), returning the outputs.
* ``TangentKernel`` binds through bind(), checks the tangents (each must have its
  leaf's shape, as in JAX: nothing is broadcast silently), then runs float code
  generated per set of leaves given a tangent, or numpy code per set and shapes.

Their numbers are the reference interpreter's bit for bit. Any failure inside
generated code reruns the call on the interpreter, which raises the NumericError
naming the gate and its line.
"""
from __future__ import annotations

import numpy as np

from ..errors import BindingError
from ..gates.lower import NoCode
from ..graph.model import paused_gc
from ..run import interpret as execute
from ..run.bindings import bind, to_value
from ..run.export import export, unshared
from ..run.quiet import QUIET, RESTORE
from . import floatcode, numpycode
from .kernel import Kernel, keep
from .source import build, source


class ForwardKernel(Kernel):
    """``entry(bindings) -> outputs``."""

    RESULTS = "outputs"
    RETURN = "outputs"
    QUIET_FLOATS = True  # numpy's functions warn where math's raise
    FUSE = False  # (the fused loop is run's, forward and backward)
    TIERED = False  # (compiled/threaded.py interprets run's float code)

    def __init__(self, program):
        if program._model.run_bits:
            self.QUIET_FLOATS = False  # run's templates: math's functions, as run's code
        super().__init__(program, program.outputs[0], None)

    def _float_capable(self) -> bool:
        sched = self.schedule
        if any(leaf.shape or (leaf.default is not None and not isinstance(leaf.default, float))
               for leaf in sched.leaves):
            return False
        return not any(np.ndim(value) for _, value in sched.constants) and floatcode.supported(sched, None)

    def float_listing(self):
        listing = (floatcode.forward_listing if self.QUIET_FLOATS else floatcode.run_forward_listing)(self.schedule)
        return listing._replace(statements=floatcode.fused(listing.statements))

    def numpy_listing(self, shapes, float64: bool):
        return numpycode.forward_listing(self.schedule, shapes, float64)

    def finish(self, results, bindings):
        return results

    def _reference(self, leaf_values):
        return interpret_forward(self.schedule, leaf_values)


def interpret_forward(sched, leaf_values) -> dict:
    """The outputs by the reference interpreter (under the caller's errstate)."""
    values = execute.forward(sched, leaf_values)
    return unshared({name: export(values[slot]) for name, slot in sched.outputs}, {})[0]


class TangentKernel:
    """``kernel(bindings, tangents) -> (outputs, output tangents)``, two dicts by output name."""

    def __init__(self, program, compiled: bool = True):
        self.schedule = sched = program.schedule
        self.index = {leaf.name: k for k, leaf in enumerate(sched.leaves)}
        self.compiled = compiled  # False: a graph too large to compile runs on the interpreter
        self.floats: dict = {}  # seeded leaves -> float code, or None where a gate has no float rule
        self.arrays: dict = {}  # (seeded leaves, shapes, float64) -> numpy code

    def __call__(self, bindings: dict, tangents) -> tuple:
        leaf_values = bind(self.schedule.leaves, bindings)
        seeds = self.seeds(tangents, leaf_values)
        seeded = tuple(sorted(seeds))
        values = leaf_values + [seeds[k] for k in seeded]
        token = QUIET()
        try:
            if not self.compiled:
                return self._reference(leaf_values, seeds)
            if all(v.__class__ is float for v in values):
                code = self.floats[seeded] if seeded in self.floats else self._float_code(seeded)
                if code is not None:
                    try:
                        return code(*values)
                    except (ArithmeticError, ValueError):
                        pass  # x / 0.0 raises on Python floats: numpy's code gives inf
            return self._arrays(seeded, values, leaf_values, seeds)
        finally:
            RESTORE(token)

    def seeds(self, tangents, leaf_values) -> dict:
        """Leaf index -> its tangent, which must have the shape of the leaf's value."""
        seeds = {}
        leaves = self.schedule.leaves
        for name, t in tangents.items():
            k = self.index.get(name) if isinstance(name, str) else None
            if k is None:
                raise BindingError(f"tangent for unknown input {name!r} (inputs and params: "
                                   f"{', '.join(self.index) or 'none'})")
            leaf = leaves[k]
            t = to_value(t, name, leaf.span)
            if t.__class__ is float and leaf_values[k].__class__ is float:
                seeds[k] = t  # (np.shape of a float costs a microsecond)
                continue
            shape = np.shape(leaf_values[k])
            if np.shape(t) != shape:
                got = f"shape {list(np.shape(t))}" if np.ndim(t) else "a scalar"
                want = f"shape {list(shape)}" if shape else "a scalar"
                raise BindingError(f"the tangent of '{name}' must have the shape of its value, {want}; "
                                   f"got {got} (tangents are never broadcast)", leaf.span)
            seeds[k] = t
        return seeds

    def _float_code(self, seeded: tuple):
        try:
            with paused_gc():
                listing = floatcode.tangent_listing(self.schedule, seeded)
                code = build(source(listing.statements, listing.params, "floats"), listing.namespace, "floats")
        except NoCode:
            code = None
        keep(self.floats, seeded, code)
        return code

    def _arrays(self, seeded, values, leaf_values, seeds):
        float64 = all(v.__class__ is float or getattr(v, "dtype", None) == np.float64 for v in values)
        key = (seeded, float64) + tuple(np.shape(v) for v in values)
        try:
            code = self.arrays.get(key)
            if code is None:
                with paused_gc():
                    listing = numpycode.tangent_listing(self.schedule, seeded,
                                                        execute.shapes(self.schedule, leaf_values), float64)
                    code = build(source(listing.statements, listing.params, "arrays"), listing.namespace, "arrays")
                keep(self.arrays, key, code)
            return code(*values)
        except Exception:  # noqa: BLE001 -- the reference interpreter names the failing gate
            return self._reference(leaf_values, seeds)

    def _reference(self, leaf_values, seeds) -> tuple:
        sched = self.schedule
        values = execute.forward(sched, leaf_values)
        ts = execute.tangents(sched, values, {sched.leaves[k].slot: t for k, t in seeds.items()})
        outputs, out_tangents = {}, {}
        for name, slot in sched.outputs:
            outputs[name] = export(values[slot])
            t = ts[slot]
            out_tangents[name] = export(np.zeros_like(values[slot]) if t is None else t)
        return unshared(outputs, out_tangents)
