"""Program: parse -> build -> schedule once; then run as often as you like."""
from __future__ import annotations

import pickle
from collections.abc import Mapping
from functools import partial
from numbers import Integral, Real
from pathlib import Path

import networkx as nx
import numpy as np

from .compiled.forwardmode import ForwardKernel, TangentKernel, interpret_forward
from .compiled.kernel import Kernel
from .errors import BindingError, GraphLimitError, GraphSyntaxError, Span
from .graph.build import DEFAULT_MAX_NODES, Model, build_model, paused_gc
from .graph.schedule import Schedule
from .lang.parse import parse
from .run import batch, defaults, interpret as execute, numeric, rows
from .run.bindings import bind
from .run.calls import resolve
from .run.export import export, pack
from .run.result import BatchResult, Result


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
        self._schedule = _schedule or defaults.drawn(model.schedule, model, seed)
        self._compiled()

    def _compiled(self) -> None:
        """Empty caches of compiled code, built on first use (and never pickled)."""
        self._kernels: dict = {}  # of -> compiled entry (compile.Kernel)
        self._forward_entry = None  # forwardmode.ForwardKernel's entry
        self._tangents = None  # forwardmode.TangentKernel
        self._leaf_names = frozenset(leaf.name for leaf in self._schedule.leaves)
        self._of_is_no_leaf = "of" not in self._leaf_names  # run(of=...) is unambiguous

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
    # Bindings go as keywords, run(x=1.0), or as a positional mapping, run({"x": 1.0}),
    # which binds any name, including a method's own options (see calls.py).
    def run(self, bindings=None, /, of=None, check_finite=None, **named) -> Result:
        """Forward pass, then the reverse-mode gradient of one output (``of``, default the
        first). With ``check_finite=True`` the first node whose value or gradient is NaN
        or infinite raises a NumericError naming its gate and line.

        >>> loads("input x, y\\noutput f = x * y").run(x=3, y=4).grads
        {'x': 4.0, 'y': 3.0}
        >>> loads("input of = 2\\noutput f = of * of").run({"of": 3.0}).outputs
        {'f': 9.0}
        """
        if check_finite is None and (of is None or self._of_is_no_leaf):  # nothing to resolve
            # (a dict alone: the run keeps a copy, not the caller's dict)
            given = named if bindings is None else \
                bindings.copy() if bindings.__class__ is dict and not named else None
            try:
                entry = self._kernels.get(of) if given is not None else None
            except TypeError:  # unhashable: _output says what of must be
                entry = None
            if entry is not None:
                return entry(given)
        options = {"of": of, "check_finite": check_finite}
        named = resolve("run", self._leaf_names, bindings, named, options)
        return self._run(options["of"], named, bool(options["check_finite"]))

    def _run(self, of, bindings: dict, check_finite: bool = False) -> Result:
        """``run`` with the bindings as a dict and ``of`` None or a name."""
        if not check_finite:
            entry = self._kernels.get(of) if isinstance(of, str) or of is None else None
            return (entry or self._kernel(of))(bindings)
        return self._interpret(self._output(of), bindings, check_finite=True)

    def _interpret(self, of: str, bindings: dict, check_finite: bool = False) -> Result:
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

    def forward(self, bindings=None, /, **named) -> dict:
        """The outputs only, as a dict (compiled like ``run``, without the backward pass)."""
        entry = self._forward_entry
        if entry is not None and (bindings is None or bindings.__class__ is dict and not named):
            return entry(named if bindings is None else bindings)  # (read, never kept)
        named = resolve("forward", self._leaf_names, bindings, named, {})
        return (entry or self._forward_kernel())(named)

    def jvp(self, bindings: dict, tangents: dict) -> tuple:
        """Forward mode: ``(outputs, output_tangents)``, two dicts by output name, for
        ``tangents`` of inputs/params (by name; each with its leaf's shape; missing ones
        are zero)."""
        _expect_dict("jvp", "bindings", bindings)
        _expect_dict("jvp", "tangents", tangents)
        if self._tangents is None:
            self._tangents = TangentKernel(self, compiled=len(self._schedule.steps) <= COMPILE_LIMIT)
        return self._tangents(dict(bindings), tangents)

    def check_gradients(self, bindings=None, /, of=None, eps=None, tolerance=None, **named):
        """Compare reverse-mode gradients with central differences (``eps`` 1e-6,
        ``tolerance`` 1e-5 unless given); see GradientReport."""
        from .inspect.gradcheck import check_gradients

        options = {"of": of, "eps": eps, "tolerance": tolerance}
        named = resolve("check_gradients", self._leaf_names, bindings, named, options)
        eps = 1e-6 if options["eps"] is None else options["eps"]
        tolerance = 1e-5 if options["tolerance"] is None else options["tolerance"]
        for what, number in (("eps", eps), ("tolerance", tolerance)):
            if isinstance(number, bool) or not (isinstance(number, Real) and 0 < number < float("inf")):
                raise ValueError(f"check_gradients: {what} must be a positive number, got {number!r}")
        return check_gradients(self, self._output(options["of"]), eps, tolerance, named)

    def run_batch(self, bindings=None, /, of=None, shared=None, **named) -> BatchResult:
        """``run`` once per row of the bindings' common leading axis, stacked; vectorised
        over the rows where the gates allow it (see batch.py), a loop otherwise. A value
        without the batch axis is shared by every row where the leaf's declared shape (or
        the value being a scalar) says so; ``shared`` (a mapping) shares any value."""
        options = {"of": of, "shared": shared}
        named = resolve("run_batch", self._leaf_names, bindings, named, options)
        shared = {} if options["shared"] is None else options["shared"]
        _expect_dict("run_batch", "shared", shared)
        of = self._output(options["of"])
        return rows.run_rows(self, of, named, dict(shared),
                             lambda batched, common, count: batch.run_batch(self._schedule, of, batched, common, count))

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
        return Program(self._model, _schedule=defaults.with_params(self._schedule, params),
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
        return program_text(self._source, self.file, defaults.to_write(self._model, self._schedule))

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

    def _forward_kernel(self):
        if len(self._schedule.steps) > COMPILE_LIMIT:  # as _kernel: the interpreter
            self._forward_entry = self._interpret_forward
        else:
            with paused_gc():
                self._forward_entry = ForwardKernel(self).entry
        return self._forward_entry

    def _interpret_forward(self, bindings: dict) -> dict:
        with np.errstate(all="ignore"):
            return interpret_forward(self._schedule, bind(self._schedule.leaves, bindings))

    def __reduce__(self):
        """Pickled as its model and schedule (a Program goes to worker processes this way);
        compiled code is not pickled: it is generated again on first use. They are pickled
        apart, so that unpickling runs with the cyclic GC paused, as loading does: for a
        10,000-gate model its scans took three quarters of the time."""
        with paused_gc():
            return _unpickled, (defaults.dumps((self._model, self._schedule, self._source)),)

    def _repr_mimebundle_(self, include=None, exclude=None, result: Result | None = None) -> dict:
        """In a notebook: the picture as SVG, or the DOT text when Graphviz is absent (a
        Result shows itself through here: with values and gradients on the edges)."""
        from .inspect.render import mimebundle

        return mimebundle(self, result)

    def _repr_svg_(self):
        return self._repr_mimebundle_().get("image/svg+xml")

    def _output(self, of):
        if of is None:
            return self.outputs[0]
        if not isinstance(of, str):
            raise TypeError(f"of must be the name of an output, got {type(of).__name__}; bindings go "
                            f"as keywords, run(x=1.0), or as a mapping, run({{'x': 1.0}})")
        if of not in self._schedule.plans:
            raise BindingError(f"'{of}' is not an output (outputs: {', '.join(self.outputs)})")
        return of


def _expect_dict(method: str, what: str, value) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{method} takes {what} as a dict of name -> value, got {type(value).__name__}")


def _unpickled(state: bytes) -> Program:
    with paused_gc():
        model, schedule, source = pickle.loads(state)  # noqa: S301 -- the caller unpickles: its data
    return Program(model, _schedule=schedule, source=source)

