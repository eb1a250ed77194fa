"""Leaves: literal values, declared shapes, defaults and the initializers of ``param ~ dist``."""
from __future__ import annotations

import math

import numpy as np

from ..errors import GraphDefinitionError, GraphLimitError, closest
from ..lang import syntax as S
from .expand import RAISE_LIMIT, about

INITIALIZERS = {"normal": 2, "uniform": 2, "zeros": 0}


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


def leaf_data(leaves: list) -> list:
    """(name, node data) of every leaf, checked: its shape, default and initializer."""
    return [(leaf.name, {"kind": leaf.kind, "span": leaf.span, "order": i, "scope": (),
                         "shape": _shape(leaf), "default": _default(leaf), "init": _init(leaf)})
            for i, leaf in enumerate(leaves)]


def check_drawn(leaves, max_nodes: int) -> None:
    """Params drawn at random are made when the file loads: refuse a size beyond the
    limit, or a range numpy cannot draw from, before anything is allocated."""
    for leaf in leaves:
        if leaf.kind != "param" or leaf.init is None:
            continue
        dims = [dim.value for dim in leaf.shape or ()]
        count = math.prod(dims) if all(isinstance(d, int) for d in dims) else 0
        if count > max_nodes:
            raise GraphLimitError(
                f"param '{leaf.name}' would hold {about(count)} numbers, more than the limit "
                f"of {max_nodes:,} (the node limit); {RAISE_LIMIT}", leaf.span)
        args = leaf.init.args
        if leaf.init.gate == "uniform" and len(args) == 2 and \
                all(isinstance(a, S.Number) for a in args) and \
                not math.isfinite(args[1].value - args[0].value):
            raise GraphDefinitionError("uniform(lo, hi) needs hi - lo to be a finite number",
                                       leaf.init.span)


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
                                   f"{closest(call.gate, INITIALIZERS)} (use normal, uniform or zeros)",
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
