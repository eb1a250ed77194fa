"""The threaded interpreter of run's float code: the compiled float code's bits and
exceptions, and Kernel's tiered first run (a large graph interprets its first call)."""
from __future__ import annotations

import contextlib
import math
import pathlib
import struct

import pytest
from hypothesis import example, given, settings, strategies as st

import graphdsl
from graphdsl.compiled import floatcode, kernel as kernel_module
from graphdsl.compiled.source import build, source
from graphdsl.compiled.threaded import Threaded
from graph_programs import program
from scalar_graphs import graphs, values

EXAMPLES = sorted(pathlib.Path(__file__).parents[2].joinpath("examples").glob("*.graph"))
HOSTILE = [0.0, -0.0, 1.0, -1.0, 2.5, 1e300, -1e308, math.inf, -math.inf, math.nan]  # 0: log, x / 0
raising = st.sampled_from(HOSTILE)


def bits(results) -> tuple:
    """Both dicts, names and exact bits (0.0 and -0.0 told apart), a NaN as NaN: not even
    the compiled code fixes a NaN's sign, which CPython's float operations take from either
    operand where two NaNs meet, depending on whether the instruction is specialised yet
    (the same compiled code gives ``nan * -nan`` one sign at its first calls, the other later)."""
    return tuple(tuple((name, type(v), "nan" if v != v else struct.pack("<d", v)) for name, v in d.items())
                 for d in results)


def outcome(fn, leaves):
    try:
        return bits(fn(*leaves))
    except (ArithmeticError, ValueError) as exc:  # the entry's fallback to the numpy code
        return type(exc)


def compiled(schedule, of):
    listing = floatcode.run_listing(schedule, of)
    return build(source(listing.statements, listing.params, "floats"), listing.namespace, "floats")


def assert_as_compiled(prog, leaf_sets) -> int:
    """Threaded against the compiled float code, every output differentiated; how many
    (output, leaves) pairs were compared."""
    sched, compared = prog.schedule, 0
    for of in prog.outputs:
        if not prog._runner.entry(of).kernel.float_capable:
            continue  # (arrays: run has no float code)
        interpreted, code = Threaded(sched, of), compiled(sched, of)
        for leaves in leaf_sets:
            assert outcome(interpreted, leaves) == outcome(code, leaves), (of, leaves)
            compared += 1
    return compared


@settings(max_examples=200, deadline=None)
@given(graphs(), values | raising, values | raising, values | raising)
@example("input x, y, z\nn0 = log(x)\nn1 = n0 / y\noutput n1", 0.0, 0.0, 1.0)
@example("input x, y, z\nn0 = x * x\nn1 = tanh(n0)\noutput n1, n0", -0.0, math.nan, 0.0)
def test_random_graphs_give_the_compiled_float_codes_bits_and_exceptions(text, x, y, z):
    prog = graphdsl.loads(text)
    assert assert_as_compiled(prog, [(x, y, z), (y, z, x)]) == 2 * len(prog.outputs)


def test_every_all_float_example_gives_the_compiled_float_codes_bits():
    compared = 0
    for path in EXAMPLES:
        prog = graphdsl.load(path)
        n = len(prog.schedule.leaves)
        defaults = tuple(leaf.default if leaf.default is not None else 0.5 for leaf in prog.schedule.leaves)
        compared += assert_as_compiled(prog, [defaults] + [tuple([v] * n) for v in HOSTILE])
    assert compared >= 40


def test_random_programs_with_compound_gates_give_the_compiled_float_codes_bits():
    compared = 0
    for seed in range(120):
        prog = graphdsl.loads(program(seed)[0])
        if not any(leaf.shape for leaf in prog.schedule.leaves):
            n = len(prog.schedule.leaves)
            compared += assert_as_compiled(prog, [tuple(HOSTILE[(seed + k) % 10] for k in range(n))] +
                                           [tuple([v] * n) for v in (0.7, -1.5, 0.0)])
    assert compared >= 50


