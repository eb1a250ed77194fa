"""``run``'s float code interpreted: the first run of a large graph without writing or
compiling its code (Kernel's tiered first run).

Writing and compiling the float code of a 10,000-gate file costs four times its parse
and build (W6: ~310 ms against ~75 ms); a one-shot run never earns that back. ``Threaded``
walks the schedule as floatcode._Emitter does, with the same per-pattern templates
(compiled/lowering.py) and the same decisions (copies read under the name they have,
the seed's literal 1.0 and the rules written knowing it, ``g = current + (term)`` in the
same order, dead forward steps dropped), but each distinct pattern becomes one small
Python function ``f(V, I)`` over a list of values ``V`` and the step's indices ``I``,
and the run is a loop calling them: the same operations on the same operands in the
same order, so the same bits and the same exceptions as the compiled float code. (A
NaN's sign aside, which not even the compiled code keeps from call to call: where two
NaNs meet, CPython's float operations take one or the other depending on whether the
instruction is specialised yet.)

Values sit in one list: slot ``s``'s value at ``s``, its cotangent at ``n + s``, then
the numeric literals. A source that is literal code (``LOG(0.0)``, a call on constants)
is written into the pattern's function as the emitter writes it into the statement:
evaluated where and as often as the compiled code evaluates it.
"""
from __future__ import annotations

import re
from itertools import chain
from string import Formatter

import numpy as np

from ..gates import NAMESPACE
from ..gates.lower import NoCode, literal
from . import lowering
from .floatcode import _is_copy, _pattern, _vjp_pattern

_NUMBER = re.compile(r"[0-9][0-9.e+-]*|INF|NAN|\(-([0-9][0-9.e+-]*|INF)\)")
_FUNCTIONS: dict = {}  # (lines, text, fields, written) -> (f, make), shared by every program
_NAMES = {"g": "g_", "out": "o_", "c": "c_"}  # a template's fields as the function's locals
_MAKER = {"g": "g", "out": "o", "c": "c"}  # ...and as the maker's parameters
_COPY = object()  # a pattern whose steps write no instruction


