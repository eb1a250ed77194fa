"""What the runs hand back: ``Result`` (one run) and ``BatchResult`` (``run_batch``).

Both pickle (to send them to worker processes) with their numbers; a Result's
program goes with it (see Program's pickling), and node values and gradients
that were not computed yet are recomputed on the other side, as they would be here.
"""
from __future__ import annotations

import numpy as np

from . import interpret as execute
from .bindings import bind
from ..errors import BindingError
from .export import export, pack, unshared


def _same_numbers(recomputed: tuple, kept: tuple) -> bool:
    """Whether outputs and gradients agree (to the compiled code's ulps on matrix products)."""
    for new, old in zip(recomputed, kept):
        for name, value in old.items():
            if np.shape(new[name]) != np.shape(value) or \
                    not np.allclose(new[name], value, rtol=1e-9, atol=0.0, equal_nan=True):
                return False
    return True


class Result:
    """One run's numbers: ``outputs`` and ``grads`` by name; ``values`` and ``node_grads`` by node id.

    A compiled run fills ``outputs`` and ``grads`` only; every node's value and gradient
    (``_values``/``_grads``, by slot) is recomputed by the reference interpreter on first use.
    """

    __slots__ = ("program", "of", "outputs", "grads", "_bindings", "_passes_done")

    def __init__(self, program, values: list, grads: list, of: str):
        self.program = program
        self.of = of
        self._passes_done, self._bindings = (values, grads), None
        self.outputs, self.grads = pack(program.schedule, values, grads)

    def __getstate__(self) -> dict:  # (protocols 0 and 1 need it for a class with __slots__)
        return {name: getattr(self, name) for name in self.__slots__ if hasattr(self, name)}

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    def _passes(self) -> tuple:
        try:
            return self._passes_done
        except AttributeError:  # a compiled run: recompute every node on the reference interpreter
            sched = self.program.schedule
            with np.errstate(all="ignore"):
                values = execute.forward(sched, bind(sched.leaves, self._bindings))
                grads = execute.backward(sched, self.of, values)
            # The bindings are held, not copied (a copy per run would cost as much as the
            # run): an array changed in place since shows up here, and must not silently
            # give a picture of other numbers.
            # The compiled code may differ from the interpreter by an ulp (math's and numpy's
            # exp, a matrix product's order), which a cancellation makes relatively large:
            # only a rerun of the compiled code that also differs is a changed binding.
            if not _same_numbers(pack(sched, values, grads), (self.outputs, self.grads)) and \
                    not _same_numbers(self._rerun(), (self.outputs, self.grads)):
                raise BindingError("an array bound to this run was changed in place after it, so its "
                                   "node values and gradients cannot be recomputed: run again, or "
                                   "bind a copy of an array you go on changing")
            self._passes_done = (values, grads)
            return self._passes_done

    def _rerun(self) -> tuple:
        """Outputs and gradients of the same run again on the code that made them."""
        with np.errstate(all="ignore"):
            again = self.program.run(self._bindings, of=self.of)
        return again.outputs, again.grads

    @property
    def _values(self) -> list:
        return self._passes()[0]

    @property
    def _grads(self) -> list:
        return self._passes()[1]

    @property
    def values(self) -> dict:
        """Every node's value, keyed by node id."""
        return {node: export(v) for node, v in zip(self.program.schedule.ids, self._values)}

    @property
    def node_grads(self) -> dict:
        """The gradient of the differentiated output at every node a gradient reaches."""
        return {node: export(g) for node, g in zip(self.program.schedule.ids, self._grads)
                if g is not None}

    def __repr__(self) -> str:
        return f"Result(outputs={self.outputs!r}, grads={self.grads!r})"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """In a notebook: the picture with values and gradients on the edges (SVG or DOT text)."""
        return self.program._repr_mimebundle_(include, exclude, result=self)

    def _repr_svg_(self):
        return self._repr_mimebundle_().get("image/svg+xml")


_new = object.__new__


def lazy(program, of: str, outputs: dict, grads: dict, bindings: dict) -> Result:
    """A compiled run's Result: node values and gradients recomputed on first use.
    (compiled/kernel.py writes the same five stores into its entry.)"""
    result = _new(Result)
    result.program, result.of, result.outputs, result.grads = program, of, outputs, grads
    result._bindings = bindings
    return result


class BatchResult:
    """``run_batch``'s numbers: every output and gradient with a leading batch axis."""

    def __init__(self, outputs: dict, grads: dict, of: str, rows: int):
        self.outputs, self.grads = unshared(outputs, grads)
        self.of, self.rows = of, rows

    def __repr__(self) -> str:
        return f"BatchResult(rows={self.rows}, outputs={list(self.outputs)}, grads={list(self.grads)})"


