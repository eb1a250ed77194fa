"""The float code of one output: straight-line Python over floats and ``math``.

When every binding is a Python float the run needs no numpy at all. Each step is
written from its gate's float templates (compiled/lowering.py), with two savings for
large files: a value or cotangent that is exactly another one (an identity, a sum of a
scalar, the cotangent ``+`` passes on) is not copied but read under the name it already
has (every cotangent is final once its own step is reached, so an alias never sees a
later change), and each pattern of step is written once, then filled in per step.
Where Python raises and numpy gives inf or nan (``x / 0``, ``log(0)``...), the caller
reruns the call on the numpy code.
"""
from __future__ import annotations

import numpy as np

from ..gates import NAMESPACE
from ..gates.lower import NoCode, literal
from . import lowering
from .source import Stmt, variables


class FloatListing:
    """``statements``, ``params`` and ``namespace``, as source.source expects them."""

    def __init__(self, schedule, of: str):
        self.namespace = dict(NAMESPACE)
        self.params = tuple(f"v{leaf.slot}" for leaf in schedule.leaves)
        names = [None] * len(schedule.ids)  # the source that reads each node's value
        consts = [None] * len(schedule.ids)
        for leaf in schedule.leaves:
            names[leaf.slot] = f"v{leaf.slot}"
        for slot, value in schedule.constants:
            if np.ndim(value):
                raise NoCode("an array constant")
            names[slot], consts[slot] = literal(float(value)), repr(float(value))
        forward = []
        for step in schedule.steps:
            code = lowering.forward(step.gate, _items(step.options), ((),) * len(step.args),
                                    tuple(consts[a] for a in step.args), "float")
            args = [names[a] for a in step.args]
            if code.lines or not _is_copy(code.text, args):
                names[step.slot] = f"v{step.slot}"
                forward.append(_statement(code, f"v{step.slot}", args, None, None, f"t{step.slot}_"))
            else:
                names[step.slot] = code.text.format(*args)
        backward, grads = self._backward(schedule.plans[of], names, consts)
        ret = self._return(schedule, names, grads)
        self.statements = _needed(forward, backward + [ret]) + backward + [ret]

    def _backward(self, plan, names, consts):
        """The backward statements, and slot -> the name of its final cotangent."""
        seed = f"g{plan.seed}"
        out = [Stmt(f"{seed} = 1.0", (), (seed,))]
        grads = {plan.seed: seed}
        for step, needs in plan.steps:
            g = grads[step.slot]
            args = [names[a] for a in step.args]
            pattern = (step.gate, _items(step.options), ((),) * len(args), tuple(consts[a] for a in step.args))
            for i, (a, need) in enumerate(zip(step.args, needs)):
                if not need:
                    continue
                code = lowering.cotangent(pattern[0], i, pattern[1], pattern[2], (), pattern[3], "float", False)
                if code is None:
                    raise NoCode(step.gate.name)
                current = grads.get(a)
                if code.text == "{g}" and not code.lines and current is None:
                    grads[a] = g  # a copy: read the consumer's cotangent under its own name
                    continue
                target = f"g{a}"
                out.append(_statement(code, target, args, g, names[step.slot], f"t{step.slot}_{i}_", current))
                grads[a] = target
        return out, grads

    def _return(self, schedule, names, grads) -> Stmt:
        reads, outputs, leaf_grads = [], [], []
        for name, slot in schedule.outputs:
            reads.append(names[slot])
            outputs.append(f"{self._const('K', name)}: {names[slot]}")
        for leaf in schedule.leaves:
            grad = grads.get(leaf.slot, "0.0")
            reads.append(grad)
            leaf_grads.append(f"{self._const('K', leaf.name)}: {grad}")
        text = "return {" + ", ".join(outputs) + "}, {" + ", ".join(leaf_grads) + "}"
        return Stmt(text, variables(reads))

    def _const(self, prefix: str, value) -> str:
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name


def supported(schedule, of: str) -> bool:
    """Whether every step has float code (its templates are written once per pattern,
    without writing the listing)."""
    consts = {slot: repr(float(value)) for slot, value in schedule.constants if not np.ndim(value)}
    plan = schedule.plans[of]
    try:
        for step in schedule.steps:
            pattern = (step.gate, _items(step.options), ((),) * len(step.args),
                       tuple(consts.get(a) for a in step.args))
            lowering.forward(*pattern, "float")
        for step, needs in plan.steps:
            pattern = (step.gate, _items(step.options), ((),) * len(step.args),
                       tuple(consts.get(a) for a in step.args))
            for i, need in enumerate(needs):
                if need and lowering.cotangent(pattern[0], i, *pattern[1:3], (), pattern[3], "float", False) is None:
                    return False
    except NoCode:
        return False
    return True


def _items(options) -> tuple:
    return tuple(options.items()) if options else ()


def _is_copy(text: str, args: list) -> bool:
    """Whether a template is one operand itself, or a literal: no statement is needed."""
    if text.startswith("{") and text.endswith("}") and text[1:-1].isdigit():
        return True
    return "{" not in text


def _statement(code, target: str, args: list, g, out, temps: str, plus=None) -> Stmt:
    """``target = value`` (``target = plus + (value)``), after the code's temporaries on
    the same line, and what it reads."""
    fields = {"g": g, "out": out, "t": temps}
    lines = [line.format(*args, **fields) for line in code.lines]
    value = code.text.format(*args, **fields)
    reads = [fields[f] if isinstance(f, str) else args[f] for f in code.reads]
    if plus is not None:
        value, reads = f"{plus} + ({value})", reads + [plus]
    return Stmt("; ".join(lines + [f"{target} = {value}"]), variables(reads), (target,))


def _needed(forward: list, later: list) -> list:
    """The forward statements whose values are read later (dead steps are dropped)."""
    needed = set()
    for stmt in later:
        needed.update(stmt.reads)
    kept = []
    for stmt in reversed(forward):
        if stmt.writes[0] in needed:
            needed.update(stmt.reads)
            kept.append(stmt)
    kept.reverse()
    return kept
