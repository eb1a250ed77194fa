"""Names -> scopes: which name is which, in what order, with every definition error
positioned (an undefined or twice-defined name, a cycle, a recursive gate, an output
that is not defined). Each scope's expressions become ops through lower.py."""
from __future__ import annotations

import networkx as nx

from ..errors import GraphDefinitionError, Span, closest
from ..gates import GATES
from ..lang import syntax as S
from .expand import Scope, check_limits, expand, too_big
from .leaves import check_drawn, leaf_data
from .lower import Lowering
from .model import find_cycle


class Resolver:
    """``run()``: the file's leaves, its expanded ops and its outputs."""

    def __init__(self, module: S.Module, max_nodes: int):
        self.module = module
        self.max_nodes = max_nodes
        self.gate_defs: dict[str, S.GateDef] = {}
        self.scopes: dict[str, Scope] = {}
        self.lowering = Lowering(self.gate_defs)

    # ------------------------------------------------------------ entry point
    def run(self) -> tuple:
        """(file, leaves as (name, node data), the expanded ops, the outputs)."""
        leaves, assigns, outputs = [], [], []
        for stmt in self.module.statements:
            if isinstance(stmt, S.GateDef):
                if stmt.name in self.gate_defs:
                    raise GraphDefinitionError(f"gate '{stmt.name}' is defined twice "
                                               f"(first at line {self.gate_defs[stmt.name].span.line})",
                                               stmt.span)
                self.gate_defs[stmt.name] = stmt
            elif isinstance(stmt, S.Leaf):
                leaves.append(stmt)
            elif isinstance(stmt, S.Assign):
                assigns.append(stmt)
            else:
                outputs.append(stmt)
        for gate in self.gate_defs.values():
            self.scopes[gate.name] = self._compile_gate(gate)
        top = self._compile_scope("the file", [S.Name(l.name, l.span) for l in leaves], assigns, None,
                                  top_level=True)
        self._check_recursion()
        blame = check_limits(self.scopes, top, len(leaves), self.max_nodes, self.module.file)
        check_drawn(leaves, self.max_nodes)
        ops = expand(self.scopes, top, len(leaves))
        if blame is not None and len(leaves) + len(ops) > self.max_nodes:
            raise too_big(f"{len(leaves) + len(ops):,}", self.max_nodes, blame)
        outputs = self._outputs(outputs, leaves, assigns)
        return self.module.file, leaf_data(leaves), ops, outputs

    # ------------------------------------------------------------ scopes
    def _compile_gate(self, gate: S.GateDef) -> Scope:
        assigns = [s for s in gate.body if isinstance(s, S.Assign)]
        returns = [s for s in gate.body if isinstance(s, S.Return)]
        if not returns:
            raise GraphDefinitionError(f"gate '{gate.name}' has no 'return'", gate.span)
        if len(returns) > 1:
            raise GraphDefinitionError(f"gate '{gate.name}' has more than one 'return'", returns[1].span)
        if gate.body[-1] is not returns[0]:
            raise GraphDefinitionError(f"'return' must be the last statement of gate '{gate.name}'",
                                       returns[0].span)
        return self._compile_scope(f"gate '{gate.name}'", gate.params, assigns, returns[0], False)

    def _compile_scope(self, where, params, assigns, ret, top_level) -> Scope:
        prefix = "" if top_level else "/"
        env: dict[str, int] = {}
        spans: dict[str, Span] = {}
        for i, param in enumerate(params):
            self._define(param.id, param.span, spans, where)
            env[param.id] = -1 - i
        index: dict[str, int] = {}  # assigned name -> its position in assigns
        for i, stmt in enumerate(assigns):
            if index.setdefault(stmt.name, i) != i or stmt.name in spans:
                self._define(stmt.name, stmt.span, {stmt.name: spans.get(stmt.name) or
                                                    assigns[index[stmt.name]].span}, where)
        order = self._dependency_order(where, assigns, index, env, ret)
        scope = Scope(where, tuple(p.id for p in params), [])
        calls: list = []
        for stmt in order:
            name = prefix + stmt.name
            env[stmt.name] = self.lowering.expr(stmt.expr, name, name, env, scope.ops, calls, True)
        if ret is not None:
            scope.root = self.lowering.expr(ret.expr, "", "/", env, scope.ops, calls, False)
        scope.calls = tuple(calls)
        return scope

    def _define(self, name, span, spans, where):
        if name in spans:
            # Leaves are defined before assignments: blame whichever comes second in the file.
            first, second = sorted((spans[name], span), key=lambda s: (s.line, s.column))
            raise GraphDefinitionError(f"'{name}' is already defined (at line {first.line}, "
                                       f"column {first.column})", second)
        spans[name] = span

    def _dependency_order(self, where, assigns, index, env, ret):
        """Assignments sorted so that each comes after what it reads (file order otherwise)."""
        in_order = True
        readers = [stmt.expr for stmt in assigns] + ([ret.expr] if ret else [])
        for i, expr in enumerate(readers):
            for ref in _names_in(expr):
                position = index.get(ref.id)
                if position is None:
                    if ref.id not in env:
                        raise _undefined(ref, where, list(env) + list(index), self.gate_defs)
                elif position >= i:  # (the return expression, last, comes after them all)
                    in_order = False
        if in_order:  # the common case: every name is defined before it is read
            return assigns
        defined = {s.name: s for s in assigns}
        reads = [(s.name, ref.id) for s in assigns for ref in _names_in(s.expr) if ref.id in index]
        deps = nx.DiGraph()
        deps.add_nodes_from((s.name, {"order": i}) for i, s in enumerate(assigns))
        deps.add_edges_from(reads)
        try:
            ordered = list(nx.lexicographical_topological_sort(
                deps.reverse(copy=False), key=lambda n: deps.nodes[n]["order"]))
        except nx.NetworkXUnfeasible:
            raise _cycle(deps, defined) from None
        return [defined[name] for name in ordered]

    def _check_recursion(self):
        calls = nx.DiGraph()
        for name, scope in self.scopes.items():
            calls.add_node(name)
            for callee, span in scope.calls:
                calls.add_edge(name, callee, span=span)
        cycle = find_cycle(calls)
        if not cycle:
            return
        names = [a for a, _ in cycle] + [cycle[0][0]]
        span = calls.edges[cycle[0]]["span"]
        raise GraphDefinitionError(f"recursive gates: {' -> '.join(names)}", span)

    # ------------------------------------------------------------ the graph
    def _outputs(self, outputs, leaves, assigns) -> tuple:
        # A set of the outputs' names, not of every name: a large file has few outputs.
        wanted = {out.name for out in outputs}
        known = {s.name for s in assigns if s.name in wanted} | {l.name for l in leaves if l.name in wanted}
        names: list = []
        for out in outputs:
            if out.name not in known:
                every = {s.name for s in assigns} | {l.name for l in leaves}
                raise GraphDefinitionError(f"output '{out.name}' is not defined"
                                           f"{closest(out.name, every)}", out.span)
            if out.name in names:
                raise GraphDefinitionError(f"'{out.name}' is already an output", out.span)
            names.append(out.name)
        if not names:
            last = self.module.statements[-1].span if self.module.statements else None
            span = last or Span(self.module.file, 1, 1)
            raise GraphDefinitionError("the graph has no output: add a line such as 'output f'", span)
        return tuple(names)



