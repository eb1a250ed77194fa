"""Syntax -> a checked, expanded Model.

Every scope (a gate's body, or the file's top level) is first compiled to a flat
list of ops in dependency order (resolve.py, lower.py). Calls to compound gates stay
as call ops until the limits are checked and the calls inlined (expand.py). Nothing
here recurses over the graph, so 100,000-node chains and deeply nested expressions
build in linear time.

Node ids: a top-level name is its own id; an anonymous sub-expression of ``f``
is ``f#1``, ``f#2``... in evaluation order; inside an expanded call ``s`` a local
``e`` becomes ``s/e`` and the return expression's sub-expressions ``s/#1``...;
iteration k of ``l = repeat(g, n, x)`` is ``l@k`` (the last one is ``l``); the
inner nodes of a call that is a gate's result go under ``s/return``.
"""
from __future__ import annotations

from ..lang import syntax as S
from .model import Model
from .resolve import Resolver
from .shapes import check_shapes

DEFAULT_MAX_NODES = 5_000_000


def build_model(module: S.Module, max_nodes: int = DEFAULT_MAX_NODES) -> Model:
    """Check and expand a parsed file (every GraphDefinitionError is raised here); its
    networkx graph is made on first use."""
    file, leaves, ops, outputs = Resolver(module, max_nodes).run()
    # The syntax tree is no longer needed: when this was its last reference (loads), its
    # memory is freed before the schedule is made, and reused for it.
    del module
    model = Model(file, leaves, ops, outputs)
    check_shapes(model.schedule)
    return model
