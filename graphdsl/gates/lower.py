"""Rule expressions as Python source: numpy code, code over Python floats, and prose.

``lower`` writes expressions with each gate's templates (``Gate.numpy``,
``Gate.float``); a subexpression used twice is computed once into a temporary. Two
forms depend on where a comparison stands: in numpy code, inside a product or as the
condition of ``where``, a comparison stays a boolean mask (a float32 cotangent times a
mask stays float32, and no float copy of the mask is made); in float code the
condition of ``where`` is a Python test and its branches are only evaluated when
taken.

The interpreter's callables (``Gate.forward`` of a gate stated as an expression,
``Gate.vjps``, ``Gate.jvp``) are compiled from the same source, once per pattern of
options and ranks.
"""
from __future__ import annotations

import math
import re

from .expr import NAMESPACE, Expr, as_expr, walk
from ..errors import NoCode


def literal(value: float) -> str:
    """A float constant as source: ``repr`` round-trips; negatives in parentheses."""
    if not math.isfinite(value):
        return "NAN" if math.isnan(value) else ("INF" if value > 0 else "(-INF)")
    text = repr(float(value))
    return f"({text})" if text.startswith("-") else text


def template(gate, mode: str, options: dict, shapes: list):
    """A gate's template in this mode; None where it is written by its forward rule. Mode
    "loop" is float code for a compiled loop (compiled/fused.py): there a gate stated as an
    expression is written out from it (sigmoid: one exp and a choice between two quotients,
    not the float template's exp in each branch, which only pays where Python runs it)."""
    if mode == "loop":
        if gate.forward_rule is not None:
            return None
        mode = "float"
    found = gate.numpy if mode == "numpy" else gate.float
    if callable(found):
        found = found(options, shapes)
    if found is not None or gate.forward_rule is not None:
        return found
    if mode == "numpy":
        return f"GATE_{gate.name}({', '.join('{%d}' % i for i in range(gate.arity))}{_keywords(options)})"
    raise NoCode(gate.name)


def _keywords(options: dict) -> str:
    return "".join(f", {key}={value!r}" for key, value in options.items())


def _contexts(order: list, roots: list, mode: str) -> dict:
    """Per node: "mask"/"cond" when every use takes a boolean (a gate's ``conditions``,
    and in numpy code its ``masks``), else "value"."""
    context: dict = {}
    for root in roots:
        if root is not None:
            context[id(root)] = "value"
    for node in order:
        if node.op in ("var", "const"):
            continue
        gate = node.gate
        for k, arg in enumerate(node.args):
            if k in gate.conditions:
                want = "mask" if mode == "numpy" else "cond"
            elif k in gate.masks and mode == "numpy":
                want = "mask"
            else:
                want = "value"
            seen = context.get(id(arg))
            context[id(arg)] = want if seen in (None, want) else "value"
    return context


class Writer:
    """Statements and sources of expressions, in one mode, over an environment of names."""

    def __init__(self, mode: str, env: dict, fresh):
        self.mode, self.env, self.fresh = mode, env, fresh
        self.lines: list = []
        self.reads: list = []  # the env names read, in order
        self.namespace: dict = {}  # callables the code needs beyond NAMESPACE

    def write(self, roots: list) -> list:
        """One source per root (None for None); shared subexpressions become temporaries."""
        order = walk(roots)
        uses: dict = {}
        for node in order:
            for arg in node.args:
                uses[id(arg)] = uses.get(id(arg), 0) + 1
        context = _contexts(order, roots, self.mode)
        source: dict = {}
        for node in order:
            text = self._node(node, source, context.get(id(node), "value"))
            if uses.get(id(node), 0) > 1 and node.op not in ("var", "const"):
                name = self.fresh()
                self.lines.append(f"{name} = {text}")
                text = name
            source[id(node)] = text
        return [None if r is None else source[id(r)] for r in roots]

    def _node(self, node: Expr, source: dict, context: str) -> str:
        if node.op == "var":
            name = self.env[node.value]
            self.reads.append(name)
            return name
        if node.op == "const":
            return literal(node.value)
        gate = node.gate
        args = [source[id(a)] for a in node.args]
        args = [a if _simple(a) else f"({a})" for a in args]
        if context == "mask" and gate.mask is not None:
            return gate.mask.format(*args)
        if context == "cond" and gate.condition is not None:
            return gate.condition.format(*args)
        shapes = [a.shape for a in node.args]
        found = template(gate, self.mode, node.opts, shapes)
        if found is None:  # written out from its forward rule
            found = self._inline(gate, node, args, shapes)
        elif found.startswith("GATE_"):
            self.namespace[f"GATE_{gate.name}"] = gate.forward
        text = found.format(*args)
        return f"{text if _simple(text) else f'({text})'} != 0.0" if context == "cond" else text

    def _inline(self, gate, node: Expr, args: list, shapes: list) -> str:
        """A gate stated as an expression, written out over its operands' sources."""
        expr = gate.forward_expr(shapes, node.opts)
        inner = Writer(self.mode, dict(zip(gate.operand_names, args)), self.fresh)
        inner.namespace = self.namespace
        text, = inner.write([expr])
        self.lines += inner.lines
        return text.replace("{", "{{").replace("}", "}}")


