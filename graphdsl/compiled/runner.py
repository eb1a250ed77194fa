"""Every compiled entry of one Program, made on first use: ``run`` per output,
``forward``, ``jvp``; and the reference interpreter where compiling does not pay.

A graph of more than COMPILE_LIMIT steps runs on the interpreter: generating its code
would take longer than many runs, and gigabytes (a 50 MB file). Without check_finite it
keeps only the leaves' gradients, and its Result is lazy like a compiled run's: a long
chain of arrays holds each value once, as the compiled code does.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from ..graph.model import paused_gc
from ..graph.schedule import restricted
from ..run import interpret, numeric
from ..run.bindings import bind
from ..run.calls import output_name
from ..run.export import pack
from ..run.result import Result, lazy
from . import numpycode
from .forwardmode import ForwardKernel, TangentKernel, interpret_forward
from .kernel import Kernel

COMPILE_LIMIT = 100_000  # steps: generated code costs ~30 µs and ~5 kB a step to build


class Runner:
    """``entry(of)(bindings) -> Result``, ``forward(bindings)``, ``jvp(bindings, tangents)``."""

    def __init__(self, program):
        self.program, self.schedule = program, program.schedule
        self.compiled = len(self.schedule.steps) <= COMPILE_LIMIT
        self.kernels: dict = {}  # of -> compiled entry (kernel.Kernel's), also under None
        self.forward_entry = None
        self.trainers: dict = {}  # (of, leaf names) -> trainer()'s compiled entry
        self.tangents = None

    def output(self, of) -> str:
        return output_name(self.program.outputs, of)

    def run(self, of, bindings: dict, check_finite: bool = False) -> Result:
        if check_finite:
            return self.interpret(self.output(of), bindings, check_finite=True)
        entry = self.kernels.get(of) if isinstance(of, str) or of is None else None
        return (entry or self.entry(of))(bindings)

    def entry(self, of):
        """The compiled run of an output, built once per output."""
        name = self.output(of)
        found = self.kernels.get(name)
        if found is None:
            with paused_gc():
                kernel = Kernel(self.program, name, lazy)  # generates code on its first call
            found = kernel.entry
            if not self.compiled:
                found = partial(self.interpret, name)
                found.kernel = kernel
        self.kernels[of] = self.kernels[name] = found
        return found

    def trainer(self, of: str, names: tuple):
        """``(outputs, grads)`` of bindings, the gradients of the named leaves only (the
        others are zeros): compiled code that skips the backward pass to the data."""
        found = self.trainers.get((of, names))
        if found is None:
            if not self.compiled:
                found = partial(_pair_of_run, self.entry(of))
            else:
                with paused_gc():
                    found = _Trainer(self.program, of, restricted(self.schedule, of, names), names).entry
            self.trainers[(of, names)] = found
        return found

    def interpret(self, of: str, bindings: dict, check_finite: bool = False) -> Result:
        sched = self.schedule
        with np.errstate(all="ignore"):
            values = interpret.forward(sched, bind(sched.leaves, bindings))
            grads = interpret.backward(sched, of, values, keep=check_finite)
        if not check_finite:
            return lazy(self.program, of, *pack(sched, values, grads), bindings)
        problem = numeric.first_nonfinite(sched, values, grads, of)
        if problem:
            raise problem
        return Result(self.program, values, grads, of)

    def forward(self, bindings: dict) -> dict:
        if self.forward_entry is None:
            if self.compiled:
                with paused_gc():
                    self.forward_entry = ForwardKernel(self.program).entry
            else:
                self.forward_entry = self._interpret_forward
        return self.forward_entry(bindings)

    def _interpret_forward(self, bindings: dict) -> dict:
        with np.errstate(all="ignore"):
            return interpret_forward(self.schedule, bind(self.schedule.leaves, bindings))

    def jvp(self, bindings: dict, tangents) -> tuple:
        if self.tangents is None:
            self.tangents = TangentKernel(self.program, compiled=self.compiled)
        return self.tangents(bindings, tangents)


class _Trainer(Kernel):
    """run's compiled code for fit: ``(outputs, grads)``, the grads of the params trained
    (at least: the float code and the fused loop give every leaf's)."""

    def __init__(self, program, of: str, schedule, names: tuple):
        self.names = names
        super().__init__(program, of, _pair, schedule)

    def numpy_listing(self, shapes, float64: bool):
        return numpycode.train_listing(self.schedule, self.of, shapes, float64, self.names)


def _pair(program, of, outputs, grads, bindings) -> tuple:
    return outputs, grads


def _pair_of_run(entry, bindings) -> tuple:
    result = entry(bindings)
    return result.outputs, result.grads
