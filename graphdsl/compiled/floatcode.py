"""Code over Python floats: straight-line ``math`` and float arithmetic, no numpy.

When every binding is a Python float, ``run`` needs no numpy at all. A listing is
made of small passes over the schedule: the forward values, then what follows them
(the backward pass of ``run``, nothing for ``forward``, the tangents of ``jvp``),
then the forward statements nothing reads are dropped. Each step is written from its
gate record's float templates (compiled/lowering.py), with two savings for large
files: a value, cotangent or tangent that is exactly another one (an identity, a sum
of a scalar, what ``+`` passes on) is not copied but read under the name it already
has (each is final once written, so an alias never sees a later change), and each
pattern of step is written once, then filled in per step.

Where Python raises and numpy gives inf or nan (``x / 0``, ``log(0)``...), the caller
reruns the call on the numpy code. ``forward`` and ``jvp`` call numpy's functions in
place of ``math``'s (``numpy_functions``): they give the reference interpreter's bits,
which ``run``'s float code may miss by an ulp.
"""
from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from ..gates import GATES, NAMESPACE
from ..gates.lower import NoCode, literal
from . import lowering
from .source import Stmt, inline_once_read, reuse_names, variables


class Listing(NamedTuple):
    statements: list
    params: tuple
    namespace: dict


def supported(schedule, of: str | None) -> bool:
    """Whether every step (and, for ``of``, every cotangent) has float code; written once
    per pattern, without writing the listing."""
    consts = {slot: repr(float(value)) for slot, value in schedule.constants if not np.ndim(value)}
    try:
        for step in schedule.steps:
            lowering.forward(*_pattern(step, consts), "float")
        for step, needs in (schedule.plans[of].steps if of is not None else ()):
            for i, need in enumerate(needs):
                if need and lowering.cotangent(*_vjp_pattern(step, i, consts), "float", False) is None:
                    return False
    except NoCode:
        return False
    return True


def run_listing(schedule, of: str) -> Listing:
    """``floats(*leaf values) -> (outputs, grads)``, two dicts by name."""
    emit = _Emitter(schedule)
    backward, grads = emit.backward(schedule.plans[of])
    leaf_grads = {leaf.name: grads.get(leaf.slot, "0.0") for leaf in schedule.leaves}
    ret = emit.returns([emit.outputs(), emit.dict(leaf_grads)])
    listing = emit.listing(backward + [ret])
    return listing._replace(statements=reuse_names(listing.statements, listing.params))


def tuple_listing(schedule, of: str, wrt: tuple) -> Listing:
    """``floats(*leaf values) -> (outputs, grads)``, two tuples: every output, then the
    gradient of each leaf in ``wrt`` (Program.function's shape; the same code as run's)."""
    emit = _Emitter(schedule)
    backward, grads = emit.backward(schedule.plans[of])
    outputs = [emit.names[slot] for _, slot in schedule.outputs]
    leaf_grads = [grads.get(leaf.slot, "0.0") for leaf in wrt]
    ret = Stmt(f"return {tuple_text(outputs)}, {tuple_text(leaf_grads)}", variables(outputs + leaf_grads))
    listing = emit.listing(backward + [ret])
    return listing._replace(statements=reuse_names(inline_once_read(listing.statements), listing.params))


def element_program(schedule, of: str) -> tuple:
    """The float code of ``run`` without its return (compiled/fused.py's loop body): the
    statements, the source of each node's value and slot -> the source of its cotangent."""
    emit = _Emitter(schedule, mode="loop")
    backward, grads = emit.backward(schedule.plans[of])
    reads = [emit.names[slot] for _, slot in schedule.outputs] + [grads[leaf.slot] for leaf in schedule.leaves
                                                                  if leaf.slot in grads]
    return _needed(emit.forward, backward + [Stmt("", variables(reads))]) + backward, emit.names, grads


def tuple_text(sources) -> str:
    return "(" + "".join(f"{s}, " for s in sources).rstrip() + ")"


def forward_listing(schedule) -> Listing:
    """``floats(*leaf values) -> outputs`` with numpy's functions (the interpreter's bits)."""
    emit = _Emitter(schedule, numpy_functions())
    return emit.listing([emit.returns([emit.outputs(exported=True)])])


def tangent_listing(schedule, seeded: tuple) -> Listing:
    """``floats(*leaf values, *tangents of the leaves seeded) -> (outputs, output tangents)``."""
    emit = _Emitter(schedule, numpy_functions())
    tangents = {schedule.leaves[k].slot: f"d{schedule.leaves[k].slot}" for k in seeded}
    statements = emit.tangents(tangents)
    out = {name: f"float({tangents[slot]})" if slot in tangents else "0.0" for name, slot in schedule.outputs}
    ret = emit.returns([emit.outputs(exported=True), emit.dict(out)], [tangents.get(s) for _, s in schedule.outputs])
    listing = emit.listing(statements + [ret])
    return listing._replace(params=listing.params + tuple(tangents[schedule.leaves[k].slot] for k in seeded))


