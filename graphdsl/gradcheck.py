"""Central differences against reverse mode, element by element."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import execute
from .bindings import bind


@dataclass(frozen=True)
class Mismatch:
    """One gradient entry: where, the analytic and numeric values, and their relative error."""

    name: str
    index: tuple
    analytic: float
    numeric: float
    rel_error: float

    def where(self) -> str:
        return self.name + (f"[{', '.join(map(str, self.index))}]" if self.index else "")


@dataclass(frozen=True)
class GradientReport:
    """``ok`` when every entry's relative error is at most ``tolerance``.

    The relative error of an entry is ``|a - n| / max(|a|, |n|, 1e-3 * max(1, |f|))``:
    relative for gradients of ordinary size, absolute (at the scale of the output)
    for gradients near zero, where finite differences only see rounding noise.
    """

    of: str
    max_rel_error: float
    tolerance: float
    worst: Mismatch | None
    per_input: dict = field(default_factory=dict)  # name -> largest relative error
    skipped: tuple = ()  # inputs/params no gradient reaches (analytic gradient is 0)

    @property
    def ok(self) -> bool:
        return self.max_rel_error <= self.tolerance

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "FAILED"
        line = (f"gradient check of {self.of}: {verdict}, largest relative error "
                f"{self.max_rel_error:.3g} (tolerance {self.tolerance:g})")
        if self.worst is not None:
            w = self.worst
            line += f" at d{self.of}/d{w.where()}: analytic {w.analytic:.10g}, numeric {w.numeric:.10g}"
        return line


def check_gradients(program, of: str, eps: float, tolerance: float, bindings: dict) -> GradientReport:
    sched = program._schedule
    leaf_values = [_float64(v) for v in bind(sched.leaves, bindings)]
    plan = sched.plans[of]
    with np.errstate(all="ignore"):
        values = execute.forward(sched, leaf_values)
        grads = execute.backward(sched, of, values)
    scale = 1e-3 * max(1.0, float(np.max(np.abs(values[plan.seed]))) if np.size(values[plan.seed]) else 1.0)
    worst, per_input, skipped = None, {}, []
    for k, leaf in enumerate(sched.leaves):
        if leaf.slot not in plan.differentiable:
            skipped.append(leaf.name)
            continue
        analytic = np.zeros_like(leaf_values[k]) if grads[leaf.slot] is None else grads[leaf.slot]
        numeric = _numeric(sched, plan.seed, leaf_values, k, eps)
        errors = np.abs(analytic - numeric) / np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)),
                                                         scale)
        errors = np.where(np.isnan(errors), np.inf, errors)
        if np.size(errors) == 0:
            continue
        index = np.unravel_index(int(np.argmax(errors)), np.shape(errors))
        per_input[leaf.name] = float(errors[index])
        if worst is None or errors[index] > worst.rel_error:
            worst = Mismatch(leaf.name, tuple(int(i) for i in index), float(np.asarray(analytic)[index]),
                             float(np.asarray(numeric)[index]), float(errors[index]))
    return GradientReport(of, worst.rel_error if worst else 0.0, tolerance, worst, per_input,
                          tuple(skipped))


def _float64(value):
    return value.astype(np.float64) if isinstance(value, np.ndarray) else float(value)


def _numeric(sched, seed: int, leaf_values: list, k: int, eps: float):
    """d sum(output) / d leaf k by central differences, entry by entry."""
    base = leaf_values[k]
    array = np.array(base, dtype=np.float64)
    result = np.zeros_like(array)
    values = list(leaf_values)
    for index in np.ndindex(array.shape):
        total = []
        for step in (eps, -eps):
            shifted = array.copy()
            shifted[index] += step
            values[k] = shifted if array.ndim else float(shifted)
            with np.errstate(all="ignore"):
                total.append(float(np.sum(execute.forward(sched, values)[seed])))
        result[index] = (total[0] - total[1]) / (2 * eps)
    return result if array.ndim else float(result)