_NUMBER = re.compile(r"\d+(\.\d*)?(e[+-]?\d+)?$")
_FIELD = re.compile(r"\{\w+\}\w*$")  # a template's field: filled with a name or a literal


def _simple(text: str) -> bool:
    """A name, a literal or a call: needs no parentheses as an operand."""
    if text.isidentifier() or _NUMBER.match(text) or _FIELD.match(text) or text.startswith("(") and _balanced(text):
        return True
    head = text.split("(", 1)[0]
    return head.isidentifier() and text.endswith(")") and _balanced(text[len(head):])


def _balanced(text: str) -> bool:
    """Whether ``text`` is one parenthesised group from its first to its last character."""
    depth = 0
    for k, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and k < len(text) - 1:
            return False
    return depth == 0 and text.endswith(")")


def spell(expr: Expr, names: dict | None = None) -> str:
    """An expression as a reader writes it (``g * (out * (1 - out))``), its variables
    renamed by ``names``: for messages and --explain."""
    names = names or {}
    texts: dict = {}
    for node in walk([expr]):
        if node.op == "var":
            texts[id(node)] = (names.get(node.value, node.value), 9)
        elif node.op == "const":
            texts[id(node)] = (f"{node.value:g}", 9 if node.value >= 0 else 3)
        else:
            texts[id(node)] = prose_call(node.gate, [texts[id(a)] for a in node.args], node.opts)
    return texts[id(expr)][0]


def rule_text(gate, i: int, names: dict, ranks, options: dict) -> str:
    """Operand ``i``'s cotangent rule, spelled over ``names`` (g, out, x0, x1...)."""
    shapes = None if ranks is None else tuple((None,) * r for r in ranks)
    return spell(gate.vjp_expr(i, shapes, None, dict(options or {})), names)


def prose_call(gate, parts: list, options: dict | None = None) -> tuple:
    """(text, precedence) of a gate applied to operands given as (text, precedence)."""
    if gate.transparent and len(parts) == 1:
        return parts[0]
    if gate.infix is not None and len(parts) == 2:
        level, (left, lp), (right, rp) = gate.infix.precedence, parts[0], parts[1]
        left = f"({left})" if lp < level or (gate.infix.right and lp == level) else left
        right = f"({right})" if rp < level or (rp == level and not gate.infix.right) else right
        return f"{left} {gate.infix.symbol} {right}", level
    if gate.prefix is not None and len(parts) == 1:
        (arg, prec), = parts
        return (f"{gate.prefix}({arg})" if prec < 4 else f"{gate.prefix}{arg}"), 3
    if gate.postfix is not None and len(parts) == 1 and options:
        (arg, prec), = parts
        return f"{arg if prec >= 9 else f'({arg})'}{gate.postfix(options)}", 9
    shown = [p for p, _ in parts]
    shown += [f"{k}={option_text(v)}" for k, v in (options or {}).items() if v != gate.options[k].default]
    return f"{gate.name}({', '.join(shown)})", 9


