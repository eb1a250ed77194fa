"""Built model -> Schedule: slots, forward steps and a backward plan per output, decided once.

A slot is a node's index in the forward order; every per-run array is indexed by
slot, so a run never looks a node up by name.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import NamedTuple

from ..errors import Span
from ..gates import GATES, Gate


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
    symbol: str | None = None  # as the graph shows the node (DOT, explain)
    scope: tuple = ()  # the compound calls it sits in, outermost first (see expand.Op)


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
    plans: Mapping  # output name -> Plan (Plans: each made on first use)


def schedule(leaf_data: list, ops: list, outputs: tuple) -> Schedule:
    """Compile the evaluation orders of a built model: its leaves (name, node data) and
    ops (expand.Op) in a valid order; a node's slot is its position in that order."""
    count = len(leaf_data)
    ids = tuple([name for name, _ in leaf_data] + [op.suffix for op in ops])
    slots = {node: i for i, node in enumerate(ids)}
    if len(slots) != len(ids):
        raise RuntimeError("graphdsl bug: two nodes of the graph were given the same id")
    leaves = [Leaf(name, data["kind"], i, data["shape"], data["default"], data["span"])
              for i, (name, data) in enumerate(leaf_data)]
    constants, steps = [], []
    for slot, op in enumerate(ops, start=count):
        if op.kind == "const":
            constants.append((slot, op.value))
        else:
            steps.append(Step(op.suffix, slot, GATES[op.gate].of_arity(len(op.args)),
                              tuple([count + a if a >= 0 else -1 - a for a in op.args]),
                              op.options or {}, op.span, op.symbol, op.scope))
    leaves.sort(key=lambda leaf: leaf.kind != "input")
    outputs = tuple((name, slots[name]) for name in outputs)
    plans = Plans(outputs, len(ids), leaves, steps)
    return Schedule(ids, slots, tuple(leaves), tuple(constants), tuple(steps), outputs, plans)


def restricted(sched: Schedule, output: str, names) -> Schedule:
    """The schedule whose backward pass of ``output`` reaches the named leaves only: a
    trainer needs the params' gradients, not the data's (the two-layer net's gradient of
    its inputs is a matrix product of its own). The gradients it keeps are the same
    operations in the same order; the others are zeros."""
    leaves = [leaf for leaf in sched.leaves if leaf.name in names]
    plans = Plans(tuple((name, sched.plans._seeds[name]) for name in sched.plans), len(sched.ids),
                  sched.leaves, sched.steps)  # (the others still made on first use)
    plans._made[output] = _plan(output, plans._seeds[output], len(sched.ids), leaves, sched.steps)
    return replace(sched, plans=plans)


def _plan(output: str, seed: int, size: int, leaves, steps) -> Plan:
    # A node needs a gradient when it depends differentiably on a leaf and reaches the output.
    # (Plain loops: a generator per step cost as much as the rest of the plan.)
    live = [False] * size
    for leaf in leaves:
        live[leaf.slot] = True
    for step in steps:
        for a, flows in zip(step.args, step.gate.flows):
            if live[a] and flows:
                live[step.slot] = True
                break
    reach = [False] * size
    reach[seed] = True
    backward = []
    shared: dict = {}  # one tuple per pattern of needs: a few, not one per step to keep
    for step in reversed(steps):
        if not (reach[step.slot] and live[step.slot]):
            continue
        needs = []
        for a, flows in zip(step.args, step.gate.flows):
            need = live[a] and flows
            needs.append(need)
            if need:
                reach[a] = True
        needs = tuple(needs)
        backward.append(BackStep(step, shared.setdefault(needs, needs)))
    reached = frozenset(leaf.slot for leaf in leaves if reach[leaf.slot])
    return Plan(output, seed, tuple(backward), reached)


class Plans(Mapping):
    """Output name -> its Plan, made on first use: each is a pass over every step, and a
    program of many outputs (a derivative program has one per gradient) would otherwise
    pay for all of them when built, outputs times steps."""

    def __init__(self, outputs: tuple, size: int, leaves: list, steps: list):
        self._seeds = dict(outputs)
        self._size, self._leaves, self._steps = size, tuple(leaves), tuple(steps)
        self._made: dict = {}

    def __getitem__(self, name: str) -> Plan:
        plan = self._made.get(name)
        if plan is None:  # (two threads may both make it: the same plan)
            plan = self._made[name] = _plan(name, self._seeds[name], self._size, self._leaves, self._steps)
        return plan

    def __contains__(self, name) -> bool:
        return name in self._seeds

    def __iter__(self):
        return iter(self._seeds)

    def __len__(self) -> int:
        return len(self._seeds)
