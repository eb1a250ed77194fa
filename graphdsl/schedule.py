"""DiGraph -> Schedule: slots, forward steps and a backward plan per output, decided once.

A slot is a node's index in the forward order; every per-run array is indexed by
slot, so a run never looks a node up by name.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from .errors import Span
from .gates import GATES, Gate


@dataclass(frozen=True, slots=True)
class Step:
    """``values[slot] = gate.forward(*values[args], **options)``."""

    node: str
    slot: int
    gate: Gate
    args: tuple
    options: dict
    span: Span


@dataclass(frozen=True, slots=True)
class BackStep:
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


def schedule(graph: nx.DiGraph) -> Schedule:
    """Compile the evaluation orders of a built graph (nodes are already in a valid order)."""
    nodes = graph.nodes
    ids = tuple(sorted(nodes, key=lambda n: nodes[n]["order"]))
    slots = {node: i for i, node in enumerate(ids)}
    leaves, constants, steps = [], [], []
    for node in ids:
        data = nodes[node]
        kind = data["kind"]
        if kind in ("input", "param"):
            leaves.append(Leaf(node, kind, slots[node], data["shape"], data["default"], data["span"]))
        elif kind == "const":
            constants.append((slots[node], data["value"]))
        else:
            steps.append(Step(node, slots[node], GATES[data["gate"]],
                              tuple(slots[a] for a in data["args"]), data["options"], data["span"]))
    leaves.sort(key=lambda leaf: leaf.kind != "input")
    outputs = tuple((name, slots[name]) for name in graph.graph["outputs"])
    plans = {name: _plan(name, slot, len(ids), leaves, steps) for name, slot in outputs}
    return Schedule(ids, slots, tuple(leaves), tuple(constants), tuple(steps), outputs, plans)


def _plan(output: str, seed: int, size: int, leaves, steps) -> Plan:
    # A node needs a gradient when it depends differentiably on a leaf and reaches the output.
    live = [False] * size
    for leaf in leaves:
        live[leaf.slot] = True
    for step in steps:
        live[step.slot] = any(live[a] and vjp is not None for a, vjp in zip(step.args, step.gate.vjps))
    reach = [False] * size
    reach[seed] = True
    backward = []
    for step in reversed(steps):
        if not (reach[step.slot] and live[step.slot]):
            continue
        needs = tuple(live[a] and vjp is not None for a, vjp in zip(step.args, step.gate.vjps))
        for a, need in zip(step.args, needs):
            reach[a] = reach[a] or need
        backward.append(BackStep(step, needs))
    reached = frozenset(leaf.slot for leaf in leaves if reach[leaf.slot])
    return Plan(output, seed, tuple(backward), reached)
