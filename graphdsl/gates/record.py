"""The gate record: everything graphdsl knows about one gate, in one place.

A record states the forward rule (a numpy implementation, or an expression over
other gates), the derivative rules as expressions over gates, and how the gate is
written: in numpy code, in code over Python floats, in the text of a model. Every
tier reads these fields; no code outside the gate table names a gate.

* An elementwise gate states one local derivative per operand (``partials``):
  reverse mode is ``g * partial``, forward mode ``tangent * partial``.
* Another gate states ``vjp`` (one rule per operand: the cotangent of that operand
  from the cotangent ``g`` of the output) and ``jvp`` (the output's tangent from the
  operands' tangents), or is ``linear`` (its jvp is itself applied to the tangent).
* Rules receive the forward output (``out``) so that exp, sigmoid, tanh and softmax
  reuse it. Broadcasting is undone by the executor: a cotangent may come back with
  the broadcast shape. What the rules become (expressions, callables) is rules.py's.
* A variadic gate (concat, stack) takes ``arity`` or more operands; ``of_arity(n)`` is
  its record for n of them, made once, so that every consumer sees a fixed arity.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from .expr import GATES, NAMESPACE
from .rules import Rules


@dataclass(frozen=True)
class Option:
    default: object
    # "axis" (an int, a list of them, or None), "integer", "positive" (a whole number >= 1),
    # "number", "bound" (a number or None), "shape" (a list of whole numbers, one of them
    # may be -1) or "subscript" (the [...] of x[...], or a list of whole numbers)
    kind: str
    required: bool = False  # no default: every call gives it


@dataclass(frozen=True)
class Infix:
    """How an operator is written: ``a - b`` (precedence as in the grammar, higher binds
    tighter; ``right``: right-associative, as ``**``)."""

    symbol: str
    precedence: int
    right: bool = False


@dataclass(frozen=True, eq=False, repr=False)
class Gate(Rules):
    name: str
    arity: int  # how many operands; for a variadic gate, the fewest it takes
    impl: Callable | None = None  # the numpy forward rule (None: lowered from ``forward``)
    forward_rule: Callable | None = None  # the forward as an expression over gates
    partials: tuple | None = None  # elementwise: per operand, rule(out, *args) or None
    vjp_rules: tuple | None = None  # per operand: rule(g, out, *args, **options) or None;
    # an elementwise gate may give them too, where g * partial is not the best form (where)
    jvp_rule: Callable | None = None  # rule(tangents, out, *args, **options); None = derived
    linear: bool = False  # the jvp is the gate applied to the tangent of its one operand
    by_rank: bool = False  # the rules branch on the operands' ranks: trace them per rank
    by_shape: bool = False  # the rules read the operands' sizes (concat's offsets): per shape
    # A variadic gate takes ``arity`` or more operands: ``variadic(n)`` gives the fields that
    # depend on how many (vjp_rules, explain, roles) for n of them; see ``of_arity``.
    variadic: Callable | None = None
    symbol: str = ""
    options: dict = field(default_factory=dict)
    infix: Infix | None = None
    prefix: str | None = None  # a unary operator's symbol ("-")
    postfix: Callable | None = None  # (options) -> what is written after the operand: x[1:3]
    # How the gate reads to a person: on the picture (``picture``, and ``roles``: a pin
    # per operand where their order matters), and in --explain (``explain``: per operand,
    # its rule in words over {g}, {out}, {0}, {1}...; else the rule's expression).
    picture: str | None = None
    roles: tuple | None = None
    explain: tuple | None = None
    transparent: bool = False  # it only names a value: shown as its operand
    class_ids: int | None = None  # the operand that holds integer class ids (a loss's labels)
    # Code generation: templates over operand sources {0}, {1}...; a str, or a function
    # (options, shapes) -> str | None. None: call ``impl`` (numpy) / no float code.
    numpy: object = None
    float: object = None
    condition: str | None = None  # comparisons: the float template as a Python bool
    mask: str | None = None  # comparisons: numpy template of a boolean mask, inside rules
    conditions: tuple = ()  # operands read as conditions (where's first): a bool is enough
    masks: tuple = ()  # operands that may be boolean masks in numpy code (a product's)
    names: dict = field(default_factory=dict)  # namespace entries the templates use
    numpy_names: dict = field(default_factory=dict)  # the float names' numpy functions (same bits
    # as the interpreter, for the float code of forward and jvp)
    # Properties generic code reads.
    exact: bool = False  # IEEE-exact on floats: folded on constants at build time
    keeps_ones: bool = False  # moves a cotangent of ones to ones (broadcast, expand...)
    aliases: bool = False  # the value may be its operand's array or a view of it
    # Batch evaluation: "elementwise", ("axis", min row rank), "stacked", or a function
    # (options, row rank, rows) -> the options for operands that all carry the batch axis.
    rows: object = None
    shape: Callable | None = None  # (shapes, **options) -> output shape (None: unknown)
    simplify: Callable | None = None  # (*args, **options) -> a simpler Expr, or None
    shape_error: Callable | None = None  # (shapes) -> a message in the model's terms
    # (shapes, **options) -> what is certainly wrong, in the model's terms, or None. A shape
    # may be None and a dimension None (unknown): run when the graph is built, on the shapes
    # declared, and again when the gate fails at run time.
    check: Callable | None = None
    speed: dict = field(default_factory=dict)  # compiled-code speed forms, see compiled/
    differentiable: bool = True
    doc: str = ""

    def __repr__(self) -> str:
        return f"Gate({self.name!r}, arity={self.arity})"

    def __reduce__(self):
        # Pickled by name (its rules are functions of the gate table): a Program's steps hold gates.
        base = GATES.get(self.name)
        if base is None or (base is not self and _ARITIES.get((self.name, self.arity)) is not self):
            raise TypeError(f"gate '{self.name}' is not the registered one: it cannot be pickled by name")
        return registered, (self.name, self.arity)

    def of_arity(self, n: int) -> "Gate":
        """This gate taking ``n`` operands: itself, or a variadic gate's record for ``n``."""
        if n == self.arity:
            return self
        base = GATES[self.name]
        if n == base.arity:
            return base
        if base.variadic is None or n < base.arity:
            raise TypeError(f"gate {self.name} takes {base.arity} operands, not {n}")
        found = _ARITIES.get((self.name, n))
        if found is None:  # (setdefault: threads asking at once all get the one record kept)
            found = _ARITIES.setdefault((self.name, n), replace(base, arity=n, **base.variadic(n)))
        return found

    def arity_text(self) -> str:
        """``1 argument``, ``2 arguments``, ``2 or more arguments``."""
        more = " or more" if self.variadic is not None else ""
        return f"{self.arity}{more} argument{'' if self.arity == 1 and not more else 's'}"

    # ------------------------------------------------------------ options and shapes
    def option_items(self, given: dict) -> tuple:
        """Every option, defaults filled in, in declaration order (a hashable key)."""
        if not self.options:
            if given:
                raise TypeError(f"gate {self.name} takes no options, got {sorted(given)}")
            return ()
        unknown = set(given) - set(self.options)
        if unknown:
            raise TypeError(f"gate {self.name} has no option {sorted(unknown)}")
        return tuple((k, _hashable(given.get(k, spec.default))) for k, spec in self.options.items())

    def infer_shape(self, shapes: list, options: dict):
        # (an unknown operand shape fails in most shape rules, which is unknown here too; a
        # rule that does not read it still knows: sum_like(g, x) has x's shape)
        if self.shape is None or (self.shape is broadcast and None in shapes):
            return None
        try:
            return self.shape(shapes, **options)
        except (ValueError, IndexError, TypeError):
            return None

    @property
    def elementwise(self) -> bool:
        return self.partials is not None


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


