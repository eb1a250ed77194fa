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


import numpy as np

from ..errors import BindingError, GraphDefinitionError, Span
from ..gates.expr import Expr, as_expr, call, const, interned_apart, var
from ..lang import syntax as S
from ..lang.canonical import declarations
from ..lang.parse import parse
from .build import DEFAULT_MAX_NODES
from .expand import too_big
from .leaves import check_drawn, leaf_data
from .model import Model, paused_gc
from .shapes import check_shapes
from .writer import Writer, fresh, identifier, lowered, syntax


def derivative(program, of: str, wrt=None, source: str | None = None, values: dict | None = None):
    """``Program.grad``: a new program (of ``program``'s class) holding the output ``of`` and
    its gradients; ``source`` is the model's text and ``values`` the params that text does
    not give (see Program.to_text)."""
    if source is None:
        raise ValueError("this Program was not read from .graph text")
    with paused_gc():  # (as when loading: many objects, no garbage cycles)
        file, leaves, lines, first, text, limit = _parts(program, of, wrt, source, values)
        check_drawn(leaves, limit)
        ops, outputs = lowered(lines, {leaf.name: -1 - i for i, leaf in enumerate(leaves)}, file, first)
        if len(leaves) + len(ops) > limit:
            raise too_big(f"{len(leaves) + len(ops):,}", limit, Span(file, first, 1, lines[0].text))
        # The ops that building the text would make (tests/graph/test_derivative.py compares
        # them): parsing and resolving again would take most of the time.
        model = Model(file, leaf_data(leaves), ops, outputs)
        model.run_bits = True  # its forward gives run's gradients bit for bit
        check_shapes(model.schedule)
        return type(program)(model, source=text)


def derivative_syntax(program, of: str, wrt, source: str, values: dict | None = None) -> S.Module:
    """The syntax of the derivative program: what parsing its text gives (for the tests)."""
    file, leaves, lines, first, _, _ = _parts(program, of, wrt, source, values)
    return S.Module(file, tuple(leaves) + syntax(lines, file, first))


def _parts(program, of: str, wrt, source: str, values: dict | None) -> tuple:
    """(file name, the declarations' syntax, the other statements (writer.Line), the line of
    the first, the whole text, the node limit)."""
    if wrt is not None and (isinstance(wrt, str) or not all(isinstance(name, str) for name in wrt)):
        raise TypeError("wrt must be a list of input and param names")
    file = f"{program.file} (grad of {of})"
    scalars = {leaf.name for leaf in program.schedule.leaves if _assumed_scalar(leaf)}
    leaf_text = declarations(_leaf_lines(source, [leaf.span.line for leaf in program.schedule.leaves]),
                             program.file, values, scalars)
    lines = write(program.schedule, program.inputs + program.params, of, wrt)
    text = leaf_text + "".join(line.text + "\n" for line in lines)
    leaves = [stmt for stmt in parse(leaf_text, file).statements if isinstance(stmt, S.Leaf)]
    limit = max(DEFAULT_MAX_NODES, 8 * len(program.schedule.ids))
    return file, leaves, lines, leaf_text.count("\n") + 1, text, limit


def write(schedule, inputs_params: tuple, of: str, wrt=None) -> list:
    """The statements (writer.Line) of the program with the output ``of`` and its
    gradient with respect to each name of ``wrt`` (default: every input and param)."""
    wrt = list(inputs_params if wrt is None else wrt)
    known = set(inputs_params)
    for name in wrt:
        if name not in known:
            raise BindingError(f"grad: '{name}' is not an input or param (they are: {', '.join(inputs_params)})")
    taken = set(schedule.ids) | set(inputs_params)
    with interned_apart():
        tracer = _Tracer(schedule, taken)
        tracer.forward()
        seed = tracer.backward(of)
        roots, made_by = [(of, tracer.values[seed])], {}
        for name in wrt:
            slot = schedule.slots[name]
            found = tracer.cotangents[slot]
            if found is None:  # no gradient reaches it: zeros of its shape
                found = call("broadcast_like", 0.0, tracer.values[slot])
            roots.append((fresh(f"d{of}_d{name}", taken), found))
            made_by[roots[-1][0]] = tracer.made_by.get(slot)
        return Writer(tracer, taken).write(roots, made_by)


def _leaf_lines(source: str, starts: list) -> str:
    """The model's text with every line blanked but the comments heading the file and the
    lines of its declarations (with the comments right above them): reading the whole
    text again would take as long as the rest of the work."""
    lines = source.split("\n")
    keep = [False] * len(lines)
    k = 0
    while k < len(lines) and (not lines[k].strip() or lines[k].lstrip().startswith("#")):
        keep[k], k = True, k + 1
    for start in dict.fromkeys(starts):  # (once a line: `input x0, x1...` declares many)
        above = start - 2
        while above >= 0 and lines[above].lstrip().startswith("#"):
            keep[above], above = True, above - 1
        depth, k = 0, start - 1
        while k < len(lines):  # to the end of the statement: its brackets closed
            keep[k] = True
            code = lines[k].split("#", 1)[0]
            depth += code.count("[") + code.count("(") - code.count("]") - code.count(")")
            if depth <= 0:
                break
            k += 1
    return "\n".join(line if kept else "" for line, kept in zip(lines, keep))


