"""Expressions -> ops: each call checked (its gate, arity and options), nested
expressions compiled to anonymous nodes, post-order and without recursion.

Node ids: a top-level name is its own id; an anonymous sub-expression of ``f``
is ``f#1``, ``f#2``... in evaluation order; inside an expanded call ``s`` a local
``e`` becomes ``s/e`` and the return expression's sub-expressions ``s/#1``...;
iteration k of ``l = repeat(g, n, x)`` is ``l@k`` (the last one is ``l``); the
inner nodes of a call that is a gate's result go under ``s/return``.
"""
from __future__ import annotations

from ..errors import GraphDefinitionError, closest
from ..gates import ALIAS, GATES
from ..lang import syntax as S
from .expand import Op
from .leaves import constant
from .options import options as checked_options


class Lowering:
    """The ops of expressions, in the scope of the file's compound gates ``gate_defs``."""

    def __init__(self, gate_defs: dict):
        self.gate_defs = gate_defs

    def expr(self, expr, root_suffix, anonymous, env, ops, calls, named) -> int:
        """Compile one expression into ops (post-order, without recursion); returns its ref."""
        if expr.__class__ is S.Call and expr.gate != "repeat" and \
                all(arg.__class__ is S.Name for arg in expr.args):
            # Most lines of a large file are one call on names: no stack, no anonymous node.
            self._check_call(expr, calls)
            return self._emit_call(expr, root_suffix, [env[arg.id] for arg in expr.args], ops, named)
        counter = 0
        results: list = []
        stack = [(expr, False)]
        while stack:
            node, ready = stack.pop()
            is_root = node is expr
            if isinstance(node, S.Name):
                ref = env[node.id]
                if is_root and named:
                    ref = self._emit(ops, Op(root_suffix, "gate", ALIAS, (ref,), node.span,
                                             symbol="="))
                results.append(ref)
                continue
            if not ready and isinstance(node, S.Call):
                children = self._check_call(node, calls)
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(children))
                continue
            if is_root:
                suffix = root_suffix
            else:
                counter += 1
                suffix = f"{anonymous}#{counter}"
            if isinstance(node, S.Call):
                results.append(self._emit_call(node, suffix, results, ops, is_root and named))
            else:
                value = constant(node, "an expression")
                results.append(self._emit(ops, Op(suffix, "const", None, (), node.span, value=value,
                                                  named=is_root and named)))
        return results[-1]

    @staticmethod
    def _emit(ops, op) -> int:
        ops.append(op)
        return len(ops) - 1

    def _emit_call(self, call, suffix, results, ops, named) -> int:
        if call.gate == "repeat":
            (arg,) = results[-1:]
            del results[-1:]
            return self._emit(ops, Op(suffix, "repeat", call.args[0].id, (arg,), call.span,
                                      value=int(call.args[1].value), named=named))
        n = len(call.args)
        args = tuple(results[len(results) - n:]) if n else ()
        del results[len(results) - n:]
        if self._calls_user_gate(call):
            return self._emit(ops, Op(suffix, "call", call.gate, args, call.span, named=named))
        gate = GATES[call.gate]
        options = checked_options(gate, call)
        symbol = gate.postfix(options) if gate.postfix is not None else call.symbol or gate.symbol
        return self._emit(ops, Op(suffix, "gate", call.gate, args, call.span, options or None, None,
                                  symbol, (), named))

    def _calls_user_gate(self, call: S.Call) -> bool:
        # A compound gate may shadow a built-in's name when called by name, but an
        # operator always means the built-in: `gate add(a, b)` must not change `x + y`.
        return call.symbol is None and call.gate in self.gate_defs

    def _check_call(self, call: S.Call, calls: list) -> tuple:
        """Validate a call's gate, arity and options; returns the operands to compile."""
        name = call.gate
        if name == "repeat":
            return self._check_repeat(call, calls)
        if self._calls_user_gate(call):
            expected = len(self.gate_defs[name].params)
            if call.options:
                raise GraphDefinitionError(f"gate '{name}' takes no options", call.options[0].span)
            calls.append((name, call.span))
            if len(call.args) != expected:
                plural = "argument" if expected == 1 else "arguments"
                raise GraphDefinitionError(f"gate '{name}' takes {expected} {plural}, got {len(call.args)}",
                                           call.span)
            return call.args
        gate = GATES.get(name)
        if gate is None:
            known = list(self.gate_defs) + [g for g in GATES if g != ALIAS] + ["repeat"]
            raise GraphDefinitionError(f"unknown gate '{name}'{closest(name, known)}", call.span)
        if len(call.args) != gate.arity and not (gate.variadic is not None and len(call.args) > gate.arity):
            raise GraphDefinitionError(f"gate '{name}' takes {gate.arity_text()}, got {len(call.args)}",
                                       call.span)
        return call.args

    def _check_repeat(self, call: S.Call, calls: list) -> tuple:
        if len(call.args) != 3 or call.options:
            raise GraphDefinitionError("repeat takes 3 arguments: repeat(gate, n, x)", call.span)
        gate, count, _ = call.args
        if not isinstance(gate, S.Name):
            raise GraphDefinitionError("repeat's first argument must be the name of a gate", gate.span)
        if gate.id in self.gate_defs:
            arity = len(self.gate_defs[gate.id].params)
            calls.append((gate.id, call.span))
        elif gate.id in GATES:
            arity = GATES[gate.id].arity
            required = [name for name, spec in GATES[gate.id].options.items() if spec.required]
            if required:
                raise GraphDefinitionError(f"repeat cannot give '{gate.id}' its option '{required[0]}': "
                                           f"wrap it in a gate of one argument", gate.span)
        else:
            known = list(self.gate_defs) + list(GATES)
            raise GraphDefinitionError(f"unknown gate '{gate.id}'{closest(gate.id, known)}", gate.span)
        if arity != 1:
            raise GraphDefinitionError(f"repeat needs a one-argument gate; '{gate.id}' takes {arity}",
                                       gate.span)
        if not (isinstance(count, S.Number) and count.value >= 0 and count.value.is_integer()):
            raise GraphDefinitionError("repeat's count must be a whole number >= 0", count.span)
        return call.args[2:]
