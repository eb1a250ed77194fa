"""What the parser drops and the canonical printer keeps: comments, blank lines, which
syntax objects one statement made, and numbers as written.

The parser (parse.py) ignores comments and folds ``-2`` into a number, so this module
reads the text once more, with a scanner that knows only what separates statements
(newlines and ``;`` outside brackets, a gate's braces) and where comments are. It runs
on text the parser has already accepted, so it needs no error handling of its own.

A comment belongs to the statement it ends (a trailing comment), or else to the
statement right below it (a leading comment). A comment in the middle of a statement
that spans lines becomes a leading comment of that statement, since the printer joins
it onto one line. Blank lines are kept as ``""`` entries among leading comments.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import syntax as S

_TOKEN = re.compile(r"(#[^\n]*)|(\n)|([(\[])|([)\]])|(\{)|(\})|(;)|([^\s#()\[\]{};]+)")
_COMMENT, _NEWLINE, _OPEN, _CLOSE, _LBRACE, _RBRACE, _SEMICOLON, _CODE = range(1, 9)
_NUMBER = re.compile(r"([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_BEFORE_NUMBER = re.compile(r"(?:[ \t\f\r\n(]|#[^\n]*)*")  # what may sit between '-' and digits
_SPACE = " \t\f\r"


@dataclass
class Statement:
    """One statement of the canonical form and the comments that belong to it.

    ``syntax`` holds what the parser made of it: the Leafs of one declaration, an
    Assign, the Outputs (each ``name = expr`` item as an Assign and an Output) of one
    output line, a GateDef, or a Return. A gate's ``body`` holds Statements too;
    ``end_leading`` and ``end_trailing`` are the comments before and after its ``}``.
    """

    syntax: tuple
    leading: list = field(default_factory=list)  # comment lines above it; "" is a blank line
    trailing: str = ""  # the comment at the end of its line
    body: list = field(default_factory=list)
    end_leading: list = field(default_factory=list)
    end_trailing: str = ""


@dataclass
class _Unit:
    """A stretch of code the printer puts on one line: a statement, a gate's header up
    to its '{', or a gate's '}'."""

    first: tuple  # (line, column) of its first character
    last: tuple = (0, 0)  # of its last character
    leading: list = field(default_factory=list)
    trailing: str = ""


def statements(text: str, module: S.Module) -> tuple:
    """The statements of ``module`` (parsed from ``text``) with their comments, in file
    order, and the comments after the last statement."""
    units, end = _scan(text)
    return _attach(module.statements, units), end


def _scan(text: str) -> tuple:
    """Every unit of code with its comments, and the comments after the last unit."""
    units: list = []
    pending: list = []  # comments (and blank lines) waiting for the unit below them
    unit = closed = None
    line, line_start, depth = 1, 0, 0
    last_line = code_line = 0  # lines of the last thing seen, and of the last code
    awaiting_brace = False  # between 'gate' and its '{': one unit, even across a newline
    for match in _TOKEN.finditer(text):
        kind, column = match.lastindex, match.start() - line_start + 1
        if kind == _NEWLINE:
            if unit is not None and depth == 0 and not awaiting_brace:
                closed, unit = unit, None
            line, line_start = line + 1, match.end()
            continue
        if kind == _SEMICOLON:
            if unit is not None and depth == 0:
                closed, unit = unit, None
            continue
        if kind == _COMMENT:
            comment = match.group(_COMMENT).rstrip(_SPACE)
            if code_line == line and unit is None:
                closed.trailing = comment  # after a ';', a '{' or a '}'
            elif code_line == line and depth == 0 and not awaiting_brace:
                unit.trailing = comment  # the line's newline will end the unit
            elif unit is not None:
                unit.leading.append(comment)  # inside a statement that goes on below
            else:
                if line - last_line > 1:
                    pending.append("")
                pending.append(comment)
            last_line = line
            continue
        if unit is None:
            if line - last_line > 1:
                pending.append("")
            unit = _Unit((line, column), leading=pending)
            pending = []
            units.append(unit)
            awaiting_brace = kind == _CODE and match.group(_CODE) == "gate"
        elif kind == _RBRACE:  # '}' ends the statement before it and is a unit of its own
            unit = _Unit((line, column), leading=pending)
            pending = []
            units.append(unit)
        unit.last = (line, match.end() - line_start)
        last_line = code_line = line
        if kind == _OPEN:
            depth += 1
        elif kind == _CLOSE:
            depth -= 1
        elif kind == _LBRACE or kind == _RBRACE:
            closed, unit, awaiting_brace = unit, None, False
    return units, _strip_blanks(pending)


def _attach(syntax: tuple, units: list) -> list:
    """Pair each unit with the syntax objects whose positions fall in it (several for
    ``input x, y`` or ``output f = expr``; a gate takes its header, body and '}')."""
    result: list = []
    groups: list = []  # each statement's syntax objects (a tuple grown per leaf is quadratic)
    at = 0
    for stmt in syntax:
        if result and _position(stmt) <= units[at - 1].last and not isinstance(stmt, S.GateDef):
            groups[-1].append(stmt)
            continue
        unit = units[at]
        at += 1
        if not unit.first <= _position(stmt) <= unit.last:
            raise RuntimeError(f"graphdsl bug: no statement at {unit.first} for {stmt!r}")
        statement = Statement((stmt,), unit.leading, unit.trailing)
        if isinstance(stmt, S.GateDef):
            for inner in stmt.body:
                statement.body.append(Statement((inner,), units[at].leading, units[at].trailing))
                at += 1
            closing = units[at]
            at += 1
            statement.end_leading, statement.end_trailing = _strip_blanks(closing.leading), closing.trailing
        result.append(statement)
        groups.append([stmt])
    for statement, group in zip(result, groups):
        if len(group) > 1:
            statement.syntax = tuple(group)
    if at != len(units):
        raise RuntimeError(f"graphdsl bug: {len(units) - at} statements were not read")
    return result


def _position(stmt) -> tuple:
    return stmt.span.line, stmt.span.column


def _strip_blanks(lines: list) -> list:
    while lines and lines[-1] == "":
        lines = lines[:-1]
    return lines


class Source:
    """The text of numbers and dimensions as written, found by their positions."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def number(self, number: S.Number) -> str:
        """``2.50``, ``1e-3``; a literal the parser negated is ``-`` per minus sign: ``-(2)``
        is ``-2`` and ``- -2`` is ``--2``. A number not read from the text (span None) is
        written as ``repr`` writes it: the shortest text that reads back the same float."""
        if number.span is None:
            return repr(number.value)
        at = self._offset(number.span)
        minus = 0
        while self.text[at] == "-":
            minus += 1
            at = _BEFORE_NUMBER.match(self.text, at + 1).end()
        return "-" * minus + _NUMBER.match(self.text, at).group()

    def dimension(self, dim: S.Dim) -> str:
        if isinstance(dim.value, str):
            return dim.value
        return _NUMBER.match(self.text, self._offset(dim.span)).group()

    def _offset(self, span) -> int:
        return self.starts[span.line - 1] + span.column - 1