def numpy_functions() -> dict:
    """The float templates' math functions replaced by numpy's (each record's ``numpy_names``)."""
    return {name: fn for gate in GATES.values() for name, fn in gate.numpy_names.items()}


class _Emitter:
    """The names of a float listing: every node's source, and the namespace."""

    def __init__(self, schedule, functions: dict | None = None, mode: str = "float"):
        self.schedule, self.mode = schedule, mode
        self.namespace = dict(NAMESPACE, **(functions or {}))
        self.names = [None] * len(schedule.ids)  # the source that reads each node's value
        self.consts = {}  # slot -> repr of a scalar constant (0.0 and -0.0: two keys)
        for leaf in schedule.leaves:
            self.names[leaf.slot] = f"v{leaf.slot}"
        for slot, value in schedule.constants:
            if np.ndim(value):
                raise NoCode("an array constant")
            self.names[slot], self.consts[slot] = literal(float(value)), repr(float(value))
        self.forward = self._forward()

    def _forward(self) -> list:
        out = []
        readers = [0] * len(self.names)
        for step in self.schedule.steps:
            for a in step.args:
                readers[a] += 1
        for _, slot in self.schedule.outputs:
            readers[slot] += 1
        for step in self.schedule.steps:
            code = lowering.forward(*_pattern(step, self.consts), self.mode)
            args = [self.names[a] for a in step.args]
            if readers[step.slot] == 1 and _one_op_on_a_constant(step, code, args, self.consts):
                # Written out where it is read (the one step, and its cotangents) rather than
                # kept: the same operation on the same numbers, and one float fewer alive
                # from the forward pass to the backward (W3: 4 * l and 1 - l, as the floor).
                self.names[step.slot] = f"({code.text.format(*args)})"
            elif code.lines or not _is_copy(code.text):
                self.names[step.slot] = f"v{step.slot}"
                out.append(_statement(code, f"v{step.slot}", args, {"t": f"t{step.slot}_"}))
            else:
                self.names[step.slot] = code.text.format(*args)
        return out

    def backward(self, plan):
        """The backward statements, and slot -> the name of its final cotangent."""
        # The seed is the literal 1.0, and a rule reading it is written knowing that it is
        # one: 1.0 * x is x, bit for bit, so (x + y) * z's gradients are z, z and x + y.
        out, grads = [], {plan.seed: "1.0"}
        for step, needs in plan.steps:
            fields = {"g": grads[step.slot], "out": self.names[step.slot]}
            args = [self.names[a] for a in step.args]
            for i, (a, need) in enumerate(zip(step.args, needs)):
                if not need:
                    continue
                code = lowering.cotangent(*_vjp_pattern(step, i, self.consts), self.mode, fields["g"] == "1.0")
                if code is None:
                    raise NoCode(step.gate.name)
                current = grads.get(a)
                if current is None and not code.lines and (code.text in ("{g}", "{out}") or _is_copy(code.text)):
                    # a copy (of the consumer's cotangent, an operand or a literal): read it
                    # under the name it already has
                    grads[a] = code.text.format(*args, **fields)
                    continue
                out.append(_statement(code, f"g{a}", args, dict(fields, t=f"t{step.slot}_{i}_"), current))
                grads[a] = f"g{a}"
        return out, grads

    def tangents(self, tangents: dict) -> list:
        """The tangent statements (``tangents``: slot -> name, filled in as they are written)."""
        out = []
        for step in self.schedule.steps:
            present = tuple(a in tangents and flows for a, flows in zip(step.args, step.gate.flows))
            if not any(present):
                continue
            name, options, shapes, consts = _pattern(step, self.consts)
            code = lowering.tangent(name, present, options, shapes, (), consts, "float")
            if code is None:
                continue
            args = [self.names[a] for a in step.args]
            fields = {f"t{k}": tangents[a] for k, a in enumerate(step.args) if present[k]}
            if not code.lines and code.text.startswith("{t") and code.text[2:-1].isdigit():
                tangents[step.slot] = fields[code.text[1:-1]]  # passed on unchanged
                continue
            fields.update(out=self.names[step.slot], t=f"t{step.slot}_")
            out.append(_statement(code, f"d{step.slot}", args, fields))
            tangents[step.slot] = f"d{step.slot}"
        return out

    def outputs(self, exported: bool = False) -> tuple:
        """The outputs as a dict source, and what it reads (``float()`` of numpy scalars)."""
        sources = {name: (f"float({self.names[slot]})" if exported else self.names[slot])
                   for name, slot in self.schedule.outputs}
        return self.dict(sources)

    def dict(self, sources: dict) -> tuple:
        text = "{" + ", ".join(f"{self.const('K', name)}: {source}" for name, source in sources.items()) + "}"
        return text, variables(self._names(sources.values()))

    @staticmethod
    def _names(sources) -> list:
        return [s[6:-1] if s.startswith("float(") else s for s in sources]

    def returns(self, parts: list, extra_reads=()) -> Stmt:
        reads = [r for _, part in parts for r in part] + [r for r in extra_reads if r]
        return Stmt("return " + ", ".join(text for text, _ in parts), tuple(dict.fromkeys(reads)))

    def const(self, prefix: str, value) -> str:
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def listing(self, later: list) -> Listing:
        params = tuple(f"v{leaf.slot}" for leaf in self.schedule.leaves)
        return Listing(_needed(self.forward, later) + later, params, self.namespace)