def option_text(value) -> str:
    """An option's value as the language writes it: ``[2, -1]``, ``None``, ``0.5``."""
    if isinstance(value, tuple):
        return "[" + ", ".join(option_text(v) for v in value) + "]"
    text = repr(value)
    return text[:-2] if isinstance(value, float) and text.endswith(".0") else text


# ---------------------------------------------------------------- the interpreter's callables
_FUNCTIONS: dict = {}


def _function(key, params: tuple, roots: list):
    """A compiled ``def f(*params): return root(s)`` (numpy mode), cached by ``key``."""
    found = _FUNCTIONS.get(key)
    if found is not None:
        return found
    counter = iter(range(1 << 30))
    writer = Writer("numpy", {p: p for p in params}, lambda: f"_t{next(counter)}")
    sources = writer.write(roots)
    body = writer.lines + [f"return {', '.join(s or 'None' for s in sources)}"]
    text = f"def rule({', '.join(params)}):\n" + "".join(f"    {line}\n" for line in body)
    namespace = dict(NAMESPACE, **writer.namespace)
    exec(compile(text, f"<rule {getattr(key[0], 'name', key[0])}>", "exec"), namespace)  # noqa: S102 -- our own templates
    found = _FUNCTIONS[key] = namespace["rule"]
    found.source = text
    return found


def _key(gate, args, options: dict) -> tuple:
    """(options, shapes): the operands' shapes where the rules depend on them (their ranks
    only, as shapes of unknown sizes, for ``by_rank``), else None."""
    if gate.by_shape:
        shapes = tuple(tuple(getattr(a, "shape", ())) for a in args)
    elif gate.by_rank:
        shapes = tuple((None,) * _ndim(a) for a in args)
    else:
        shapes = None
    return tuple(options.items()), shapes


def _ndim(value) -> int:
    shape = getattr(value, "shape", None)
    return len(shape) if shape is not None else 0


def _generic(gate) -> bool:
    """The rules are the same for every call: traced once, over variables alone."""
    return not (gate.by_rank or gate.by_shape or gate.options)


def compile_forward(gate):
    if _generic(gate):
        return _function((gate, "forward", (), None), gate.operand_names, [gate.forward_expr()])

    def forward(*args, **options):
        opts, shapes = _key(gate, args, options)
        fn = _function((gate, "forward", opts, shapes), gate.operand_names,
                       [gate.forward_expr(shapes, dict(opts))])
        return fn(*args)
    return forward


def compile_vjp(gate, i: int):
    params = ("g", "out") + gate.operand_names
    if _generic(gate):
        return _function((gate, "vjp", i, (), None), params, [gate.vjp_expr(i)])

    def vjp(g, out, *args, **options):
        opts, shapes = _key(gate, args, options)
        key = (gate, "vjp", i, opts, shapes)
        fn = _FUNCTIONS.get(key) or _function(key, params, [gate.vjp_expr(i, shapes, None, dict(opts))])
        return fn(g, out, *args)
    return vjp


def compile_jvp(gate):
    names = tuple(f"t{i}" for i in range(gate.arity))
    params = names + ("out",) + gate.operand_names

    def jvp(tangents, out, *args, **options):
        opts, shapes = _key(gate, args, options)
        present = tuple(t is not None for t in tangents)
        key = (gate, "jvp", present, opts, shapes)
        fn = _FUNCTIONS.get(key)
        if fn is None:
            expr = gate.jvp_expr(present, shapes, None, dict(opts))
            fn = _function(key, params, [expr])
        return fn(*[0.0 if t is None else t for t in tangents], out, *args)
    return jvp


def compile_partial(gate, i: int):
    return _function((gate, "partial", i), ("out",) + gate.operand_names, [gate.partial_expr(i)])


def evaluate(expr: Expr, env: dict):
    """An expression's value with numpy, the variables bound by ``env`` (for checks)."""
    names = tuple(sorted({n.value for n in walk([expr]) if n.op == "var"}))
    fn = _function(("evaluate", id(expr), names), names, [as_expr(expr)])
    return fn(*[env[n] for n in names])
