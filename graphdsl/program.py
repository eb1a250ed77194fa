"""Program and Result: parse -> build -> schedule once; then run as often as you like."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from numbers import Integral, Real
from pathlib import Path

import networkx as nx
import numpy as np

from .compiled.export import export, pack, unshared
from .compiled.kernel import Kernel
from .errors import BindingError, GraphLimitError, GraphSyntaxError, Span
from .graph.build import DEFAULT_MAX_NODES, Model, build_model, paused_gc, shape_mismatch
from .graph.schedule import Schedule
from .lang.parse import parse
from .run import batch, interpret as execute, numeric
from .run.bindings import bind, read_only, to_value


MAX_FILE_BYTES = 2**30  # far beyond any graph the node limit lets through
COMPILE_LIMIT = 100_000  # steps: generated code costs ~30 µs and ~5 kB a step to build


def load(path, *, max_nodes: int = DEFAULT_MAX_NODES, seed: int = 0) -> "Program":
    """Parse, build and schedule a ``.graph`` file.

    >>> prog = load("examples/mul_add.graph")          # doctest: +SKIP
    >>> prog.run(x=-2, y=5, z=-4).grads["x"]           # doctest: +SKIP
    -4.0
    """
    path = Path(path)
    with path.open("rb") as file:
        text = read_text(file, str(path))
    return loads(text, name=str(path), max_nodes=max_nodes, seed=seed)


def read_text(file, name: str) -> str:
    """The text of a model from a binary file object (a file, or standard input), named
    ``name`` in errors: UTF-8, at most MAX_FILE_BYTES."""
    data = file.read(MAX_FILE_BYTES + 1)  # bounded: /dev/zero or a FIFO must not read forever
    if len(data) > MAX_FILE_BYTES:
        raise GraphLimitError(f"the file is larger than {MAX_FILE_BYTES:,} bytes: not a model "
                              f"graphdsl can build", Span(name, 1, 1))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise GraphSyntaxError(f"the file is not UTF-8 text (byte 0x{data[err.start]:02x})",
                               Span(name, line, column)) from None


def loads(text: str, name: str = "<string>", *, max_nodes: int = DEFAULT_MAX_NODES,
          seed: int = 0) -> "Program":
    """Parse, build and schedule the text of a ``.graph`` file.

    >>> loads("input x = 3\\noutput y = x * x").run().grads["x"]
    6.0
    """
    if not isinstance(text, str):
        raise TypeError(f"loads takes the text of a .graph file as a str, got {type(text).__name__}"
                        + (" (decode it first, or use load(path))" if isinstance(text, bytes) else ""))
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, Integral) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a whole number >= 1, got {max_nodes!r}")
    if text.startswith("\ufeff"):
        text = text[1:]
    with paused_gc():
        return Program(build_model(parse(text, name), max_nodes=max_nodes), seed=seed, source=text)


class Program:
    """A compiled graph: immutable; ``run`` is re-entrant."""

    def __init__(self, model: Model, *, seed: int = 0, _schedule: Schedule | None = None,
                 source: str | None = None):
        self._model = model  # its networkx graph is made when first asked for
        self._source = source  # the text it was read from, for to_text
        self._schedule = _schedule or _with_drawn_params(model.schedule, model, seed)
        self._kernels: dict = {}  # of -> compiled entry (compile.Kernel), built on first use

    # ------------------------------------------------------------ description
    @property
    def inputs(self) -> tuple:
        return self._model.inputs

    @property
    def params(self) -> tuple:
        return self._model.params

    @property
    def outputs(self) -> tuple:
        return self._model.outputs

    @property
    def graph(self) -> nx.DiGraph:
        return self._model.graph()

    @property
    def file(self) -> str:
        return self._model.file

    @property
    def schedule(self) -> Schedule:
        """The compiled evaluation orders: leaves, constants, steps and a backward plan per
        output (graph/schedule.py), what every interpreter and code generator reads."""
        return self._schedule

    @property
    def forward_order(self) -> tuple:
        return self._schedule.ids

    @property
    def backward_order(self) -> tuple:
        return self._schedule.plans[self.outputs[0]].order

    def defaults(self) -> dict:
        """The default value of every input and param that has one."""
        return {leaf.name: export(leaf.default) for leaf in self._schedule.leaves
                if leaf.default is not None}

    def __repr__(self) -> str:
        return (f"<Program {self.file!r}: inputs {', '.join(self.inputs) or '-'}; params "
                f"{', '.join(self.params) or '-'}; outputs {', '.join(self.outputs)}; "
                f"{len(self._schedule.ids)} nodes>")

    # ------------------------------------------------------------ evaluation
    def run(self, of: str | None = None, check_finite: bool = False, **bindings) -> "Result":
        """Forward pass, then the reverse-mode gradient of one output.

        With ``check_finite=True`` the first node whose value or gradient is NaN or
        infinite raises a NumericError naming its gate and line.

        >>> loads("input x, y\\noutput f = x * y").run(x=3, y=4).grads
        {'x': 4.0, 'y': 3.0}
        """
        return self._run(of, bindings, check_finite)

    def _run(self, of, bindings: dict, check_finite: bool = False) -> "Result":
        """``run`` with the bindings as a dict: inputs named ``of`` or ``check_finite``
        (which run's own keywords take) are bound too."""
        if not check_finite:
            try:
                entry = self._kernels.get(of)
            except TypeError:  # unhashable: run({"x": 1}); _output says what to write
                entry = None
            if entry is None:
                entry = self._kernel(of)
            return entry(bindings)
        return self._interpret(self._output(of), bindings, check_finite=True)

    def _interpret(self, of: str, bindings: dict, check_finite: bool = False) -> "Result":
        """``run`` on the reference interpreter. Without check_finite (a graph too large to
        compile) only the leaves' gradients are kept, and the Result is lazy like a compiled
        run's: a long chain of arrays holds each value once, as the compiled code does."""
        with np.errstate(all="ignore"):
            values = execute.forward(self._schedule, bind(self._schedule.leaves, bindings))
            grads = execute.backward(self._schedule, of, values, keep=check_finite)
        if not check_finite:
            return Result._lazy(self, of, *pack(self._schedule, values, grads), bindings)
        problem = numeric.first_nonfinite(self._schedule, values, grads, of)
        if problem:
            raise problem
        return Result(self, values, grads, of)

    def forward(self, **bindings) -> dict:
        """The outputs only, as a dict."""
        with np.errstate(all="ignore"):
            values = execute.forward(self._schedule, bind(self._schedule.leaves, bindings))
        return {name: export(values[slot]) for name, slot in self._schedule.outputs}

    def jvp(self, bindings: dict, tangents: dict) -> tuple:
        """Forward mode: ``(outputs, output_tangents)`` for tangents of inputs/params."""
        _expect_dict("jvp", "bindings", bindings)
        _expect_dict("jvp", "tangents", tangents)
        leaves = self._schedule.leaves
        leaf_values = bind(leaves, dict(bindings))
        by_name = {leaf.name: (leaf, value) for leaf, value in zip(leaves, leaf_values)}
        seeds = {}
        for name, t in tangents.items():
            if name not in by_name:
                raise BindingError(f"tangent for unknown input '{name}'")
            leaf, value = by_name[name]
            t = to_value(t, name, leaf.span)
            if np.shape(t) != np.shape(value):
                try:
                    t = np.broadcast_to(t, np.shape(value))
                except ValueError:
                    raise BindingError(f"the tangent of '{name}' has shape {list(np.shape(t))}, its "
                                       f"value {list(np.shape(value))}", leaf.span) from None
            seeds[leaf.slot] = t
        with np.errstate(all="ignore"):
            values = execute.forward(self._schedule, leaf_values)
            ts = execute.tangents(self._schedule, values, seeds)
        outputs, out_tangents = {}, {}
        for name, slot in self._schedule.outputs:
            outputs[name] = export(values[slot])
            t = ts[slot]
            out_tangents[name] = export(np.zeros_like(values[slot]) if t is None else t)
        return outputs, out_tangents

    def check_gradients(self, of: str | None = None, eps: float = 1e-6, tolerance: float = 1e-5,
                        **bindings):
        """Compare reverse-mode gradients with central differences; see GradientReport."""
        from .inspect.gradcheck import check_gradients

        for what, number in (("eps", eps), ("tolerance", tolerance)):
            if isinstance(number, bool) or not (isinstance(number, Real) and 0 < number < float("inf")):
                raise ValueError(f"check_gradients: {what} must be a positive number, got {number!r}")
        return check_gradients(self, self._output(of), eps, tolerance, bindings)

    def run_batch(self, of: str | None = None, **bindings) -> "BatchResult":
        """``run`` once per row of the bindings' common leading axis, stacked; vectorised
        over the rows where the gates allow it (see batch.py), a loop otherwise."""
        name = self._output(of)
        spans = {leaf.name: leaf.span for leaf in self._schedule.leaves}
        bindings = {key: to_value(value, key, spans.get(key)) for key, value in bindings.items()}
        rows = _batch_rows(bindings)
        vectorised = batch.run_batch(self._schedule, name, bindings, rows)
        if vectorised is not None:
            return BatchResult(*vectorised, name, rows)
        results = [self._run(of, {name: value[i] for name, value in bindings.items()})
                   for i in range(rows)]
        stack = lambda key: {k: np.stack([getattr(r, key)[k] for r in results])
                             for k in (getattr(results[0], key) if results else {})}
        return BatchResult(stack("outputs"), stack("grads"), self._output(of), rows)

    def fit(self, data: dict, **settings):
        """Train every param on ``data`` ({input name: one row per sample}) and return a
        History; the Program itself does not change. Settings: ``epochs=10``,
        ``batch_size=None`` (full batch), ``lr=0.01``, ``optimizer="sgd"|"momentum"|"adam"``,
        ``seed=0``, ``of=None``, ``momentum=0.9``, ``betas=(0.9, 0.999)``, ``eps=1e-8``,
        ``inputs=None`` (values of inputs the data lacks), ``on_epoch=None``; see
        ``graphdsl.train.fit``.

        >>> prog = loads("input x, y\\nparam w = 0\\noutput loss = mean(square(w * x - y))")
        >>> round(prog.fit({"x": [1, 2], "y": [2, 4]}, epochs=50, lr=0.1).params["w"], 6)
        2.0
        """
        from .train.fit import fit

        return fit(self, data, **settings)

    def with_params(self, params: dict) -> "Program":
        """A new Program whose param defaults are ``params`` (the rest unchanged)."""
        _expect_dict("with_params", "params", params)
        leaves = {leaf.name: leaf for leaf in self._schedule.leaves}
        updated = {}
        for name, value in params.items():
            leaf = leaves.get(name)
            if leaf is None or leaf.kind != "param":
                raise BindingError(f"'{name}' is not a param of this graph (params: "
                                   f"{', '.join(self.params) or 'none'})")
            value = to_value(value, name, leaf.span)
            problem = leaf.shape is not None and shape_mismatch(np.shape(value), leaf.shape, {})
            if problem:
                raise BindingError(f"param '{name}' {problem}", leaf.span)
            updated[name] = value
        return Program(self._model, _schedule=_replace_defaults(self._schedule, updated),
                       source=self._source)

    def to_dot(self, result: "Result | None" = None) -> str:
        """Graphviz DOT source; with a result, edges carry values and gradients."""
        from .inspect.dot import to_dot

        if result is not None and not (isinstance(result, Result) and result.program is self):
            raise TypeError(f"to_dot takes a Result of this program's run(), got {type(result).__name__}")
        return to_dot(self, result)

    def to_text(self) -> str:
        """The canonical ``.graph`` text of the program (as ``graphrun fmt`` writes it, with
        the param values of ``with_params``): ``loads(p.to_text())`` gives the same inputs,
        params, outputs and numbers, bit for bit.

        >>> print(loads("input x=3\\noutput y=(x*x)").to_text(), end="")
        input x = 3
        output y = x * x
        """
        from .lang.canonical import program_text

        if self._source is None:
            raise ValueError("this Program was not read from .graph text")
        return program_text(self._source, self.file, self._params_to_write())

    def _params_to_write(self) -> dict:
        """The params whose values the text does not give: set by with_params, or drawn
        (``~``) with another seed than loads' default. Drawn params keep their ``~`` only
        if all of them do: each draw takes the next numbers of one generator."""
        as_read = {leaf.name: leaf.default for leaf in self._model.schedule.leaves}
        params = {leaf.name: leaf.default for leaf in self._schedule.leaves if leaf.kind == "param"}
        initialized = {name for name, data in self._model.leaves if data["init"] is not None}
        literal = False  # whether to write the drawn params' values instead of their '~'
        if initialized:
            again = _with_drawn_params(self._model.schedule, self._model, 0).leaves
            literal = not all(_same_bits(params[leaf.name], leaf.default) for leaf in again
                              if leaf.name in initialized)
        return {name: value for name, value in params.items()
                if (literal if name in initialized else value is not as_read[name])}

    def _kernel(self, of):
        """The compiled run of an output (see compile.py), built once per output. A graph
        of more than COMPILE_LIMIT steps runs on the reference interpreter: generating its
        code would take longer than many runs, and gigabytes (a 50 MB file)."""
        name = self._output(of)
        entry = self._kernels.get(name)
        if entry is None:
            with paused_gc():
                kernel = Kernel(self, name, Result._lazy)  # generates code on its first call
            entry = kernel.entry
            if len(self._schedule.steps) > COMPILE_LIMIT:
                entry = partial(self._interpret, name)
                entry.kernel = kernel  # run_batch uses its shapes
        self._kernels[of] = self._kernels[name] = entry
        return entry

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """In a notebook: the picture as SVG, or the DOT text when Graphviz is absent."""
        from .inspect.render import mimebundle

        return mimebundle(self)

    def _repr_svg_(self):
        return self._repr_mimebundle_().get("image/svg+xml")

    def _output(self, of):
        if of is None:
            return self.outputs[0]
        if not isinstance(of, str):
            clash = ("; an input named 'of' cannot be bound by keyword: rename it"
                     if "of" in self.inputs + self.params else "")
            raise TypeError(f"of must be the name of an output, got {type(of).__name__}; bindings are "
                            f"keyword arguments: run(x=1.0), or run(**bindings) for a dict{clash}")
        if of not in self._schedule.plans:
            raise BindingError(f"'{of}' is not an output (outputs: {', '.join(self.outputs)})")
        return of


def _same_numbers(recomputed: tuple, kept: tuple) -> bool:
    """Whether outputs and gradients agree (to the compiled code's ulps on matrix products)."""
    for new, old in zip(recomputed, kept):
        for name, value in old.items():
            if np.shape(new[name]) != np.shape(value) or \
                    not np.allclose(new[name], value, rtol=1e-9, atol=0.0, equal_nan=True):
                return False
    return True


class Result:
    """One run's numbers: ``outputs`` and ``grads`` by name; ``values`` and ``node_grads`` by node id.

    A compiled run fills ``outputs`` and ``grads`` only; every node's value and gradient
    (``_values``/``_grads``, by slot) is recomputed by the reference interpreter on first use.
    """

    __slots__ = ("program", "of", "outputs", "grads", "_bindings", "_passes_done")

    def __init__(self, program: Program, values: list, grads: list, of: str):
        self.program = program
        self.of = of
        self._passes_done, self._bindings = (values, grads), None
        self.outputs, self.grads = pack(program._schedule, values, grads)

    @classmethod
    def _lazy(cls, program: Program, of: str, outputs: dict, grads: dict, bindings: dict) -> "Result":
        result = _new(cls)
        result.program, result.of, result.outputs, result.grads = program, of, outputs, grads
        result._bindings = bindings
        return result

    def _passes(self) -> tuple:
        try:
            return self._passes_done
        except AttributeError:  # a compiled run: recompute every node on the reference interpreter
            sched = self.program._schedule
            with np.errstate(all="ignore"):
                values = execute.forward(sched, bind(sched.leaves, self._bindings))
                grads = execute.backward(sched, self.of, values)
            # The bindings are held, not copied (a copy per run would cost as much as the
            # run): an array changed in place since shows up here, and must not silently
            # give a picture of other numbers.
            # The compiled code may differ from the interpreter by an ulp (math's and numpy's
            # exp, a matrix product's order), which a cancellation makes relatively large:
            # only a rerun of the compiled code that also differs is a changed binding.
            if not _same_numbers(pack(sched, values, grads), (self.outputs, self.grads)) and \
                    not _same_numbers(self._rerun(), (self.outputs, self.grads)):
                raise BindingError("an array bound to this run was changed in place after it, so its "
                                   "node values and gradients cannot be recomputed: run again, or "
                                   "bind a copy of an array you go on changing")
            self._passes_done = (values, grads)
            return self._passes_done

    def _rerun(self) -> tuple:
        """Outputs and gradients of the same run again on the code that made them."""
        with np.errstate(all="ignore"):
            again = self.program._run(self.of, self._bindings)
        return again.outputs, again.grads

    @property
    def _values(self) -> list:
        return self._passes()[0]

    @property
    def _grads(self) -> list:
        return self._passes()[1]

    @property
    def values(self) -> dict:
        """Every node's value, keyed by node id."""
        return {node: export(v) for node, v in zip(self.program._schedule.ids, self._values)}

    @property
    def node_grads(self) -> dict:
        """The gradient of the differentiated output at every node a gradient reaches."""
        return {node: export(g) for node, g in zip(self.program._schedule.ids, self._grads)
                if g is not None}

    def __repr__(self) -> str:
        return f"Result(outputs={self.outputs!r}, grads={self.grads!r})"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """In a notebook: the picture with values and gradients on the edges (SVG or DOT text)."""
        from .inspect.render import mimebundle

        return mimebundle(self.program, self)

    def _repr_svg_(self):
        return self._repr_mimebundle_().get("image/svg+xml")


_new = object.__new__


class BatchResult:
    """``run_batch``'s numbers: every output and gradient with a leading batch axis."""

    def __init__(self, outputs: dict, grads: dict, of: str, rows: int):
        self.outputs, self.grads = unshared(outputs, grads)
        self.of, self.rows = of, rows

    def __repr__(self) -> str:
        return f"BatchResult(rows={self.rows}, outputs={list(self.outputs)}, grads={list(self.grads)})"


def _expect_dict(method: str, what: str, value) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{method} takes {what} as a dict of name -> value, got {type(value).__name__}")


def _batch_rows(bindings: dict) -> int:
    lengths = {}
    for name, value in bindings.items():
        shape = np.shape(value)
        if not shape:
            raise BindingError(f"'{name}' needs a leading batch axis in run_batch, got a scalar")
        lengths[name] = shape[0]
    if len(set(lengths.values())) > 1:
        listing = ", ".join(f"{k}: {v}" for k, v in lengths.items())
        raise BindingError(f"run_batch bindings must share one leading length ({listing})")
    if not lengths:
        raise BindingError("run_batch needs at least one binding with a leading batch axis")
    return next(iter(lengths.values()))


def _replace_defaults(sched: Schedule, values: dict) -> Schedule:
    leaves = tuple(replace(leaf, default=_own(values[leaf.name])) if leaf.name in values else leaf
                   for leaf in sched.leaves)
    return replace(sched, leaves=leaves)


def _same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _own(value):
    """A read-only copy of an array: changing the caller's array later must not change the Program."""
    return read_only(np.array(value)) if isinstance(value, np.ndarray) else value


def _with_drawn_params(sched: Schedule, model: Model, seed: int) -> Schedule:
    """Draw the initial value of every ``param ~ dist(...)``, in declaration order."""
    rng = np.random.default_rng(seed)
    drawn = {}
    for name, data in model.leaves:
        if data["kind"] != "param" or data["init"] is None:
            continue
        dist, args = data["init"]
        shape = data["shape"] or ()
        if dist == "normal":
            value = rng.normal(args[0], args[1], size=shape)
        elif dist == "uniform":
            value = rng.uniform(args[0], args[1], size=shape)
        else:
            value = np.zeros(shape)
        drawn[name] = float(value) if not shape else value
    return _replace_defaults(sched, drawn) if drawn else sched
