"""Syntax -> the canonical text of a .graph file (what ``graphrun fmt`` writes).

One statement per line: ``input`` and ``param`` statements first, in their order,
then gate definitions, assignments and outputs in theirs (the language is
declarative, so the order does not change the graph); four spaces inside gate
bodies; one space around binary operators and after commas; the fewest
parentheses that keep the meaning; numbers as written; every comment on its
statement (see layout.py), and at most one blank line in a row.

Printing never recurses: an expression is written from an explicit stack of
pieces, so 100,000 nested parentheses print like any other line.
"""
from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from . import syntax as S
from .layout import Source, Statement, statements
from .parse import parse

INDENT = "    "
INDEX = "["  # the symbol of an index call: x[1:3] (see syntax.Subscript)

# The grammar's precedence levels (graph.lark), lowest first; a literal, a name, a call,
# an indexed value or a parenthesised expression is an ATOM.
COMPARISON, SUM, PRODUCT, UNARY, POWER, ATOM = 0, 1, 2, 3, 4, 5

# Binary operators: their level and the least level each operand may have without
# parentheses. '**' takes an atom on its left and a unary expression on its right;
# comparisons do not chain, so a comparison inside one is parenthesised.
BINARY = {
    **dict.fromkeys(("<", "<=", ">", ">=", "==", "!="), (COMPARISON, SUM, SUM)),
    "+": (SUM, SUM, PRODUCT),
    "-": (SUM, SUM, PRODUCT),
    "*": (PRODUCT, PRODUCT, UNARY),
    "/": (PRODUCT, PRODUCT, UNARY),
    "@": (PRODUCT, PRODUCT, UNARY),
    "**": (POWER, ATOM, UNARY),
}


def format_text(text: str, file: str = "<string>", module: S.Module | None = None) -> str:
    """The canonical form of a .graph text (``module``: its parse, if already made).

    >>> format_text("input x=1;output y=(x*x)+1  # square")
    'input x = 1\\noutput y = x * x + 1  # square\\n'
    """
    return program_text(text.removeprefix("\ufeff"), file, {}, module)


def program_text(text: str, file: str, values: dict, module: S.Module | None = None,
                 leaves_only: bool = False, scalars=()) -> str:
    """The canonical form of ``text`` with the params in ``values`` written as literals
    (``Program.to_text`` of a program from ``with_params``): floats as ``repr`` writes
    them, which read back bit for bit. The leaves named in ``scalars`` are declared
    scalars (``input x: [] = 1``)."""
    found, end = statements(text, module or parse(text, file))
    if leaves_only:
        found, end = [s for s in found if isinstance(s.syntax[0], S.Leaf)], []
    for i, statement in enumerate(found):
        if isinstance(statement.syntax[0], S.Leaf) and (values or scalars):
            leaves = tuple(replace(leaf, default=literal(values[leaf.name], leaf.name), init=None)
                           if leaf.name in values else leaf for leaf in statement.syntax)
            leaves = tuple(replace(leaf, shape=()) if leaf.name in scalars else leaf for leaf in leaves)
            found[i] = replace(statement, syntax=leaves)
    source = Source(text)
    return render(found, end, source.number, source.dimension)


def declarations(text: str, file: str = "<string>", values: dict | None = None, scalars=()) -> str:
    """The canonical text of a file's ``input`` and ``param`` statements alone (with the
    comments that head the file and their own; ``values`` and ``scalars`` as for
    program_text): a derived program's first lines."""
    return program_text(text, file, values or {}, leaves_only=True, scalars=scalars)


def literal(value, name: str):
    """A param's value as syntax: a Number, or nested Arrays of them."""
    array = np.asarray(value)
    if array.dtype != np.float64:
        raise ValueError(f"param '{name}' holds {array.dtype} numbers: .graph text has float64 only")
    if not np.isfinite(array).all():
        raise ValueError(f"param '{name}' holds NaN or infinite numbers: .graph text cannot write them")
    if 0 in array.shape[:-1]:
        raise ValueError(f"param '{name}' has the shape {list(array.shape)}: an array literal "
                         f"cannot write an empty axis before the last")
    return _nested(array.tolist())


