"""The schedule of one output as straight-line Python source: forward, backward, pack.

``listing`` turns a Schedule into statements over generated names (``v12`` is the
value of slot 12, ``g12`` its cotangent, ``C3``/``K0``/``F7`` namespace entries);
user text only ever enters as namespace values, never as source. Statements record
the names they read, so that dead steps are dropped, values are deleted right after
their last use (the memory of a long chain stays flat), and a listing too long for
one function is cut into chunks that pass live names through a list (CPython's
compiler slows down superlinearly on functions of 100,000 lines).

Two modes (see rules.py): "float" code over Python floats, and "numpy" code
specialised to one set of shapes (``shapes[slot]``), so that whether a cotangent
must be summed back over broadcast axes, and which branch of the matmul rule
applies, is decided here once rather than at every call.
"""
from __future__ import annotations

import math
import string
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from . import rules
from .execute import seed_like, unbroadcast
from .gates import MINUS_ONE, ONE

CHUNK = 100_000  # statements per function: CPython compiles longer ones superlinearly


class NoRule(Exception):
    """A gate has no template in this mode (the caller uses another path)."""


class Stmt(NamedTuple):
    text: str
    reads: tuple = ()
    writes: tuple = ()


def _export(value):
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return float(value)
        return value if value.flags.writeable else value.copy()
    return float(value)


BASE_NAMESPACE = dict(rules.NAMESPACE, UB=unbroadcast, SEED=seed_like, EXPORT=_export,
                      ZEROS_LIKE=np.zeros_like, FULL=np.full, DIVIDE=np.divide)


