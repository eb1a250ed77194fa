"""formatting: numbers for people and for JSON."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from graphdsl.inspect.numbers import format_compact, format_number, format_value, shape_text, to_json


@pytest.mark.parametrize("value,text", [
    (-4.0, "-4"), (3, "3"), (0.7310585786300049, "0.731059"), (-0.0, "0"), (1e-8, "1e-08"),
    (123456789.0, "123456789"), (1e20, "1e+20"), (2.5, "2.5"), (math.nan, "nan"),
    (math.inf, "inf"), (-math.inf, "-inf"), (np.float32(0.5), "0.5"),
])
def test_format_number(value, text):
    assert format_number(value) == text


def test_format_number_can_keep_every_digit():
    assert format_number(0.1 + 0.2, digits=None) == "0.30000000000000004"
    assert format_number(-12.0, digits=None) == "-12"


def test_format_value_aligns_columns_and_summarises_large_arrays():
    assert format_value(np.array([[1.0, -2.5], [10.0, 0.25]])) == "[[   1, -2.5],\n [  10, 0.25]]"
    assert format_value(2.0) == "2"
    big = format_value(np.arange(1000.0))
    assert "..." in big and big.startswith("[  0,   1,   2, ...") and big.endswith("999]")
    assert format_value(np.zeros((2, 0))) == "[] (shape [2, 0])"


def test_format_compact_is_one_line():
    assert format_compact(np.array([[1.0, 2.0], [3.0, 4.0]])) == "[[1, 2], [3, 4]]"
    assert format_compact(np.zeros((3, 4))) == "shape [3, 4]"
    assert format_compact(np.array([1.0, 2.0, 3.0]), max_entries=2) == "shape [3]"
    assert shape_text((2, 3)) == "[2, 3]"


def test_to_json_is_plain_data_without_bare_nan():
    data = to_json({"a": np.array([[1.0, np.nan], [np.inf, -np.inf]]), "b": np.float64(2.5), "c": [1, 2]})
    assert data == {"a": [[1.0, "NaN"], ["Infinity", "-Infinity"]], "b": 2.5, "c": [1.0, 2.0]}
    json.dumps(data, allow_nan=False)
    assert to_json(np.array(3.0)) == 3.0 and to_json(np.array([1, 2], dtype=np.float32)) == [1.0, 2.0]
