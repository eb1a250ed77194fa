"""What a gate record's rules become: expressions traced over variables, and the
interpreter's callables compiled from them (see lower.py). ``Rules`` is the record's
half that reads its fields (record.Gate) and writes nothing."""
from __future__ import annotations

from functools import cached_property
from typing import Callable

from .expr import trace


class Rules:
    """Mixed into record.Gate: its rules as expressions, and as callables."""

    # ------------------------------------------------------------ the rules as expressions
    # ``*_of`` take expressions (operands, ``out``, ``g``, tangents) and give the rule's
    # expression; ``*_expr`` trace them over variables named x0, x1..., out, g, t0, t1...
    def forward_of(self, args: list, options: dict):
        """The forward rule over ``args`` (None for a primitive, which has ``impl``)."""
        return None if self.forward_rule is None else self.forward_rule(*args, **options)

    def partial_of(self, i: int, out, args: list):
        rule = self.partials[i]
        return None if rule is None else rule(out, *args)

    def vjp_of(self, i: int, g, out, args: list, options: dict):
        """The cotangent of operand ``i`` (None: no gradient flows to it)."""
        if self.partials is not None and self.vjp_rules is None:
            partial = self.partial_of(i, out, args)
            return None if partial is None else g * partial
        rule = self.vjp_rules[i] if self.vjp_rules else None
        return None if rule is None else rule(g, out, *args, **options)

    def jvp_of(self, ts: list, out, args: list, options: dict):
        """The output's tangent from the operands' tangents (None where zero)."""
        if self.jvp_rule is not None:
            return self.jvp_rule(ts, out, *args, **options)
        if self.partials is not None:
            total = None
            for t, p in zip(ts, self.partials):
                if t is None or p is None:
                    continue
                term = t * p(out, *args)
                total = term if total is None else total + term
            return total
        if self.linear:
            return None if ts[0] is None else self.build(ts[0], *args[1:], **options)
        return None

    def out_shape(self, shapes, options):
        return None if shapes is None else self.infer_shape(list(shapes), options or {})

    def forward_expr(self, shapes=None, options=None):
        if self.forward_rule is None:
            return None
        return trace(lambda *args: self.forward_of(args, options or {}), self.operand_names, shapes)

    def partial_expr(self, i: int, shapes=None, out_shape=None):
        shapes = tuple(shapes or (None,) * self.arity)
        return trace(lambda out, *args: self.partial_of(i, out, args), ("out",) + self.operand_names,
                     (out_shape,) + shapes)

    def vjp_expr(self, i: int, shapes=None, out_shape=None, options=None):
        shapes = tuple(shapes or (None,) * self.arity)
        out_shape = out_shape or self.out_shape(shapes if shapes[0] is not None else None, options)
        return trace(lambda g, out, *args: self.vjp_of(i, g, out, args, options or {}),
                     ("g", "out") + self.operand_names, (out_shape, out_shape) + shapes)

    def jvp_expr(self, present: tuple, shapes=None, out_shape=None, options=None):
        shapes = tuple(shapes or (None,) * self.arity)
        names = tuple(f"t{i}" for i in range(self.arity)) + ("out",) + self.operand_names

        def rule(*variables):
            ts = [t if here else None for t, here in zip(variables[:self.arity], present)]
            return self.jvp_of(ts, variables[self.arity], variables[self.arity + 1:], options or {})

        return trace(rule, names, shapes + (out_shape,) + shapes)

    def build(self, *args, **options):
        """This gate applied to expressions (simplified as ``expr.call`` does)."""
        from .expr import call

        return call(self, *args, **options)

    @cached_property
    def operand_names(self) -> tuple:
        return tuple(f"x{i}" for i in range(self.arity))

    # ------------------------------------------------------------ the interpreter's callables
    @cached_property
    def forward(self) -> Callable:
        """``forward(*values, **options)``: numpy (or Python float) values in, value out."""
        if self.impl is not None:
            return self.impl
        from .lower import compile_forward

        return compile_forward(self)

    @cached_property
    def vjps(self) -> tuple:
        """Per operand ``vjp(g, out, *values, **options)``, or None where no gradient flows."""
        from .lower import compile_vjp

        return tuple(None if not self.has_vjp(i) else compile_vjp(self, i) for i in range(self.arity))

    @cached_property
    def jvp(self) -> Callable:
        """``jvp(tangents, out, *values, **options)``, a tangent None standing for zero."""
        from .lower import compile_jvp

        return compile_jvp(self)

    def has_vjp(self, i: int) -> bool:
        return self.flows[i]

    @cached_property
    def flows(self) -> tuple:
        """Per operand: does a gradient flow to it?"""
        rules = self.vjp_rules if self.vjp_rules is not None else self.partials
        return tuple(bool(rules) and rules[i] is not None for i in range(self.arity))

    @cached_property
    def locals(self) -> tuple:
        """Elementwise gates: per operand ``local(out, *values)``, the local derivative."""
        from .lower import compile_partial

        return tuple(None if p is None else compile_partial(self, i) for i, p in enumerate(self.partials))

    def local(self, i, out, *args):
        """The local derivative of operand i for elementwise gates (None otherwise)."""
        if self.partials is None or self.partials[i] is None:
            return None
        return self.locals[i](out, *args)
