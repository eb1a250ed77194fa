"""The training data, checked against the model before any step is taken: every problem
is a DataError that names the input, and the sample when there is one."""
from __future__ import annotations

import difflib

import numpy as np

from ..run.bindings import bind, to_value
from ..errors import BindingError, DataError


def check_samples(program, data, fixed=()) -> dict:
    """The data as float arrays with one row per sample, or a DataError naming the input.
    ``fixed`` names the inputs given one value for every sample (see check_fixed)."""
    if not hasattr(data, "items") or not data:
        raise DataError("fit needs data: a dict of input name -> array with one row per sample")
    samples = {name: _sample_array(program, name, value) for name, value in data.items()}
    for leaf in program.schedule.leaves:
        if leaf.kind == "input" and leaf.default is None and leaf.name not in samples \
                and leaf.name not in fixed:
            raise DataError(f"the data holds no values for input '{leaf.name}', which has no default "
                            f"(the data holds {', '.join(samples)})", leaf.name)
    (first, count), *others = ((name, len(array)) for name, array in samples.items())
    for name, other in others:
        if other != count:
            raise DataError(f"the data inputs disagree on the number of samples: '{first}' has "
                            f"{count}, '{name}' has {other}", name)
    if count == 0:
        raise DataError("the data holds no samples", first)
    return samples


def check_fixed(program, inputs, data) -> dict:
    """The values of ``fit(inputs=...)``: inputs held at one value for every sample (a
    regularisation strength, say), which the data must not hold too."""
    if inputs is None:
        return {}
    if not hasattr(inputs, "items"):
        raise TypeError(f"fit's inputs must be a dict of input name -> value, got {type(inputs).__name__}")
    for name in inputs:
        if name in program.params:
            raise BindingError(f"'{name}' is a param: training learns it (start it from other values "
                               f"with with_params, or graphrun train --params)")
        if name not in program.inputs:
            raise BindingError(_not_an_input(name, program, "inputs names"))
        if hasattr(data, "items") and name in data:
            raise BindingError(f"input '{name}' is given both by the data and by inputs")
    return {name: to_value(value, name) for name, value in inputs.items()}


def _sample_array(program, name: str, value):
    """One input's samples: a float array whose first axis is the sample, all finite."""
    if name not in program.inputs:
        raise DataError(_not_an_input(name, program), name)
    array = to_value(value, name)
    if np.ndim(array) == 0:
        raise DataError(f"input '{name}' needs one value per sample along its first axis, "
                        f"but the data holds a single number", name)
    bad = ~np.isfinite(array)
    if bad.any():
        row, item = divmod(int(np.argmax(bad)), max(array[0].size, 1))
        value = array.reshape(len(array), -1)[row, item]
        raise DataError(f"input '{name}' holds {'NaN' if np.isnan(value) else value} at index "
                        f"{_index(array.shape, row, item)}", name, row, item)
    return array


def bind_samples(leaves, samples: dict, fixed: dict) -> list:
    """bind(), with the blame put on the data when an input's samples (or, for an input
    the data lacks, its default) do not have the declared shape."""
    try:
        return bind(leaves, {**samples, **fixed})
    except BindingError as err:
        leaf = next((leaf for leaf in leaves if leaf.span == err.span), None)
        if leaf is None or leaf.kind != "input" or leaf.name in fixed:
            raise
        if leaf.name in samples:
            raise DataError(f"{err.message} (as declared at line {leaf.span.line})", leaf.name) from None
        raise DataError(f"the data holds no values for input '{leaf.name}', and its default does not "
                        f"fit the data: {err.message}", leaf.name) from None


def check_labels(name: str, labels, scores_shape: tuple, step) -> None:
    """Every class id that input ``name`` feeds to ``step`` (a loss gate) must index its scores."""
    classes = scores_shape[-1] if scores_shape else 0
    bad = ~np.isin(labels, np.arange(classes))
    if bad.any():
        row, item = divmod(int(np.argmax(bad)), max(labels[0].size, 1))
        value = labels.reshape(len(labels), -1)[row, item]
        raise DataError(f"input '{name}' holds the class ids of {step.gate.name} (line {step.span.line}), "
                        f"which must be whole numbers from 0 to {classes - 1}; at index "
                        f"{_index(labels.shape, row, item)} it holds {value:g}", name, row, item)


def _index(shape: tuple, row: int, item: int) -> str:
    """Sample ``row``, flat entry ``item`` within it, written as numpy indexes it: 17 or [5, 1]."""
    if len(shape) == 1:
        return str(row)
    return str([row, *map(int, np.unravel_index(item, shape[1:]))])


def _not_an_input(name: str, program, source: str = "the data holds") -> str:
    if name in program.params:
        return f"'{name}' is a param: training learns it, so it cannot come from the data"
    lower = {n.lower(): n for n in program.inputs}
    match = difflib.get_close_matches(name.lower(), lower, n=1)
    hint = f"; did you mean '{lower[match[0]]}'?" if match else ""
    return f"{source} '{name}', which is not an input of the graph{hint} " \
           f"(inputs: {', '.join(program.inputs) or 'none'})"