def _items(options) -> tuple:
    return tuple(options.items()) if options else ()


_SCALARS = [((),) * n for n in range(4)]  # the shapes of 0-3 scalar operands, made once
_NONES = [(None,) * n for n in range(4)]


def _pattern(step, consts: dict) -> tuple:
    # (Called per step and per cotangent: 10,000-gate graphs make 26,000 of these on their
    # first run, W6; map and the tuples made once are ~2× a generator's pace.)
    n = len(step.args)
    return (step.gate, _items(step.options), _SCALARS[n] if n < 4 else ((),) * n,
            tuple(map(consts.get, step.args)) if consts else _NONES[n] if n < 4 else (None,) * n)


def _vjp_pattern(step, i: int, consts: dict) -> tuple:
    gate, options, shapes, constants = _pattern(step, consts)
    return gate, i, options, shapes, (), constants


_ONE_OP = frozenset(("+", "-", "*"))  # on Python floats: never raise, exact to the bit


def _one_op_on_a_constant(step, code, args: list, consts: dict) -> bool:
    """Whether a step is ``c op x`` or ``x op c``: one + - * of a constant and a named value."""
    infix = step.gate.infix
    if infix is None or infix.symbol not in _ONE_OP or code.lines or len(step.args) != 2:
        return False
    a, b = step.args
    return (a in consts) != (b in consts) and args[1 if a in consts else 0].isidentifier()


def _is_copy(text: str) -> bool:
    """Whether a template is one operand itself, or a literal: no statement is needed."""
    if text.startswith("{") and text.endswith("}") and text[1:-1].isdigit():
        return True
    return "{" not in text


def _statement(code, target: str, args: list, fields: dict, plus=None) -> Stmt:
    """``target = value`` (``target = plus + (value)``), after the code's temporaries on
    the same line, and what it reads."""
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


def run_forward_listing(schedule) -> Listing:
    """forward_listing with ``run``'s templates as they are (``math``'s functions): run's
    bits, for a derivative program (whose numbers are run's gradients), at math's speed."""
    emit = _Emitter(schedule)
    return emit.listing([emit.returns([emit.outputs(exported=True)])])


_NAME = re.compile(r"\b[vgtd][0-9]\w*")
FUSE_DEPTH = 3  # expressions nested at most this deep (CPython's parser has a limit)


def fused(statements: list) -> list:
    """A value read once, by one later statement, is written into it, parenthesised: the
    same operations in the same order on Python floats (the same bits), without a local
    that holds every temporary until the call returns (fewer floats alive, fewer stores).
    Every name is written once (as in forward's listings), so an expression moved later
    still reads what it read: that makes this one pass, where source.inline_once_read,
    which also handles names written again (run's gradient sums), costs W6's derivative
    program 3.6 s to compile against 0.8 s here."""
    uses: dict = {}
    for stmt in statements:
        for name in _NAME.findall(stmt.text):
            uses[name] = uses.get(name, 0) + 1
    pending: dict = {}  # name -> (its expression, its depth, what it reads), for its one reader
    out = []
    for stmt in statements:
        depth = 0
        if any(name in pending for name in stmt.reads):
            inlined = {name: pending.pop(name) for name in stmt.reads if name in pending}
            depth = max(found[1] for found in inlined.values())
            text = _NAME.sub(lambda m: f"({inlined[m.group()][0]})" if m.group() in inlined else m.group(),
                             stmt.text)
            reads = [r for r in stmt.reads if r not in inlined] + [r for f in inlined.values() for r in f[2]]
            stmt = stmt._replace(text=text, reads=tuple(dict.fromkeys(reads)))
        target = stmt.writes[0] if len(stmt.writes) == 1 else None
        if (target is not None and uses.get(target) == 2 and depth < FUSE_DEPTH and ";" not in stmt.text
                and stmt.text.startswith(target + " = ")):
            pending[target] = (stmt.text[len(target) + 3:], depth + 1, stmt.reads)
            continue
        out.append(stmt)
    return out
