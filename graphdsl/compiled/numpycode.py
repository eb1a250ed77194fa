"""numpy code specialised to one set of shapes: forward, then backward (``run``),
nothing more (``forward``) or the tangents (``jvp``).

Knowing every node's shape when the code is written decides once, rather than at every
call, whether a cotangent must be summed back over broadcast axes and which branch of a
rank-dependent rule (matmul's) applies. Each step is written from its gate record
(compiled/lowering.py); on float64 arrays the records' speed forms apply above
INPLACE_MIN elements:

* a gate with a ``ufunc`` (``+ - *``) or an ``over`` form writes its value into the array
  of an operand that nothing reads afterwards (numpy's own temporary elision, which named
  variables defeat);
* ``forward``, ``vjp`` and ``partial`` forms reuse their temporaries through ``out=``;
* ``constant`` forms replace a rule for a constant operand (``x ** 2.0`` as ``x * x``);
* a ``keeping`` form computes the value and what the cotangent's ``vjp_kept`` form reuses
  (softmax cross-entropy's exponentials), where the backward pass needs that cotangent.

The cotangent of an array output is ones; ``ones * p`` is ``p``, so a partial is not
multiplied by it (nor by what ``+`` and ``sum`` pass on from it) and the ones are never
made once nothing reads them.
"""
from __future__ import annotations

import math

import numpy as np

from ..gates import NAMESPACE
from ..gates.lower import literal
from ..run.export import export, owned, unshared
from ..run.interpret import broadcast_to, seed_like
from . import lowering
from .floatcode import Listing
from .source import Stmt, live, variables, with_deletes

INPLACE_MIN = 1 << 12  # elements: below this a fresh temporary costs less than the bookkeeping

BASE_NAMESPACE = dict(NAMESPACE, SEED=seed_like, EXPORT=export, OWN=owned, UNSHARED=unshared, ZEROS_LIKE=np.zeros_like,
                      BT=broadcast_to)


def run_listing(schedule, of: str, shapes, float64=False) -> Listing:
    """``arrays(*leaf values) -> (outputs, grads)``."""
    emit = _Emitter(schedule, shapes, float64)
    backward, grads = emit.backward(schedule.plans[of])
    leaf_grads = {leaf.name: (f"{emit.export(grads[leaf.slot])}({grads[leaf.slot]})" if leaf.slot in grads else
                              f"EXPORT(ZEROS_LIKE(v{leaf.slot}))", [grads.get(leaf.slot, f"v{leaf.slot}")])
                  for leaf in schedule.leaves}
    return emit.listing(backward, [emit.outputs(), emit.dict(leaf_grads)])


def train_listing(schedule, of: str, shapes, float64: bool, names) -> Listing:
    """``arrays(*leaf values) -> (outputs, grads)`` for a training step: the gradients of the
    leaves ``names`` only, read by the optimizer and never handed to a user, so neither
    exported nor unshared (a caller's own array is still copied: the optimizer writes
    params in place)."""
    emit = _Emitter(schedule, shapes, float64)
    backward, grads = emit.backward(schedule.plans[of])
    leaf_grads = {leaf.name: (f"OWN({grads[leaf.slot]})" if grads[leaf.slot] in emit.callers else
                              grads[leaf.slot], [grads[leaf.slot]])
                  for leaf in schedule.leaves if leaf.name in names and leaf.slot in grads}
    return emit.listing(backward, [emit.outputs(), emit.dict(leaf_grads)], unshared=False)


def forward_listing(schedule, shapes, float64=False) -> Listing:
    """``arrays(*leaf values) -> outputs``."""
    emit = _Emitter(schedule, shapes, float64)
    return emit.listing([], [emit.outputs()], only=0)


def tangent_listing(schedule, seeded: tuple, shapes, float64=False) -> Listing:
    """``arrays(*leaf values, *tangents of the leaves seeded) -> (outputs, output tangents)``."""
    emit = _Emitter(schedule, shapes, float64)
    tangents = {schedule.leaves[k].slot: f"d{schedule.leaves[k].slot}" for k in seeded}
    emit.callers.update(tangents.values())
    statements = emit.tangents(tangents)
    out = {name: (f"{emit.export(tangents[slot])}({tangents[slot]})", [tangents[slot]]) if slot in tangents else
           (f"EXPORT(ZEROS_LIKE({emit.names[slot]}))", [emit.names[slot]]) for name, slot in schedule.outputs}
    listing = emit.listing(statements, [emit.outputs(), emit.dict(out)])
    return listing._replace(params=listing.params + tuple(tangents[schedule.leaves[k].slot] for k in seeded))


