"""A derivative program's expression DAG as statements: their text and their syntax.

A node gets a statement of its own when the model names it, when it is a cotangent
(``d<node>``), an output, used twice (shared subexpressions are computed once) or nested
deeper than a line should be; the rest is written inline. Each statement of the backward
pass is commented with the line of the gate whose rule made it.

The syntax (lang/syntax.py) is made with the text, as parsing the text makes it
(tests/graph/test_derivative.py compares them): Lark would take most of the time of a
large derivative program.
"""
from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from ..errors import GraphDefinitionError, Span
from ..gates import ALIAS, GATES
from ..gates.expr import Expr, walk
from ..gates.lower import option_text, prose_call
from ..lang import syntax as S
from .expand import Op

_INLINE_DEPTH = 6  # an expression nested deeper than this is given a name of its own
_ATOM = 9  # prose_call's precedence of a name, a literal or a call


class Line(NamedTuple):
    """One statement: its text, and its expression as a tree of tuples that ``lowered``
    makes ops of and ``syntax`` the parser's syntax: ("n", name), ("c", number), ("a",
    array), ("g", gate record, operands, options)."""

    text: str
    name: str | None  # an assignment's name (None: the output line)
    expr: object  # the expression's tree; or the output names


def fresh(name: str, taken: set) -> str:
    """``name``, or ``name_2``, ``name_3``... where it is taken; then taken."""
    found, k = name, 1
    while found in taken:
        k += 1
        found = f"{name}_{k}"
    taken.add(found)
    return found


def identifier(node: str) -> str:
    """A node id as a name of the language: ``f@1/#2`` (call 1 in f, its unnamed node 2) ->
    ``f1_t2``."""
    if node.isascii() and node.isidentifier() and node[0] != "_" and node[-1] != "_":
        return node  # (most nodes: a name of the model's text, which re.sub leaves alone)
    text = re.sub(r"\W+", "_", node.replace("@", "").replace("/#", "#").replace("#", "_t")).strip("_") or "t"
    return text if not text[0].isdigit() else "n" + text


def syntax(lines: list, file: str, first: int) -> tuple:
    """The statements of ``lines`` as the parser makes them, the first on line ``first``."""
    found = []
    for number, line in enumerate(lines, first):
        span = Span(file, number, 1, line.text)
        if line.name is None:
            found.extend(S.Output(name, span) for name in line.expr)
        else:
            found.append(S.Assign(line.name, _syntax(line.expr, span), span))
    return tuple(found)


def lowered(lines: list, env: dict, file: str, first: int) -> tuple:
    """(the ops of ``lines``, their outputs): what graph/lower.py makes of their syntax (the
    same ids, gates, operands and options; every span the statement's), without the
    syntax. ``env``: the leaves' refs (-1 - their index); each name is defined once,
    after what it reads, so nothing needs resolving."""
    ops: list = []
    outputs: tuple = ()
    for number, line in enumerate(lines, first):
        if line.name is None:
            outputs = tuple(line.expr)
            continue
        span = Span(file, number, 1, line.text)
        env[line.name] = _lower(line.name, line.expr, span, env, ops)
    return ops, outputs


def _lower(name: str, root, span: Span, env: dict, ops: list) -> int:
    """One statement's ops, in graph/lower.py's order: operands first, left to right, the
    unnamed ones numbered ``name#1``, ``name#2``... as they are finished."""
    if root[0] == "g" and all(arg[0] == "n" for arg in root[2]):  # (most lines: a call on names)
        _, gate, args, options = root
        symbol = gate.postfix(options) if gate.postfix is not None else _symbol(gate, len(args)) or gate.symbol
        ops.append(Op(name, "gate", gate.name, tuple([env[arg[1]] for arg in args]), span, options or None,
                      None, symbol, (), True))
        return len(ops) - 1
    counter, results = 0, []
    stack = [(root, False, True)]
    while stack:
        node, ready, is_root = stack.pop()
        kind = node[0]
        if kind == "n":
            ref = env[node[1]]
            if is_root:
                ops.append(Op(name, "gate", ALIAS, (ref,), span, symbol="="))
                ref = len(ops) - 1
            results.append(ref)
            continue
        if kind == "g" and not ready:
            stack.append((node, True, is_root))
            stack.extend((arg, False, False) for arg in reversed(node[2]))
            continue
        if is_root:
            suffix = name
        else:
            counter += 1
            suffix = f"{name}#{counter}"
        if kind == "g":
            _, gate, args, options = node
            count = len(args)
            refs = tuple(results[len(results) - count:])
            del results[len(results) - count:]
            symbol = gate.postfix(options) if gate.postfix is not None else _symbol(gate, count) or gate.symbol
            ops.append(Op(suffix, "gate", gate.name, refs, span, options or None, None, symbol, (), is_root))
        else:
            value = node[1] if kind == "c" else _read_only(node[1])
            ops.append(Op(suffix, "const", None, (), span, value=value, named=is_root))
        results.append(len(ops) - 1)
    return results[-1]


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64)
    array.flags.writeable = False  # shared by every run, as a literal's
    return array


