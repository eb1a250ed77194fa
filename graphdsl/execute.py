"""The reference interpreters: forward values, reverse-mode gradients, forward-mode
tangents, all over the slots of a Schedule. They are plain loops over prepared
steps; the graph itself is never walked here."""
from __future__ import annotations

import numpy as np

from .errors import NumericError, ShapeError
from .schedule import Schedule


def unbroadcast(ct, shape: tuple):
    """Sum a cotangent back to an operand's shape (undoing numpy broadcasting)."""
    ct_shape = np.shape(ct)
    if ct_shape == shape:
        return ct
    lead = len(ct_shape) - len(shape)
    if lead < 0:
        return np.broadcast_to(ct, shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and ct_shape[lead + i] != 1)
    total = np.sum(ct, axis=axes, keepdims=False)
    return np.reshape(total, shape) if shape else float(total) if np.ndim(total) == 0 else total


def broadcast_to(t, shape: tuple):
    """A tangent with the shape of the value it belongs to."""
    return t if np.shape(t) == shape else np.broadcast_to(t, shape)


def forward(schedule: Schedule, leaf_values: list) -> list:
    """Every node's value, by slot."""
    values = [None] * len(schedule.ids)
    for leaf, value in zip(schedule.leaves, leaf_values):
        values[leaf.slot] = value
    for slot, value in schedule.constants:
        values[slot] = value
    step = None
    try:
        for step in schedule.steps:
            values[step.slot] = step.gate.forward(*[values[a] for a in step.args], **step.options)
    except (ValueError, TypeError, IndexError, ArithmeticError) as err:
        raise gate_failure(step, values, err) from None
    return values


def seed_like(value):
    """Ones of the output's shape and float dtype: a float32 output seeds float32 gradients."""
    if isinstance(value, np.ndarray):
        return np.ones_like(value)
    return value.dtype.type(1) if isinstance(value, np.floating) else 1.0


def backward(schedule: Schedule, output: str, values: list, cotangent=None, keep: bool = True) -> list:
    """The gradient of ``output`` (seeded with ones, or ``cotangent``) for every node that
    needs one, by slot. With ``keep=False`` only the leaves' gradients are kept: a gate's
    is dropped once passed on (a long chain of arrays then holds one set of values, not two)."""
    plan = schedule.plans[output]
    grads = [None] * len(values)
    seed = values[plan.seed]
    grads[plan.seed] = cotangent if cotangent is not None else seed_like(seed)
    current = None
    try:
        for current in plan.steps:
            step = current.step
            g = grads[step.slot]
            if g is None:
                continue
            if not keep:  # every contribution to it has arrived: the plan is in reverse order
                grads[step.slot] = None
            out = values[step.slot]
            args = [values[a] for a in step.args]
            for i, (a, need) in enumerate(zip(step.args, current.needs)):
                if need:
                    ct = unbroadcast(step.gate.vjps[i](g, out, *args, **step.options), np.shape(args[i]))
                    grads[a] = ct if grads[a] is None else grads[a] + ct
    except (ValueError, TypeError, IndexError, ArithmeticError) as err:
        raise gate_failure(current.step, values, err, "its gradient") from None
    return grads


def tangents(schedule: Schedule, values: list, leaf_tangents: dict) -> list:
    """Forward-mode: the tangent of every node (None for zero), by slot."""
    result = [None] * len(values)
    for slot, t in leaf_tangents.items():
        result[slot] = t
    step = None
    try:
        for step in schedule.steps:
            ts = [result[a] for a in step.args]
            if any(t is not None for t in ts):
                args = [values[a] for a in step.args]
                t = step.gate.jvp(ts, values[step.slot], *args, **step.options)
                result[step.slot] = None if t is None else broadcast_to(t, np.shape(values[step.slot]))
    except (ValueError, TypeError, IndexError, ArithmeticError) as err:
        raise gate_failure(step, values, err, "its tangent") from None
    return result


def describe(value) -> str:
    if isinstance(value, np.ndarray) and value.ndim:
        if value.size <= 6:  # on one line: error messages are one line
            return np.array2string(value, precision=4, separator=", ").replace("\n", "")
        return f"an array of shape {list(value.shape)}"
    return f"{float(value):g}" if value is not None else "nothing"


def gate_failure(step, values, err, what="it") -> NumericError:
    clash = shape_clash(step.gate.name, [values[a] for a in step.args], err)
    if clash:
        return ShapeError(clash, step.span)
    operands = ", ".join(describe(values[a]) for a in step.args)
    doing = "" if what == "it" else f" computing {what}"
    return NumericError(f"gate '{step.gate.name}' failed{doing} on ({operands}): {err}", step.span)


def shape_clash(gate: str, args: list, err) -> str | None:
    """numpy's complaint about incompatible shapes, said in the model's terms (or None)."""
    if not isinstance(err, ValueError):
        return None
    shapes = [list(np.shape(a)) for a in args]
    if gate == "matmul" or (gate == "dot" and all(0 < len(s) <= 2 for s in shapes)):
        a, b = shapes
        if not a or not b:
            return (f"{gate} needs operands with at least one dimension, got shapes {a} and {b} "
                    f"(use * to multiply by a scalar)")
        inner = b[0] if len(b) == 1 else b[-2]
        if a[-1] != inner:
            where = "first" if len(b) == 1 else "second-to-last"
            return (f"{gate} cannot multiply shapes {a} and {b}: the last dimension of the left "
                    f"operand ({a[-1]}) must equal the {where} dimension of the right one ({inner})")
        return f"{gate} cannot multiply shapes {a} and {b}: their leading dimensions do not broadcast"
    if "broadcast" in str(err) and len(shapes) > 1:
        listed = " and ".join(str(s) for s in shapes)
        return (f"gate '{gate}' cannot combine shapes {listed}: numpy broadcasting needs each "
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
