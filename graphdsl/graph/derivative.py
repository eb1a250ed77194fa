"""The derivative is a graph: a model's backward pass written out as ``.graph`` text.

Every gate record states its reverse-mode rule as an expression over the language's own
gates (gates/rules.py). Tracing those rules over the model's nodes, in the order of the
backward plan the interpreter follows, gives one expression DAG holding the output and the
requested gradients; printed as statements, it is a program like any other (it can be run,
printed, and differentiated again).

The same operations as the interpreter's, in the same order: each operand's share is its
rule's cotangent summed back to its shape (``sum_like``, the interpreter's ``unbroadcast``)
and the shares of a node add up in the plan's order, so the numbers are the same bits.
Expressions are interned and simplified as they are built (gates/expr.py: never a change
of number), which also drops a product with a cotangent known to be ones.

Shapes are what the text declares (constants, ``input W: [2, 3]``); an undeclared leaf with
an array default has that default's rank (dimensions unknown). Rules that branch on ranks
(matmul, the reductions over an axis) need them; where they are unknown it says so.
"""
from __future__ import annotations

import re

import numpy as np

from ..errors import BindingError, GraphDefinitionError
from ..gates.expr import Expr, as_expr, call, const, var
from ..gates.indexing import subscript
from ..gates.lower import option_text, prose_call
from ..lang.canonical import declarations
from .build import DEFAULT_MAX_NODES

_INLINE_DEPTH = 6  # an expression nested deeper than this is given a name of its own


def derivative_program(program, of: str, wrt, loads):
    """``Program.grad``: the derivative program, loaded with ``loads``."""
    if wrt is not None and (isinstance(wrt, str) or not all(isinstance(name, str) for name in wrt)):
        raise TypeError("wrt must be a list of input and param names")
    text = derivative_text(program.schedule, program.inputs + program.params,
                           declarations(program.to_text(), program.file), of, wrt)
    size = max(DEFAULT_MAX_NODES, 8 * len(program.schedule.ids))
    return loads(text, name=f"{program.file} (grad of {of})", max_nodes=size)


def derivative_text(schedule, inputs_params: tuple, leaf_text: str, of: str, wrt=None) -> str:
    """The ``.graph`` text of the program with the output ``of`` and its gradient with
    respect to each name of ``wrt`` (default: every input and param); ``leaf_text`` is the
    canonical text of the model's declarations (its inputs and params)."""
    wrt = list(inputs_params if wrt is None else wrt)
    for name in wrt:
        if name not in inputs_params:
            raise BindingError(f"grad: '{name}' is not an input or param (they are: {', '.join(inputs_params)})")
    tracer = _Tracer(schedule)
    tracer.forward()
    seed = tracer.backward(of)
    taken = set(schedule.ids) | set(inputs_params)
    roots = [(of, tracer.values[seed])]
    for name in wrt:
        slot = schedule.slots[name]
        found = tracer.cotangents[slot]
        if found is None:  # no gradient reaches it: zeros of its shape
            found = call("broadcast_like", 0.0, tracer.values[slot])
        roots.append((_fresh(f"d{of}_d{name}", taken), found))
    writer = _Writer(tracer, taken)
    body = writer.write(roots)
    outputs = "output " + ", ".join(name for name, _ in roots)
    return leaf_text + "".join(line + "\n" for line in writer.constants + body) + outputs + "\n"


def _fresh(name: str, taken: set) -> str:
    """``name``, or ``name_2``, ``name_3``... where it is taken; then taken."""
    found, k = name, 1
    while found in taken:
        k += 1
        found = f"{name}_{k}"
    taken.add(found)
    return found


def _identifier(node: str) -> str:
    """A node id as a name of the language: ``f@1/#2`` (call 1 in f, its node 2) -> ``f1_2``."""
    text = re.sub(r"\W+", "_", node.replace("@", "")).strip("_") or "t"
    return text if not text[0].isdigit() else "n" + text


def _leaf_shape(leaf):
    if leaf.shape is not None:
        return tuple(d if isinstance(d, int) else None for d in leaf.shape)
    if isinstance(leaf.default, np.ndarray) and leaf.default.ndim:
        return (None,) * leaf.default.ndim  # its rank (a binding of another rank is not this program's)
    return None


