"""Program and its loaders: parse -> build -> schedule once; then run as often as you like.

Program is a facade: each method hands its work to the stage that does it (run/ for
bindings, batches and results, compiled/ for the generated code, inspect/ for the
pictures and checks, train/ for fitting).
"""
from __future__ import annotations

import inspect
from pathlib import Path

import networkx as nx

from .compiled.entry import function
from .compiled.python import Exports
from .compiled.runner import Runner
from .graph.build import DEFAULT_MAX_NODES, build_model
from .graph.model import Model, paused_gc
from .graph.schedule import Schedule
from .lang.parse import parse
from .run import batch, calls, defaults, rows
from .run.calls import resolve
from .errors import BindingError
from .run.export import export
from .run.result import BatchResult, Result
from .lang.source import check_loads, read_text


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


def loads(text: str, name: str = "<string>", *, max_nodes: int = DEFAULT_MAX_NODES,
          seed: int = 0) -> "Program":
    """Parse, build and schedule the text of a ``.graph`` file.

    >>> loads("input x = 3\\noutput y = x * x").run().grads["x"]
    6.0
    """
    text = check_loads(text, max_nodes)
    with paused_gc():
        return Program(build_model(parse(text, name), max_nodes=max_nodes), seed=seed, source=text)


def run(self, bindings=None, /, **named) -> Result:
    """Forward pass, then the reverse-mode gradient of one output (``of``, default the first);
    ``check_finite=True``: a NumericError at the first node whose value or gradient is not finite.

    >>> loads("input x, y\\noutput f = x * y").run(x=3, y=4).grads
    {'x': 4.0, 'y': 3.0}
    """
    # ``of`` and ``check_finite`` arrive among the keywords: a signature naming them costs
    # W1's run ~10%. No leaf has their names here, so the compiled entry, which takes
    # its leaves' names only, hands a call that gives them to bind(), which refuses them.
    if bindings is None:
        entry = self._keyword_entry
        if entry is not None:
            try:
                return entry(named)
            except BindingError:
                if "of" not in named and "check_finite" not in named:
                    raise
    of, check_finite = named.pop("of", None), named.pop("check_finite", None)
    if check_finite is None and (of is None or self._of_is_no_leaf):  # nothing to resolve (a dict alone: copied)
        given = named if bindings is None else \
            bindings.copy() if bindings.__class__ is dict and not named else None
        try:
            entry = self._kernels.get(of) if given is not None else None
        except TypeError:  # unhashable: the runner says what of must be
            entry = None
        if entry is not None:
            return entry(given)
    options = {"of": of, "check_finite": check_finite}
    named = resolve("run", self._leaf_names, bindings, named, options)
    result = self._runner.run(options["of"], named, bool(options["check_finite"]))
    if self._keywords_are_leaves is False:  # the keyword lane: the first output's compiled entry, made now
        self._keyword_entry = self._kernels.get(None)
    return result


run.__qualname__ = "Program.run"
# (what help() and inspect show: the options by name, as the code above reads them)
run.__signature__ = inspect.Signature([
    inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY),
    inspect.Parameter("bindings", inspect.Parameter.POSITIONAL_ONLY, default=None),
    inspect.Parameter("of", inspect.Parameter.KEYWORD_ONLY, default=None),
    inspect.Parameter("check_finite", inspect.Parameter.KEYWORD_ONLY, default=None),
    inspect.Parameter("named", inspect.Parameter.VAR_KEYWORD)], return_annotation="Result")


