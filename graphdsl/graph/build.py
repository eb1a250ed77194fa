"""Syntax -> networkx.DiGraph.

Every scope (a gate's body, or the file's top level) is first compiled to a flat
list of ops in dependency order. Calls to compound gates stay as call ops until
the limits are checked and the calls inlined (expand.py). Nothing here recurses
over the graph, so 100,000-node chains and deeply nested expressions build in
linear time.

Node ids: a top-level name is its own id; an anonymous sub-expression of ``f``
is ``f#1``, ``f#2``... in evaluation order; inside an expanded call ``s`` a local
``e`` becomes ``s/e`` and the return expression's sub-expressions ``s/#1``...;
iteration k of ``l = repeat(g, n, x)`` is ``l@k`` (the last one is ``l``); the
inner nodes of a call that is a gate's result go under ``s/return``.
"""
from __future__ import annotations

import contextlib
import difflib
import gc
import math
import threading

import networkx as nx
import numpy as np

from ..lang import syntax as S
from ..errors import GraphDefinitionError, GraphLimitError, Span
from .expand import RAISE_LIMIT, Op, Scope, about, check_limits, expand, too_big
from ..gates import ALIAS, GATES
from .schedule import schedule

DEFAULT_MAX_NODES = 5_000_000


@contextlib.contextmanager
def paused_gc():
    """Building a large graph creates millions of objects and no garbage cycles; CPython's
    cyclic collector would rescan all of them again and again (half of the load time of a
    10,000-gate file). Reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
_GRAPH_LOCK = threading.Lock()
INITIALIZERS = {"normal": 2, "uniform": 2, "zeros": 0}


def build(module: S.Module, max_nodes: int = DEFAULT_MAX_NODES) -> nx.DiGraph:
    """Build the DAG of a parsed file; raises GraphDefinitionError subclasses."""
    return build_model(module, max_nodes).graph()


def build_model(module: S.Module, max_nodes: int = DEFAULT_MAX_NODES) -> "Model":
    """Check and expand a parsed file (every GraphDefinitionError is raised here); its
    networkx graph is made on first use."""
    file, leaves, ops, outputs = _Builder(module, max_nodes).run()
    # The syntax tree is no longer needed: when this was its last reference (loads), its
    # memory is freed before the schedule is made, and reused for it.
    del module
    return Model(file, leaves, ops, outputs)


class Model:
    """A checked, expanded model: its leaves, its schedule, and its networkx graph, made
    on first use of ``graph()``. A networkx graph costs ~10 µs and ~2 kB a node to make,
    more than the rest of loading, and most programs never ask for it; the schedule holds
    everything the graph shows but the leaves' data and the constants' places, so the
    expanded ops are not kept (one object a node fewer for the cyclic GC to scan)."""

    def __init__(self, file: str, leaves: list, ops: list, outputs: tuple):
        self.file = file
        self.leaves = leaves  # of (name, node data)
        self.outputs = outputs
        self.inputs = tuple(name for name, data in leaves if data["kind"] == "input")
        self.params = tuple(name for name, data in leaves if data["kind"] == "param")
        self.schedule = schedule(leaves, ops, outputs)
        self.constants = {len(leaves) + i: op for i, op in enumerate(ops) if op.kind == "const"}
        self._graph = None

    def __getstate__(self) -> dict:
        return dict(self.__dict__, _graph=None)  # made again on first use, as after loading

    def graph(self) -> nx.DiGraph:
        """The frozen networkx graph: a node per slot with its data, edges from operand to gate."""
        with _GRAPH_LOCK:  # threads asking at once get one graph
            if self._graph is None:
                with paused_gc():  # as when loading: many objects, no garbage cycles
                    self._graph = self._make_graph()
            return self._graph

    def _make_graph(self) -> nx.DiGraph:
        sched = self.schedule
        ids = sched.ids
        graph = nx.DiGraph(file=self.file, outputs=self.outputs, inputs=self.inputs,
                           params=self.params)
        nodes = list(self.leaves)
        for slot, op in self.constants.items():
            nodes.append((op.suffix, {"kind": "const", "value": op.value, "span": op.span,
                                      "order": slot, "scope": op.scope, "args": ()}))
        edges = []
        for step in sched.steps:
            args = tuple([ids[a] for a in step.args])
            nodes.append((step.node, {"kind": "gate", "gate": step.gate.name, "args": args,
                                      "options": step.options, "symbol": step.symbol,
                                      "span": step.span, "order": step.slot, "scope": step.scope}))
            edges.extend((a, step.node) for a in args)
        nodes.sort(key=lambda node: node[1]["order"])  # nodes in forward order, as ever
        graph.add_nodes_from(nodes)
        graph.add_edges_from(edges)
        return nx.freeze(graph)


def _closest(name, candidates):
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


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


def find_cycle(graph: nx.DiGraph) -> list:
    """The edges of one cycle of ``graph``, or [] when it has none, in linear time.

    ``nx.find_cycle`` without a source restarts its search from every node, which
    takes quadratic time on a long chain. Inside a strongly connected component
    every node has a successor in the component, so following them from any node
    must come back to a node already met: that closes a cycle.
    """
    cyclic = [c for c in nx.strongly_connected_components(graph)
              if len(c) > 1 or any(graph.has_edge(n, n) for n in c)]
    if not cyclic:
        return []
    position = {node: i for i, node in enumerate(graph)}  # report the cycle met first
    node = min((node for c in cyclic for node in c), key=position.__getitem__)
    component = next(c for c in cyclic if node in c)
    path, met = [], {}
    while node not in met:
        met[node] = len(path)
        path.append(node)
        node = next(n for n in graph.successors(node) if n in component)
    cycle = path[met[node]:]
    return list(zip(cycle, cycle[1:] + cycle[:1]))


def constant(expr, what: str):
    """The value of a literal (number or array), or a GraphDefinitionError."""
    if isinstance(expr, S.Number):
        return expr.value
    if not isinstance(expr, S.Array):
        raise GraphDefinitionError(f"{what} must be a number or an array literal", expr.span)
    # Convert nested Array nodes to nested lists without recursion.
    result: list = []
    stack = [(expr, result, 1)]
    deepest = 1
    while stack:
        node, target, depth = stack.pop()
        deepest = max(deepest, depth)
        for item in node.items:
            if isinstance(item, S.Number):
                target.append(item.value)
            elif isinstance(item, S.Array):
                inner: list = []
                target.append(inner)
                stack.append((item, inner, depth + 1))
            else:
                raise GraphDefinitionError("array literals hold numbers only", item.span)
    try:
        array = np.array(result, dtype=np.float64)
    except ValueError:
        problem = (f"nests {deepest:,} levels deep, more dimensions than numpy allows" if deepest > 32
                   else "is not rectangular")
        raise GraphDefinitionError(f"array literal {problem}", expr.span) from None
    array.flags.writeable = False  # shared by every run: a result must not change it
    return array


class _Builder:
    def __init__(self, module: S.Module, max_nodes: int):
        self.module = module
        self.max_nodes = max_nodes
        self.gate_defs: dict[str, S.GateDef] = {}
        self.scopes: dict[str, Scope] = {}

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
        self._check_drawn(leaves)
        ops = expand(self.scopes, top, len(leaves))
        if blame is not None and len(leaves) + len(ops) > self.max_nodes:
            raise too_big(f"{len(leaves) + len(ops):,}", self.max_nodes, blame)
        outputs = self._outputs(outputs, leaves, assigns)
        nodes = [(leaf.name, {"kind": leaf.kind, "span": leaf.span, "order": i, "scope": (),
                              "shape": _shape(leaf), "default": _default(leaf), "init": _init(leaf)})
                 for i, leaf in enumerate(leaves)]
        return self.module.file, nodes, ops, outputs

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
            env[stmt.name] = self._expr(stmt.expr, name, name, env, scope.ops, calls, True)
        if ret is not None:
            scope.root = self._expr(ret.expr, "", "/", env, scope.ops, calls, False)
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
                        raise self._undefined(ref, where, list(env) + list(index))
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
            raise self._cycle(deps, defined) from None
        return [defined[name] for name in ordered]

    def _undefined(self, ref: S.Name, where: str, known) -> GraphDefinitionError:
        hint = _closest(ref.id, known)
        if where != "the file" and not hint:
            hint = " (a gate body sees only its parameters and its own names)"
        if ref.id in self.gate_defs or ref.id in GATES:
            hint = f"; '{ref.id}' is a gate: call it as {ref.id}(...)"
        return GraphDefinitionError(f"'{ref.id}' is not defined{hint}", ref.span)

    def _cycle(self, deps, defined) -> GraphDefinitionError:
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

    # ------------------------------------------------------------ expressions
    def _expr(self, expr, root_suffix, anonymous, env, ops, calls, named) -> int:
        """Compile one expression into ops (post-order, without recursion); returns its ref."""
        if expr.__class__ is S.Call and expr.gate != "repeat" and \
                all(arg.__class__ is S.Name for arg in expr.args):
            # Most lines of a large file are one call on names: no stack, no anonymous node.
            self._check_call(expr, calls)
            return self._emit_call(expr, root_suffix, [env[arg.id] for arg in expr.args], ops, named)
        counter = 0
        results: list = []
        stack = [(expr, False)]
        while stack:
            node, ready = stack.pop()
            is_root = node is expr
            if isinstance(node, S.Name):
                ref = env[node.id]
                if is_root and named:
                    ref = self._emit(ops, Op(root_suffix, "gate", ALIAS, (ref,), node.span,
                                             symbol="="))
                results.append(ref)
                continue
            if not ready and isinstance(node, S.Call):
                children = self._check_call(node, calls)
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(children))
                continue
            if is_root:
                suffix = root_suffix
            else:
                counter += 1
                suffix = f"{anonymous}#{counter}"
            if isinstance(node, S.Call):
                results.append(self._emit_call(node, suffix, results, ops, is_root and named))
            else:
                value = constant(node, "an expression")
                results.append(self._emit(ops, Op(suffix, "const", None, (), node.span, value=value,
                                                  named=is_root and named)))
        return results[-1]

    @staticmethod
    def _emit(ops, op) -> int:
        ops.append(op)
        return len(ops) - 1

    def _emit_call(self, call, suffix, results, ops, named) -> int:
        if call.gate == "repeat":
            (arg,) = results[-1:]
            del results[-1:]
            return self._emit(ops, Op(suffix, "repeat", call.args[0].id, (arg,), call.span,
                                      value=int(call.args[1].value), named=named))
        n = len(call.args)
        args = tuple(results[len(results) - n:]) if n else ()
        del results[len(results) - n:]
        if self._calls_user_gate(call):
            return self._emit(ops, Op(suffix, "call", call.gate, args, call.span, named=named))
        gate = GATES[call.gate]
        options = None
        if gate.options or call.options:
            options = {name: opt.default for name, opt in gate.options.items()}
            options.update((o.name, self._option(gate, o)) for o in call.options)
        return self._emit(ops, Op(suffix, "gate", call.gate, args, call.span, options or None, None,
                                  call.symbol or gate.symbol, (), named))

    def _calls_user_gate(self, call: S.Call) -> bool:
        # A compound gate may shadow a built-in's name when called by name, but an
        # operator always means the built-in: `gate add(a, b)` must not change `x + y`.
        return call.symbol is None and call.gate in self.gate_defs

    def _check_call(self, call: S.Call, calls: list) -> tuple:
        """Validate a call's gate, arity and options; returns the operands to compile."""
        name = call.gate
        if name == "repeat":
            return self._check_repeat(call, calls)
        if self._calls_user_gate(call):
            expected = len(self.gate_defs[name].params)
            if call.options:
                raise GraphDefinitionError(f"gate '{name}' takes no options", call.options[0].span)
            calls.append((name, call.span))
        elif name in GATES:
            expected = GATES[name].arity
        else:
            known = list(self.gate_defs) + [g for g in GATES if g != ALIAS] + ["repeat"]
            raise GraphDefinitionError(f"unknown gate '{name}'{_closest(name, known)}", call.span)
        if len(call.args) != expected:
            plural = "argument" if expected == 1 else "arguments"
            raise GraphDefinitionError(f"gate '{name}' takes {expected} {plural}, got {len(call.args)}",
                                       call.span)
        return call.args

    def _check_repeat(self, call: S.Call, calls: list) -> tuple:
        if len(call.args) != 3 or call.options:
            raise GraphDefinitionError("repeat takes 3 arguments: repeat(gate, n, x)", call.span)
        gate, count, _ = call.args
        if not isinstance(gate, S.Name):
            raise GraphDefinitionError("repeat's first argument must be the name of a gate", gate.span)
        if gate.id in self.gate_defs:
            arity = len(self.gate_defs[gate.id].params)
            calls.append((gate.id, call.span))
        elif gate.id in GATES:
            arity = GATES[gate.id].arity
        else:
            known = list(self.gate_defs) + list(GATES)
            raise GraphDefinitionError(f"unknown gate '{gate.id}'{_closest(gate.id, known)}", gate.span)
        if arity != 1:
            raise GraphDefinitionError(f"repeat needs a one-argument gate; '{gate.id}' takes {arity}",
                                       gate.span)
        if not (isinstance(count, S.Number) and count.value >= 0 and count.value.is_integer()):
            raise GraphDefinitionError("repeat's count must be a whole number >= 0", count.span)
        return call.args[2:]

    def _option(self, gate, option: S.Option):
        spec = gate.options.get(option.name)
        if spec is None:
            known = ", ".join(gate.options) or "none"
            raise GraphDefinitionError(f"gate '{gate.name}' has no option '{option.name}' "
                                       f"(options: {known})", option.span)
        value = option.value
        if spec.kind == "number" and isinstance(value, S.Number):
            return value.value
        if spec.kind == "axis":
            if isinstance(value, S.Name) and value.id == "None":
                return None
            if isinstance(value, S.Number) and value.value.is_integer():
                return int(value.value)
            if isinstance(value, S.Array) and all(isinstance(i, S.Number) and i.value.is_integer()
                                                  for i in value.items):
                return tuple(int(i.value) for i in value.items)
        wanted = "a number" if spec.kind == "number" else "a whole number, a list of them, or None"
        raise GraphDefinitionError(f"option '{option.name}' of '{gate.name}' must be {wanted}",
                                   value.span)

    # ------------------------------------------------------------ gate calls
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

    def _check_drawn(self, leaves):
        """Params drawn at random are made when the file loads: refuse a size beyond the
        limit, or a range numpy cannot draw from, before anything is allocated."""
        for leaf in leaves:
            if leaf.kind != "param" or leaf.init is None:
                continue
            dims = [dim.value for dim in leaf.shape or ()]
            count = math.prod(dims) if all(isinstance(d, int) for d in dims) else 0
            if count > self.max_nodes:
                raise GraphLimitError(
                    f"param '{leaf.name}' would hold {about(count)} numbers, more than the limit "
                    f"of {self.max_nodes:,} (the node limit); {RAISE_LIMIT}", leaf.span)
            args = leaf.init.args
            if leaf.init.gate == "uniform" and len(args) == 2 and \
                    all(isinstance(a, S.Number) for a in args) and \
                    not math.isfinite(args[1].value - args[0].value):
                raise GraphDefinitionError("uniform(lo, hi) needs hi - lo to be a finite number",
                                           leaf.init.span)

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
                                           f"{_closest(out.name, every)}", out.span)
            if out.name in names:
                raise GraphDefinitionError(f"'{out.name}' is already an output", out.span)
            names.append(out.name)
        if not names:
            last = self.module.statements[-1].span if self.module.statements else None
            span = last or Span(self.module.file, 1, 1)
            raise GraphDefinitionError("the graph has no output: add a line such as 'output f'", span)
        return tuple(names)


