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
        options = None
        if gate.options or call.options:
            options = {name: opt.default for name, opt in gate.options.items()}
            options.update((o.name, self._option(gate, o)) for o in call.options)
        return self._emit(ops, Op(suffix, "gate", call.gate, args, call.span, options or None, None,
                                  call.symbol or gate.symbol, (), named))

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
        elif name in GATES:
            expected = GATES[name].arity
        else:
            known = list(self.gate_defs) + [g for g in GATES if g != ALIAS] + ["repeat"]
            raise GraphDefinitionError(f"unknown gate '{name}'{closest(name, known)}", call.span)
        if len(call.args) != expected:
            plural = "argument" if expected == 1 else "arguments"
            raise GraphDefinitionError(f"gate '{name}' takes {expected} {plural}, got {len(call.args)}",
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
        else:
            known = list(self.gate_defs) + list(GATES)
            raise GraphDefinitionError(f"unknown gate '{gate.id}'{closest(gate.id, known)}", gate.span)
        if arity != 1:
            raise GraphDefinitionError(f"repeat needs a one-argument gate; '{gate.id}' takes {arity}",
                                       gate.span)
        if not (isinstance(count, S.Number) and count.value >= 0 and count.value.is_integer()):
            raise GraphDefinitionError("repeat's count must be a whole number >= 0", count.span)
        return call.args[2:]

    def _option(self, gate, option: S.Option):
        spec = gate.options.get(option.name)
        if spec is None:
            known = ", ".join(gate.options) or "none"
            raise GraphDefinitionError(f"gate '{gate.name}' has no option '{option.name}' "
                                       f"(options: {known})", option.span)
        value = option.value
        if spec.kind == "number" and isinstance(value, S.Number):
            return value.value
        if spec.kind == "axis":
            if isinstance(value, S.Name) and value.id == "None":
                return None
            if isinstance(value, S.Number) and value.value.is_integer():
                return int(value.value)
            if isinstance(value, S.Array) and all(isinstance(i, S.Number) and i.value.is_integer()
                                                  for i in value.items):
                return tuple(int(i.value) for i in value.items)
        wanted = "a number" if spec.kind == "number" else "a whole number, a list of them, or None"
        raise GraphDefinitionError(f"option '{option.name}' of '{gate.name}' must be {wanted}",
                                   value.span)