_LIKE: dict = {}


def _shaped_like(gate) -> bool:
    """Whether a gate's value has the shape of its last operand, whatever the others."""
    found = _LIKE.get(gate)
    if found is None:
        try:
            probe = gate.infer_shape([None] * (gate.arity - 1) + [(7, 5)], dict(gate.option_items({})))
        except TypeError:  # (an option it needs: no probe)
            probe = None
        found = _LIKE[gate] = gate.arity > 1 and probe == (7, 5)
    return found


def _assumed_scalar(leaf) -> bool:
    """An undeclared leaf with a scalar default is taken to be a scalar, and the derivative
    program declares it so (``input x: [] = -2``): its text then reads as the lecture's
    (``df_dx = z``, not a sum back to an unknown shape), and an array bound to it later is
    refused with a clear error rather than given a scalar's gradient."""
    return leaf.shape is None and leaf.default is not None and np.ndim(leaf.default) == 0


def _leaf_shape(leaf):
    if leaf.shape is not None:
        return tuple(d if isinstance(d, int) else None for d in leaf.shape)
    if _assumed_scalar(leaf):
        return ()
    if isinstance(leaf.default, np.ndarray) and leaf.default.ndim:
        return (None,) * leaf.default.ndim  # its rank (a binding of another rank is not this program's)
    return None


class _Tracer:
    """The forward values and the cotangents of a schedule, as expressions."""

    def __init__(self, schedule, taken: set):
        self.schedule, self.taken = schedule, taken  # (the names in use: the model's, then ours)
        self.values = [None] * len(schedule.ids)
        self.cotangents = [None] * len(schedule.ids)
        self.defined: dict = {}  # a variable that is no leaf -> an array constant's value (None: the seed)
        self.names: dict = {}  # id(expr) -> its preferred name
        self.origin: dict = {}  # id(expr) -> the step whose rule made it (None: the forward pass)
        self.forward_node: dict = {}  # id(expr) -> the node id it computes
        self.own: set = set()  # ids of the expressions named by the model itself
        self.made_by: dict = {}  # slot -> the last step whose rule added to its cotangent

    def forward(self) -> None:
        sched, values = self.schedule, self.values
        for leaf in sched.leaves:
            values[leaf.slot] = var(leaf.name, _leaf_shape(leaf))
        for slot, value in sched.constants:
            if np.ndim(value) == 0:
                values[slot] = const(float(value))
            else:
                node = sched.ids[slot]  # (a constant the model names keeps its name)
                name = node if node.isidentifier() else fresh(identifier(node), self.taken)
                values[slot] = var(name, np.shape(value))
                self.defined[name] = np.asarray(value, dtype=np.float64)
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
            self._claim(g, "d" + identifier(step.node))
            args = [self.values[a] for a in step.args]
            for i, (a, need) in enumerate(zip(step.args, back.needs)):
                if not need:
                    continue
                ct = self._share(step, i, g, args)
                if ct is None:
                    continue
                if not (ct.op not in ("var", "const") and ct.args[-1] is args[i] and _shaped_like(ct.gate)):
                    ct = call("sum_like", ct, args[i])  # the interpreter's unbroadcast (not of
                    # sum_like(g, x) or broadcast_like(g, x): x's shape already)
                total = self.cotangents[a]
                total = ct if total is None else total + ct
                self.cotangents[a] = total
                self.made_by[a] = step
                self._mark(total, step)
        return plan.seed

    def _seed(self, of: str, out: Expr) -> Expr:
        """The gradient of the output with respect to itself: ones of its shape."""
        if out.shape == ():
            return const(1.0)
        name = fresh("d" + identifier(of), self.taken)
        seed = var(name, out.shape, ones=True)
        self.defined[name] = None  # (written by the Writer after the output)
        self.seed_of = (name, out)
        return seed

    def _share(self, step, i: int, g: Expr, args: list):
        """Operand i's cotangent by the gate's rule (before it is summed to its shape)."""
        gate, out = step.gate, self.values[step.slot]
        # (a rule may branch on a rank only where an option or the operands' kind asks it to)
        ranked = gate.by_rank and (not gate.options or any(v is not None for v in step.options.values()))
        if ranked and any(a.ndim is None for a in args):
            raise GraphDefinitionError(
                f"grad needs the rank of every operand of {gate.name} here: declare the shapes of the "
                f"inputs and params it is computed from (input W: [n, 3])", step.span)
        try:
            if g.ones and gate.partials is not None and gate.vjp_rules is None:
                # ones * partial (the seed, or what sum passes on from it: ones of the output's
                # shape, a node's cotangent having its shape) is the partial broadcast to that shape
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
        # (a cotangent that is a value of the forward pass, x[-1] of x[1] * x[-1], keeps that name)
        if expr.op not in ("var", "const") and id(expr) not in self.forward_node:
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