def _symbol(gate, count: int):
    """The operator a call is written with, as the parser records it (None: by name)."""
    if gate.infix is not None and count == 2:
        return gate.infix.symbol
    return gate.prefix if gate.prefix is not None and count == 1 else None


class Writer:
    def __init__(self, tracer, taken: set):
        self.tracer, self.taken = tracer, taken
        self.comments: dict = {}  # id(step) -> "  # from line N: ..." (a step makes several)

    def write(self, roots: list, made_by: dict | None = None) -> list:
        """The Lines of the program whose outputs are ``roots`` ((name, expression) pairs);
        ``made_by``: an output's name -> the step its value comes from, for the comment of
        an output that only names another value (``df_dx = z``)."""
        order, uses = _walk([expr for _, expr in roots])
        names, own = self.tracer.names, self.tracer.own
        root_name = {}
        for name, expr in roots:
            if expr.op not in ("var", "const") and id(expr) not in root_name and names.get(id(expr)) in (None, name):
                root_name[id(expr)] = name
        made: dict = {}  # id -> (text, precedence, depth, syntax maker)
        lines, constants = [], []
        for node in order:
            key = id(node)
            if node.op == "var":
                made[key] = (node.value, _ATOM, 0, _name(node.value))
                self._define(node.value, made, lines, constants)
                continue
            if node.op == "const":
                made[key] = _const(node.value)
                continue
            args = [made[id(a)] for a in node.args]
            options = node.opts
            try:
                source, level = _call_text(node.gate, [a[:2] for a in args], options)
            except ValueError as err:
                step = self.tracer.origin.get(key)
                raise GraphDefinitionError(f"grad cannot write this derivative as text: {err}",
                                           None if step is None else step.span) from None
            maker = _call(node.gate, [a[3] for a in args], options)
            depth = 1
            for a in args:
                if a[2] >= depth:
                    depth = a[2] + 1
            if key in root_name or key in names or uses.get(key, 0) > 1 or depth > _INLINE_DEPTH:
                name = root_name.get(key)
                if name is None and key in own:
                    name = names[key]  # a node the model names keeps its name
                elif name is None:
                    name = fresh(names.get(key) or self._generated(node), self.taken)
                lines.append(Line(self._statement(name, source, node), name, maker))
                made[key] = (name, _ATOM, 0, _name(name))
            else:
                made[key] = (source, level, depth, maker)
        for name, expr in roots:  # an output that is a leaf, a constant or another's node
            if root_name.get(id(expr)) != name and not (expr.op == "var" and expr.value == name):
                text, _, _, maker = made[id(expr)]
                step = (made_by or {}).get(name)
                lines.append(Line(f"{name} = {text}" + ("" if step is None else self._comment(step)), name, maker))
        outputs = [name for name, _ in roots]
        return constants + lines + [Line("output " + ", ".join(outputs), None, outputs)]

    def _define(self, name: str, made: dict, lines: list, constants: list) -> None:
        """The statement of a variable that is no leaf: an array constant, or the seed."""
        defined = self.tracer.defined
        if name not in defined:
            return
        value = defined.pop(name)
        if value is None:  # the seed: ones of the output's shape
            out = made[id(self.tracer.seed_of[1])]
            text = f"{name} = broadcast_like(1.0, {out[0]})"
            lines.append(Line(text, name, ("g", GATES["broadcast_like"], (("c", 1.0), out[3]), {})))
        else:
            constants.append(Line(f"{name} = {_array_text(value)}", name, ("a", value)))

    def _generated(self, node: Expr) -> str:
        forward = self.tracer.forward_node.get(id(node))
        return identifier(forward) if forward is not None else "t"

    def _statement(self, name: str, source: str, node: Expr) -> str:
        step = self.tracer.origin.get(id(node))
        return f"{name} = {source}" + ("" if step is None else self._comment(step))

    def _comment(self, step) -> str:
        comment = self.comments.get(id(step))
        if comment is None:
            line = (step.span.source_line or "").split("#", 1)[0].strip()  # (the language has no strings)
            comment = self.comments[id(step)] = f"  # from line {step.span.line}: {line}"
        return comment


