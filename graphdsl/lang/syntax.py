"""The parsed file as frozen dataclasses, each carrying the Span it came from (with slots:
a large file makes millions of them, and a __dict__ each more than doubled their memory)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

from ..errors import Span

KEYWORDS = ("input", "param", "output", "gate", "return")  # the words a name cannot be


@dataclass(frozen=True, eq=False, slots=True)
class Number:
    value: float
    span: Span


@dataclass(frozen=True, eq=False, slots=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True, eq=False, slots=True)
class Array:
    items: tuple
    span: Span


@dataclass(frozen=True, eq=False, slots=True)
class Option:
    name: str
    value: "Expr"
    span: Span


@dataclass(frozen=True, eq=False, slots=True)
class Call:
    """A gate application: ``exp(x)``, or an operator such as ``x + y``
    (then ``symbol`` is the operator as written)."""

    gate: str
    args: tuple
    options: tuple
    span: Span
    symbol: str | None = None


@dataclass(frozen=True, eq=False, slots=True)
class Slice:
    """``start:stop:step`` inside ``x[...]``; each part an expression, or None where it is
    left out (``::2``)."""

    start: "Expr | None"
    stop: "Expr | None"
    step: "Expr | None"
    span: Span


@dataclass(frozen=True, eq=False, slots=True)
class Subscript:
    """The ``[...]`` of ``x[1:3, 0]``: one item per axis, an expression or a Slice. It is
    the option ``at`` of the index gate's Call (whose ``symbol`` is ``[``)."""

    items: tuple
    span: Span


Expr = Union[Number, Name, Array, Call]


@dataclass(frozen=True, eq=False, slots=True)
class Dim:
    value: int | str
    span: Span


@dataclass(frozen=True, eq=False, slots=True)
class Leaf:
    """``input x: [n] = [1, 2]`` or ``param W ~ normal(0, 1)``."""

    kind: str  # "input" or "param"
    name: str
    shape: tuple | None  # of Dim; None when undeclared
    default: Expr | None
    init: Call | None
    span: Span


@dataclass(frozen=True, eq=False, slots=True)
class Assign:
    name: str
    expr: Expr
    span: Span


@dataclass(frozen=True, eq=False, slots=True)
class Output:
    name: str
    span: Span


@dataclass(frozen=True, eq=False, slots=True)
class Return:
    expr: Expr
    span: Span


@dataclass(frozen=True, eq=False, slots=True)
class GateDef:
    name: str
    params: tuple  # of Name
    body: tuple  # of Assign and Return, in file order
    span: Span


@dataclass(frozen=True, eq=False, slots=True)
class Module:
    file: str
    statements: tuple  # of Leaf, Assign, Output, GateDef


def same_tree(a, b) -> bool:
    """Whether two syntax trees (or tuples of them) are the same but for their places:
    spans and file names are ignored, numbers compare bit for bit (-0.0 is not 0.0).
    Walks an explicit stack, so 100,000-deep expressions compare too."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, tuple):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y))
        elif isinstance(x, float):
            if x != y or math.copysign(1.0, x) != math.copysign(1.0, y):
                return False
        elif hasattr(x, "__dataclass_fields__"):
            stack.extend((getattr(x, name), getattr(y, name)) for name in x.__dataclass_fields__
                         if name not in ("span", "file"))
        elif x != y:
            return False
    return True