def _nested(value):
    if isinstance(value, float):
        return S.Number(value, None)
    return S.Array(tuple(_nested(item) for item in value), None)  # as deep as the array's ndim


def check(module: S.Module, text: str, formatted: str) -> None:
    """Refuse (RuntimeError: a bug in graphdsl) a canonical text that would not parse to
    the statements of ``module`` (leaves first) or that lost a comment of ``text``; run
    before a file is overwritten."""
    statements_first = sorted(module.statements, key=lambda stmt: not isinstance(stmt, S.Leaf))
    if not S.same_tree(tuple(statements_first), parse(formatted, module.file).statements):
        raise RuntimeError("graphdsl bug: the canonical form would change the graph")
    if sorted(_all_comments(text)) != sorted(_all_comments(formatted)):
        raise RuntimeError("graphdsl bug: the canonical form would lose a comment")


def _all_comments(text: str) -> list:
    # The language has no strings: every '#' starts a comment.
    return [m.group().rstrip(" \t\f\r") for m in re.finditer(r"#[^\n]*", text)]


def render(found: list, end: list = (), number=None, dimension=None) -> str:
    """The canonical text of ``Statement``s (file order) and the comments after them.
    ``number`` and ``dimension`` give the text of a Number and a Dim (by default the
    shortest that reads back the same float, and the whole number)."""
    printer = _Printer(number or _written, dimension or _dimension)
    lines: list = []
    if found:  # the comments heading the file stay on top, whatever statement comes first
        header = _header(found[0])
        _comments(header, lines, "")
        found = [replace(found[0], leading=found[0].leading[len(header):])] + found[1:]
    for statement in _leaves_first(found):
        printer.statement(statement, lines, "")
    _comments(list(end), lines, "")
    while lines and lines[0] == "":
        lines.pop(0)
    return "\n".join(lines) + "\n"


def _leaves_first(found: list) -> list:
    """Leaves first, then the rest, each in file order. A statement keeps the blank line
    above it, and gets one if a statement moved away from between it and the one now
    above it had one (a statement's blank line is the first of its leading lines)."""
    ordered = []
    for leaves in (True, False):
        blank = None  # None until the section's first statement: that one keeps its own
        for statement in found:
            own = statement.leading[:1] == [""]
            if isinstance(statement.syntax[0], S.Leaf) is leaves:
                rest = statement.leading[1:] if own else statement.leading
                ordered.append(replace(statement, leading=[""] * bool(blank or own) + rest))
                blank = False
            elif blank is not None:
                blank = blank or own
    return ordered


def _header(first: Statement) -> list:
    """The comments above the first statement up to the last blank line among them: they
    head the file. (Those right above the statement are its own.)"""
    leading = first.leading
    return leading[:len(leading) - leading[::-1].index("")] if "" in leading else []


def _written(number: S.Number) -> str:
    return repr(number.value)


def _dimension(dim: S.Dim) -> str:
    return str(dim.value)


def _comments(comments: list, lines: list, indent: str) -> None:
    for comment in comments:
        if comment == "":
            if lines and lines[-1] != "":
                lines.append("")
        else:
            lines.append(indent + comment)