def _names_in(expr) -> list:
    """Every Name read by an expression (not a repeated gate's name), in source order."""
    if expr.__class__ is S.Call and expr.gate != "repeat" and \
            all(arg.__class__ is S.Name for arg in expr.args):
        return expr.args  # the common line, ``a = f(b, c)``, without the walk
    names = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, S.Name):
            names.append(node)
        elif isinstance(node, S.Call):
            args = node.args[1:] if node.gate == "repeat" and node.args[:1] and \
                isinstance(node.args[0], S.Name) else node.args
            stack.extend(reversed(args))
        elif isinstance(node, S.Array):
            stack.extend(reversed(node.items))
    return names


def _undefined(ref: S.Name, where: str, known, gate_defs) -> GraphDefinitionError:
    hint = closest(ref.id, known)
    if where != "the file" and not hint:
        hint = " (a gate body sees only its parameters and its own names)"
    if ref.id in gate_defs or ref.id in GATES:
        hint = f"; '{ref.id}' is a gate: call it as {ref.id}(...)"
    return GraphDefinitionError(f"'{ref.id}' is not defined{hint}", ref.span)


def _cycle(deps, defined) -> GraphDefinitionError:
    cycle = [a for a, _ in find_cycle(deps)]
    start = min(range(len(cycle)), key=lambda i: (defined[cycle[i]].span.line,
                                                  defined[cycle[i]].span.column))
    cycle = cycle[start:] + cycle[:start]
    shown = cycle if len(cycle) <= 8 else cycle[:4] + ["..."] + cycle[-2:]  # a long one, briefly
    path = " -> ".join(shown + [cycle[0]])
    where = ", ".join(f"'{n}' at line {defined[n].span.line}" for n in shown if n != "...")
    if len(cycle) > 8:
        where += f"; {len(cycle):,} names in all"
    return GraphDefinitionError(f"cycle: {path} (defined: {where})", defined[cycle[0]].span)
