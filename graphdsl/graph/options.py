"""A call's options, checked: literal values of the kind each gate's record declares
(``Option.kind``), every misuse a GraphDefinitionError at the value that is wrong."""
from __future__ import annotations

from ..errors import GraphDefinitionError
from ..lang import syntax as S

_WANTED = {
    "number": "a number",
    "bound": "a number or None",
    "integer": "a whole number",
    "positive": "a whole number of at least 1",
    "axis": "a whole number, a list of them, or None",
    "shape": "a list of whole numbers such as [2, -1] (one -1 at most: the size that fits)",
    "subscript": "a list of whole numbers and [start, stop, step] slices (None: left out)",
}


def options(gate, call: S.Call) -> dict | None:
    """The options of a call of ``gate``, defaults filled in (None: the gate has none)."""
    if not gate.options and not call.options:
        return None
    values = {name: spec.default for name, spec in gate.options.items()}
    for option in call.options:
        values[option.name] = _value(gate, option)
    given = {option.name for option in call.options}
    for name, spec in gate.options.items():
        if spec.required and name not in given:
            raise GraphDefinitionError(f"gate '{gate.name}' needs the option '{name}' "
                                       f"({_WANTED[spec.kind]})", call.span)
    return values


def _value(gate, option: S.Option):
    spec = gate.options.get(option.name)
    if spec is None:
        known = ", ".join(gate.options) or "none"
        raise GraphDefinitionError(f"gate '{gate.name}' has no option '{option.name}' "
                                   f"(options: {known})", option.span)
    value = option.value
    if spec.kind == "subscript" and isinstance(value, S.Subscript):
        return subscript(value)
    found = _READERS[spec.kind](value)
    if found is _WRONG:
        raise GraphDefinitionError(f"option '{option.name}' of '{gate.name}' must be "
                                   f"{_WANTED[spec.kind]}", value.span)
    return found


_WRONG = object()


def _whole(value):
    return int(value.value) if isinstance(value, S.Number) and value.value.is_integer() else _WRONG


def _none(value) -> bool:
    return isinstance(value, S.Name) and value.id == "None"


def _wholes(value):
    if not isinstance(value, S.Array):
        return _WRONG
    found = tuple(_whole(item) for item in value.items)
    return _WRONG if _WRONG in found else found


def _axis(value):
    if _none(value):
        return None
    return _whole(value) if isinstance(value, S.Number) else _wholes(value)


def _shape(value):
    found = _wholes(value)
    if found is _WRONG or any(d < -1 for d in found) or found.count(-1) > 1:
        return _WRONG
    return found


def _positive(value):
    found = _whole(value)
    return found if found is _WRONG or found >= 1 else _WRONG


_READERS = {
    "number": lambda value: value.value if isinstance(value, S.Number) else _WRONG,
    "bound": lambda value: None if _none(value) else value.value if isinstance(value, S.Number) else _WRONG,
    "integer": _whole,
    "positive": _positive,
    "axis": _axis,
    "shape": _shape,
    "subscript": lambda value: _subscript_list(value),
}


def _subscript_list(value):
    """``at=[1, [0, None, 2]]``: an index written as an option (how a derivative program
    writes the gradient of ``x[1, 0::2]``): whole numbers, and slices as [start, stop, step]."""
    if not isinstance(value, S.Array):
        return _WRONG
    found = []
    for item in value.items:
        if isinstance(item, S.Array) and len(item.items) == 3:
            parts = tuple(None if _none(part) else _whole(part) for part in item.items)
            if _WRONG in parts or parts[2] == 0:
                return _WRONG
            found.append(parts)
        else:
            found.append(_whole(item))
    return _WRONG if _WRONG in found else tuple(found)


def subscript(value: S.Subscript) -> tuple:
    """The items of ``x[...]`` as the index gate's ``at``: whole numbers, and slices as
    (start, stop, step) triples; anything but a whole-number literal is an error at it."""
    return tuple(_slice(item) if isinstance(item, S.Slice) else _literal(item) for item in value.items)


def _slice(item: S.Slice) -> tuple:
    start, stop, step = (None if part is None else _literal(part) for part in (item.start, item.stop, item.step))
    if step == 0:
        raise GraphDefinitionError("a slice's step cannot be 0", item.step.span)
    return start, stop, step


def _literal(expr) -> int:
    found = _whole(expr)
    if found is not _WRONG:
        return found
    if isinstance(expr, S.Number):
        raise GraphDefinitionError(f"an index must be a whole number, not {expr.value:g}", expr.span)
    what = f"the name '{expr.id}'" if isinstance(expr, S.Name) else "an expression"
    raise GraphDefinitionError(f"an index must be a whole-number literal such as 0, -1 or 1:3, not {what}: "
                               f"it is fixed when the graph is built", expr.span)