def _walk(roots: list) -> tuple:
    """Every expression under ``roots``, operands first, and how often each is used (the
    first root, the output, is written first: the seed's statement reads it)."""
    order, uses = walk(roots), {}
    for node in order:
        for arg in node.args:
            uses[id(arg)] = uses.get(id(arg), 0) + 1
    return order, uses


# ---------------------------------------------------------------- text
def _call_text(gate, parts: list, options: dict) -> tuple:
    """(text, precedence) of a call; an index option is written as a list (``at=[[1, 3, None]]``)."""
    if not options or gate.postfix is not None or not any(gate.options[k].kind == "subscript" for k in options):
        return prose_call(gate, parts, options)
    shown = [p for p, _ in parts] + [f"{k}={option_text(v)}" for k, v in options.items()
                                     if v != gate.options[k].default]
    return f"{gate.name}({', '.join(shown)})", _ATOM


def _number_text(value: float) -> str:
    if not np.isfinite(value):
        raise ValueError(f"a rule holds {value}, which .graph text cannot write")
    return repr(float(value))


def _array_text(array: np.ndarray) -> str:
    if array.ndim == 0:
        return _number_text(float(array))
    return "[" + ", ".join(_array_text(item) for item in array) + "]"


# ---------------------------------------------------------------- syntax
def _name(name: str) -> tuple:
    return ("n", name)


def _const(value: float) -> tuple:
    text = _number_text(value)
    return text, (3 if text.startswith("-") else _ATOM), 0, ("c", float(value))


def _array(value: np.ndarray, span: Span):
    if value.ndim == 0:
        return S.Number(float(value), span)
    return S.Array(tuple(_array(item, span) for item in value), span)


def _call(gate, args: list, options: dict):
    """The tree of a call (its operand's, for a gate that only names a value)."""
    if gate.transparent and len(args) == 1:
        return args[0]
    return ("g", gate, tuple(args), options)


def _syntax(node, span: Span):
    """The syntax the parser makes of a tree's text (_call_text's)."""
    kind = node[0]
    if kind == "n":
        return S.Name(node[1], span)
    if kind == "c":
        return S.Number(node[1], span)
    if kind == "a":
        return _array(node[1], span)
    _, gate, args, options = node
    operands = tuple(_syntax(a, span) for a in args)
    if gate.postfix is not None and len(args) == 1 and options:
        (key, value), = options.items()
        return S.Call(gate.name, operands, (S.Option(key, _subscript(value, span), span),), span, "[")
    opts = tuple(S.Option(k, _option(v, gate.options[k].kind, span), span) for k, v in options.items()
                 if v != gate.options[k].default)
    return S.Call(gate.name, operands, opts, span, _symbol(gate, len(args)))


def _subscript(at, span: Span):
    def part(value):
        return None if value is None else S.Number(float(value), span)
    items = tuple(S.Number(float(item), span) if isinstance(item, int) else S.Slice(*map(part, item), span)
                  for item in at)
    return S.Subscript(items, span)


def _option(value, kind: str, span: Span):
    if value is None:
        return S.Name("None", span)
    if isinstance(value, (tuple, list)):
        return S.Array(tuple(_option(v, kind, span) for v in value), span)
    return S.Number(float(value), span)