@pytest.mark.filterwarnings("ignore:divide by zero")  # (numpy folds 1 / -0.0 while building)
@pytest.mark.parametrize("text, x", [
    ("input x\nc = log(0.0)\noutput f = x * c", 1.0),  # literal code read by a step and returned
    ("input x\nc = log(0.0)\noutput f = where(x > 0, x, c)", 1.0),  # ...in a branch not taken
    ("input x\nc = log(0.0)\noutput f = where(x > 0, x, c)", -1.0),  # ...taken
    ("input x\nc = sin(2.0)\nd = c * x\noutput f = d + c, e = c", 0.5),
    ("input x\nc = -0.0\nd = x * c + c\noutput f = d / c", 3.0),
    ("input x\nc = 1.0\nd = c * c\noutput f = d * x, g = x * 1.0", 3.0),  # literal 1.0s, as the seed
    ("input x\nd = x + 0.0\nnot_read = log(x - x)\noutput f = d * d", 2.0),  # a dead step that would raise
])
def test_literal_code_and_dead_steps_as_the_compiled_code(text, x):
    assert assert_as_compiled(graphdsl.loads(text), [(x,), (0.0,), (-0.0,), (math.nan,)]) >= 4


# ---------------------------------------------------------------- the tiered first run
LARGE = "gate step(v) {{ return sin(v) * 0.5 + v }}\ninput x\noutput s = repeat(step, {n}, x)"


def test_a_large_graph_interprets_its_first_run_and_compiles_at_the_second():
    prog = graphdsl.loads(LARGE.format(n=3000))  # 9,000 steps forward, as many backward
    assert len(prog.schedule.steps) > kernel_module.TIER_STEPS
    kernel = prog._runner.entry(None).kernel
    first = prog.run(x=0.3)
    assert not hasattr(kernel, "float_source") and kernel.tier is False
    second = prog.run(x=0.3)
    assert hasattr(kernel, "float_source") and kernel.floats is not kernel._compile_floats
    assert bits((first.outputs, first.grads)) == bits((second.outputs, second.grads))
    assert first.values["s"] == first.outputs["s"]  # the lazy Result recomputes its nodes


def test_a_large_graph_whose_first_run_raises_interprets_again():
    prog = graphdsl.loads(LARGE.format(n=3000).replace("sin(v)", "log(v)"))
    kernel = prog._runner.entry(None).kernel
    fallen = prog.run(x=-1.0)  # log(-1): the numpy code's nan, as the compiled code falls back
    assert math.isnan(fallen.outputs["s"]) and not hasattr(kernel, "float_source") and kernel.tier
    assert prog.run(x=2.0).outputs["s"] > 0 and kernel.tier is False and not hasattr(kernel, "float_source")
    prog.run(x=2.0)
    assert hasattr(kernel, "float_source")


def test_a_small_graph_compiles_at_its_first_run():
    prog = graphdsl.loads("input x, y, z\nq = x + y\noutput f = q * z + sin(q)")
    kernel = prog._runner.entry(None).kernel
    prog.run(x=1.0, y=2.0, z=3.0)
    assert hasattr(kernel, "float_source") and kernel.tier is False


@contextlib.contextmanager
def tiered(steps: int):
    old = kernel_module.TIER_STEPS
    kernel_module.TIER_STEPS = steps
    try:
        yield
    finally:
        kernel_module.TIER_STEPS = old


@settings(max_examples=100, deadline=None)
@given(graphs(), values | raising, values | raising, values | raising)
def test_a_tiered_first_run_is_the_compiled_run(text, x, y, z):
    """Every graph tiered: run's Result (outputs, gradients, the fallback where math raises)
    is the one the compiled code gives, at the first call and the next."""
    with tiered(-1):
        fast = graphdsl.loads(text)
        runs = [fast.run(x=x, y=y, z=z) for _ in range(2)]
    with tiered(10 ** 9):
        want = graphdsl.loads(text).run(x=x, y=y, z=z)
    for got in runs:
        assert bits((got.outputs, got.grads)) == bits((want.outputs, want.grads))


def test_a_large_graph_without_float_code_finds_out_at_its_first_float_call():
    """A tiered kernel does not walk its steps when made (the first float call does): a
    step with no float code sends that call, and every later one, to the numpy code."""
    text = LARGE.format(n=1500) + "\noutput f = sum(stack(s, x)) * s"
    prog = graphdsl.loads(text)
    kernel = prog._runner.entry(None).kernel
    assert kernel.float_capable and "FLOATS(" in kernel.entry_source
    first, second = prog.run(x=0.3), prog.run(x=0.3)
    assert not kernel.float_capable and "FLOATS(" not in kernel.entry_source
    with tiered(10 ** 9):
        untiered = graphdsl.loads(text)
        want = untiered.run(x=0.3)
        assert not untiered._runner.entry(None).kernel.float_capable
    for got in (first, second):
        assert bits((got.outputs, got.grads)) == bits((want.outputs, want.grads))
    assert prog.function()(0.3) == ((want.outputs["s"], want.outputs["f"]), (want.grads["x"],))
