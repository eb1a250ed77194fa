"""``graphrun export --python`` and ``Program.to_python``: a model as a standalone module.

The module needs only numpy: ``forward(**inputs) -> dict`` runs the model's steps and
``value_and_grad(**inputs) -> (outputs, grads)`` the steps of its derivative program
(``Program.grad``): straight-line code, one statement per step, each commented with the
``.graph`` line it comes from, the defaults as default arguments. Each step is written
by the gate records' numpy templates (gates/lower.py), as the interpreter's callables
are, so the numbers are run's. What the templates call is defined at the top of the
module: numpy's functions by their names (``NP_EXP = np.exp``), graphdsl's own helpers
(``unbroadcast``, a gate's numpy forward) by their source, with what they use in turn.
"""
from __future__ import annotations

import ast
import inspect
import keyword
import math
import re
import textwrap
import types

import numpy as np

from ..gates import NAMESPACE
from ..gates.expr import call, var
from ..gates.lower import Writer
from ..graph.derivative import derivative
from ..run import defaults

_UPPER = re.compile(r"\b[A-Z][A-Z0-9_]*\b")
_OUT = '''
def _out(value):
    """A scalar as a float, an array as an array of its own (as Program.run gives them)."""
    return float(value) if np.ndim(value) == 0 else np.array(value)

'''


class Exports:
    """Mixed into Program (whose class is at its size limit): the program as text of gates
    and as Python."""

    def grad(self, of=None, wrt=None):
        """A new Program: the output ``of`` (default the first) and its gradients with respect to
        ``wrt`` (default every input and param) as outputs ``d<of>_d<name>``, the backward
        pass written as gates (graph/derivative.py)."""
        return derivative(self, self._runner.output(of), wrt, self._source,
                          defaults.to_write(self._model, self._schedule))

    def to_python(self, of=None) -> str:
        """The source of a standalone module that needs only numpy: ``forward(**inputs)`` and
        ``value_and_grad(**inputs)`` (the gradients of ``of``, default the first output)."""
        return python_module(self, self._runner.output(of))


def python_module(program, of: str) -> str:
    """The module's source: ``program``'s forward pass, and its derivative program for the
    output ``of`` (Program.grad) as ``value_and_grad``."""
    derived = program.grad(of=of)
    helpers = _Helpers()
    names = _python_names(program.schedule)
    signature = _signature(program.schedule, names)
    forward = _steps(program.schedule, names, helpers)
    outputs = ", ".join(f"{o!r}: _out({names[slot]})" for o, slot in program.schedule.outputs)
    dnames = _python_names(derived.schedule)
    backward = _steps(derived.schedule, dnames, helpers, derived=True)
    slots = dict(derived.schedule.outputs)
    leaves = program.inputs + program.params
    helpers.lines, (forward, backward) = _spelled_out(helpers.lines, [forward, backward])
    grads = ", ".join(f"{leaf!r}: _out({dnames[slots[name]]})" for leaf, name in zip(leaves, derived.outputs[1:]))
    head = [f'"""{program.file}, exported by graphdsl: forward(**inputs) -> outputs, '
            f'value_and_grad(**inputs) -> (outputs, gradients of {of})."""',
            "import math", "", "import numpy as np", "", "", _OUT.strip("\n"), "", ""]
    for line in helpers.lines:  # a function two blank lines apart from its neighbours (PEP 8)
        head += ["", "", line, "", ""] if "\n" in line else [line]
    head += ["", ""] if helpers.lines else []
    head = [line for i, line in enumerate(head) if line or head[i - 2:i] != ["", ""]]
    body = ([f"def forward({signature}):", '    """The outputs, by name."""'] + forward +
            [f"    return {{{outputs}}}", "", "",
             f"def value_and_grad({signature}):",
             f'    """The output {of} and its gradient with respect to every input and param."""']
            + backward + [f"    return {{{of!r}: _out({dnames[slots[of]]})}}, {{{grads}}}", ""])
    return "\n".join(head + body)


_ALIAS = re.compile(r"([A-Z][A-Z0-9_]*) = ((?:np|math)(?:\.\w+)+)")


def _spelled_out(helper_lines: list, bodies: list) -> tuple:
    """``np.exp(s)`` in the steps, as a person writes it, not ``NP_EXP(s)`` under a name
    defined above: a helper that only names a numpy or math function, and that no other
    helper reads, is spelled out where the steps use it (in their code, not comments)."""
    aliases = dict(m.groups() for m in map(_ALIAS.fullmatch, helper_lines) if m)
    others = "\n".join(line for line in helper_lines if not _ALIAS.fullmatch(line))
    aliases = {name: text for name, text in aliases.items() if not re.search(rf"\b{name}\b", others)}
    if not aliases:
        return helper_lines, bodies
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, aliases)) + r")\b")

    def spell(line: str) -> str:
        code, mark, comment = line.partition("  # ")
        return pattern.sub(lambda m: aliases[m.group()], code) + mark + comment

    kept = [line for line in helper_lines if not ((m := _ALIAS.fullmatch(line)) and m.group(1) in aliases)]
    return kept, [[spell(line) for line in body] for body in bodies]


def _python_names(schedule) -> list:
    """Per slot, a Python name: a leaf's own, else the node's id made an identifier."""
    taken, names = set(), []
    for node in schedule.ids:
        name = re.sub(r"\W+", "_", node.replace("@", "")).strip("_") or "t"
        name = name if name.isidentifier() and not name[0].isdigit() else "n_" + name
        if keyword.iskeyword(name) or name.startswith("_") or _UPPER.fullmatch(name) or name in ("np", "math"):
            name = "v_" + name.lstrip("_")  # (not a keyword, a helper's or a template's name)
        if name in taken:
            k = 2
            while f"{name}_{k}" in taken:
                k += 1
            name = f"{name}_{k}"
        taken.add(name)
        names.append(name)
    return names