class Listing:
    """Statements and the namespace their upper-case names refer to."""

    def __init__(self, schedule, of: str, mode: str, shapes=None, float64=False):
        self.schedule, self.mode, self.shapes = schedule, mode, shapes
        self.float64 = float64  # numpy mode: every value is float64 (in-place rules apply)
        self.plan = schedule.plans[of]
        self.constant_values = dict(schedule.constants)
        self.constant_names = self._constants()
        self.namespace = dict(BASE_NAMESPACE)
        self.params = tuple(f"v{leaf.slot}" for leaf in schedule.leaves)
        backward = self._backward()
        ret = self._return()
        needed = self._needed(backward + [ret])
        self.statements = self._forward(needed) + backward + [ret]
        if mode == "numpy":
            self.statements = _with_deletes(_live(self.statements), set(self.params))

    def const(self, prefix: str, value) -> str:
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name

    # ------------------------------------------------------------ forward
    def _needed(self, later) -> set:
        needed = {f"v{slot}" for _, slot in self.schedule.outputs}
        for stmt in later:
            needed.update(n for n in stmt.reads if n[0] == "v")
        for step in reversed(self.schedule.steps):
            if f"v{step.slot}" in needed:
                needed.update(f"v{a}" for a in step.args)
        return needed

    def _constants(self) -> dict:
        """Constants are written into the code: float literals (``repr`` round-trips) or,
        for arrays and non-finite numbers, namespace entries."""
        names = {}
        for slot, value in self.schedule.constants:
            if self.mode == "float" and np.ndim(value):
                raise NoRule("an array constant")
            if isinstance(value, float) and math.isfinite(value):
                names[slot] = f"({value!r})"
            else:
                names[slot] = self.const("C", value)
        return names

    def _name(self, slot: int) -> str:
        return self.constant_names.get(slot) or f"v{slot}"

    def _forward(self, needed) -> list:
        out = []
        for step in self.schedule.steps:
            name = f"v{step.slot}"
            if name not in needed:
                continue
            args = [self._name(a) for a in step.args]
            if self.mode == "float":
                template = rules.float_forward(step.gate, step.options)
                if template is None:
                    raise NoRule(step.gate.name)
                text = template.format(*args)
            else:
                text = self._numpy_forward(step, args)
            out.append(Stmt(f"{name} = {text}", _variables(args), (name,)))
        return out

    def _large(self, slot) -> bool:
        return self.float64 and math.prod(self.shapes[slot] or (0,)) >= rules.INPLACE_MIN

    def _numpy_forward(self, step, args) -> str:
        template = rules.NUMPY_FORWARD.get(step.gate.name)
        if template is None and self._large(step.slot):
            template = rules.INPLACE_FORWARD.get(step.gate.name)
        if template is not None:
            return template.format(*args)
        if step.gate.name == "sum" and self.shapes[step.args[0]]:
            # np.sum of an ndarray is np.add.reduce, minus two layers of Python.
            return f"ADD_REDUCE({', '.join(args + self._options(step))})"
        return f"{self.const('F', step.gate.forward)}({', '.join(args + self._options(step))})"

    def _options(self, step) -> list:
        # Option names come from the gate table (validated by build); values via the namespace.
        return [f"{key}={self.const('O', value)}" for key, value in step.options.items()]

    # ------------------------------------------------------------ backward
    def _backward(self) -> list:
        plan = self.plan
        seed = f"g{plan.seed}"
        value = self._name(plan.seed)
        out = [Stmt(f"{seed} = " + ("1.0" if self.mode == "float" else f"SEED({value})"),
                    () if self.mode == "float" else _variables([value]), (seed,))]
        self.has_grad = {plan.seed}
        for back in plan.steps:
            step = back.step
            for i, (a, need) in enumerate(zip(step.args, back.needs)):
                if not need:
                    continue
                text, reads = self._cotangent(step, i)
                target = f"g{a}"
                if a in self.has_grad:
                    text, reads = f"{target} + ({text})", reads + [target]
                self.has_grad.add(a)
                out.append(Stmt(f"{target} = {text}", tuple(dict.fromkeys(reads)), (target,)))
        return out

    def _cotangent(self, step, i: int):
        """Source of operand i's cotangent at one step, and the names it reads."""
        g, out = f"g{step.slot}", f"v{step.slot}"
        args = [self._name(a) for a in step.args]
        if self.mode == "float":
            template = rules.float_vjp(step.gate, step.options, i)
            if template is None:
                raise NoRule(step.gate.name)
            return _fill(template, g, out, args)
        return self._numpy_cotangent(step, i, g, out, args)

    def _numpy_cotangent(self, step, i, g, out, args):
        gate, shapes = step.gate, self.shapes
        arg_shape, out_shape = shapes[step.args[i]], shapes[step.slot]
        axis = step.options.get("axis", 0)
        if gate.partials is not None:
            text, reads = self._partial(step, i, g, out, args)
            exact = arg_shape == out_shape
        elif gate.name in ("matmul", "dot") and all(len(shapes[a]) in (1, 2) for a in step.args):
            ranks = [len(shapes[a]) for a in step.args]
            text, reads = _fill(rules.matmul_vjp(*ranks, i), g, out, args)
            exact = True
        elif gate.name in ("sum", "mean") and axis is None and arg_shape:
            scale = f"DIVIDE({{g}}, {math.prod(arg_shape)})" if gate.name == "mean" else "{g}"
            text, reads = _fill(f"FULL({self.const('S', arg_shape)}, {scale})", g, out, args)
            exact = True
        else:
            text, reads = self._call(gate.vjps[i], [g, out] + args, self._options(step))
            exact = False
        if not exact:
            text = f"UB({text}, {self.const('S', arg_shape)})"
        return text, reads

    def _partial(self, step, i, g, out, args):
        partial = step.gate.partials[i]
        if partial is ONE:
            return g, [g]
        if partial is MINUS_ONE:
            return f"-{g}", [g]
        if step.gate.name == "mul":  # the partial of a*b is the other operand
            return f"{g} * {args[1 - i]}", [g, *_variables([args[1 - i]])]
        template = rules.INPLACE_VJP.get(step.gate.name) if self._large(step.slot) else None
        if template is not None and step.slot == self.plan.seed:
            template = rules.INPLACE_PARTIAL[step.gate.name]  # g is ones_like(out), float64
        if template is not None:  # a unary gate: the cotangent has the operand's shape
            return _fill(template, g, out, args)
        exponent = self.constant_values.get(step.args[1]) if step.gate.name == "pow" and i == 0 else None
        if isinstance(exponent, float) and math.isfinite(exponent):
            text, reads = _fill(rules.pow_partial(exponent), g, out, args)
            return f"{g} * {text}", [g] + reads
        text, reads = self._call(partial, [out] + args, [])
        return f"{g} * {text}", [g] + reads

    def _call(self, fn, operands, options):
        """A call of a rule from the gate table; operands it never reads are passed as None
        (so they need not be kept alive for it)."""
        flags = rules.reads(fn, len(operands))
        passed = [name if used else "None" for name, used in zip(operands, flags)]
        text = f"{self.const('R', fn)}({', '.join(passed + options)})"
        return text, list(_variables(name for name, used in zip(operands, flags) if used))

    # ------------------------------------------------------------ results
    def _return(self) -> Stmt:
        sched, float_mode = self.schedule, self.mode == "float"
        reads, outputs, grads = [], [], []
        for name, slot in sched.outputs:
            value = self._name(slot)
            reads += _variables([value])
            outputs.append(f"{self.const('K', name)}: {value if float_mode else f'EXPORT({value})'}")
        for leaf in sched.leaves:
            slot = leaf.slot
            if slot in self.has_grad:
                text = f"g{slot}" if float_mode else f"EXPORT(g{slot})"
                reads.append(f"g{slot}")
            else:
                text = "0.0" if float_mode else f"EXPORT(ZEROS_LIKE(v{slot}))"
                reads += [] if float_mode else [f"v{slot}"]
            grads.append(f"{self.const('K', leaf.name)}: {text}")
        text = "return {" + ", ".join(outputs) + "}, {" + ", ".join(grads) + "}"
        return Stmt(text, tuple(dict.fromkeys(reads)))


