"""The gate table: one record per built-in gate (see record.py), grouped by family.

``GATES`` maps each name to its record; ``OPERATORS`` maps each operator symbol of the
language to its gate. Nothing outside this package names a gate.
"""
from . import (arithmetic, comparisons, functions, indexing, joining, linalg, losses,  # noqa: F401 -- registers
               reductions, shaping)
from .expr import GATES, G, Expr, call, trace, var
from .record import NAMESPACE, Gate, Infix, Option, broadcast, elementwise, register

OPERATORS = {gate.infix.symbol: gate.name for gate in GATES.values() if gate.infix is not None}
PREFIX = {gate.prefix: gate.name for gate in GATES.values() if gate.prefix is not None}  # -x
SUBSCRIPT = next(name for name, gate in GATES.items() if gate.postfix is not None)  # x[1:3]
ALIAS = next(name for name, gate in GATES.items() if gate.transparent)  # names a value: output y = x
UNBROADCAST = shaping.SUM_LIKE  # sums a cotangent back to the shape of an operand that broadcasting widened

__all__ = ["GATES", "OPERATORS", "PREFIX", "SUBSCRIPT", "ALIAS", "UNBROADCAST", "NAMESPACE", "Gate", "Option", "Infix", "G",
           "Expr", "call", "trace", "var",
           "register", "elementwise", "broadcast"]
