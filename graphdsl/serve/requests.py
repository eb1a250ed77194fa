"""Reading the body of a request to the page's API: strict JSON, then bindings.

Everything wrong with a request raises :class:`BadRequest` (or a GraphError from the
bindings), which the session answers with status 400 and a one-line message.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..train.datafiles import DataFileError, json_int, json_values, text_number
from ..errors import BadRequest

MAX_BODY = 1_000_000  # bytes (SPEC §6: bodies over 1 MB get 413)
_KEYS = {"run": {"inputs", "of", "explain", "check", "labels"}, "picture": {"inputs", "of"}}


@dataclass(frozen=True)
class RunRequest:
    """What to run: bindings by name, the output to differentiate, what else to compute."""

    bindings: dict
    of: str | None = None
    explain: bool = False
    check: bool = False
    labels: bool = False  # the text of every number on the picture (picture.labels)


def parse_body(body: bytes) -> dict:
    """The JSON object of a request body. NaN and infinities must be written as strings
    ("NaN", "Infinity", "-Infinity"): bare NaN is not JSON, and a browser never sends it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8 text") from None
    try:
        data = json.loads(text, parse_float=text_number, parse_int=json_int,
                          parse_constant=_bare_constant)
    except json.JSONDecodeError as err:
        raise BadRequest(f"the body is not JSON: {err.msg} at character {err.pos + 1}") from None
    except (OverflowError, ValueError) as err:
        raise BadRequest(f"the body holds a number JSON cannot carry here: {err}") from None
    except RecursionError:  # json's decoder recurses once per level of nesting
        raise BadRequest("the body nests too deeply") from None
    if not isinstance(data, dict):
        raise BadRequest('the body must be a JSON object such as {"inputs": {"x": 1}, "of": "f"}')
    return data


def _bare_constant(word: str):
    raise ValueError(f'{word} must be written as the string "{word}"')


def run_request(data: dict, kind: str = "run") -> RunRequest:
    """Check the keys and values of a /api/run (or /api/picture) object."""
    unknown = sorted(set(data) - _KEYS[kind])
    if unknown:
        raise BadRequest(f"unknown key {_listing(unknown)} in the request (known: "
                         f"{_listing(sorted(_KEYS[kind]))})")
    inputs = data.get("inputs", {})
    if not isinstance(inputs, dict):
        raise BadRequest('"inputs" must be an object of name: value, e.g. {"x": -2, "W": [[1, 2]]}')
    of = data.get("of")
    if of is not None and not isinstance(of, str):
        raise BadRequest('"of" must be the name of an output, as a string')
    flags = {}
    for flag in ("explain", "check", "labels"):
        value = data.get(flag, False)
        if not isinstance(value, bool):
            raise BadRequest(f'"{flag}" must be true or false')
        flags[flag] = value
    try:
        bindings = json_values(inputs, "input ")
    except DataFileError as err:
        raise BadRequest(err.message) from None
    return RunRequest(bindings, of, **flags)


def _listing(names) -> str:
    return ", ".join(f'"{name}"' if len(name) < 40 else f'"{name[:37]}..."' for name in names[:8])
