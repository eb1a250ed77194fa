"""The words and numbers written on the picture (dot.py draws it): values, gate labels
with their operand pins, the names of nodes and calls, and the legend.

Labels are Graphviz HTML-like labels; every piece of user text goes through ``escape``.
"""
from __future__ import annotations

import re
from html import escape

import numpy as np

from ..gates import GATES
from .explain import is_anonymous, pretty
from .numbers import format_number, shape_text

VALUE_COLOR, GRADIENT_COLOR, NOTE_COLOR = "darkgreen", "red3", "gray35"
WHOLE = 4  # arrays with at most this many entries are written out in full
_ARRAY_DIGITS, _SUMMARY_DIGITS, _FIRST = 4, 3, 3

def roles(gate: str, operands: int | None = None):
    """The names of a gate's operands where their order matters (its record's ``roles``,
    for ``operands`` of them where the gate takes any number): the gate gets a pin per
    operand, named in the legend."""
    record = GATES.get(gate)
    if record is not None and operands is not None:
        record = record.of_arity(operands)
    return record.roles if record is not None else None


_STEP = re.compile(r"^(.*?)(?:/return)?@([0-9]+)$")  # step k of a repeat: "f@k", "s/return@k"


# ---------------------------------------------------------------- numbers
def value_lines(value) -> list:
    """A value in one line (a number, a small array in full) or two (a large array:
    its shape and first entries, then its smallest and largest entry)."""
    if not isinstance(value, np.ndarray) or value.ndim == 0:
        return [format_number(value)]
    if value.size == 0:
        return [f"empty, shape {shape_text(value.shape)}"]
    if value.size <= WHOLE:
        return [_nested(value.tolist())]
    flat = value.ravel()
    first = ", ".join(format_number(x, _SUMMARY_DIGITS) for x in flat[:_FIRST])
    with np.errstate(invalid="ignore"):  # NaN entries make the min and max NaN, quietly
        low, high = (format_number(f(flat), _SUMMARY_DIGITS) for f in (np.min, np.max))
    return [f"{shape_text(value.shape)}: {first}, …", f"min {low}, max {high}"]


def _nested(items) -> str:
    if isinstance(items, list):
        return "[" + ", ".join(_nested(item) for item in items) + "]"
    return format_number(items, _ARRAY_DIGITS)


def colored(lines, color: str) -> str:
    """Lines of text in one color, as an HTML-like label fragment."""
    return "<br/>".join(f'<font color="{color}">{escape(line)}</font>' for line in lines)


def edge_label(value, gradient) -> str:
    """An edge's label: the value (green) above the gradient flowing back along it (red)."""
    text = colored(value_lines(value), VALUE_COLOR)
    if gradient is not None:
        text += "<br/>" + colored(value_lines(gradient), GRADIENT_COLOR)
    return f"<{text}>"



# ---------------------------------------------------------------- gates and calls
def gate_label(gate: str, symbol: str | None, name: str | None, operands: int | None = None):
    """``(label, round)``: what a gate's node shows (its symbol, its name underneath if
    it has one, a pin ``p0``, ``p1``... per operand whose order matters) and whether
    it is small enough for a circle."""
    record = GATES.get(gate)
    text = (record.picture if record is not None else None) or symbol or gate
    label = escape(text)
    if name is not None:
        label += f'<br/><font point-size="10" color="{NOTE_COLOR}">{escape(name)}</font>'
    names = roles(gate, operands)
    if names is None:
        return f"<{label}>", len(text) <= 3 and name is None
    pins = [f'<tr><td port="p{i}" align="left"><font color="{NOTE_COLOR}" point-size="9"><i>'
            f'{escape(role)}</i></font></td>' for i, role in enumerate(names)]
    pins[0] += f'<td rowspan="{len(names)}">{label}</td>'
    rows = "</tr>".join(pins)
    return f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{rows}</tr></table>>', False


def shown_name(node: str, call: str | None) -> str | None:
    """The name written inside a gate: a user's name (the local one inside a call), a
    repeat's step as ``f₁``; None for anonymous nodes and for the result of the call
    ``call`` around it, which the call's title already names."""
    if is_anonymous(node) or node == call:
        return None
    return pretty(node).rsplit(".", 1)[-1]


def repeat_lengths(graph) -> dict:
    """How many steps each repeat of a compound gate makes: {(gate, repeat's id): n}."""
    lengths: dict = {}
    seen = set()
    for _, data in graph.nodes(data=True):
        for gate, call, _ in data["scope"]:
            if call not in seen:
                seen.add(call)
                found = _STEP.match(call)
                if found:
                    key = (gate, found.group(1))
                    lengths[key] = max(lengths.get(key, 0), int(found.group(2)) + 1)
    return lengths


def call_title(gate: str, call: str, repeats: dict) -> str:
    """A call's title: the gate and the value it computes, e.g. ``logistic → f₁ (step 1
    of 3)``; an anonymous call (inside an expression) is titled by its gate alone."""
    found = _STEP.match(call)
    base, k = (found.group(1), int(found.group(2))) if found else (call, None)
    name = shown_name(call, None)
    title = f"{gate} → {name}" if name is not None else gate
    total = repeats.get((gate, base))
    if total is not None:
        title += f"   (step {k or total} of {total})"
    return title


# ---------------------------------------------------------------- the legend
def legend(of: str | None, values: bool, roles: bool, ports: bool) -> str:
    """The picture's key: what green and red mean, and the pins and ports it uses."""
    if values:
        cells = [f'<font color="{VALUE_COLOR}">green, above: the value (forward pass)</font>']
        cells.append(f'<font color="{GRADIENT_COLOR}">red, below: the gradient d{escape(of)}/d… '
                     f'(backward pass)</font>' if of is not None else "no gradients: forward pass only")
    else:
        cells = ["boxes: inputs and params (shaded); circles: gates; bold boxes: outputs",
                 "no values yet: run the model to see values and gradients on the edges"]
    if roles:
        cells.append(_note("<i>a</i>, <i>b</i>: a gate's operands, in order"))
    if ports:
        cells.append(_note("dashed frame: one call of a compound gate; rounded grey box: a value "
                           "passed into it"))
    body = "".join(f'<tr><td align="left">{cell}</td></tr>' for cell in cells)
    key = f'<table border="1" color="gray70" cellborder="0" cellspacing="0" cellpadding="2">{body}</table>'
    # The empty row keeps the key clear of the drawing above it.
    return f'<<table border="0" cellpadding="0" cellspacing="0"><tr><td height="14"></td></tr><tr><td>{key}</td></tr></table>>'



def _note(html: str) -> str:
    return f'<font color="{NOTE_COLOR}">{html}</font>'
