"""``Program.function``: a plain Python function of the leaves for hot loops
(scipy.optimize, ODE solvers), answering ``(outputs, grads)`` as two tuples.

``run`` takes names and hands back a Result; a solver calling a model a million times
pays for both. The function generated here takes the leaves positionally (inputs, then
params, in declaration order; trailing leaves with a default keep it as a default
argument) and returns tuples, as hand-written code would. Its body is the float code
of ``run`` written inline (no call, no dict) behind one class test per leaf; float64
arrays go to the numpy code of ``run`` for their shapes; anything else (ints, lists,
a first call with new shapes, a float operation that raises) goes through ``run``'s
own binding and fallbacks, so every number is the one ``run`` gives, bit for bit.

Generated names only enter the source; the leaves' own names are given to the code
object's parameters afterwards, so keywords and ``inspect.signature`` see them.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..gates.lower import NoCode
from ..graph.model import paused_gc
from ..run.quiet import QUIET, RESTORE
from . import floatcode
from .kernel import Kernel
from .source import CHUNK, build, function as function_text, source


def function(program, of=None, wrt=None):
    """``Program.function``: a plain function of the inputs and params, positional in
    declaration order, returning ``(outputs, grads)`` as two tuples, with run's numbers
    at a hot loop's pace. ``of`` names the output differentiated (default the first),
    ``wrt`` the leaves whose gradients it returns, in that order (default every input
    and param).

    >>> import graphdsl
    >>> graphdsl.loads("input x, y\noutput f = x * y").function()(3.0, 4.0)
    ((12.0,), (4.0, 3.0))
    """
    runner = program._runner
    of = runner.output(of)
    leaves = program.schedule.leaves
    wrt = _wrt(leaves, wrt)
    with paused_gc():
        return _Generated(program, of, wrt, runner.compiled).fn


def _wrt(leaves, wrt) -> tuple:
    by_name = {leaf.name: leaf for leaf in leaves}
    if wrt is None:
        return tuple(leaves)
    names = (wrt,) if isinstance(wrt, str) else wrt
    try:
        names = list(names)
    except TypeError:
        raise TypeError(f"wrt must be a leaf's name or a list of them, got {type(wrt).__name__}") from None
    for name in names:
        if name not in by_name:
            known = ", ".join(by_name) or "none"
            raise ValueError(f"wrt: {name!r} is not an input or param (they are: {known})")
    return tuple(by_name[name] for name in names)


def _raw(program, of, outputs, grads, bindings):
    return outputs, grads


class _Generated:
    """The generated function and what it calls when its fast lanes do not apply."""

    def __init__(self, program, of: str, wrt: tuple, compiled: bool):
        self.program, self.of, self.wrt = program, of, wrt
        self.schedule = program.schedule
        self.names = [leaf.name for leaf in self.schedule.leaves]
        self.output_names = [name for name, _ in self.schedule.outputs]
        self.kernel = Kernel(program, of, _raw) if compiled else None
        params = tuple(f"v{leaf.slot}" for leaf in self.schedule.leaves)  # as the float code's
        ns = {"GENERAL": self.general}
        lines = []
        if self.kernel is not None and self.kernel.float_capable:
            with contextlib.suppress(NoCode):  # (a large graph's kernel has not walked its steps)
                lines += self._float_lane(params, ns)
        if self.kernel is not None and not self.kernel.outputs_may_alias:
            lines += self._array_lane(params, ns)
        lines.append(f"return GENERAL({', '.join(params)})")
        self.source = function_text("function", params, lines)
        fn = build(self.source, ns, "function")
        # The leaves' names are the parameters' names: keywords and inspect.signature see them.
        fn.__code__ = fn.__code__.replace(co_varnames=tuple(self.names) + fn.__code__.co_varnames[len(params):])
        fn.__defaults__ = self._defaults()
        fn.__name__ = fn.__qualname__ = "function"
        grads = ", ".join(f"d{of}/d{leaf.name}" for leaf in wrt)
        fn.__doc__ = (f"({', '.join(self.output_names)}), ({grads}) of {program.file}: outputs in "
                      f"declaration order, then the gradients of {of}.")
        fn.source = self.source
        self.fn = fn

    def _defaults(self):
        """Defaults of the trailing leaves that all have one (a required leaf after a
        defaulted one makes it required too: positional order comes first)."""
        defaults = []
        for leaf in reversed(self.schedule.leaves):
            if leaf.default is None:
                break
            defaults.append(leaf.default)
        return tuple(reversed(defaults)) or None

    def _float_lane(self, params, ns) -> list:
        listing = floatcode.tuple_listing(self.schedule, self.of, self.wrt)
        ns.update(listing.namespace)
        floats = " and ".join(f"{p}.__class__ is float" for p in params) or "True"
        if len(listing.statements) <= CHUNK:
            body = [s.text for s in listing.statements]
        else:  # too long for one function: the chunked code, called
            ns["FLOATS"] = build(source(listing.statements, listing.params, "floats"), ns, "floats")
            body = [f"return FLOATS({', '.join(params)})"]
        return ([f"if {floats}:", "    try:"] + [f"        {line}" for line in body] +
                ["    except (ArithmeticError, ValueError):", "        pass"])

    def _array_lane(self, params, ns) -> list:
        """run's numpy code for these shapes, when run has made it (the keys run's
        Kernel.general makes: one shape per leaf, () for a float)."""
        ns.update(KERNELS=self.kernel.arrays, NDARRAY=np.ndarray, F64=np.dtype(np.float64), QUIET=QUIET, RESTORE=RESTORE)
        for k, name in enumerate(self.output_names):
            ns[f"O{k}"] = name
        for k, leaf in enumerate(self.wrt):
            ns[f"W{k}"] = leaf.name
        lines = [f"s{k} = {p}.shape if {p}.__class__ is NDARRAY and {p}.dtype is F64 and {p}.ndim "
                 f"else () if {p}.__class__ is float else None" for k, p in enumerate(params)]
        outs = floatcode.tuple_text(f"o[O{k}]" for k in range(len(self.output_names)))
        grads = floatcode.tuple_text(f"g[W{k}]" for k in range(len(self.wrt)))
        return lines + [
            f"k = KERNELS.get({floatcode.tuple_text(f's{k}' for k in range(len(params)))})",
            "if k is not None:",
            "    t = QUIET()",
            "    try:",
            f"        o, g = k({', '.join(params)})",
            "    except Exception:",
            "        o = None",
            "    finally:",
            "        RESTORE(t)",
            "    if o is not None:",
            f"        return {outs}, {grads}"]

    def general(self, *values):
        """Any values: run's own binding (its errors), float and numpy code and fallbacks."""
        bindings = dict(zip(self.names, values))
        if self.kernel is not None:
            outputs, grads = self.kernel.general(bindings)
        else:
            result = self.program._runner.run(self.of, bindings)
            outputs, grads = result.outputs, result.grads
        return (tuple(outputs[name] for name in self.output_names),
                tuple(grads[leaf.name] for leaf in self.wrt))