class _Printer:
    def __init__(self, number, dimension):
        self.number, self.dimension = number, dimension

    # ------------------------------------------------------------ statements
    def statement(self, statement: Statement, lines: list, indent: str) -> None:
        _comments(statement.leading, lines, indent)
        first = statement.syntax[0]
        if isinstance(first, S.GateDef):
            self._gate(statement, lines, indent)
            return
        lines.append(_with_comment(indent + self._code(statement.syntax), statement.trailing))

    def _gate(self, statement: Statement, lines: list, indent: str) -> None:
        gate = statement.syntax[0]
        params = ", ".join(param.id for param in gate.params)
        lines.append(_with_comment(f"{indent}gate {gate.name}({params}) {{", statement.trailing))
        opened = len(lines)
        for inner in statement.body:
            self.statement(inner, lines, indent + INDENT)
        _comments(statement.end_leading, lines, indent + INDENT)
        if len(lines) > opened and lines[opened] == "":
            del lines[opened]  # no blank line right after '{'
        lines.append(_with_comment(indent + "}", statement.end_trailing))

    def _code(self, syntax: tuple) -> str:
        first = syntax[0]
        if isinstance(first, S.Leaf):
            return f"{first.kind} " + ", ".join(self._leaf(leaf) for leaf in syntax)
        if isinstance(first, S.Return):
            return "return " + self.expression(first.expr)
        if isinstance(first, S.Assign) and len(syntax) == 1:
            return f"{first.name} = " + self.expression(first.expr)
        return "output " + ", ".join(self._outputs(syntax))

    def _leaf(self, leaf: S.Leaf) -> str:
        text = leaf.name
        if leaf.shape is not None:
            text += ": [" + ", ".join(self.dimension(dim) for dim in leaf.shape) + "]"
        if leaf.default is not None:
            text += " = " + self.expression(leaf.default)
        if leaf.init is not None:
            text += " ~ " + self.expression(leaf.init)
        return text

    def _outputs(self, syntax: tuple) -> list:
        """``output f, g = expr``: an item with '=' was parsed as an Assign and an Output."""
        items, defined = [], None
        for stmt in syntax:
            if isinstance(stmt, S.Assign):
                defined = stmt
            elif defined is not None and defined.name == stmt.name:
                items.append(f"{stmt.name} = " + self.expression(defined.expr))
                defined = None
            else:
                items.append(stmt.name)
        return items

    # ------------------------------------------------------------ expressions
    def expression(self, expr) -> str:
        """The expression with the fewest parentheses that parse back to the same tree."""
        pieces: list = []
        stack: list = [expr]
        while stack:
            item = stack.pop()
            if item.__class__ is str:
                pieces.append(item)
            elif item.__class__ is S.Number:
                pieces.append(self.number(item))
            elif item.__class__ is S.Name:
                pieces.append(item.id)
            elif item.__class__ is S.Array:
                stack.append("]")
                self._push_list(stack, item.items)
                stack.append("[")
            elif item.__class__ is S.Slice:
                self._push_slice(stack, item)
            elif item.symbol is None:  # a gate called by name
                stack.append(")")
                self._push_list(stack, item.args + item.options)
                stack.append(item.gate + "(")
            elif item.symbol == INDEX:  # x[1:3, 0]
                stack.append("]")
                self._push_list(stack, item.options[0].value.items)
                stack.append("[")
                self._push_operand(stack, item.args[0], ATOM)
            elif len(item.args) == 1:  # unary minus
                self._push_operand(stack, item.args[0], UNARY)
                stack.append(item.symbol)
            else:
                _, left_least, right_least = BINARY[item.symbol]
                self._push_operand(stack, item.args[1], right_least)
                stack.append(f" {item.symbol} ")
                self._push_operand(stack, item.args[0], left_least)
        return "".join(pieces)

    def _push_list(self, stack: list, items: tuple) -> None:
        for i in range(len(items) - 1, -1, -1):
            item = items[i]
            if item.__class__ is S.Option:
                stack.append(item.value)
                stack.append(item.name + "=")
            else:
                stack.append(item)
            if i:
                stack.append(", ")

    @staticmethod
    def _push_slice(stack: list, item: S.Slice) -> None:
        """``start:stop:step``, the parts left out left out (``::2``, ``1:``)."""
        if item.step is not None:
            stack.extend((item.step, ":"))
        if item.stop is not None:
            stack.append(item.stop)
        stack.append(":")
        if item.start is not None:
            stack.append(item.start)

    def _push_operand(self, stack: list, operand, least: int) -> None:
        if self._level(operand) >= least:
            stack.append(operand)
        else:
            stack.extend((")", operand, "("))

    def _level(self, expr) -> int:
        if expr.__class__ is S.Call and expr.symbol is not None and expr.symbol != INDEX:
            return UNARY if len(expr.args) == 1 else BINARY[expr.symbol][0]
        if expr.__class__ is S.Number and self.number(expr).startswith("-"):
            return UNARY  # '-2' is unary minus applied to a literal
        return ATOM


def _with_comment(code: str, comment: str) -> str:
    return f"{code}  {comment}" if comment else code
