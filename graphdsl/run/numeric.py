"""What went wrong in a pass, said in the model's terms: a gate that failed (with its
operands and line), and the first NaN or infinity of a run."""
from __future__ import annotations

import numpy as np

from ..errors import NumericError, ShapeError
from ..graph.schedule import Schedule


def describe(value) -> str:
    if isinstance(value, np.ndarray) and value.ndim:
        if value.size <= 6:  # on one line: error messages are one line
            return np.array2string(value, precision=4, separator=", ").replace("\n", "")
        return f"an array of shape {list(value.shape)}"
    return f"{float(value):g}" if value is not None else "nothing"


def gate_failure(step, values, err, what="it") -> NumericError:
    clash = shape_clash(step.gate, [values[a] for a in step.args], err, step.options)
    if clash:
        return ShapeError(clash, step.span)
    operands = ", ".join(describe(values[a]) for a in step.args)
    doing = "" if what == "it" else f" computing {what}"
    return NumericError(f"gate '{step.gate.name}' failed{doing} on ({operands}): {err}", step.span)


def shape_clash(gate, args: list, err, options: dict | None = None) -> str | None:
    """numpy's complaint about incompatible shapes, said in the model's terms (or None)."""
    if not isinstance(err, (ValueError, IndexError)):
        return None
    shapes = [tuple(np.shape(a)) for a in args]
    if gate.check is not None:
        message = gate.check(shapes, **(options or {}))
        if message:
            return message
    if not isinstance(err, ValueError):
        return None
    if gate.shape_error is not None:
        message = gate.shape_error(shapes)
        if message:
            return message
    if "broadcast" in str(err) and len(shapes) > 1:
        listed = " and ".join(str(list(s)) for s in shapes)
        return (f"gate '{gate.name}' cannot combine shapes {listed}: numpy broadcasting needs each "
                f"dimension, counted from the right, to be equal or 1")
    return None


def first_nonfinite(schedule: Schedule, values: list, grads: list | None = None, output: str | None = None):
    """The first node, in the order the passes ran, whose value (or gradient) is NaN or infinite,
    as a NumericError naming the gate, its operands and its line; None when all are finite.
    A NaN or an infinity bound to an input or a param is blamed on that leaf."""
    for leaf in schedule.leaves:
        value = values[leaf.slot]
        if not _finite(value):
            where = "" if _first_bad(value) is None else f" at {list(_first_bad(value))}"
            return NumericError(f"{leaf.kind} '{leaf.name}' holds {_kind(value)}{where}: the value "
                                f"bound to it is not finite", leaf.span)
    for step in schedule.steps:
        if not _finite(values[step.slot]):
            return _nonfinite(step, values, values[step.slot], "produced")
    if grads is not None:
        for back in schedule.plans[output].steps:
            step = back.step
            for a, need in zip(step.args, back.needs):
                if need and not _finite(grads[a]):
                    return NumericError(
                        f"the gradient of {output} became {_kind(grads[a])} flowing back through "
                        f"gate '{step.gate.name}' (operands {', '.join(describe(values[b]) for b in step.args)}; "
                        f"upstream gradient {describe(grads[step.slot])})", step.span)
    return None


def _finite(value) -> bool:
    return value is None or bool(np.all(np.isfinite(value)))


def _kind(value) -> str:
    v = np.asarray(value)
    return "NaN" if np.any(np.isnan(v)) else ("-inf" if np.any(v == -np.inf) and not np.any(v == np.inf) else
                                               "inf" if not np.any(v == -np.inf) else "infinite")


def _first_bad(value):
    """The index of the first NaN or infinity of an array (None for a scalar)."""
    if np.ndim(value) == 0:
        return None
    return tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])


def _nonfinite(step, values, value, verb) -> NumericError:
    args = [values[a] for a in step.args]
    index, where = _first_bad(value), ""
    if index is not None:
        where = f" at {list(index)}"
        if step.gate.elementwise:  # the operands at that element say more than whole arrays
            args = [np.broadcast_to(arg, np.shape(value))[index] for arg in args]
    operands = ", ".join(describe(arg) for arg in args)
    word = "input" if len(step.args) == 1 else "inputs"
    return NumericError(f"{step.gate.name} {verb} {_kind(value)}{where} from {word} {operands}",
                        step.span)
