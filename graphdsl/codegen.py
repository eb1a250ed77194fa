"""The schedule of one output as straight-line Python source: forward, backward, pack.

``listing`` turns a Schedule into statements over generated names (``v12`` is the
value of slot 12, ``g12`` its cotangent, ``C3``/``K0``/``F7`` namespace entries);
user text only ever enters as namespace values, never as source. Statements record
the names they read, so that dead steps are dropped, values are deleted right after
their last use (the memory of a long chain stays flat), and a listing too long for
one function is cut into chunks that pass live names through a list (CPython's
compiler slows down superlinearly on functions of 100,000 lines).

This is the numpy code, specialised to one set of shapes (``shapes[slot]``), so that
whether a cotangent must be summed back over broadcast axes, and which branch of the
matmul rule applies, is decided here once rather than at every call. The code over
Python floats is floatcode.py's.
"""
from __future__ import annotations

import math
import re
import string
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from . import rules
from .execute import seed_like, unbroadcast
from .gates import MINUS_ONE, ONE

CHUNK = 100_000  # statements per function: CPython compiles longer ones superlinearly

try:  # the optional accelerator (pip install graphdsl[fast]): fused elementwise passes
    import numexpr as NUMEXPR
except ImportError:  # pragma: no cover -- exercised by monkeypatching NUMEXPR to None
    NUMEXPR = None
# Fuse only arrays of at least this many elements (16 MiB of float64). Measured on the
# sigmoid neuron (BENCHMARKS.md): numexpr's pass does its operations one after another on
# blocks, with its own (slower) arithmetic loops, which can only pay once the arrays no
# longer fit in cache and numpy's passes wait for memory: against the gate-by-gate numpy
# code it was 1.4-1.9x slower at 10^5 elements, ~5% slower at 10^6 and 3-9% faster at
# 2*10^6; against the in-place numpy code of today, even at 2*10^6 and 4*10^6.
FUSE_MIN = 1 << 21
FUSE_OPS = 3  # ...and only expressions of at least this many operations (numpy's two
# in-place passes were faster than one numexpr pass for s * (1 - s))


_ALIASING = {"identity", "transpose"}  # gates whose value may be their operand's array
_UFUNCS = {"add": "NP_ADD", "sub": "NP_SUBTRACT", "mul": "NP_MULTIPLY"}  # NUMPY_FORWARD's operators


class NoRule(Exception):
    """A gate has no template in this mode (the caller uses another path)."""


class Stmt(NamedTuple):
    text: str
    reads: tuple = ()
    writes: tuple = ()
    expr: str | None = None  # the value as a numexpr expression over ``reads`` (see _fuse)
    inplace: str = ""  # the value written into a ``{dst}`` array (see _with_deletes)...
    donors: tuple = ()  # ...any of these, if it is not read again