class _Tracer:
    """The forward values and the cotangents of a schedule, as expressions."""

    def __init__(self, schedule):
        self.schedule = schedule
        self.values = [None] * len(schedule.ids)
        self.cotangents = [None] * len(schedule.ids)
        self.defined: dict = {}  # a variable's name -> its statement's text (array constants, the seed)
        self.names: dict = {}  # id(expr) -> its preferred name
        self.origin: dict = {}  # id(expr) -> the step whose rule made it (None: the forward pass)
        self.forward_node: dict = {}  # id(expr) -> the node id it computes
        self.own: set = set()  # ids of the expressions named by the model itself

    def forward(self) -> None:
        sched, values = self.schedule, self.values
        for leaf in sched.leaves:
            values[leaf.slot] = var(leaf.name, _leaf_shape(leaf))
        for slot, value in sched.constants:
            if np.ndim(value) == 0:
                values[slot] = const(float(value))
            else:
                name = _identifier(sched.ids[slot])
                values[slot] = var(name, np.shape(value))
                self.defined[name] = f"{name} = {_array_text(np.asarray(value, dtype=np.float64))}"
        for step in sched.steps:
            expr = call(step.gate, *[values[a] for a in step.args], **step.options)
            values[step.slot] = expr
            self._mark(expr, None)
            if expr.op not in ("var", "const"):
                self.forward_node.setdefault(id(expr), step.node)
                if step.node.isidentifier() and id(expr) not in self.names:
                    self.names[id(expr)] = step.node
                    self.own.add(id(expr))

    def backward(self, of: str) -> int:
        """Trace the plan of ``of``; return the output's slot."""
        plan = self.schedule.plans[of]
        out = self.values[plan.seed]
        seed = self._seed(of, out)
        self.cotangents[plan.seed] = seed
        for back in plan.steps:
            step = back.step
            g = self.cotangents[step.slot]
            if g is None:
                continue
            self._claim(g, "d" + _identifier(step.node))
            args = [self.values[a] for a in step.args]
            for i, (a, need) in enumerate(zip(step.args, back.needs)):
                if not need:
                    continue
                ct = self._share(step, i, g, seed, args)
                if ct is None:
                    continue
                if not (ct.op == "sum_like" and ct.args[1] is args[i]):  # (already summed to its shape)
                    ct = call("sum_like", ct, args[i])  # the interpreter's unbroadcast
                total = self.cotangents[a]
                total = ct if total is None else total + ct
                self.cotangents[a] = total
                self._mark(total, step)
        return plan.seed

    def _seed(self, of: str, out: Expr) -> Expr:
        """The gradient of the output with respect to itself: ones of its shape."""
        if out.shape == ():
            return const(1.0)
        name = "d" + _identifier(of)
        seed = var(name, out.shape, ones=True)
        self.defined[name] = None  # written once its name is known not to clash (see _Writer)
        self.seed_of = (name, out)
        return seed

    def _share(self, step, i: int, g: Expr, seed: Expr, args: list):
        """Operand i's cotangent by the gate's rule (before it is summed to its shape)."""
        gate, out = step.gate, self.values[step.slot]
        # (a rule may branch on a rank only where an option or the operands' kind asks it to)
        ranked = gate.by_rank and (not gate.options or any(v is not None for v in step.options.values()))
        if ranked and any(a.ndim is None for a in args):
            raise GraphDefinitionError(
                f"grad needs the rank of every operand of {gate.name} here: declare the shapes of the "
                f"inputs and params it is computed from (input W: [n, 3])", step.span)
        try:
            if g is seed and g.op == "var" and gate.partials is not None and gate.vjp_rules is None:
                # ones * partial is the partial broadcast to the output's shape: no product
                partial = gate.partial_of(i, out, args)
                if partial is None:
                    return None
                partial = as_expr(partial)
                return g if partial.is_const(1.0) else call("broadcast_like", partial, out)
            found = gate.vjp_of(i, g, out, args, dict(step.options))
            return None if found is None else as_expr(found)
        except (TypeError, ValueError, IndexError) as err:
            raise GraphDefinitionError(f"grad cannot write the derivative of {gate.name} here ({err})",
                                       step.span) from None

    def _claim(self, expr: Expr, name: str) -> None:
        if expr.op not in ("var", "const"):
            self.names.setdefault(id(expr), name)

    def _mark(self, expr: Expr, step) -> None:
        """Record the step that made every new expression under ``expr`` (each once)."""
        origin = self.origin
        stack = [expr]
        while stack:
            node = stack.pop()
            if id(node) in origin or node.op in ("var", "const"):
                continue
            origin[id(node)] = step
            stack.extend(node.args)