class _Emitter:
    """The names and namespace of one numpy listing, and its passes."""

    def __init__(self, schedule, shapes, float64):
        self.schedule, self.shapes, self.float64 = schedule, shapes, float64
        self.namespace = dict(BASE_NAMESPACE)
        self.names = [f"v{slot}" for slot in range(len(schedule.ids))]
        self.consts = [None] * len(self.names)  # repr of a scalar constant (0.0 and -0.0: two keys)
        for slot, value in schedule.constants:
            if isinstance(value, float) and math.isfinite(value):
                self.names[slot], self.consts[slot] = literal(value), repr(value)
            else:
                self.names[slot] = self.const("C", value)
        self.passes_on = False  # a cotangent handed on unchanged: two results may be one array
        self.donors = _donors(schedule)
        self.keeping = set()  # steps whose forward keeps what their cotangent reuses (speed "keeping")
        self.fresh = set()  # cotangents that are new arrays no other name holds (donors)
        # Names whose array may be a caller's (a bound array, or a view of one): a gradient
        # such as sum(w * x)'s, which is x itself, is handed out as a copy.
        self.callers = {f"v{leaf.slot}" for leaf in schedule.leaves}
        for step in schedule.steps:
            copied = self.copy_of(step)
            if copied is not None:  # (x * 1.0 is x: two names for one array, neither written over)
                self.donors.discard(f"v{step.slot}")
                self.donors.discard(f"v{copied}")
                self.passes_on = True
            if (step.gate.aliases or copied is not None) and any(f"v{a}" in self.callers for a in step.args):
                self.callers.add(f"v{step.slot}")

    def copy_of(self, step):
        """The operand whose value a step's code gives as it is (its array), or None."""
        if _constant_form(self, step) is not None:
            return None
        code = lowering.forward(*self.pattern(step), "numpy")
        text = code.text
        if code.lines or not (text[:1] == "{" and text[-1:] == "}" and text[1:-1].isdigit()):
            return None
        return step.args[int(text[1:-1])]

    def export(self, name: str) -> str:
        return "OWN" if name in self.callers else "EXPORT"

    def may_be_callers(self, stmt: Stmt, code, plus) -> Stmt:
        """Mark the statement's target as maybe a caller's array: its value is an operand
        itself, or a view of one, that may be."""
        expr = code.expr
        if plus is None and (expr.op == "var" or expr.gate is not None and expr.gate.aliases) and \
                any(name in self.callers for name in stmt.reads):
            self.callers.add(stmt.writes[0])
        return stmt

    def const(self, prefix: str, value) -> str:
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def large(self, slot) -> bool:
        return self.float64 and math.prod(self.shapes[slot] or (0,)) >= INPLACE_MIN

    def pattern(self, step) -> tuple:
        return (step.gate, tuple(step.options.items()) if step.options else (),
                tuple(self.shapes[a] for a in step.args), tuple(self.consts[a] for a in step.args))

    def statement(self, code, target, step, fields=None, plus=None, temps="") -> Stmt:
        self.namespace.update(code.names)
        args = [self.names[a] for a in step.args]
        fields = dict(fields or {}, out=self.names[step.slot], t=f"t{step.slot}_{temps}")
        lines = [line.format(*args, **fields) for line in code.lines]
        value = code.text.format(*args, **fields)
        reads = [fields[f] if isinstance(f, str) else args[f] for f in code.reads]
        if plus is not None:
            value, reads = f"{plus} + ({value})", reads + [plus]
        temps = [line.split(" = ", 1)[0] for line in lines]
        text = "; ".join(lines + [f"{target} = {value}"] + ([f"del {', '.join(temps)}"] if temps else []))
        return Stmt(text, variables(reads), (target,))

    # ------------------------------------------------------------ the passes
    def forward(self, needed: set) -> list:
        return [_step(self, step) for step in self.schedule.steps if f"v{step.slot}" in needed]

    def backward(self, plan):
        """The backward statements, and slot -> the name of its cotangent."""
        seed = f"g{plan.seed}"
        out = [Stmt(f"{seed} = SEED({self.names[plan.seed]})", variables([self.names[plan.seed]]), (seed,))]
        grads = {plan.seed: seed}
        ones = {plan.seed} if self.float64 else set()  # cotangents exactly ones of their shape
        for back in plan.steps:
            for i, (a, need) in enumerate(zip(back.step.args, back.needs)):
                if need:
                    out.append(_cotangent(self, back.step, i, grads, ones))
        return out, grads

    def tangents(self, tangents: dict) -> list:
        out = []
        for step in self.schedule.steps:
            present = tuple(a in tangents and flows for a, flows in zip(step.args, step.gate.flows))
            if not any(present):
                continue
            gate, options, shapes, consts = self.pattern(step)
            code = lowering.tangent(gate, present, options, shapes, self.shapes[step.slot], consts, "numpy")
            if code is None:
                continue
            stmt = self.statement(code, f"d{step.slot}", step, {f"t{k}": tangents[a] for k, a in
                                                                 enumerate(step.args) if present[k]})
            self.may_be_callers(stmt, code, None)
            if code.expr.shape != self.shapes[step.slot]:  # as the interpreter: the value's shape
                shape = self.const("S", self.shapes[step.slot])
                stmt = stmt._replace(text=f"{stmt.text}; d{step.slot} = BT(d{step.slot}, {shape})")
            out.append(stmt)
            tangents[step.slot] = f"d{step.slot}"
        return out

    # ------------------------------------------------------------ results
    def outputs(self) -> tuple:
        return self.dict({name: (f"{self.export(self.names[slot])}({self.names[slot]})", [self.names[slot]])
                          for name, slot in self.schedule.outputs})

    def dict(self, items: dict) -> tuple:
        text = "{" + ", ".join(f"{self.const('K', name)}: {source}" for name, (source, _) in items.items()) + "}"
        return text, variables([r for _, reads in items.values() for r in reads])

    def listing(self, later: list, parts: list, only=None, unshared=True) -> Listing:
        texts = [text for text, _ in parts]
        reads = tuple(dict.fromkeys(r for _, part in parts for r in part))
        if unshared and self.may_share():
            value = f"UNSHARED({texts[0]}, {texts[1] if len(texts) > 1 else '{}'})"
            value += "[0]" if only == 0 else ""
        else:
            value = ", ".join(texts)
        ret = Stmt(f"return {value}", reads)
        forward = self.forward(_needed(self.schedule, later + [ret]))
        params = tuple(f"v{leaf.slot}" for leaf in self.schedule.leaves)
        return Listing(with_deletes(live(forward + later + [ret]), set(params)), params, self.namespace)

    def may_share(self) -> bool:
        """Whether two results may be one array (see export.unshared): only through a gate
        that passes its cotangent on unchanged or whose value is a view, and only with two
        array results. Decided here once, as the check costs ~1 µs a call."""
        sched, shapes = self.schedule, self.shapes
        slots = [slot for _, slot in sched.outputs] + [leaf.slot for leaf in sched.leaves]
        return sum(1 for slot in slots if shapes[slot]) > 1 and (
            self.passes_on or any(step.gate.aliases for step in sched.steps))