def export(value):
    """What the API hands out: a Python float for a scalar, a writable ndarray otherwise."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return float(value)
        return value if value.flags.writeable else value.copy()
    return float(value)


def unshared(outputs: dict, grads: dict) -> tuple:
    """The results with no array handed out twice. A cotangent passed on unchanged (by
    +, identity, a sum of a scalar) is one array for several gradients, and two outputs
    may be views of one array: changing one in place would change the others, so the
    second and later are copies. (Read-only views of bound arrays cannot be changed.)"""
    seen = set()
    for results in (outputs, grads):
        for name, value in results.items():
            if value.__class__ is np.ndarray and value.flags.writeable:
                owner = value
                while isinstance(owner.base, np.ndarray):  # a view (a transpose, a row...)
                    owner = owner.base
                if id(owner) in seen:
                    results[name] = value.copy()
                seen.add(id(owner))
    return outputs, grads


BASE_NAMESPACE = dict(rules.NAMESPACE, UB=unbroadcast, SEED=seed_like, EXPORT=export, UNSHARED=unshared,
                      ZEROS_LIKE=np.zeros_like, FULL=np.full, DIVIDE=np.divide,
                      NP_ADD=np.add, NP_SUBTRACT=np.subtract, NP_MULTIPLY=np.multiply)


class Listing:
    """Statements and the namespace their upper-case names refer to."""

    def __init__(self, schedule, of: str, shapes, float64=False):
        self.schedule, self.shapes = schedule, shapes
        self.float64 = float64  # every value is float64 (in-place rules apply)
        self.fuse = float64 and NUMEXPR is not None
        self.compiled: dict = {}  # fused expression -> the namespace name of its numexpr code
        self.plan = schedule.plans[of]
        self.constant_values = dict(schedule.constants)
        self.namespace = dict(BASE_NAMESPACE)  # before the constants, which enter it
        self.constant_names = self._constants()
        self.params = self._params()
        later = self._later()
        self.statements = self._forward(self._needed(later)) + later
        statements = _live(self.statements)
        if self.fuse:
            statements = _fuse(statements, set(self.params), self._ne)
        self.statements = _with_deletes(statements, set(self.params))

    def const(self, prefix: str, value) -> str:
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def _params(self) -> tuple:
        return tuple(f"v{leaf.slot}" for leaf in self.schedule.leaves)

    def _later(self) -> list:
        """The statements after the forward pass (here the backward pass and the return;
        forwardcode.py's listings put the tangents or nothing there)."""
        backward = self._backward()
        return backward + [self._return()]

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
            if isinstance(value, float) and math.isfinite(value):
                names[slot] = f"({value!r})"
            else:
                names[slot] = self.const("C", value)
        return names

    def _name(self, slot: int) -> str:
        return self.constant_names.get(slot) or f"v{slot}"

    def _forward(self, needed) -> list:
        # Values whose array the arithmetic of a later step may write its result into once
        # nothing reads them any more (numpy's own temporary elision, which named variables
        # defeat): fresh arrays made by an elementwise gate, never shared by an alias.
        aliased = {a for step in self.schedule.steps if step.gate.name in _ALIASING for a in step.args}
        self.donors = {f"v{step.slot}" for step in self.schedule.steps
                       if step.gate.elementwise and step.gate.name not in _ALIASING and step.slot not in aliased}
        out = []
        for step in self.schedule.steps:
            name = f"v{step.slot}"
            if name not in needed:
                continue
            out += self._numpy_step(step, name, [self._name(a) for a in step.args])
        return out

    def _numpy_step(self, step, name, args) -> list:
        if self._fusable(step.slot, step.args, args):
            if step.gate.name in rules.FUSED_FORWARD:
                expr = rules.FUSED_FORWARD[step.gate.name].format(*args)
                return [Stmt(f"{name} = {self._numpy_forward(step, args)}", _variables(args), (name,), expr)]
        ufunc = _UFUNCS.get(step.gate.name)
        over = ufunc or rules.INPLACE_OVER.get(step.gate.name)
        donors = tuple(a for a in _variables(args) if a in self.donors and self.shapes[step.slot] ==
                       self.shapes[int(a[1:])]) if over and self._large(step.slot) else ()
        if not donors:
            inplace = ""
        elif ufunc:
            inplace = f"{ufunc}({', '.join(args)}, out={{dst}})"
        else:  # a unary rule that computes over its operand's array
            inplace = rules.INPLACE_OVER[step.gate.name].replace("{0}", "{dst}")
        return [Stmt(f"{name} = {self._numpy_forward(step, args)}", _variables(args), (name,),
                     inplace=inplace, donors=donors)]

    def _fusable(self, slot, operands, args) -> bool:
        """Whether a gate's value (or cotangent) at ``slot`` can be part of a numexpr pass:
        a large float64 array whose operands are variables of its own shape, scalars or float
        literals (no broadcasting to undo, no namespace constants)."""
        shape = self.shapes[slot] if self.fuse else None
        if not shape or math.prod(shape) < FUSE_MIN:
            return False
        return all(self.shapes[a] in ((), shape) for a in operands) and \
            all(name[0] in "vg(" for name in args)

    def _ne(self, expr: str) -> str:
        """A call of ``expr`` compiled once by numexpr, its variables passed in order.
        optimization="none": numexpr's default rewrites x / c as x * (1 / c), which is not
        the same number; common subexpressions are still computed once."""
        names = _variables(_NAME.findall(expr))
        if expr not in self.compiled:
            signature = [(n, np.float64) for n in names]
            self.compiled[expr] = self.const("NE", NUMEXPR.NumExpr(expr, signature, optimization="none"))
        return f"{self.compiled[expr]}({', '.join(names)})"

    def _large(self, slot) -> bool:
        return self.float64 and math.prod(self.shapes[slot] or (0,)) >= rules.INPLACE_MIN

    def _numpy_forward(self, step, args) -> str:
        template = rules.NUMPY_FORWARD.get(step.gate.name)
        if step.gate.name == "pow" and self.float64 and self.shapes[step.args[0]] and \
                self.constant_values.get(step.args[1]) == 2.0:
            template = "{0} * {0}"  # numpy's power of a float64 array by 2.0 is its square, x * x
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
        out = [Stmt(f"{seed} = SEED({value})", _variables([value]), (seed,))]
        self.has_grad = {plan.seed}
        # Slots whose cotangent is exactly ones of the slot's shape (float64 numpy code): the
        # seed, and what sum and + pass on from it. 1.0 * p is p, so a partial p need not be
        # multiplied by them (and the ones need not be made at all once nothing reads them).
        self.ones = {plan.seed} if self.float64 else set()
        for back in plan.steps:
            step = back.step
            for i, (a, need) in enumerate(zip(step.args, back.needs)):
                if not need:
                    continue
                text, reads = self._cotangent(step, i)
                target = f"g{a}"
                expr = self._fused_cotangent(step, i) if self.fuse else None
                if a in self.has_grad:
                    text, reads = f"{target} + ({text})", reads + [target]
                    expr = expr and f"{target} + ({expr})"
                    self.ones.discard(a)
                elif step.slot in self.ones and self._passes_ones(step, i):
                    self.ones.add(a)
                self.has_grad.add(a)
                out.append(Stmt(f"{target} = {text}", tuple(dict.fromkeys(reads)), (target,), expr))
        return out

    def _passes_ones(self, step, i: int) -> bool:
        """Whether operand i's cotangent is ones when the step's own cotangent is."""
        gate, arg_shape = step.gate, self.shapes[step.args[i]]
        if gate.name == "sum" and step.options.get("axis") is None:
            return bool(arg_shape)  # FULL(shape, 1.0)
        return gate.partials is not None and gate.partials[i] is ONE and arg_shape == self.shapes[step.slot]

    def _cotangent(self, step, i: int):
        """Source of operand i's cotangent at one step, and the names it reads."""
        g, out = f"g{step.slot}", f"v{step.slot}"
        return self._numpy_cotangent(step, i, g, out, [self._name(a) for a in step.args])

    def _fused_cotangent(self, step, i: int) -> str | None:
        """Operand i's cotangent as a numexpr expression, when it has the operand's shape (no
        sum over broadcast axes) and the gate's partial is exact arithmetic on its values."""
        gate, a = step.gate, step.args[i]
        args = [self._name(x) for x in step.args]
        g, out = f"g{step.slot}", f"v{step.slot}"
        if gate.partials is None or self.shapes[a] != self.shapes[step.slot] or \
                not self._fusable(step.slot, step.args, args):
            return None
        partial = gate.partials[i]
        if partial is ONE:
            return g
        if partial is MINUS_ONE:
            return f"-{g}"
        if gate.name == "mul":
            return f"{g} * {args[1 - i]}"
        if step.slot in self.ones and gate.name in rules.FUSED_PARTIAL:
            return rules.FUSED_PARTIAL[gate.name].format(*args, out=out)
        template = rules.FUSED_VJP.get(gate.name)
        return template[i].format(*args, g=g, out=out) if template else None

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
        if step.gate.name == "relu":  # the gate's own vjp, g * (x > 0): a boolean mask keeps
            return self._call(step.gate.vjps[i], [g, out] + args, [])  # g's dtype (float32)
        template = rules.INPLACE_VJP.get(step.gate.name) if self._large(step.slot) else None
        if template is not None and step.slot in self.ones:
            template = rules.INPLACE_PARTIAL[step.gate.name]  # g is ones_like(out), float64
        if template is not None:  # a unary gate: the cotangent has the operand's shape
            return _fill(template, g, out, args)
        exponent = self.constant_values.get(step.args[1]) if step.gate.name == "pow" and i == 0 else None
        if isinstance(exponent, float) and math.isfinite(exponent):
            text, reads = _fill(rules.pow_partial(exponent), g, out, args)
            if step.slot in self.ones and exponent != 0 and self.shapes[step.args[0]] == self.shapes[step.slot]:
                return text, reads  # a fresh array of the operand's shape: ones * it is itself
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
        sched = self.schedule
        reads, outputs, grads = [], [], []
        for name, slot in sched.outputs:
            value = self._name(slot)
            reads += _variables([value])
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
        """Whether two results may be one array (see unshared): only through a gate that
        passes its cotangent on unchanged or whose value is a view, and only with two
        array results. Checked here once, as the check costs ~1 µs a call."""
        sched, shapes = self.schedule, self.shapes
        slots = [slot for _, slot in sched.outputs] + [leaf.slot for leaf in sched.leaves]
        return sum(1 for slot in slots if shapes[slot]) > 1 and any(
            step.gate.name in _ALIASING or any(p is ONE for p in step.gate.partials or ())
            for step in sched.steps)


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


_NAME = re.compile(r"\b[vg]\d+\b")  # the generated variables in a fused expression


def _fuse(statements: list, keep: set, ne) -> list:
    """Inline every fusable value read by exactly one later fusable statement into it (and
    so on along chains); a statement whose expression then does FUSE_OPS or more operations
    is run as one numexpr pass (``ne(expr)`` -> source of the call), the others stay numpy
    (the fused templates are + - * / only, which mean the same in numpy).

    Values are written once, except cotangents accumulated as ``g5 = g5 + (...)``: a
    value is only inlined where none of the names it reads has been written again."""
    source, uses, written = [], {}, {}
    latest: dict = {}
    for j, stmt in enumerate(statements):
        source.append({n: latest[n] for n in stmt.reads if n in latest})
        for i in source[j].values():
            uses[i].append(j)
        for n in stmt.writes:
            latest[n] = j
            uses[j] = []
            written.setdefault(n, []).append(j)
    exprs = [stmt.expr for stmt in statements]
    reads = [list(stmt.reads) for stmt in statements]
    inlined = set()
    for j, stmt in enumerate(statements):
        if exprs[j] is None:
            continue
        for n, i in source[j].items():
            if exprs[i] is None or uses[i] != [j] or n in keep or \
                    any(i < k < j for r in reads[i] for k in written.get(r, ())):
                continue
            exprs[j] = re.sub(rf"\b{n}\b", f"({exprs[i]})", exprs[j])
            reads[j] = [r for r in reads[j] if r != n] + reads[i]
            inlined.add(i)
    out = []
    for j, stmt in enumerate(statements):
        if j in inlined:
            continue
        if exprs[j] is not None and rules.operations(exprs[j]) >= FUSE_OPS:
            stmt = Stmt(f"{stmt.writes[0]} = {ne(exprs[j])}", tuple(dict.fromkeys(reads[j])), stmt.writes)
        elif exprs[j] != stmt.expr:  # too short for numexpr: the expression is numpy code too
            stmt = Stmt(f"{stmt.writes[0]} = {exprs[j]}", tuple(dict.fromkeys(reads[j])), stmt.writes)
        out.append(stmt)
    return out


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
        dead = [name for name in stmt.reads if last[name] == i and name not in keep]
        donor = next((name for name in stmt.donors if name in dead), None)
        if donor:  # the same ufunc, written into an array that is about to be deleted
            stmt = stmt._replace(text=f"{stmt.writes[0]} = {stmt.inplace.format(dst=donor)}")
        out.append(stmt)
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
