"""The one interpreter: forward values, reverse-mode gradients and forward-mode tangents,
as plain loops over the prepared steps of a Schedule (the graph is never walked here).

How one step is evaluated is a ``Lanes`` object: the plain one below, or batch
evaluation's, which aligns a leading batch axis (run/batch.py). ``backward`` calls
``on_edge(step, i, upstream, contribution)`` for every edge it sends a gradient along:
``--explain`` and the picture are written from those calls.
"""
from __future__ import annotations

import numpy as np

from ..gates.shaping import unbroadcast
from ..graph.schedule import Schedule
from .numeric import gate_failure

_FAILURES = (ValueError, TypeError, IndexError, ArithmeticError)


class Lanes:
    """The plain evaluation of a step on its operands' values."""

    def forward(self, step, values: list):
        return step.gate.forward(*[values[a] for a in step.args], **step.options)

    def operands(self, step, values: list) -> list:
        return [values[a] for a in step.args]

    def cotangent(self, step, i: int, g, out, args: list):
        """Operand i's share of the gradient, summed back to its shape."""
        return unbroadcast(step.gate.vjps[i](g, out, *args, **step.options), np.shape(args[i]))

    def seed(self, value):
        return seed_like(value)


PLAIN = Lanes()


def seed_like(value):
    """Ones of the output's shape and float dtype: a float32 output seeds float32 gradients."""
    if isinstance(value, np.ndarray):
        return np.ones_like(value)
    return value.dtype.type(1) if isinstance(value, np.floating) else 1.0


def start(schedule: Schedule, leaf_values: list) -> list:
    """Slot-indexed storage holding the leaves' and the constants' values."""
    values = [None] * len(schedule.ids)
    for leaf, value in zip(schedule.leaves, leaf_values):
        values[leaf.slot] = value
    for slot, value in schedule.constants:
        values[slot] = value
    return values


def forward(schedule: Schedule, leaf_values: list, lanes: Lanes = PLAIN, values: list | None = None) -> list:
    """Every node's value, by slot."""
    values = start(schedule, leaf_values) if values is None else values
    step = None
    try:
        for step in schedule.steps:
            values[step.slot] = lanes.forward(step, values)
    except _FAILURES as err:
        raise gate_failure(step, values, err) from None
    return values


def backward(schedule: Schedule, output: str, values: list, cotangent=None, keep: bool = True,
             on_edge=None, lanes: Lanes = PLAIN) -> list:
    """The gradient of ``output`` (seeded with ones, or ``cotangent``) for every node that
    needs one, by slot. With ``keep=False`` only the leaves' gradients are kept: a gate's
    is dropped once passed on (a long chain of arrays then holds one set of values, not two)."""
    plan = schedule.plans[output]
    grads = [None] * len(values)
    grads[plan.seed] = cotangent if cotangent is not None else lanes.seed(values[plan.seed])
    current = None
    try:
        for current in plan.steps:
            step = current.step
            g = grads[step.slot]
            if g is None:
                continue
            if not keep:  # every contribution to it has arrived: the plan is in reverse order
                grads[step.slot] = None
            out = values[step.slot]
            args = lanes.operands(step, values)
            for i, (a, need) in enumerate(zip(step.args, current.needs)):
                if need:
                    ct = lanes.cotangent(step, i, g, out, args)
                    grads[a] = ct if grads[a] is None else grads[a] + ct
                    if on_edge is not None:
                        on_edge(step, i, g, ct)
    except _FAILURES as err:
        raise gate_failure(current.step, values, err, "its gradient") from None
    return grads


def broadcast_to(t, shape: tuple):
    """A tangent with the shape of the value it belongs to."""
    return t if np.shape(t) == shape else np.broadcast_to(t, shape)


def tangents(schedule: Schedule, values: list, leaf_tangents: dict) -> list:
    """Forward-mode: the tangent of every node (None for zero), by slot."""
    result = [None] * len(values)
    for slot, t in leaf_tangents.items():
        result[slot] = t
    step = None
    try:
        for step in schedule.steps:
            ts = [result[a] for a in step.args]
            if any(t is not None for t in ts):
                args = [values[a] for a in step.args]
                t = step.gate.jvp(ts, values[step.slot], *args, **step.options)
                result[step.slot] = None if t is None else broadcast_to(t, np.shape(values[step.slot]))
    except _FAILURES as err:
        raise gate_failure(step, values, err, "its tangent") from None
    return result


def shapes(schedule: Schedule, leaf_values) -> list:
    """Every node's shape for these leaves: a forward pass that drops each value after its
    last use, so it never holds more than the compiled code will."""
    last = {}
    for i, step in enumerate(schedule.steps):
        for a in step.args:
            last[a] = i
    values = start(schedule, leaf_values)
    found = [np.shape(v) if v is not None else () for v in values]
    for i, step in enumerate(schedule.steps):
        value = step.gate.forward(*[values[a] for a in step.args], **step.options)
        values[step.slot], found[step.slot] = value, np.shape(value)
        for a in step.args:
            if last[a] == i:
                values[a] = None
    return found
