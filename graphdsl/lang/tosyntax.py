"""Rule reductions -> syntax objects: the parser's inline transformer (parse.py runs it).

Rule labels are gate names where they can be (``add``, ``less``, ``index``...), so the
parse tree, this transformer and the gate table share one vocabulary: the methods of the
operators' labels are given below, from the gate table, not written out one by one.
"""
from __future__ import annotations

import math

from lark import Token, Transformer

from . import syntax as S
from ..errors import GraphSyntaxError, Span
from ..gates import OPERATORS, PREFIX, SUBSCRIPT


def span_at(file: str, lines: list, line: int, column: int) -> Span:
    source = lines[line - 1].rstrip("\r") if 0 < line <= len(lines) else ""
    return Span(file, line, column, source)


class ToSyntax(Transformer):
    """Rule reductions -> syntax dataclasses (rule labels are gate names where they can be)."""

    def __init__(self):
        super().__init__(visit_tokens=False)
        self.file, self.lines = "<string>", []

    def _at(self, token: Token) -> Span:
        return span_at(self.file, self.lines, token.line, token.column)

    # --- expressions
    def number(self, children):
        (token,) = children
        value = float(token)
        if math.isinf(value):
            raise GraphSyntaxError(f"the number {token} is too large for float64", self._at(token))
        return S.Number(value, self._at(token))

    def name(self, children):
        (token,) = children
        return S.Name(str(token), self._at(token))

    def binary(self, children):
        """``a + b``, ``a < b``...: the gate is the operator's (the rule's label names it too)."""
        left, op, right = children
        return S.Call(OPERATORS[str(op)], (left, right), (), self._at(op), str(op))

    def negative(self, children):
        op, operand = children
        if isinstance(operand, S.Number):  # "-2" is a constant, not a gate
            return S.Number(-operand.value, self._at(op))
        return S.Call(PREFIX[str(op)], (operand,), (), self._at(op), str(op))

    def subscripted(self, children):
        value, bracket, subscript = children
        span = self._at(bracket)
        return S.Call(SUBSCRIPT, (value,), (S.Option("at", subscript, span),), span, str(bracket))

    def subscript(self, children):
        items = tuple(child for child in children if child is not None)
        return S.Subscript(items, items[0].span)

    def slice(self, children):
        start, colon, stop, _, step = children
        return S.Slice(start, stop, step, start.span if start is not None else self._at(colon))

    def array(self, children):
        bracket, *items = children
        return S.Array(tuple(item for item in items if item is not None), self._at(bracket))

    def call(self, children):
        token, arguments = children
        args, options = [], []
        for item in arguments or ():
            if isinstance(item, S.Option):
                if any(o.name == item.name for o in options):
                    raise GraphSyntaxError(f"option '{item.name}' is given twice", item.span)
                options.append(item)
            elif options:
                raise GraphSyntaxError("a positional argument cannot follow a keyword option",
                                       item.span)
            else:
                args.append(item)
        return S.Call(str(token), tuple(args), tuple(options), self._at(token))

    def call_args(self, children):
        return [child for child in children if child is not None]

    def keyword(self, children):
        token, value = children
        return S.Option(str(token), value, self._at(token))

    # --- statements
    def leaf(self, children):
        token, shape, extra = children
        default = extra if not isinstance(extra, tuple) else None
        init = extra[1] if isinstance(extra, tuple) else None
        return (str(token), shape, default, init, self._at(token))

    def default(self, children):
        return children[0]

    def init(self, children):
        token, arguments = children
        call = self.call([token, arguments])
        return ("init", call)

    def shape(self, children):
        return tuple(S.Dim(int(float(t)) if t.type == "NUMBER" else str(t), self._at(t))
                     if t.type == "NAME" or float(t).is_integer() else _bad_dim(t, self._at(t))
                     for t in children if t is not None)

    def _decl(self, kind, children):
        return [S.Leaf(kind, name, shape, default, init, span)
                for name, shape, default, init, span in children]

    def input_decl(self, children):
        return self._decl("input", children)

    def param_decl(self, children):
        return self._decl("param", children)

    def assign(self, children):
        token, expr = children
        return S.Assign(str(token), expr, self._at(token))

    def output_item(self, children):
        token, expr = children
        span = self._at(token)
        return [S.Output(str(token), span)] if expr is None else [
            S.Assign(str(token), expr, span), S.Output(str(token), span)]

    def output_stmt(self, children):
        return [item for items in children for item in items]

    def return_stmt(self, children):
        keyword, expr = children
        return S.Return(expr, self._at(keyword))

    def params(self, children):
        return tuple(S.Name(str(t), self._at(t)) for t in children if t is not None)

    def gate_def(self, children):
        token, params, *body = children
        return [S.GateDef(str(token), params or (), tuple(body), self._at(token))]

    def start(self, children):
        statements = []
        for child in children:
            statements.extend(child if isinstance(child, list) else [child])
        return statements


def _bad_dim(token, span):
    raise GraphSyntaxError(f"a dimension must be a whole number or a name, not {token}", span)


for _gate in OPERATORS.values():
    setattr(ToSyntax, _gate, ToSyntax.binary)
for _gate in PREFIX.values():
    setattr(ToSyntax, _gate, ToSyntax.negative)
setattr(ToSyntax, SUBSCRIPT, ToSyntax.subscripted)