class Threaded:
    """``threaded(*leaf values) -> (outputs, grads)``, as floatcode.run_listing's code;
    raises lower.NoCode where a step has no float code."""

    def __init__(self, schedule, of: str):
        n = self.n = len(schedule.ids)
        self.values = [None] * (2 * n)  # the list each call copies: literals filled in
        self.literals: dict = {}  # text -> index
        self.patterns: dict = {}  # (id(code), accumulates) -> _COPY or its instruction maker
        self.pinned: list = []  # the codes whose ids key patterns
        self.texts = False  # whether a source is literal code (the slow way then)
        consts, src = {}, [None] * n  # src: slot -> where its value is read (index or code)
        for leaf in schedule.leaves:
            src[leaf.slot] = leaf.slot
        for slot, value in schedule.constants:
            if np.ndim(value):
                raise NoCode("an array constant")
            consts[slot] = repr(float(value))
            src[slot] = self._source(literal(float(value)))
        self.one = self._source("1.0")
        forward = self._forward(schedule, consts, src)
        plan = schedule.plans[of]
        backward, grads = self._backward(plan, consts, src)
        self.outputs = [(name, src[slot]) for name, slot in schedule.outputs]
        self.grads = [(leaf.name, grads.get(leaf.slot, self._source("0.0"))) for leaf in schedule.leaves]
        self.leaves = [leaf.slot for leaf in schedule.leaves]
        self.code = _needed(forward, backward, self.outputs + self.grads) + backward
        self.plain = not any(s.__class__ is str for _, s in self.outputs + self.grads)
        del self.patterns, self.pinned

    def __call__(self, *leaf_values):
        V = self.values.copy()
        for slot, value in zip(self.leaves, leaf_values):
            V[slot] = value
        for f, I in self.code:
            f(V, I)
        if self.plain:
            return {name: V[i] for name, i in self.outputs}, {name: V[i] for name, i in self.grads}
        return ({name: _read(V, i) for name, i in self.outputs}, {name: _read(V, i) for name, i in self.grads})

    # ------------------------------------------------------------ the walk (as _Emitter's)
    def _forward(self, schedule, consts: dict, src: list) -> list:
        out, memo = [], {}
        for step in schedule.steps:
            # (steps of one gate with no options or constants share one pattern: found by
            # the gate, without writing the pattern's key)
            key = step.gate if not step.options and not (consts and _reads_constant(step, consts)) else None
            found = memo.get(key)
            if found is None or len(step.args) != found[2]:
                code = lowering.forward(*_pattern(step, consts), "float")
                found = code, self._pattern(code, False, not code.lines and _is_copy(code.text)), len(step.args)
                if key is not None:
                    memo[key] = found
            code, make, _ = found
            args = [src[a] for a in step.args]
            if make is _COPY:
                src[step.slot] = self._copy(code.text, args, None, None)
                continue
            out.append(make(step.slot, args, None, None, None) if not self.texts else
                       self._instruction(code, False, step.slot, args, None, None, None))
            src[step.slot] = step.slot
        return out

    def _backward(self, plan, consts: dict, src: list):
        out, grads, n, one, memo = [], {plan.seed: self.one}, self.n, self.one, {}
        for step, needs in plan.steps:
            g, result = grads[step.slot], src[step.slot]
            args = [src[a] for a in step.args]
            shared = not step.options and not (consts and _reads_constant(step, consts))
            for i, (a, need) in enumerate(zip(step.args, needs)):
                if not need:
                    continue
                current = grads.get(a)
                plus = current is not None
                key = (step.gate, len(args), i, g == one, plus) if shared else None
                found = memo.get(key)
                if found is None:
                    code = lowering.cotangent(*_vjp_pattern(step, i, consts), "float", g == one)
                    if code is None:
                        raise NoCode(step.gate.name)
                    found = code, self._pattern(code, plus, not plus and not code.lines and (
                        code.text in ("{g}", "{out}") or _is_copy(code.text)))
                    if key is not None:
                        memo[key] = found
                code, make = found
                if make is _COPY:
                    grads[a] = self._copy(code.text, args, g, result)
                    continue
                out.append(make(n + a, args, g, result, current) if not self.texts else
                           self._instruction(code, plus, n + a, args, g, result, current))
                grads[a] = n + a
        return out, grads

    def _pattern(self, code, plus: bool, copy: bool):
        """What a pattern makes of a step: _COPY, or its instruction maker."""
        make = self.patterns.get((id(code), plus))
        if make is None:
            make = _COPY if copy else _function(code.lines, *_fields(code, plus), ())[1]
            self.patterns[(id(code), plus)] = make
            self.pinned.append(code)  # (its id is the key)
        return make

    def _copy(self, text: str, args: list, g, result):
        """Where a copy is read: the operand, cotangent or value it is, or a literal."""
        if text == "{g}":
            return g
        if text == "{out}":
            return result
        if text.startswith("{"):
            return args[int(text[1:-1])]
        return self._source(text)

    def _source(self, text: str):
        """A literal's index (its value filled in once), or, for code such as ``LOG(0.0)``,
        the text itself, written into each function that reads it."""
        found = self.literals.get(text)
        if found is None:
            try:
                value = _number(text)
            except ValueError:
                self.texts = True
                return text
            found = self.literals[text] = len(self.values)
            self.values.append(value)
        return found

    def _instruction(self, code, plus: bool, target: int, args: list, g, result, current) -> tuple:
        """``(f, (target, *the indices it reads))`` where a source may be literal code,
        which is written into the function."""
        text, fields = _fields(code, plus)
        sources = [args[k] if k.__class__ is int else g if k == "g" else result if k == "out" else current
                   for k in fields]
        written = tuple((k, s) for k, s in zip(fields, sources) if s.__class__ is str)
        fields = tuple(k for k in fields if k not in dict(written))
        f = _function(code.lines, text, fields, written)[0]
        return f, (target, *[s for s in sources if s.__class__ is not str])


