"""What the shapes known when the graph is built already show to be wrong.

Each gate's record may ``check`` its operands' shapes (``x[5]`` of a 3-vector, a
``reshape`` that does not fit, ``concat`` of shapes that do not join). Shapes are known
where a leaf declares them with numbers and for constants; a dimension given by a name,
and anything computed from a leaf without a declared shape, is unknown (None) and left
to the run, where the same check names the problem when the gate fails.
"""
from __future__ import annotations

import numpy as np

from ..errors import GraphDefinitionError
from .schedule import Schedule


def check_shapes(schedule: Schedule) -> None:
    """Raise a GraphDefinitionError at the first step whose gate's check finds a problem
    with the shapes known now (nothing to do when no gate of the graph has a check)."""
    if not any(step.gate.check is not None for step in schedule.steps):
        return
    shapes = [None] * len(schedule.ids)
    for leaf in schedule.leaves:
        if leaf.shape is not None:
            shapes[leaf.slot] = tuple(d if isinstance(d, int) else None for d in leaf.shape)
    for slot, value in schedule.constants:
        shapes[slot] = np.shape(value)
    for step in schedule.steps:
        operands = [shapes[a] for a in step.args]
        if step.gate.check is not None:
            problem = step.gate.check(operands, **step.options)
            if problem:
                raise GraphDefinitionError(problem, step.span)
        shapes[step.slot] = step.gate.infer_shape(operands, step.options)
