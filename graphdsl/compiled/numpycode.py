"""The numpy code of one output, specialised to one set of shapes: forward, backward, pack.

Knowing every node's shape when the code is written decides once, rather than at every
call, whether a cotangent must be summed back over broadcast axes and which branch of a
rank-dependent rule (matmul's) applies. Each step is written from its gate record
(compiled/lowering.py); on float64 arrays the records' speed forms apply above
INPLACE_MIN elements:

* a gate with a ``ufunc`` (``+ - *``) or an ``over`` form writes its value into the array
  of an operand that nothing reads afterwards (numpy's own temporary elision, which named
  variables defeat);
* ``forward``, ``vjp`` and ``partial`` forms reuse their temporaries through ``out=``;
* ``constant`` forms replace a rule for a constant operand (``x ** 2.0`` as ``x * x``).

The cotangent of an array output is ones; ``ones * p`` is ``p``, so a partial is not
multiplied by it (nor by what ``+`` and ``sum`` pass on from it) and the ones are never
made once nothing reads them.
"""
from __future__ import annotations

import math

import numpy as np

from ..gates import NAMESPACE
from ..gates.lower import literal
from ..run.interpret import seed_like
from . import lowering
from .export import export, unshared
from .source import Stmt, live, variables, with_deletes

INPLACE_MIN = 1 << 12  # elements: below this a fresh temporary costs less than the bookkeeping

BASE_NAMESPACE = dict(NAMESPACE, SEED=seed_like, EXPORT=export, UNSHARED=unshared, ZEROS_LIKE=np.zeros_like)


