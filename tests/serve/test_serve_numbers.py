"""The front end's numbers (static/js/10_numbers.js) in Chromium: the page writes a
number as graphdsl's format_number does, reads what a person types as graphrun reads
--inputs, and marks quiz answers within a relative 1e-3."""
import math
import random
from importlib import resources

import pytest

from browser import needs_browser
from graphdsl.inspect.numbers import format_compact, format_number

pytestmark = needs_browser


@pytest.fixture(scope="module")
def numbers(chromium):
    page = chromium.new_page()
    script = (resources.files("graphdsl.serve") / "static" / "js" / "10_numbers.js").read_text()
    page.set_content("<!doctype html><title>numbers</title>")
    page.add_script_tag(content=script)
    yield page
    page.close()


def sample():
    rng = random.Random(0)
    xs = [0.0, -0.0, 1.0, -4.0, 0.1, 1 / 3, 2 / 3, 1e-5, 1e-4, 9.999995e-5, 123456.5, 999999.5, 1e15, 1e15 + 2,
          1e16, 1e21, 1e22, 123456789.0, 0.7310585786300049, 2 ** -10, 2 ** -20, 5e-324, 1.7976931348623157e308,
          0.0009765625, 1.5, 2.5, 12.5, 0.125, 1234565.0, 0.1234565]
    xs += [rng.uniform(-1, 1) * 10 ** rng.randint(-12, 20) for _ in range(1500)]
    xs += [rng.randint(-10**6, 10**6) / 2 ** rng.randint(1, 30) for _ in range(1500)]  # exact ties happen
    return xs + [-x for x in xs]


def test_format_number_as_python_writes_it(numbers):
    xs = sample()
    shown = numbers.evaluate("xs => xs.map(formatNumber)", xs)
    mismatches = [(x, got, format_number(x)) for x, got in zip(xs, shown) if got != format_number(x)]
    assert mismatches == []
    assert numbers.evaluate("[formatNumber(NaN), formatNumber(Infinity), formatNumber(-Infinity)]") == \
        ["nan", "inf", "-inf"]


def test_format_compact_lists_arrays(numbers):
    import numpy as np

    value = [[1.0, -2.5], [1e-8, 0.7310585786300049]]
    assert numbers.evaluate("v => formatCompact(v)", value) == format_compact(np.array(value), 4)


@pytest.mark.parametrize("text, expected", [
    ("-2", -2.0), ("  .5 ", 0.5), ("1e-3", 0.001), ("+4", 4.0), ("2.", 2.0), ("nan", "NaN"),
    ("-inf", "-Infinity"), ("Infinity", "Infinity"), ("abc", None), ("", None), ("1,5", None),
    ("0x10", None), ("1e", None), ("--1", None)])
def test_a_typed_number_is_read_as_graphrun_reads_it(numbers, text, expected):
    got = numbers.evaluate("t => toWire(parseNumberText(t))", text)
    assert got == expected


def test_a_typed_array_with_nan_and_inf(numbers):
    got = numbers.evaluate("t => toWire(parseArrayText(t))", "[[1, nan], [-inf, 2e3]]")
    assert got == [[1, "NaN"], ["-Infinity", 2000]]
    for bad in ("[1, oops]", "[1, true]", '["1"]', "[1,"):
        assert numbers.evaluate("t => { try { parseArrayText(t); return null } catch (e) { return e.message } }", bad)


@pytest.mark.parametrize("answer, expected, right", [
    (0.3932, 0.39322386648296376, True), (0.393, 0.39322386648296376, True), (0.3925, 0.39322386648296376, False), (-4, -4.0, True),
    (-4.004, -4.0, True), (-4.005, -4.0, False), (0, 0.0, True), (1e-9, 0.0, False), (0, 1e-17, True),
    ([1, 2.0001], [1.0, 2.0], True), ([1, 2], [1.0, 2.1], False), ([1], [1.0, 2.0], False), (3, [3.0], False),
    ("NaN", "NaN", True), ("Infinity", "Infinity", True), (1e308, "Infinity", False)])
def test_quiz_answers_are_right_within_a_relative_1e_3(numbers, answer, expected, right):
    assert numbers.evaluate("([a, e]) => closeEnough(fromWire(a), fromWire(e))", [answer, expected]) is right


def test_a_step_of_gradient_descent_is_the_same_arithmetic(numbers):
    value, grad, lr = [[0.1, -2.0], [3.3, 1e-3]], [[0.7, 0.25], [-1.0, 1 / 3]], 0.05
    got = numbers.evaluate("([v, g, lr]) => descend(v, g, lr)", [value, grad, lr])
    assert got == [[v - lr * g for v, g in zip(row, grads)] for row, grads in zip(value, grad)]
    assert math.isclose(numbers.evaluate("descend(2, 0.5, 0.1)"), 1.95)