class _Writer:
    """The expression DAG as statements: a name for every named node, every node used
    twice and every output; the rest written inline."""

    def __init__(self, tracer: _Tracer, taken: set):
        self.tracer, self.taken = tracer, taken
        self.constants: list = []

    def write(self, roots: list) -> list:
        order, uses = self._walk([expr for _, expr in roots])
        root_name = {}
        for name, expr in roots:
            if expr.op not in ("var", "const") and id(expr) not in root_name and \
                    self.tracer.names.get(id(expr)) in (None, name):
                root_name[id(expr)] = name
        names = self.tracer.names
        text: dict = {}  # id -> (source, precedence, depth)
        lines: list = []
        seed = getattr(self.tracer, "seed_of", None)
        for node in order:
            if node.op == "var":
                text[id(node)] = (self._variable(node.value, seed, lines, text), 9, 0)
                continue
            if node.op == "const":
                text[id(node)] = _const_text(node.value)
                continue
            parts = [text[id(a)][:2] for a in node.args]
            try:
                source, level = _call_text(node.gate, parts, node.opts)
            except ValueError as err:
                step = self.tracer.origin.get(id(node))
                raise GraphDefinitionError(f"grad cannot write this derivative as text: {err}",
                                           None if step is None else step.span) from None
            depth = 1 + max((text[id(a)][2] for a in node.args), default=0)
            key = id(node)
            if key in root_name or key in names or uses.get(key, 0) > 1 or depth > _INLINE_DEPTH:
                name = root_name.get(key)
                if name is None and key in self.tracer.own:
                    name = names[key]  # a node the model names keeps its name
                elif name is None:
                    name = _fresh(names.get(key) or self._generated(node), self.taken)
                lines.append(self._statement(name, source, node))
                text[key] = (name, 9, 0)
            else:
                text[key] = (source, level, depth)
        for name, expr in roots:  # an output that is a leaf, a constant or another's node
            if root_name.get(id(expr)) != name:
                lines.append(f"{name} = {text[id(expr)][0]}")
        return lines

    def _variable(self, name: str, seed, lines: list, text: dict) -> str:
        defined = self.tracer.defined
        if name in defined:
            statement = defined.pop(name)
            if statement is None:  # the seed: ones of the output's shape
                _, out = seed
                lines.append(f"{name} = broadcast_like(1.0, {text[id(out)][0]})")
            else:
                self.constants.append(statement)
        return name

    def _generated(self, node: Expr) -> str:
        forward = self.tracer.forward_node.get(id(node))
        return _identifier(forward) if forward is not None else "t"

    def _statement(self, name: str, source: str, node: Expr) -> str:
        step = self.tracer.origin.get(id(node))
        if step is None:
            return f"{name} = {source}"
        line = (step.span.source_line or "").split("#", 1)[0].strip()  # (the language has no strings)
        return f"{name} = {source}  # from line {step.span.line}: {line}"

    def _walk(self, roots: list) -> tuple:
        """Every expression under ``roots``, operands first, and how often each is used."""
        order, uses, seen = [], {}, set()
        for root in roots:
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
                for arg in reversed(node.args):
                    uses[id(arg)] = uses.get(id(arg), 0) + 1
                    if id(arg) not in seen:
                        stack.append((arg, False))
        return order, uses  # (the first root is the output: written before the seed that reads it)


def _call_text(gate, parts: list, options: dict) -> tuple:
    """(text, precedence) of a call; an index option is written as a list of whole numbers."""
    if not any(gate.options[k].kind == "subscript" for k in options) or gate.postfix is not None:
        return prose_call(gate, parts, options)
    if any(not isinstance(item, int) for k, v in options.items() if gate.options[k].kind == "subscript"
           for item in v):
        raise ValueError(f"the language cannot write {gate.name} of a slice as an option")
    shown = [p for p, _ in parts] + [f"{k}={subscript(v) if gate.options[k].kind == 'subscript' else option_text(v)}"
                                     for k, v in options.items() if v != gate.options[k].default]
    return f"{gate.name}({', '.join(shown)})", 9


def _const_text(value: float) -> tuple:
    if np.isnan(value):
        raise ValueError("grad: a rule holds NaN, which .graph text cannot write")
    text = "1e999" if value == np.inf else "-1e999" if value == -np.inf else repr(float(value))
    return text, (3 if text.startswith("-") else 9), 0


def _array_text(array: np.ndarray) -> str:
    if array.ndim == 0:
        return _const_text(float(array))[0]
    return "[" + ", ".join(_array_text(item) for item in array) + "]"
