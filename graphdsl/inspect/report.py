"""A run as plain JSON data: what ``graphrun --json`` prints and ``graphrun serve``'s
/api/run answers (NaN and infinities as strings, arrays as nested lists)."""
from __future__ import annotations

from .numbers import to_json


def json_object(result, gradients: bool = True, steps=None, report=None) -> dict:
    """What ``graphrun --json`` prints for one run (also the answer of ``graphrun serve``'s
    /api/run): outputs, gradients, and the explain steps and check report when given."""
    data = {"outputs": to_json(result.outputs), "gradients": to_json(result.grads) if gradients else {}}
    if steps is not None:
        data["explain"] = [step.as_dict() for step in steps]
    if report is not None:
        data["check"] = report_json(report)
    return data


def report_json(report) -> dict:
    """A GradientReport as plain JSON data."""
    worst = report.worst
    return {"of": report.of, "ok": report.ok, "max_rel_error": to_json(report.max_rel_error),
            "tolerance": report.tolerance, "skipped": list(report.skipped),
            "worst": None if worst is None else {
                "name": worst.name, "index": list(worst.index), "analytic": to_json(worst.analytic),
                "numeric": to_json(worst.numeric), "rel_error": to_json(worst.rel_error)}}
