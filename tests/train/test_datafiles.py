"""Data files (.json, .csv; .npz is covered with the CLI): numbers beyond float64's range
are errors, as they are in a .graph file; spelled infinities are numbers."""
import math

import numpy as np
import pytest

from graphdsl.train.datafiles import DataFileError, read_data, text_number

HUGE_INT = "1" + "0" * 400


@pytest.mark.parametrize("text", ["1e999", "-1e999", HUGE_INT, " 2e308 "])
def test_a_literal_beyond_float64_is_an_overflow_error(text):
    with pytest.raises(OverflowError, match="beyond float64's range"):
        text_number(text)


@pytest.mark.parametrize("text, value", [("inf", math.inf), ("-Infinity", -math.inf), ("1.7e308", 1.7e308),
                                         ("-0", 0.0), ("3", 3.0)])
def test_numbers_and_spelled_infinities_are_read(text, value):
    assert text_number(text) == value


@pytest.mark.parametrize("body", ['{"x": [1, 1e999]}', '{"x": ' + HUGE_INT + "}"])
def test_json_with_a_number_beyond_float64_is_refused(tmp_path, body):
    path = tmp_path / "data.json"
    path.write_text(body)
    with pytest.raises(DataFileError, match="beyond float64's range"):
        read_data(path)


def test_json_numbers_and_the_spelled_nonfinite_values_are_read(tmp_path):
    path = tmp_path / "data.json"
    path.write_text('{"x": [1, 2.5, "Infinity", "NaN"], "n": 12345678901234567890}')
    data = read_data(path)
    np.testing.assert_array_equal(data["x"], [1.0, 2.5, math.inf, math.nan])
    assert data["n"] == 12345678901234567890.0


def test_csv_with_a_number_beyond_float64_is_refused_at_its_cell(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("x,y\n1,2\n3,1e999\n")
    with pytest.raises(DataFileError, match="column 'y': 1e999 is beyond") as caught:
        read_data(path)
    assert (caught.value.line, caught.value.column) == (3, 3)