class Listing:
    """Statements and the namespace their upper-case names refer to."""

    def __init__(self, schedule, of: str, shapes, float64=False):
        self.schedule, self.shapes, self.float64 = schedule, shapes, float64
        self.plan = schedule.plans[of]
        self.namespace = dict(BASE_NAMESPACE)
        self.names, self.consts = self._constants()
        self.params = tuple(f"v{leaf.slot}" for leaf in schedule.leaves)
        self.passes_on = False  # a cotangent handed on unchanged: two gradients may be one array
        backward = self._backward()
        ret = self._return()
        statements = self._forward(_needed(schedule, backward + [ret])) + backward + [ret]
        self.statements = with_deletes(live(statements), set(self.params))

    def const(self, prefix: str, value) -> str:
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def _constants(self):
        """Sources of the values (constants written in: finite floats as literals, arrays and
        the rest as namespace entries) and the scalar constants' values."""
        names = [f"v{slot}" for slot in range(len(self.schedule.ids))]
        consts = [None] * len(names)
        for slot, value in self.schedule.constants:
            if isinstance(value, float) and math.isfinite(value):
                names[slot], consts[slot] = literal(value), repr(value)  # 0.0 and -0.0: two keys
            else:
                names[slot] = self.const("C", value)
        return names, consts

    def _large(self, slot) -> bool:
        return self.float64 and math.prod(self.shapes[slot] or (0,)) >= INPLACE_MIN

    def _pattern(self, step):
        return (step.gate, _items(step.options), tuple(self.shapes[a] for a in step.args),
                tuple(self.consts[a] for a in step.args))

    def _statement(self, code, target, step, g=None, plus=None, i="") -> Stmt:
        self.namespace.update(code.names)
        args = [self.names[a] for a in step.args]
        fields = {"g": g, "out": self.names[step.slot], "t": f"t{step.slot}_{i}"}
        lines = [line.format(*args, **fields) for line in code.lines]
        value = code.text.format(*args, **fields)
        reads = [fields[f] if isinstance(f, str) else args[f] for f in code.reads]
        if plus is not None:
            value, reads = f"{plus} + ({value})", reads + [plus]
        temps = [line.split(" = ", 1)[0] for line in lines]
        text = "; ".join(lines + [f"{target} = {value}"] + ([f"del {', '.join(temps)}"] if temps else []))
        return Stmt(text, variables(reads), (target,))

    # ------------------------------------------------------------ forward
    def _forward(self, needed) -> list:
        steps = self.schedule.steps
        aliased = {a for step in steps if step.gate.aliases for a in step.args}
        self.donors = {f"v{step.slot}" for step in steps
                       if step.gate.elementwise and not step.gate.aliases and step.slot not in aliased}
        return [self._step(step) for step in steps if f"v{step.slot}" in needed]

    def _step(self, step) -> Stmt:
        name, speed = f"v{step.slot}", step.gate.speed
        args = [self.names[a] for a in step.args]
        special = self._constant_form(step)
        if special is None and self._large(step.slot) and "forward" in speed:
            special = f"{self.const('S', speed['forward'])}({', '.join(args)})"
        if special is not None:
            stmt = Stmt(f"{name} = {special.format(*args)}", variables(args), (name,))
        else:
            stmt = self._statement(lowering.forward(*self._pattern(step), "numpy"), name, step)
        over = speed.get("ufunc") or speed.get("over")
        if not over or not self._large(step.slot):
            return stmt
        donors = tuple(a for a in variables(args) if a in self.donors and
                       self.shapes[step.slot] == self.shapes[int(a[1:])])
        if not donors:
            return stmt
        if "ufunc" in speed:
            inplace = f"{speed['ufunc']}({', '.join(args)}, out={{dst}})"
        else:  # a unary rule that computes over its operand's array
            inplace = f"{self.const('S', speed['over'])}({{dst}})"
        return stmt._replace(inplace=inplace, donors=donors)

    def _constant_form(self, step):
        if not self.float64:
            return None
        for (k, value), form in step.gate.speed.get("constant", {}).items():
            if self.consts[step.args[k]] == repr(value) and self.shapes[step.args[0]]:
                return form
        return None

    # ------------------------------------------------------------ backward
    def _backward(self) -> list:
        plan = self.plan
        seed = f"g{plan.seed}"
        out = [Stmt(f"{seed} = SEED({self.names[plan.seed]})", variables([self.names[plan.seed]]), (seed,))]
        self.has_grad = {plan.seed}
        # Slots whose cotangent is exactly ones of the slot's shape (float64 code).
        self.ones = {plan.seed} if self.float64 else set()
        for back in plan.steps:
            step = back.step
            for i, (a, need) in enumerate(zip(step.args, back.needs)):
                if need:
                    out.append(self._cotangent(step, i, a))
        return out

    def _cotangent(self, step, i, a) -> Stmt:
        g, target = f"g{step.slot}", f"g{a}"
        plus = target if a in self.has_grad else None
        speed = step.gate.speed
        if "vjp" in speed and self._large(step.slot):  # unary: the operand's shape
            fn, operands = (speed["partial"], [self.names[step.slot]]) if step.slot in self.ones else \
                (speed["vjp"], [g, self.names[step.slot]])
            value = f"{self.const('S', fn)}({', '.join(operands)})"
            reads = list(variables(operands))
            if plus is not None:
                value, reads = f"{plus} + ({value})", reads + [plus]
            self.has_grad.add(a)
            self.ones.discard(a)
            return Stmt(f"{target} = {value}", tuple(reads), (target,))
        pattern = self._pattern(step)
        code = lowering.cotangent(pattern[0], i, pattern[1], pattern[2], self.shapes[step.slot], pattern[3],
                                  "numpy", step.slot in self.ones)
        if code.text == "{g}":
            self.passes_on = True
        if plus is not None:
            self.ones.discard(a)
        elif code.expr.ones:
            self.ones.add(a)
        self.has_grad.add(a)
        return self._statement(code, target, step, g, plus, f"{i}_")

    # ------------------------------------------------------------ results
    def _return(self) -> Stmt:
        sched = self.schedule
        reads, outputs, grads = [], [], []
        for name, slot in sched.outputs:
            value = self.names[slot]
            reads += variables([value])
            outputs.append(f"{self.const('K', name)}: EXPORT({value})")
        for leaf in sched.leaves:
            slot = leaf.slot
            if slot in self.has_grad:
                text = f"EXPORT(g{slot})"
                reads.append(f"g{slot}")
            else:
                text = f"EXPORT(ZEROS_LIKE(v{slot}))"
                reads.append(f"v{slot}")
            grads.append(f"{self.const('K', leaf.name)}: {text}")
        text = "{" + ", ".join(outputs) + "}, {" + ", ".join(grads) + "}"
        return Stmt(f"return UNSHARED({text})" if self._may_share() else f"return {text}",
                    tuple(dict.fromkeys(reads)))

    def _may_share(self) -> bool:
        """Whether two results may be one array (see export.unshared): only through a gate
        that passes its cotangent on unchanged or whose value is a view, and only with two
        array results. Decided here once, as the check costs ~1 µs a call."""
        sched, shapes = self.schedule, self.shapes
        slots = [slot for _, slot in sched.outputs] + [leaf.slot for leaf in sched.leaves]
        return sum(1 for slot in slots if shapes[slot]) > 1 and (
            self.passes_on or any(step.gate.aliases for step in sched.steps))


def _items(options) -> tuple:
    return tuple(options.items()) if options else ()


def _needed(schedule, later) -> set:
    needed = {f"v{slot}" for _, slot in schedule.outputs}
    for stmt in later:
        needed.update(n for n in stmt.reads if n[0] == "v")
    for step in reversed(schedule.steps):
        if f"v{step.slot}" in needed:
            needed.update(f"v{a}" for a in step.args)
    return needed