class Program(Exports):
    """A compiled graph: immutable; ``run`` is re-entrant. Bindings go as keywords,
    ``run(x=1.0)``, or as a positional mapping, ``run({"x": 1.0})``, which binds any
    name, a method's own options included (see run/calls.py)."""

    def __init__(self, model: Model, *, seed: int = 0, _schedule: Schedule | None = None,
                 source: str | None = None):
        self._model = model  # its networkx graph is made when first asked for
        self._source = source  # the text it was read from, for to_text
        self._schedule = _schedule or defaults.drawn(model.schedule, model, seed)
        self._runner = Runner(self)  # compiled code, made on first use and never pickled
        self._kernels = self._runner.kernels  # (run's fast lane reads it directly)
        self._leaf_names = frozenset(leaf.name for leaf in self._schedule.leaves)
        self._of_is_no_leaf = "of" not in self._leaf_names  # run(of=...) is unambiguous
        # run's keyword lane, where no leaf shares a name with one of run's options
        self._keywords_are_leaves = bool({"of", "check_finite"} & self._leaf_names)
        self._keyword_entry = None  # run's keyword lane, where no leaf has the name of one of its options

    inputs = property(lambda self: self._model.inputs, doc="Input names, in declaration order.")
    params = property(lambda self: self._model.params, doc="Param names, in declaration order.")
    outputs = property(lambda self: self._model.outputs, doc="Output names, in declaration order.")
    file = property(lambda self: self._model.file, doc="The file (or name) it was loaded from.")
    forward_order = property(lambda self: self._schedule.ids, doc="Node ids in the order they run.")
    backward_order = property(lambda self: self._schedule.plans[self.outputs[0]].order,
                              doc="Node ids in the order the first output's backward pass visits them.")

    @property
    def graph(self) -> nx.DiGraph:
        """The networkx DiGraph of the model; edges run from operand to gate."""
        return self._model.graph()

    @property
    def schedule(self) -> Schedule:
        """The compiled evaluation orders: leaves, constants, steps and a backward plan per
        output (graph/schedule.py), what every interpreter and code generator reads."""
        return self._schedule

    def defaults(self) -> dict:
        """The default value of every input and param that has one."""
        return {leaf.name: export(leaf.default) for leaf in self._schedule.leaves if leaf.default is not None}

    def __repr__(self) -> str:
        return (f"<Program {self.file!r}: inputs {', '.join(self.inputs) or '-'}; params "
                f"{', '.join(self.params) or '-'}; outputs {', '.join(self.outputs)}; "
                f"{len(self._schedule.ids)} nodes>")

    run = run  # run(bindings=None, /, of=None, check_finite=None, **named), written above

    def forward(self, bindings=None, /, **named) -> dict:
        """The outputs only, as a dict (compiled like ``run``, without the backward pass)."""
        entry = self._runner.forward_entry
        if entry is not None and (bindings is None or bindings.__class__ is dict and not named):
            return entry(named if bindings is None else bindings)  # (read, never kept)
        return self._runner.forward(resolve("forward", self._leaf_names, bindings, named, {}))

    def jvp(self, bindings: dict, tangents: dict) -> tuple:
        """Forward mode: ``(outputs, output_tangents)``, two dicts by output name, for
        ``tangents`` of inputs/params (each with its leaf's shape; missing ones are zero)."""
        calls.expect_dict("jvp", "bindings", bindings)
        calls.expect_dict("jvp", "tangents", tangents)
        return self._runner.jvp(dict(bindings), tangents)

    function = function  # function(of=None, wrt=None): positional, tuples out (compiled/entry.py)

    def check_gradients(self, bindings=None, /, of=None, eps=None, tolerance=None, **named):
        """Compare reverse-mode gradients with central differences (``eps`` 1e-6,
        ``tolerance`` 1e-5 unless given); see inspect/gradcheck.py's GradientReport."""
        from .inspect.gradcheck import check_gradients

        options = {"of": of, "eps": eps, "tolerance": tolerance}
        named = resolve("check_gradients", self._leaf_names, bindings, named, options)
        eps, tolerance = calls.positive("check_gradients", eps=options["eps"], tolerance=options["tolerance"],
                                        defaults=(1e-6, 1e-5))
        return check_gradients(self, self._runner.output(options["of"]), eps, tolerance, named)

    def run_batch(self, bindings=None, /, of=None, shared=None, **named) -> BatchResult:
        """``run`` once per row of the bindings' common leading axis, stacked; vectorised
        over the rows where the gates allow it (run/batch.py), a loop otherwise. A value
        without the batch axis is shared by every row where the leaf's declared shape (or
        the value being a scalar) says so; ``shared`` (a mapping) shares any value."""
        options = {"of": of, "shared": shared}
        named = resolve("run_batch", self._leaf_names, bindings, named, options)
        shared = {} if options["shared"] is None else options["shared"]
        calls.expect_dict("run_batch", "shared", shared)
        of = self._runner.output(options["of"])
        return rows.run_rows(self, of, named, dict(shared),
                             lambda batched, common, count: batch.run_batch(self._schedule, of, batched, common, count))

    def fit(self, data: dict, **settings):
        """Train every param on ``data`` ({input name: one row per sample}) and return a
        History; the Program itself does not change. Settings: see ``graphdsl.train.fit``."""
        from .train.fit import fit

        return fit(self, data, **settings)

    def with_params(self, params: dict) -> "Program":
        """A new Program whose param defaults are ``params`` (the rest unchanged)."""
        calls.expect_dict("with_params", "params", params)
        return Program(self._model, _schedule=defaults.with_params(self._schedule, params), source=self._source)

    def to_dot(self, result: "Result | None" = None) -> str:
        """Graphviz DOT source; with a result, edges carry values and gradients."""
        from .inspect.dot import to_dot

        if result is not None and not (isinstance(result, Result) and result.program is self):
            raise TypeError(f"to_dot takes a Result of this program's run(), got {type(result).__name__}")
        return to_dot(self, result)

    def to_text(self) -> str:
        """The canonical ``.graph`` text (as ``graphrun fmt`` writes it, with the param values
        of ``with_params``): ``loads(p.to_text())`` gives the same numbers, bit for bit."""
        from .lang.canonical import program_text

        if self._source is None:
            raise ValueError("this Program was not read from .graph text")
        return program_text(self._source, self.file, defaults.to_write(self._model, self._schedule))

    def __reduce__(self):
        """Pickled as its model, schedule and text, apart (unpickling pauses the cyclic GC, as
        loading does); compiled code is made again on first use."""
        with paused_gc():
            return _unpickled, (defaults.dumps((self._model, self._schedule, self._source)),)

    def _repr_mimebundle_(self, include=None, exclude=None, result: Result | None = None) -> dict:
        """In a notebook: the picture (SVG, or DOT text without Graphviz); a Result's too."""
        from .inspect.render import mimebundle

        return mimebundle(self, result)

    def _repr_svg_(self):
        return self._repr_mimebundle_().get("image/svg+xml")


def _unpickled(state: bytes) -> Program:
    model, schedule, source = defaults.loads(state)
    return Program(model, _schedule=schedule, source=source)