def _shape(leaf: S.Leaf):
    return None if leaf.shape is None else tuple(d.value for d in leaf.shape)


def _default(leaf: S.Leaf):
    if leaf.default is None:
        return None
    value = constant(leaf.default, f"the default of '{leaf.name}'")
    if leaf.shape is not None:
        problem = shape_mismatch(np.shape(value), _shape(leaf), {})
        if problem:
            raise GraphDefinitionError(f"the default of '{leaf.name}' {problem}", leaf.default.span)
    return value


def _init(leaf: S.Leaf):
    if leaf.init is None:
        return None
    call = leaf.init
    if leaf.kind != "param":
        raise GraphDefinitionError("only a param can be drawn at random ('~'); an input is bound "
                                   "at run time", call.span)
    if call.gate not in INITIALIZERS:
        raise GraphDefinitionError(f"unknown initializer '{call.gate}'"
                                   f"{_closest(call.gate, INITIALIZERS)} (use normal, uniform or zeros)",
                                   call.span)
    if len(call.args) != INITIALIZERS[call.gate] or call.options:
        raise GraphDefinitionError(f"{call.gate} takes {_INIT_USAGE[call.gate]}", call.span)
    for dim in leaf.shape or ():
        if isinstance(dim.value, str):
            raise GraphDefinitionError(f"'{leaf.name}' is drawn at random, so its shape needs numbers, "
                                       f"not '{dim.value}'", dim.span)
    args = tuple(constant(a, f"an argument of {call.gate}") for a in call.args)
    for arg, value in zip(call.args, args):
        if np.ndim(value):
            raise GraphDefinitionError(f"{call.gate} takes {_INIT_USAGE[call.gate]}, not arrays", arg.span)
    args = tuple(float(a) for a in args)
    # numpy would refuse these at load time; say so at the initializer instead.
    if call.gate == "normal" and args[1] < 0:
        raise GraphDefinitionError("normal(mean, std) needs std >= 0", call.args[1].span)
    if call.gate == "uniform" and args[0] > args[1]:
        raise GraphDefinitionError("uniform(lo, hi) needs lo <= hi", call.args[0].span)
    return call.gate, args


_INIT_USAGE = {"normal": "two numbers: normal(mean, std)", "uniform": "two numbers: uniform(lo, hi)",
               "zeros": "no arguments: zeros()"}


def shape_mismatch(actual: tuple, declared: tuple, dims: dict) -> str | None:
    """Why `actual` does not fit a declared shape (updating named dims), or None."""
    text = "[" + ", ".join(str(d) for d in declared) + "]"
    if len(actual) != len(declared):
        got = "a scalar" if not actual else f"shape {list(actual)}"
        return f"should have shape {text}, got {got}"
    for size, dim in zip(actual, declared):
        if isinstance(dim, int):
            if size != dim:
                return f"should have shape {text}, got shape {list(actual)}"
        elif dims.setdefault(dim, size) != size:
            return f"should have shape {text} with {dim} = {dims[dim]}, got shape {list(actual)}"
    return None