def _signature(schedule, names: list) -> str:
    parts = []
    for leaf in sorted(schedule.leaves, key=lambda leaf: leaf.default is not None):
        name = names[leaf.slot]
        parts.append(name if leaf.default is None else f"{name}={_value(leaf.default)}")
    return ", ".join(parts)


def _value(value) -> str:
    if isinstance(value, np.ndarray):
        return f"np.array({_floats(value.tolist())})"
    return _floats(float(value))


def _floats(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_floats(v) for v in value) + "]"
    return repr(float(value)) if math.isfinite(value) else f"float({str(value)!r})"


def _comment(span, derived: bool) -> str:
    """The .graph line of a step; in the derivative program, the model's line that a
    backward statement comes from (its comment), or the statement itself."""
    code, _, comment = (span.source_line or "").partition("#")
    if not derived:
        return f"line {span.line}: {code.strip()}"
    return comment.strip() if comment.strip().startswith("from line") else code.strip()


def _steps(schedule, names: list, helpers, derived: bool = False) -> list:
    lines = []
    for slot, value in schedule.constants:
        lines.append(f"    {names[slot]} = {_value(value)}")
    counter = iter(range(1 << 30))
    for step in schedule.steps:
        operands = [var(names[a]) for a in step.args]
        writer = Writer("numpy", {names[a]: names[a] for a in step.args},
                        lambda: f"_t{next(counter)}")
        text, = writer.write([call(step.gate, *operands, **step.options)])
        lines += [f"    {line}" for line in writer.lines]
        lines.append(f"    {names[step.slot]} = {text}  # {_comment(step.span, derived)}")
        for key, fn in writer.namespace.items():
            helpers.define(key, fn)
        for key in _UPPER.findall(" ".join(writer.lines + [text])):
            if key in NAMESPACE:
                helpers.define(key, NAMESPACE[key])
    return lines


class _Helpers:
    """The module-level names the steps use, each defined once, before its users."""

    def __init__(self):
        self.lines: list = []
        self.done: dict = {}  # name -> the value defined under it

    def define(self, name: str, value) -> None:
        if name in self.done:
            return
        self.done[name] = value
        self.lines.append(f"{name} = {self.expression(value, name)}")

    def expression(self, value, name: str) -> str:
        """Python source for ``value``: numpy's by name, a float, or a function's own source."""
        if isinstance(value, float):
            return _floats(value)
        if value is np:
            return "np"
        if value is math:
            return "math"
        found = _numpy_name(value)
        if found is not None:
            return found
        if isinstance(value, types.FunctionType) and value.__module__.startswith("graphdsl"):
            return self._function(value, name)
        if isinstance(value, types.BuiltinFunctionType) and getattr(math, value.__name__, None) is value:
            return f"math.{value.__name__}"
        raise ValueError(f"cannot export {value!r} ({name}) as Python source")

    def _function(self, fn, name: str) -> str:
        """A function's source, defined under a private name, with the globals it reads."""
        own = f"_{fn.__name__}" if fn.__name__ != "<lambda>" else f"_{name.lower()}"
        key = f"fn:{id(fn)}"
        if key in self.done:
            return self.done[key]
        self.done[key] = own
        for used in _globals_read(fn.__code__):
            if used in fn.__globals__ and used not in self.done:
                value = fn.__globals__[used]
                if isinstance(value, types.ModuleType):
                    if value is not np and value is not math:
                        raise ValueError(f"cannot export module {value.__name__}")
                    continue
                self.define(used, value)
        free = fn.__code__.co_freevars
        if not free:
            self.lines.append(_source(fn, own))
            return own
        # a closure: made by a function of its free variables, called on their values
        values = [self.expression(cell.cell_contents, var) for var, cell in zip(free, fn.__closure__)]
        inner = textwrap.indent(_source(fn, "made"), "    ")
        self.lines.append(f"def _make{own}({', '.join(free)}):\n{inner}\n    return made")
        self.lines.append(f"{own} = _make{own}({', '.join(values)})")
        return own


def _globals_read(code) -> list:
    found = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found += _globals_read(const)
    return found


def _source(fn, name: str) -> str:
    """``def name(...)`` with the body of ``fn`` (a def or a lambda)."""
    if fn.__name__ != "<lambda>":
        text = textwrap.dedent(inspect.getsource(fn))
        return re.sub(r"^def \w+", f"def {name}", text, count=1, flags=re.M).rstrip()
    lines, start = inspect.findsource(fn)
    tree = ast.parse("".join(lines))
    for node in ast.walk(tree):
        if isinstance(node, ast.Lambda) and node.lineno == fn.__code__.co_firstlineno and \
                [a.arg for a in node.args.args] == list(fn.__code__.co_varnames[:fn.__code__.co_argcount]):
            return f"{name} = {ast.unparse(node)}"
    raise ValueError(f"cannot find the source of {fn!r}")


def _numpy_name(value) -> str | None:
    """``np.exp``, ``np.add.reduce``: numpy's own name of a numpy function, if it has one."""
    owner = getattr(value, "__self__", None)
    if isinstance(owner, np.ufunc) and getattr(np, owner.__name__, None) is owner:
        return f"np.{owner.__name__}.{value.__name__}"
    label = getattr(value, "__name__", None)
    if label and getattr(np, label, None) is value:
        return f"np.{label}"
    return None
