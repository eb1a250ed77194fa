"""The float code of one output (see compile.py): straight-line Python over floats.

The same statements as codegen.Listing's float mode would write, with two savings
that matter when a 10,000-gate file is compiled on its first run (the cost of
``compile`` grows with the statements; writing them was as slow as compiling):

* a copy is not written: a cotangent that is exactly its consumer's (``+``, the
  first operand of ``-``, identity, reductions of a scalar) and the value of an
  identity gate are read under the name they already have. Every cotangent is
  final once its own step is reached in the backward pass, so an alias never sees
  a later change. No value changes: a copy of a float is the same float.
* each template's fields are parsed once (per template, not per step), and
  statements are built with one ``format`` call each.

Names are generated (``v12``, ``g12``, namespace entries ``C3``/``K0``); user text
enters only as namespace values. Constants are float literals via ``repr``. A
statement's ``reads`` are the sources of its operands, literals and namespace names
included: they match no statement's ``writes``, so dropping dead code and cutting
the listing into chunks (codegen.source) pass them by.
"""
from __future__ import annotations

import math
import string
from functools import lru_cache

import numpy as np

from . import rules
from .codegen import BASE_NAMESPACE, NoRule, Stmt


class FloatListing:
    """``statements``, ``params`` and ``namespace``, as codegen.source expects them."""

    def __init__(self, schedule, of: str):
        self.namespace = dict(BASE_NAMESPACE)
        self.params = tuple(f"v{leaf.slot}" for leaf in schedule.leaves)
        plan = schedule.plans[of]
        # names[slot]: the source that reads a node's value: its variable, a float literal,
        # a namespace constant, or (identity) the name of its operand's value.
        names = [None] * len(schedule.ids)
        for leaf in schedule.leaves:
            names[leaf.slot] = f"v{leaf.slot}"
        for slot, value in schedule.constants:
            if np.ndim(value):
                raise NoRule("an array constant")
            if isinstance(value, float) and math.isfinite(value):
                names[slot] = f"({value!r})"
            else:
                names[slot] = self._const("C", value)
        forward = []  # (step, template) of the steps that are not copies
        for step in schedule.steps:
            template = rules.float_forward(step.gate, step.options)
            if template is None:
                raise NoRule(step.gate.name)
            if template == "{0}":
                names[step.slot] = names[step.args[0]]
            else:
                names[step.slot] = f"v{step.slot}"
                forward.append((step, template))
        backward, grads = self._backward(plan, names)
        ret = self._return(schedule, names, grads)
        self.statements = self._forward(forward, names, backward + [ret]) + backward + [ret]

    def _const(self, prefix: str, value) -> str:
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def _backward(self, plan, names):
        """The backward statements, and slot -> the name of its final cotangent."""
        seed = f"g{plan.seed}"
        out = [Stmt(f"{seed} = 1.0", (), (seed,))]
        grads = {plan.seed: seed}
        for back in plan.steps:
            step = back.step
            g = grads[step.slot]
            args = [names[a] for a in step.args]
            for i, (a, need) in enumerate(zip(step.args, back.needs)):
                if not need:
                    continue
                template = rules.float_vjp(step.gate, step.options, i)
                if template is None:
                    raise NoRule(step.gate.name)
                uses_g, uses_out, indices = _fields(template)
                current = grads.get(a)
                if template == "{g}" and current is None:
                    grads[a] = g  # a copy: read the consumer's cotangent under its own name
                    continue
                text = template.format(*args, g=g, out=names[step.slot])
                reads = [g] if uses_g else []
                if uses_out:
                    reads.append(names[step.slot])
                reads += [args[k] for k in indices]
                target = f"g{a}"
                if current is not None:
                    text = f"{current} + ({text})"
                    reads.append(current)
                grads[a] = target
                out.append(Stmt(f"{target} = {text}", reads, (target,)))
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
        return Stmt(text, tuple(reads))

    @staticmethod
    def _forward(forward, names, later) -> list:
        """The forward statements whose values are read later (dead steps are dropped)."""
        needed = set()
        for stmt in later:
            needed.update(stmt.reads)
        kept = []
        for step, template in reversed(forward):
            name = names[step.slot]
            if name in needed:
                args = [names[a] for a in step.args]
                needed.update(args)
                kept.append(Stmt(f"{name} = {template.format(*args)}", args, (name,)))
        kept.reverse()
        return kept


@lru_cache(maxsize=None)
def _fields(template: str) -> tuple:
    """(reads {g}, reads {out}, the operand indices it reads) of a template."""
    fields = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    return "g" in fields, "out" in fields, tuple(sorted(int(f) for f in fields if f.isdigit()))
