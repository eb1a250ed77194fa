"""Gradient checks that say what is wrong, not only that something is.

Three comparisons, all on the values of one run:

1. end to end: the gradients ``run`` returns against central differences of
   ``forward``, entry by entry (the verdict, ``ok``, and the worst entry);
2. gate by gate: each step's reverse-mode rule (vjp) and forward-mode rule (jvp)
   against central differences of the gate's own forward at that step's operand
   values, along a random direction and for a random cotangent; a rule that
   disagrees is named with its gate and line;
3. mode against mode: ``<v, J u>`` by forward mode against ``<J^T v, u>`` by
   reverse mode, for random ``u`` and ``v``.

Where a step sits on a kink (relu at 0, a max with a tie, abs at 0) its one-sided
differences disagree; no rule can match finite differences there, so that step
is listed as not smooth instead of being blamed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..run import interpret as execute
from ..run.bindings import bind
from ..errors import Span

_ROUNDING = 4 * np.finfo(np.float64).eps  # relative rounding error of a gate's output
_KINK = 1e-2  # one-sided slopes further apart than this (relatively) mean "not smooth here"
_CHECKED = (ValueError, TypeError, IndexError, ArithmeticError)  # a gate refusing its inputs


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
class RuleMismatch:
    """A gate rule that disagrees with central differences of the gate's forward, at one
    step of the run: ``analytic`` and ``numeric`` are ``<g, J u>`` for a random direction
    ``u`` of operand ``operand`` (0-based) and a random cotangent ``g``."""

    node: str
    gate: str
    span: Span | None
    operand: int
    mode: str  # "reverse" (the vjp rule) or "forward" (the jvp rule)
    analytic: float
    numeric: float
    rel_error: float

    def __str__(self) -> str:
        where = f"{self.span.file}:{self.span.line}:{self.span.column}: " if self.span else ""
        return (f"{where}gate '{self.gate}' (node {self.node}): its {self.mode}-mode rule for "
                f"operand {self.operand + 1} disagrees with finite differences of its forward: "
                f"{self.analytic:.10g} vs {self.numeric:.10g} (relative error {self.rel_error:.3g})")


@dataclass(frozen=True)
class ModeCheck:
    """``<v, J u>`` by forward mode against ``<J^T v, u>`` by reverse mode."""

    forward: float
    reverse: float
    rel_error: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.rel_error <= self.tolerance

    def __str__(self) -> str:
        verdict = "agree" if self.ok else "DISAGREE"
        return (f"forward and reverse mode {verdict}: <v, J u> = {self.forward:.10g}, "
                f"<J^T v, u> = {self.reverse:.10g} (relative error {self.rel_error:.3g})")


@dataclass(frozen=True)
class GradientReport:
    """``ok`` when every entry's relative error is at most ``tolerance``.

    The relative error of an entry is ``|a - n| / max(|a|, |n|, 1e-3 * max(1, |f|))``:
    relative for gradients of ordinary size, absolute (at the scale of the output)
    for gradients near zero, where finite differences only see rounding noise.
    ``modes`` compares forward with reverse mode (None when no input or param reaches
    the output, or the values are not finite). When either check fails, every gate
    is checked on its own: ``rules`` lists the gate rules that disagree with finite
    differences at this run's values, ``unsmooth`` the steps (node, gate, span)
    that are not smooth there (a kink, a singularity).
    """

    of: str
    max_rel_error: float
    tolerance: float
    worst: Mismatch | None
    per_input: dict = field(default_factory=dict)  # name -> largest relative error
    skipped: tuple = ()  # inputs/params no gradient reaches (analytic gradient is 0)
    rules: tuple = ()  # of RuleMismatch
    unsmooth: tuple = ()  # of (node, gate, span)
    modes: ModeCheck | None = None

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
        lines = [line] + [f"  {rule}" for rule in self.rules]
        if self.modes is not None and not self.modes.ok:
            lines.append(f"  {self.modes}")
        if not self.ok and not self.rules:
            lines.append("  " + self._no_rule_blamed())
        return "\n".join(lines)

    def _no_rule_blamed(self) -> str:
        if not self.unsmooth:
            return ("every gate's rule agrees with finite differences at these values: "
                    "try another eps (finite differences may be too coarse or too noisy here)")
        node, gate, span = self.unsmooth[0]
        where = f" at {span.file}:{span.line}:{span.column}" if span else ""
        return (f"not differentiable at these values: gate '{gate}' (node {node}){where} is not "
                f"smooth within eps of them (a kink such as relu at 0, or a singularity), where "
                f"finite differences cannot match any rule")


def check_gradients(program, of: str, eps: float, tolerance: float, bindings: dict,
                    seed: int = 0) -> GradientReport:
    """Check the gradients of ``of`` at ``bindings``; see the module docstring."""
    sched = program.schedule
    leaf_values = [_float64(v) for v in bind(sched.leaves, bindings)]
    named = {leaf.name: value for leaf, value in zip(sched.leaves, leaf_values)}
    grads = program.run(named, of=of).grads  # run's path (what users get), any input names
    rng = np.random.default_rng(seed)
    with np.errstate(all="ignore"):
        worst, per_input, skipped = _end_to_end(program, of, named, grads, eps)
        values = execute.forward(sched, leaf_values)
        modes = check_modes(sched, of, values, tolerance, rng)
        failed = (worst is not None and worst.rel_error > tolerance) or (modes is not None and not modes.ok)
        # Checking every gate costs a few forward evaluations per step: only to say what failed.
        rules, unsmooth = check_rules(sched, of, values, eps, tolerance, rng) if failed else ((), ())
    return GradientReport(of, worst.rel_error if worst else 0.0, tolerance, worst, per_input,
                          tuple(skipped), tuple(rules), tuple(unsmooth), modes)


# ---------------------------------------------------------------- end to end
def _end_to_end(program, of, named, grads, eps):
    plan = program.schedule.plans[of]
    output = program.forward(named)[of]
    scale = 1e-3 * max(1.0, float(np.max(np.abs(output))) if np.size(output) else 1.0)
    worst, per_input, skipped = None, {}, []
    for leaf in program.schedule.leaves:
        if leaf.slot not in plan.differentiable:
            skipped.append(leaf.name)
            continue
        analytic = grads[leaf.name]
        numeric = _numeric(program, of, named, leaf.name, eps)
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
    return worst, per_input, skipped


def _float64(value):
    return value.astype(np.float64) if isinstance(value, np.ndarray) else float(value)


def _numeric(program, of: str, named: dict, name: str, eps: float):
    """d sum(output) / d name by central differences of ``forward``, entry by entry."""
    array = np.array(named[name], dtype=np.float64)
    result = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        total = []
        for step in (eps, -eps):
            shifted = array.copy()
            shifted[index] += step
            value = shifted if array.ndim else float(shifted)
            total.append(float(np.sum(program.forward({**named, name: value})[of])))
        result[index] = (total[0] - total[1]) / (2 * eps)
    return result if array.ndim else float(result)


# ---------------------------------------------------------------- gate by gate
def check_rules(sched, of: str, values: list, eps: float, tolerance: float, rng):
    """Every step the gradient of ``of`` flows through: its vjp and jvp rules against central
    differences of its forward at this run's operand values. Returns the disagreeing
    rules (RuleMismatch) and the steps that are not smooth at these values: on a kink or
    at a singularity ((node, gate, span))."""
    mismatches, unsmooth = [], []
    for back in sched.plans[of].steps:
        step = back.step
        args = [values[a] for a in step.args]
        out = values[step.slot]
        if not all(_finite(v) for v in args):
            continue  # NaN in, NaN out: nothing to compare
        if not _finite(out):  # finite in, infinite out: a singularity
            unsmooth.append((step.node, step.gate.name, step.span))
            continue
        cotangent = _random_like(out, rng)
        for i, need in enumerate(back.needs):
            if not need:
                continue
            found = _check_operand(step, args, out, i, cotangent, eps, tolerance, rng)
            if found == "kink":
                unsmooth.append((step.node, step.gate.name, step.span))
                break
            mismatches.extend(found)
    return mismatches, unsmooth


def _check_operand(step, args, out, i, cotangent, eps, tolerance, rng):
    """The rules of one operand of one step that disagree, or "kink"."""
    direction = _random_like(args[i], rng)
    try:
        ahead, behind = (_inner(cotangent, step.gate.forward(*_moved(args, i, sign * eps * direction),
                                                             **step.options)) for sign in (1, -1))
        reverse = _inner(execute.unbroadcast(step.gate.vjps[i](cotangent, out, *args, **step.options),
                                             np.shape(args[i])), direction)
        tangents = [None] * len(args)
        tangents[i] = direction
        tangent = step.gate.jvp(tangents, out, *args, **step.options)
        forward = 0.0 if tangent is None else _inner(cotangent, tangent)
    except _CHECKED:
        return []
    here = _inner(cotangent, out)
    noise = _ROUNDING * (_inner(cotangent, out, absolute=True) + abs(ahead) + abs(behind)) / eps
    right, left = (ahead - here) / eps, (here - behind) / eps
    if not np.isfinite(right + left) or abs(right - left) > _KINK * max(abs(right), abs(left)) + 4 * noise:
        return "kink"
    numeric = (ahead - behind) / (2 * eps)
    found = []
    for mode, analytic in (("reverse", reverse), ("forward", forward)):
        error = _rel_error(analytic, numeric, noise / tolerance)
        if error > tolerance:
            found.append(RuleMismatch(step.node, step.gate.name, step.span, i, mode, analytic,
                                      numeric, error))
    return found


def _moved(args: list, i: int, delta):
    moved = list(args)
    moved[i] = args[i] + delta if np.ndim(args[i]) else float(args[i] + delta)
    return moved


# ---------------------------------------------------------------- mode against mode
def check_modes(sched, of: str, values: list, tolerance: float, rng) -> ModeCheck | None:
    """``<v, J u>`` (forward mode) against ``<J^T v, u>`` (reverse mode) for random u, v."""
    plan = sched.plans[of]
    slots = [leaf.slot for leaf in sched.leaves if leaf.slot in plan.differentiable]
    if not slots or not all(_finite(values[s]) for s in slots + [plan.seed]):
        return None
    direction = {slot: _random_like(values[slot], rng) for slot in slots}
    cotangent = _random_like(values[plan.seed], rng)
    tangents = execute.tangents(sched, values, direction)
    grads = execute.backward(sched, of, values, cotangent)
    forward = 0.0 if tangents[plan.seed] is None else _inner(cotangent, tangents[plan.seed])
    reverse = sum(_inner(grads[s], direction[s]) for s in slots if grads[s] is not None)
    if not np.isfinite(forward) or not np.isfinite(reverse):
        return None
    # <g, t> is the same number at every cut of the graph; its largest terms anywhere bound
    # what rounding (and cancellation inside the graph) can leave in the two results.
    scale = max((_inner(g, t, absolute=True) for g, t in zip(grads, tangents)
                 if g is not None and t is not None), default=0.0)
    floor = 1e2 * _ROUNDING * scale / tolerance
    return ModeCheck(forward, reverse, _rel_error(forward, reverse, floor), tolerance)


# ---------------------------------------------------------------- helpers
def _random_like(value, rng):
    return rng.standard_normal(np.shape(value)) if np.ndim(value) else float(rng.standard_normal())


def _inner(a, b, absolute: bool = False) -> float:
    """sum(a * b), or sum(|a * b|); Python floats skip numpy, which matters on long chains."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a * b) if absolute else a * b
    product = np.multiply(a, b)
    return float(np.sum(np.abs(product) if absolute else product))


def _finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or bool(np.all(np.isfinite(value)))


def _rel_error(a: float, b: float, floor: float) -> float:
    error = abs(a - b) / max(abs(a), abs(b), floor, np.finfo(np.float64).tiny)
    return float("inf") if np.isnan(error) else float(error)
