"""The float code of one output (see compile.py): straight-line Python over floats.

Statements over floats (``math`` and float literals), written with two savings
for the first run of a large file (W6, 10,000 gates: 22,319 statements instead of
25,964, written in 55 ms instead of 126; the compiled run is ~7% faster):

* a copy is not written: a cotangent that is exactly its consumer's (``+``, the
  first operand of ``-``, identity, reductions of a scalar) and the value of an
  identity gate are read under the name they already have. Every cotangent is
  final once its own step is reached in the backward pass, so an alias never sees
  a later change. No value changes: a copy of a float is the same float.
* each gate's templates are parsed once per listing, not once per step, and a
  statement is built with one ``format`` call.

Names are generated (``v12``, ``g12``, namespace entries ``C3``/``K0``); user text
enters only as namespace values. Constants are float literals via ``repr``. A
statement's ``reads`` are the sources of its operands, literals and namespace names
included: they match no statement's ``writes``, so dropping dead code and cutting
the listing into chunks (codegen.source) pass them by.
"""
from __future__ import annotations

import math
import string

import numpy as np

from . import rules
from .codegen import BASE_NAMESPACE, NoRule, Stmt


class FloatListing:
    """``statements``, ``params`` and ``namespace``, as codegen.source expects them."""

    functions: dict = {}  # namespace entries that replace the base ones (rules.EXACT_FUNCTIONS)

    def __init__(self, schedule, of: str):
        self.namespace = dict(BASE_NAMESPACE, **self.functions)
        self.params = tuple(f"v{leaf.slot}" for leaf in schedule.leaves)
        names, forward = self._values(schedule)
        later = self._later(schedule, of, names)
        self.statements = self._forward(forward, names, later) + later

    def _values(self, schedule):
        """names[slot]: the source that reads a node's value: its variable, a float literal,
        a namespace constant, or (identity) the name of its operand's value; and the
        (step, template) of the forward steps that are not copies."""
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
        forward = []
        for step in schedule.steps:
            template = rules.float_forward(step.gate, step.options)
            if template is None:
                raise NoRule(step.gate.name)
            if template == "{0}":
                names[step.slot] = names[step.args[0]]
            else:
                names[step.slot] = f"v{step.slot}"
                forward.append((step, template))
        return names, forward

    def _later(self, schedule, of: str, names) -> list:
        """The statements after the forward pass: here the backward pass and the return
        (forwardcode.py's listings put the tangents or only the outputs there)."""
        backward, grads = self._backward(schedule.plans[of], names)
        return backward + [self._return(schedule, names, grads)]

    def _const(self, prefix: str, value) -> str:
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def _backward(self, plan, names):
        """The backward statements, and slot -> the name of its final cotangent."""
        seed = f"g{plan.seed}"
        out = [Stmt(f"{seed} = 1.0", (), (seed,))]
        grads = {plan.seed: seed}
        templates: dict = {}  # (gate, axis) -> per operand: (positional template, reads) or None
        for step, needs in plan.steps:
            key = (step.gate.name, step.options.get("axis") if step.options else None)
            vjps = templates.get(key) or templates.setdefault(key, _vjps(step))
            g = grads[step.slot]
            fields = [g, names[step.slot]] + [names[a] for a in step.args]  # {g}, {out}, {0}...
            for a, need, vjp in zip(step.args, needs, vjps):
                if not need:
                    continue
                if vjp is None:
                    raise NoRule(step.gate.name)
                template, reads = vjp
                current = grads.get(a)
                if template == "{0}" and current is None:
                    grads[a] = g  # a copy: read the consumer's cotangent under its own name
                    continue
                text = template.format(*fields)
                reads = [fields[k] for k in reads]
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


def _vjps(step) -> tuple:
    """Per operand of a step's gate: its float cotangent template with the fields {g},
    {out}, {0}, {1}... renumbered {0}, {1}, {2}, {3}... (one ``format`` of a list fills
    it), and the positions of the fields it reads; None where the gate has no rule."""
    vjps = []
    for i in range(step.gate.arity):
        template = rules.float_vjp(step.gate, step.options, i)
        if template is None:
            vjps.append(None)
            continue
        fields = {field for _, field, _, _ in string.Formatter().parse(template) if field}
        reads = [0] * ("g" in fields) + [1] * ("out" in fields)
        reads += sorted(int(f) + 2 for f in fields if f.isdigit())
        positional = template.format(*(f"{{{k + 2}}}" for k in range(step.gate.arity)), g="{0}", out="{1}")
        vjps.append((positional, tuple(reads)))
    return tuple(vjps)