def _reads_constant(step, consts: dict) -> bool:
    return any(a in consts for a in step.args)


def _fields(code, accumulates: bool) -> tuple:
    """The value's template (``{c} + (...)`` where it adds to a cotangent) and the fields
    it reads, in order."""
    text = "{c} + (" + code.text + ")" if accumulates else code.text
    fields = []
    for template in code.lines + (text,):
        for _, field, _, _ in Formatter().parse(template):
            if field is not None and field != "t":
                key = int(field) if field.isdigit() else field
                if key not in fields:
                    fields.append(key)
    return text, tuple(fields)


def _function(lines: tuple, text: str, fields: tuple, written: tuple) -> tuple:
    """``f(V, I)``: ``V[I[0]] = text`` over ``V[I[1]], V[I[2]]...`` (the ``fields``), with
    the ``written`` fields' code in place; and ``make(target, args, g, out, current) ->
    (f, I)``, the instruction of a step. Compiled once per pattern."""
    key = (lines, text, fields, written)
    found = _FUNCTIONS.get(key)
    if found is None:
        if len(_FUNCTIONS) > 4096:
            _FUNCTIONS.clear()
        names = {k: f"x{k}" if k.__class__ is int else _NAMES[k] for k in fields}
        names.update(written)
        arity = 1 + max([k for k in names if k.__class__ is int], default=-1)
        named = {k: v for k, v in names.items() if k.__class__ is str}

        def fill(template: str) -> str:
            return template.format(*[names.get(k, "") for k in range(arity)], t="t_", **named)
        indices = [f"i{j}" for j in range(len(fields))]
        body = [f"T, {''.join(i + ', ' for i in indices)}= I"]
        body += [f"{names[k]} = V[{i}]" for k, i in zip(fields, indices)]
        body += [fill(line) for line in lines] + [f"V[T] = {fill(text)}"]
        reads = "".join(f"a[{k}], " if k.__class__ is int else f"{_MAKER[k]}, " for k in fields)
        source = ("def f(V, I):\n" + "".join(f"    {line}\n" for line in body) +
                  f"def make(T, a, g, o, c):\n    return f, (T, {reads})\n")
        namespace = dict(NAMESPACE)
        exec(compile(source, "<graphdsl threaded>", "exec"), namespace)  # noqa: S102 -- gate templates only
        found = _FUNCTIONS[key] = namespace["f"], namespace["make"]
    return found


def _needed(forward: list, backward: list, returned: list) -> list:
    """The forward instructions whose values are read later (floatcode._needed's rule).
    (A backward instruction's target, which this counts as read, is a cotangent's index:
    no forward instruction writes it.)"""
    needed = set(chain.from_iterable(I for _, I in backward))
    needed.update(s for _, s in returned if s.__class__ is int)
    kept = []
    for instruction in reversed(forward):
        I = instruction[1]
        if I[0] in needed:
            needed.update(I)
            kept.append(instruction)
    kept.reverse()
    return kept


def _number(text: str) -> float:
    """A literal's value, as Python reads the literal (``(-INF)`` is ``-INF``); ValueError
    for any other code."""
    if not _NUMBER.fullmatch(text):
        raise ValueError(text)
    negative = text.startswith("(-")
    body = text[2:-1] if negative else text
    value = NAMESPACE[body] if body in ("INF", "NAN") else float(body)
    return -value if negative else value


def _read(V, source):
    return V[source] if source.__class__ is int else _evaluate(source)


def _evaluate(text: str):
    """Literal code returned as it is (an output that is ``LOG(0.0)``), evaluated as the
    return statement would."""
    found = _FUNCTIONS.get(("value", text))
    if found is None:
        namespace = dict(NAMESPACE)
        exec(compile(f"def f():\n    return {text}\n", "<graphdsl threaded>", "exec"), namespace)  # noqa: S102
        found = _FUNCTIONS[("value", text)] = namespace["f"]
    return found()
