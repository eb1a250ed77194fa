"""One step's code, from its gate record: the forward value and each operand's cotangent
as source templates, written once per pattern and reused by every step that shares it.

A pattern is the gate, its options, its operands' shapes, which operands are constants
(and their values: a constant exponent simplifies the rule of ``**``) and whether the
upstream cotangent is known to be ones. Templates have the fields ``{0}``, ``{1}``...
(operand sources), ``{out}``, ``{g}`` and ``{t}`` (a prefix for the step's temporaries).
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from ..gates import UNBROADCAST, call, var
from ..gates.expr import Expr, as_expr, const
from ..gates.lower import Writer


class Code(NamedTuple):
    lines: tuple  # statements computing temporaries, as templates
    text: str  # the value, as a template
    reads: tuple  # the fields read: "g", "out", 0, 1...
    expr: Expr  # the simplified expression (its shape, whether it is ones)
    names: dict  # namespace entries it calls (GATE_name: a gate's own numpy rule)


def _operands(arity: int, shapes: tuple, consts: tuple) -> list:
    # Constants come as repr strings: as dict keys, 0.0 and -0.0 would be one key.
    return [var(f"x{k}", shapes[k]) if consts[k] is None else const(float(consts[k])) for k in range(arity)]


def _env(arity: int) -> dict:
    env = {f"x{k}": "{%d}" % k for k in range(arity)}
    env.update({f"t{k}": "{t%d}" % k for k in range(arity)}, g="{g}", out="{out}")
    return env


def _code(expr: Expr, mode: str, arity: int) -> Code:
    counter = iter(range(1 << 30))
    writer = Writer(mode, _env(arity), lambda: "{t}%d" % next(counter))
    text, = writer.write([expr])
    reads = tuple(dict.fromkeys(_field(name) for name in writer.reads))
    return Code(tuple(writer.lines), text, reads, expr, writer.namespace)


def _field(name: str):
    inner = name[1:-1]
    return int(inner) if inner.isdigit() else inner


@lru_cache(maxsize=4096)
def tangent(gate, present: tuple, options: tuple, shapes: tuple, out_shape, consts: tuple, mode: str) -> Code | None:
    """The output's tangent from the tangents ``present`` (fields ``{t0}``, ``{t1}``...),
    None where it is zero; broadcast to the value's shape by the caller where it differs."""
    operands = _operands(gate.arity, shapes, consts)
    ts = [var(f"t{k}", shapes[k]) if here else None for k, here in enumerate(present)]
    expr = gate.jvp_of(ts, var("out", out_shape), operands, dict(options))
    return None if expr is None else _code(as_expr(expr), mode, gate.arity)


@lru_cache(maxsize=4096)
def forward(gate, options: tuple, shapes: tuple, consts: tuple, mode: str) -> Code:
    """The value of a step of ``gate``; raises lower.NoCode where the mode has none.
    ``consts``: per operand, the repr of a constant's value, or None."""
    expr = gate.build(*_operands(gate.arity, shapes, consts), **dict(options))
    return _code(expr, mode, gate.arity)


@lru_cache(maxsize=4096)
def cotangent(gate, i: int, options: tuple, shapes: tuple, out_shape, consts: tuple, mode: str,
              ones: bool) -> Code | None:
    """Operand ``i``'s cotangent, summed back to its shape where broadcasting widened it."""
    operands = _operands(gate.arity, shapes, consts)
    expr = _vjp(gate, i, operands, out_shape, dict(options), ones)
    if expr is None:
        return None
    target = operands[i]
    if expr.shape is None or expr.shape != target.shape or None in expr.shape:
        expr = call(UNBROADCAST, expr, var(f"x{i}", shapes[i]))
    return _code(expr, mode, gate.arity)


def _vjp(gate, i, operands, out_shape, options, ones):
    g, out = var("g", out_shape, ones), var("out", out_shape)
    expr = gate.vjp_of(i, g, out, operands, options)
    return None if expr is None else as_expr(expr)
