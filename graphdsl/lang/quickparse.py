"""A fast lane in front of the parser for the lines that dominate generated files.

A line that is exactly one assignment ``a = b OP c`` (``+ - * / @ **`` or a comparison,
names or plain numbers) or ``a = f(b)``, at the top level (not inside a gate body or an open
bracket), is read with one regular expression instead of Lark's LALR machinery,
which costs ~50 µs a line. The syntax objects and spans are the ones the Lark
transformer builds for the same text, so node ids, messages and positions do not
change. Every other line goes to Lark as before; the lines read here reach it
blank, so its line numbers (and any error it finds) stay where they were.
"""
from __future__ import annotations

import heapq
import math
import re

from . import syntax as S
from ..errors import Span
from ..gates import OPERATORS

KEYWORDS = frozenset(S.KEYWORDS)
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_OPERAND = r"([A-Za-z_][A-Za-z0-9_]*|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"  # ASCII, as NUMBER
_WS = r"[ \t\f\r]*"
_BINARY = re.compile(rf"{_WS}({_NAME}){_WS}={_WS}{_OPERAND}{_WS}(\*\*|[-+*/@]|[<>=!]=|[<>]){_WS}{_OPERAND}{_WS}")
_UNARY = re.compile(rf"{_WS}({_NAME}){_WS}={_WS}({_NAME}){_WS}\({_WS}{_OPERAND}{_WS}\){_WS}")
_HEADER = re.compile(r"gate\b")
_GATES = OPERATORS  # "+" -> "add"...
_DEPTH = str.maketrans("", "", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ =+-*/.;,:~@\t\r")


def split(text: str, lines: list, file: str):
    """(statements read here with their line numbers, the text left for the parser)."""
    fast, rest = [], []
    depth = 0
    header = False  # the last line of code was a gate's header, its '{' still to come
    for number, line in enumerate(lines, 1):
        stmt = _simple(line, number, lines, file) if depth == 0 and not header else None
        if stmt is not None:
            fast.append(stmt)
            rest.append("")
            continue
        rest.append(line)
        code = line.split("#", 1)[0].strip()
        if code:  # a line after the header is Lark's: it reports the missing '{' there
            header = _HEADER.match(code) is not None and "{" not in code
        depth = max(0, depth + _depth_change(line))
    if not fast:
        return fast, text
    return fast, "\n".join(rest)


def merge(parsed: list, fast: list) -> list:
    """Both lists of statements in file order."""
    return list(heapq.merge(parsed, fast, key=lambda stmt: stmt.span.line)) if fast else parsed


def _depth_change(line: str) -> int:
    code = line.split("#", 1)[0].translate(_DEPTH)
    if not code:
        return 0
    return sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")


def _simple(line: str, number: int, lines: list, file: str):
    match = _BINARY.fullmatch(line) or _UNARY.fullmatch(line)
    if match is None:
        return None
    source, at = line.rstrip("\r"), match.start  # every span of the line shares its text
    if match.re is _BINARY:
        target, left, op, right = match.groups()
        if target in KEYWORDS:
            return None
        operands = (_operand(left, Span(file, number, at(2) + 1, source)),
                    _operand(right, Span(file, number, at(4) + 1, source)))
        if None in operands:
            return None
        call = S.Call(_GATES[op], operands, (), Span(file, number, at(3) + 1, source), op)
        return S.Assign(target, call, Span(file, number, at(1) + 1, source))
    target, gate, operand = match.groups()
    if target in KEYWORDS or gate in KEYWORDS:
        return None
    operand = _operand(operand, Span(file, number, at(3) + 1, source))
    if operand is None:
        return None
    call = S.Call(gate, (operand,), (), Span(file, number, at(2) + 1, source))
    return S.Assign(target, call, Span(file, number, at(1) + 1, source))


def _operand(text: str, span: Span):
    if text[0].isdigit() or text[0] == ".":
        value = float(text)
        return None if math.isinf(value) else S.Number(value, span)  # Lark reports the overflow
    return None if text in KEYWORDS else S.Name(text, span)