def _step(emit: _Emitter, step) -> Stmt:
    """A forward statement, with the gate's speed forms where they apply."""
    name, speed = f"v{step.slot}", step.gate.speed
    args = [emit.names[a] for a in step.args]
    if step.slot in emit.keeping:  # the value, and what the gradient reuses
        return Stmt(f"{name}, s{step.slot} = {emit.const('S', speed['keeping'])}({', '.join(args)})",
                    variables(args), (name, f"s{step.slot}"))
    special = _constant_form(emit, step)
    if special is None and emit.large(step.slot) and "forward" in speed:
        special = f"{emit.const('S', speed['forward'])}({', '.join(args)})"
    if special is not None:
        stmt = Stmt(f"{name} = {special.format(*args)}", variables(args), (name,))
    else:
        stmt = emit.statement(lowering.forward(*emit.pattern(step), "numpy"), name, step)
    over = speed.get("ufunc") or speed.get("over")
    if not over or not emit.large(step.slot):
        return stmt
    donors = tuple(a for a in variables(args) if a in emit.donors and
                   emit.shapes[step.slot] == emit.shapes[int(a[1:])])
    if not donors:
        return stmt
    if "ufunc" in speed:
        inplace = f"{speed['ufunc']}({', '.join(args)}, out={{dst}})"
    else:  # a unary rule that computes over its operand's array
        inplace = f"{emit.const('S', speed['over'])}({{dst}})"
    return stmt._replace(inplace=inplace, donors=donors)


