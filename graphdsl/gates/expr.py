"""Rule expressions: the derivative rules of every gate are written with the gates themselves.

A rule is a small Python function over ``Expr`` values, such as sigmoid's partial
``lambda out, x: out * (1 - out)``. Called with variables it builds an expression DAG
(JAX traces its rules the same way): ``Call("mul", (out, Call("sub", (1, out))))``.
That DAG is what every tier reads: the interpreter's callables and the generated code
are lowered from it (``lower.py``), the explanations print it, and a derivative
program is built from it.

Expressions are interned (one object per distinct expression, so shared
subexpressions are shared) and simplified as they are built, by rules that never
change a number: ``x * 1`` is ``x``, ``pow(x, 1)`` is ``x``, exact arithmetic on
constants is folded; gates add their own (``Gate.simplify``). ``x + 0`` is not ``x``
(``-0.0 + 0.0`` is ``+0.0``), nor is ``x * 0`` zero (``inf * 0`` is NaN).

Each expression knows its shape where it can (``None``: rank unknown; a dimension
``None``: size unknown), so that rules that depend on a rank (matmul) can be traced
and shape-moving gates that do nothing can be dropped.
"""
from __future__ import annotations

import contextlib
import math

GATES: dict = {}  # name -> Gate, filled by gates/record.py's registration
NAMESPACE: dict = {}  # upper-case names that the templates of generated code use


class Expr:
    """``op`` is ``"var"`` (``value`` is its name), ``"const"`` (``value`` a float) or a
    gate's name with ``args`` and ``options`` (a tuple of (name, value) pairs)."""

    __slots__ = ("op", "gate", "args", "options", "value", "shape", "ones", "__weakref__")

    def __init__(self, op, args=(), options=(), value=None, shape=None, ones=False, gate=None):
        self.op, self.args, self.options, self.value, self.shape = op, args, options, value, shape
        self.gate = gate  # the record of a call
        self.ones = ones  # a cotangent known to be ones of its shape (see Gate.keeps_ones)

    # Arithmetic builds gates. There is deliberately no __eq__: expressions are dict keys.
    def __add__(self, other): return call("add", self, other)
    def __radd__(self, other): return call("add", other, self)
    def __sub__(self, other): return call("sub", self, other)
    def __rsub__(self, other): return call("sub", other, self)
    def __mul__(self, other): return call("mul", self, other)
    def __rmul__(self, other): return call("mul", other, self)
    def __truediv__(self, other): return call("div", self, other)
    def __rtruediv__(self, other): return call("div", other, self)
    def __pow__(self, other): return call("pow", self, other)
    def __rpow__(self, other): return call("pow", other, self)
    def __matmul__(self, other): return call("matmul", self, other)
    def __rmatmul__(self, other): return call("matmul", other, self)
    def __neg__(self): return call("neg", self)
    def __lt__(self, other): return call("less", self, other)
    def __le__(self, other): return call("less_equal", self, other)
    def __gt__(self, other): return call("greater", self, other)
    def __ge__(self, other): return call("greater_equal", self, other)
    __hash__ = object.__hash__

    @property
    def ndim(self):
        return None if self.shape is None else len(self.shape)

    @property
    def opts(self) -> dict:
        return dict(self.options)

    def is_const(self, value=None) -> bool:
        return self.op == "const" and (value is None or self.value == value)

    def __repr__(self) -> str:
        inner = self.value if self.op in ("var", "const") else ", ".join(map(repr, self.args))
        return f"{self.op}({inner})"


_INTERNED: dict = {}


@contextlib.contextmanager
def interned_apart():
    """Expressions made inside are interned in a table of their own, dropped on leaving:
    a derivative program's (several per node of a model) are not kept for the life of the
    process as the rules' are. The rules' own expressions stay shared."""
    global _INTERNED
    saved = _INTERNED
    _INTERNED = dict(saved)
    try:
        yield
    finally:
        _INTERNED = saved


def _intern(op, args, options, value, shape, ones=False, gate=None) -> Expr:
    key = (op, id(gate), tuple(map(id, args)), options,
           value if op != "const" else (value, math.copysign(1, value)), shape, ones)
    found = _INTERNED.get(key)
    if found is None:
        found = _INTERNED[key] = Expr(op, args, options, value, shape, ones, gate)
    return found


def var(name: str, shape=None, ones: bool = False) -> Expr:
    """A variable of a rule: an operand, ``out``, ``g`` or a tangent."""
    return _intern("var", (), (), name, _shape(shape), ones)


def const(value) -> Expr:
    return _intern("const", (), (), float(value), ())


def as_expr(value) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return const(value)
    raise TypeError(f"a rule expression cannot hold {type(value).__name__}")


def _shape(shape):
    return None if shape is None else tuple(shape)


def call(gate, *args, **options) -> Expr:
    """The expression ``gate(*args, **options)``, simplified where no number changes;
    ``gate`` is a record or the name of one."""
    gate = GATES[gate] if gate.__class__ is str else gate
    if gate.variadic is not None:
        gate = gate.of_arity(len(args))
    name = gate.name
    args = tuple([a if a.__class__ is Expr else as_expr(a) for a in args])
    options = gate.option_items(options) if options or gate.options else ()
    kw = dict(options) if options else {}  # (one dict per call: the shape rule's and simplify's)
    simpler = _fold(gate, args, kw) if gate.exact else None
    if simpler is None and gate.simplify is not None:
        simpler = gate.simplify(*args, **kw)
    if simpler is not None:
        return as_expr(simpler)
    shape = gate.infer_shape([a.shape for a in args], kw)
    # (a gate that moves ones to ones, applied to the number 1, gives ones: sum's cotangent
    # of a scalar output's seed)
    ones = gate.keeps_ones and (any(a.ones for a in args) or args[0].is_const(1.0))
    return _intern(name, args, options, None, _shape(shape), ones, gate)


def _fold(gate, args, options: dict):
    """Exact arithmetic on constants, done now (the same IEEE operation as at run time)."""
    if not args:
        return None
    for a in args:
        if a.op != "const":
            return None
    value = gate.forward(*[a.value for a in args], **options)
    return const(value)


class _Builders:
    """``G.exp(x)``, ``G.sum(g, axis=0)``: a rule calls any gate by name."""

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **options: call(name, *args, **options)


G = _Builders()


def trace(rule, names: tuple, shapes: tuple = None, options: dict | None = None, ones=()) -> Expr | None:
    """Call a rule on variables named ``names`` (of ``shapes``): its expression, or None
    where it says no gradient flows."""
    shapes = shapes or (None,) * len(names)
    variables = [var(n, s, n in ones) for n, s in zip(names, shapes)]
    result = rule(*variables, **(options or {}))
    return None if result is None else as_expr(result)


def walk(roots) -> list:
    """Every expression reachable from ``roots``, operands before their users (no recursion)."""
    order, seen = [], set()
    for root in roots:
        if root is None or id(root) in seen:
            continue
        stack = [(root, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((a, False) for a in reversed(node.args) if id(a) not in seen)
    return order


def variables(expr: Expr) -> set:
    """The names of the variables an expression reads."""
    return {node.value for node in walk([expr]) if node.op == "var"}