_ARITIES: dict = {}  # (name, n) -> a variadic gate's record for n operands


def registered(name: str, arity: int | None = None) -> Gate:
    return GATES[name] if arity is None else GATES[name].of_arity(arity)


def register(gate: Gate) -> Gate:
    if gate.variadic is not None:
        gate = replace(gate, **gate.variadic(gate.arity))
    if gate.name in GATES:
        raise ValueError(f"gate {gate.name} is registered twice")
    for key, value in gate.names.items():
        if NAMESPACE.get(key, value) is not value:
            raise ValueError(f"namespace name {key} of gate {gate.name} is taken")
        NAMESPACE[key] = value
    GATES[gate.name] = gate
    return gate


def broadcast(shapes: list, **options) -> tuple:
    """numpy's broadcasting of operand shapes; a dimension of unknown size stays unknown
    unless another operand fixes it."""
    first = shapes[0]
    for s in shapes:
        if s != first:
            break
    else:  # (one shape, as in most calls: the same dimensions, unknown ones unknown still)
        return tuple(first)
    rank = max(len(s) for s in shapes)
    out = []
    for k in range(rank):
        dims = [s[len(s) - rank + k] for s in shapes if len(s) - rank + k >= 0]
        known = [d for d in dims if d is not None and d != 1]
        if len(set(known)) > 1:
            raise ValueError("shapes do not broadcast")
        out.append(known[0] if known else (1 if all(d == 1 for d in dims) else None))
    return tuple(out)


def elementwise(name: str, *partials, **fields) -> Gate:
    """Register an elementwise gate: its forward (``impl``, or ``forward_rule`` over
    other gates) and one local derivative per operand (None: no gradient)."""
    return register(Gate(name, len(partials), partials=tuple(partials), shape=broadcast,
                         rows="elementwise", **fields))


NAMESPACE.update(INF=float("inf"), NAN=float("nan"))