def _donors(schedule) -> set:
    """Values whose array a later step may write its result into once nothing reads them:
    fresh arrays made by an elementwise gate, never shared by an alias."""
    aliased = {a for step in schedule.steps if step.gate.aliases for a in step.args}
    return {f"v{step.slot}" for step in schedule.steps
            if (step.gate.elementwise or step.gate.speed.get("fresh")) and not step.gate.aliases
            and step.slot not in aliased}


def _constant_form(emit: _Emitter, step):
    if not emit.float64:
        return None
    for (k, value), form in step.gate.speed.get("constant", {}).items():
        if emit.consts[step.args[k]] == repr(value) and emit.shapes[step.args[0]]:
            return form
    return None


def _cotangent(emit: _Emitter, step, i: int, grads: dict, ones: set) -> Stmt:
    a = step.args[i]
    g, target = grads[step.slot], f"g{a}"
    plus = grads.get(a)
    grads[a] = target
    speed = step.gate.speed
    kept = speed.get("vjp_kept")
    if kept is not None and kept[0] == i:  # made from what the forward step keeps (s<slot>)
        emit.keeping.add(step.slot)
        value, reads = f"{emit.const('S', kept[1])}(s{step.slot}, {g})", [f"s{step.slot}", f"v{step.slot}", g]
        if plus is not None:
            value, reads = f"{plus} + ({value})", reads + [plus]
        ones.discard(a)
        return Stmt(f"{target} = {value}", variables(reads), (target,))
    if "vjp" in speed and emit.large(step.slot):  # unary: the operand's shape
        fn, operands = (speed["partial"], [emit.names[step.slot]]) if step.slot in ones else \
            (speed["vjp"], [g, emit.names[step.slot]])
        value, reads = f"{emit.const('S', fn)}({', '.join(operands)})", list(variables(operands))
        inplace, donors = "", ()
        if plus is not None:
            value, reads = f"{plus} + ({value})", reads + [plus]
        elif "vjp_over" in speed and g in emit.fresh and step.slot not in ones:
            # into g's own array where nothing reads it afterwards (see with_deletes)
            inplace, donors = f"{emit.const('S', speed['vjp_over'])}({', '.join(operands)}, {{dst}})", (g,)
        ones.discard(a)
        emit.fresh.add(target)
        return Stmt(f"{target} = {value}", tuple(reads), (target,), inplace, donors)
    gate, options, shapes, consts = emit.pattern(step)
    code = lowering.cotangent(gate, i, options, shapes, emit.shapes[step.slot], consts, "numpy", step.slot in ones)
    # (a cotangent that is g, the value or an operand as it is: one array for two results)
    emit.passes_on |= code.expr.op == "var"
    if plus is not None:
        ones.discard(a)
    elif code.expr.ones:
        ones.add(a)
    gate = code.expr.gate
    if plus is not None or gate is not None and (gate.elementwise or gate.speed.get("fresh")) and not gate.aliases:
        emit.fresh.add(target)  # a new array, this name's alone
    else:
        emit.fresh.discard(g)  # (g handed on as it is: two names for one array)
    return emit.may_be_callers(emit.statement(code, target, step, {"g": g}, plus, f"{i}_"), code, plus)


def _needed(schedule, later) -> set:
    needed = {f"v{slot}" for _, slot in schedule.outputs}
    for stmt in later:
        needed.update(n for n in stmt.reads if n[0] == "v")
    for step in reversed(schedule.steps):
        if f"v{step.slot}" in needed:
            needed.update(f"v{a}" for a in step.args)
    return needed
