"""The canonical form on thousands of random programs in hostile layouts (see
graph_programs.py): idempotent, every comment on its statement, numbers as written,
the same numbers bit for bit, and Program.to_text's round trip."""
from __future__ import annotations

import re

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphdsl
from fuzzing import budget
from graph_programs import misplaced, program
from graphdsl.lang.canonical import check, format_text
from graphdsl.lang.parse import parse

SEEDS = st.integers(0, 2**32 - 1)
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def numbers_written(text: str) -> list:
    return sorted(m.group() for m in _NUMBER.finditer(re.sub(r"#[^\n]*", "", text)))


def bits(result) -> dict:
    return {(kind, name): (np.asarray(value).dtype, np.shape(value), np.asarray(value).tobytes())
            for kind in ("outputs", "grads") for name, value in getattr(result, kind).items()}


@budget(1500)
@given(SEEDS)
def test_random_layouts_format_to_a_fixed_point_with_every_comment_in_place(seed):
    text, comments = program(seed)
    out = format_text(text)
    assert format_text(out) == out, text
    assert not misplaced(comments, out), (text, out)
    assert numbers_written(out) == numbers_written(text), (text, out)
    lines = out.split("\n")
    assert out.endswith("\n") and not out.endswith("\n\n") and "\r" not in out
    assert "\n\n\n" not in out and lines[0] != ""
    for line in lines:
        code = line.split("#")[0]
        assert line == line.rstrip(" \t\f") and "\t" not in code and "\f" not in code, out
        indent = len(code) - len(code.lstrip(" "))
        assert indent in (0, 4), out


@budget(300)
@given(SEEDS)
def test_random_programs_keep_their_graph_and_numbers_bit_for_bit(seed):
    text, _ = program(seed)
    out = format_text(text)
    check(parse(text), text, out)  # the same syntax tree, every comment
    prog = graphdsl.loads(text)
    assert prog.to_text() == out
    again = graphdsl.loads(out)
    assert (again.inputs, again.params, again.outputs) == (prog.inputs, prog.params, prog.outputs)
    assert bits(again.run()) == bits(prog.run()), (text, out)


FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64)


@budget(100)
@given(scalar=FLOATS, array=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=3),
                                       elements=FLOATS))
def test_to_text_round_trips_any_param_values_bit_for_bit(scalar, array):
    shape = ", ".join(str(n) for n in array.shape)
    prog = graphdsl.loads(f"input x = 2\nparam w = 1, V: [{shape}]\noutput f = sum(V * w * x)")
    trained = prog.with_params({"w": scalar, "V": array})
    again = graphdsl.loads(trained.to_text())
    assert np.asarray(again.defaults()["w"]).tobytes() == np.float64(scalar).tobytes()
    assert again.defaults()["V"].tobytes() == array.tobytes() and again.defaults()["V"].shape == array.shape
    assert bits(again.run()) == bits(trained.run())