def _fill(template: str, g: str, out: str, args: list):
    text = template.format(*args, g=g, out=out)
    fields = _fields(template)
    reads = [g] * ("g" in fields) + [out] * ("out" in fields)
    reads += [name for k, name in enumerate(args) if str(k) in fields]
    return text, list(_variables(reads))


@lru_cache(maxsize=None)
def _fields(template: str) -> frozenset:
    return frozenset(field for _, field, _, _ in string.Formatter().parse(template) if field)


def _variables(names) -> tuple:
    """The generated variables among operand sources (not literals or namespace constants)."""
    return tuple(n for n in dict.fromkeys(names) if n[0] in "vg")


def _live(statements: list) -> list:
    """The statements whose results are read later (or returned); all are pure."""
    needed, out = set(), []
    for stmt in reversed(statements):
        if not stmt.writes or any(name in needed for name in stmt.writes):
            needed.update(stmt.reads)
            out.append(stmt)
    return out[::-1]


def _with_deletes(statements: list, keep: set) -> list:
    """Insert ``del name`` right after the last statement that reads each name."""
    last = {}
    for i, stmt in enumerate(statements):
        for name in stmt.reads:
            last[name] = i
    out = []
    for i, stmt in enumerate(statements):
        out.append(stmt)
        dead = [name for name in stmt.reads if last[name] == i and name not in keep]
        if dead and not stmt.text.startswith("return"):
            out.append(Stmt("del " + ", ".join(dict.fromkeys(dead)), tuple(dead)))
    return out


def source(listing: Listing, name: str) -> str:
    """The listing as one function ``name(*leaf values)``, or as chunks called in turn that
    hand the names still needed on in one list (one unpacking statement per chunk)."""
    stmts, params = listing.statements, listing.params
    if len(stmts) <= CHUNK:
        return _function(name, params, [s.text for s in stmts])
    pieces = [stmts[i:i + CHUNK] for i in range(0, len(stmts), CHUNK)]
    first_write = dict.fromkeys(params, -1)
    last_read = {}
    for k, piece in enumerate(pieces):
        for stmt in piece:
            for n in stmt.reads:
                last_read[n] = k
            for n in stmt.writes:
                first_write.setdefault(n, k)
    live_in = [[n for n in first_write if first_write[n] < k <= last_read.get(n, -1)]
               for k in range(len(pieces) + 1)]
    chunks = []
    for k, piece in enumerate(pieces):
        head = [f"{_targets(live_in[k])} = S", "S.clear()"] if live_in[k] else []
        tail = [f"S[:] = {_targets(live_in[k + 1])}"] if live_in[k + 1] else []
        chunks.append(_function(f"{name}_{k}", ("S",), head + [s.text for s in piece] + tail))
    calls = [f"{name}_{k}(S)" for k in range(len(pieces) - 1)] + [f"return {name}_{len(pieces) - 1}(S)"]
    main = _function(name, params, [f"S = [{', '.join(live_in[0])}]"] + calls)
    return "\n".join(chunks + [main])


def _targets(names) -> str:
    return "(" + ", ".join(names) + ",)"


def _function(name: str, params, lines) -> str:
    return f"def {name}({', '.join(params)}):\n" + "".join(f"    {line}\n" for line in lines)
