"""Built model -> Schedule: slots, forward steps and a backward plan per output, decided once.

A slot is a node's index in the forward order; every per-run array is indexed by
slot, so a run never looks a node up by name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .errors import Span
from .gates import GATES, Gate


class Step(NamedTuple):
    """``values[slot] = gate.forward(*values[args], **options)``.

    Named tuples (this and BackStep): one is made for every node, several times faster
    than a frozen dataclass."""

    node: str
    slot: int
    gate: Gate
    args: tuple
    options: dict
    span: Span


class BackStep(NamedTuple):
    """Send ``grads[step.slot]`` to the operands flagged in ``needs``."""

    step: Step
    needs: tuple  # per operand: does it want a gradient?


@dataclass(frozen=True)
class Plan:
    """The backward pass for one differentiated output."""

    output: str
    seed: int
    steps: tuple  # of BackStep, in reverse forward order
    differentiable: frozenset  # slots of the inputs/params a gradient can reach

    @property
    def order(self):
        return tuple(s.step.node for s in self.steps)


@dataclass(frozen=True)
class Leaf:
    name: str
    kind: str
    slot: int
    shape: tuple | None
    default: object
    span: Span


@dataclass(frozen=True)
class Schedule:
    ids: tuple  # slot -> node id, in forward order
    slots: dict  # node id -> slot
    leaves: tuple  # of Leaf, inputs then params in declaration order
    constants: tuple  # of (slot, value)
    steps: tuple  # of Step, in forward order
    outputs: tuple  # of (name, slot)
    plans: dict  # output name -> Plan


def schedule(model) -> Schedule:
    """Compile the evaluation orders of a built model (build.Model: leaves, then ops in a
    valid order; slot = position in that order)."""
    count = len(model.leaves)
    ids = tuple([name for name, _ in model.leaves] + [op.suffix for op in model.ops])
    slots = {node: i for i, node in enumerate(ids)}
    if len(slots) != len(ids):
        raise RuntimeError("graphdsl bug: two nodes of the graph were given the same id")
    leaves = [Leaf(name, data["kind"], i, data["shape"], data["default"], data["span"])
              for i, (name, data) in enumerate(model.leaves)]
    constants, steps = [], []
    for slot, op in enumerate(model.ops, start=count):
        if op.kind == "const":
            constants.append((slot, op.value))
        else:
            steps.append(Step(op.suffix, slot, GATES[op.gate],
                              tuple([count + a if a >= 0 else -1 - a for a in op.args]),
                              op.options or {}, op.span))
    leaves.sort(key=lambda leaf: leaf.kind != "input")
    outputs = tuple((name, slots[name]) for name in model.outputs)
    plans = {name: _plan(name, slot, len(ids), leaves, steps) for name, slot in outputs}
    return Schedule(ids, slots, tuple(leaves), tuple(constants), tuple(steps), outputs, plans)


def _plan(output: str, seed: int, size: int, leaves, steps) -> Plan:
    # A node needs a gradient when it depends differentiably on a leaf and reaches the output.
    # (Plain loops: a generator per step cost as much as the rest of the plan.)
    live = [False] * size
    for leaf in leaves:
        live[leaf.slot] = True
    for step in steps:
        for a, vjp in zip(step.args, step.gate.vjps):
            if live[a] and vjp is not None:
                live[step.slot] = True
                break
    reach = [False] * size
    reach[seed] = True
    backward = []
    for step in reversed(steps):
        if not (reach[step.slot] and live[step.slot]):
            continue
        needs = []
        for a, vjp in zip(step.args, step.gate.vjps):
            need = live[a] and vjp is not None
            needs.append(need)
            if need:
                reach[a] = True
        backward.append(BackStep(step, tuple(needs)))
    reached = frozenset(leaf.slot for leaf in leaves if reach[leaf.slot])
    return Plan(output, seed, tuple(backward), reached)
