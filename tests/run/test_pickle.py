"""Programs, Results and BatchResults pickle (Program.__reduce__, defaults.dumps): they go
to worker processes and come back with the same numbers, bit for bit; compiled code
never travels (it is generated again on first use)."""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import graphdsl
from graphdsl.gates import GATES, Gate

from scalar_graphs import graphs, values

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.graph"))
PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


def same(a, b):
    """Two dicts of numbers, bit for bit (NaN equals NaN)."""
    assert a.keys() == b.keys()
    for name in a:
        assert type(a[name]) is type(b[name]), name
        np.testing.assert_array_equal(a[name], b[name], err_msg=name, strict=True)


def numbers(prog, bindings=None):
    """Everything a Program computes at its defaults (or these bindings)."""
    bindings = bindings or {}
    res = prog.run(bindings)
    leaves = prog.inputs + prog.params
    given = {**prog.defaults(), **bindings}
    tangents = {name: np.ones_like(given[name]) for name in leaves if name in given}
    return res.outputs, res.grads, prog.forward(bindings), *prog.jvp(bindings, tangents)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_pickles_with_its_numbers(path):
    prog = graphdsl.load(path)  # (every example runs at its defaults)
    want = numbers(prog)
    size = len(pickle.dumps(prog))
    for protocol in PROTOCOLS:
        again = pickle.loads(pickle.dumps(prog, protocol))
        assert again.inputs == prog.inputs and again.outputs == prog.outputs and again.file == prog.file
        for got, expected in zip(numbers(again), want):
            same(got, expected)
        assert again.graph.number_of_nodes() == prog.graph.number_of_nodes()
    assert len(pickle.dumps(prog)) == size  # the compiled code of the runs above is not in it


def test_drawn_params_and_with_params_travel_as_they_are():
    text = "input x: [3]\nparam W: [2, 3] ~ normal(0, 1), b: [2] ~ uniform(-1, 1)\noutput f = sum(tanh(W @ x + b))"
    prog = graphdsl.loads(text, seed=7)
    tuned = prog.with_params({"b": [0.5, -0.5]})
    x = np.array([1.0, -2.0, 0.5])
    for original in (prog, tuned):
        again = pickle.loads(pickle.dumps(original))
        same(again.defaults(), original.defaults())  # not drawn again with another seed
        for got, expected in zip(numbers(again, {"x": x}), numbers(original, {"x": x})):
            same(got, expected)
    assert not np.array_equal(pickle.loads(pickle.dumps(tuned)).defaults()["b"], prog.defaults()["b"])


def test_the_source_travels_too_for_to_text():
    prog = graphdsl.loads("input x=3\nparam w ~ normal(0, 1)\noutput y=(x*x*w)", seed=4)
    for original in (prog, prog.with_params({"w": 2.0})):
        again = pickle.loads(pickle.dumps(original))
        assert again.to_text() == original.to_text()
        same(graphdsl.loads(again.to_text()).run().grads, original.run().grads)


def test_unpickled_defaults_stay_read_only_and_numpys_own_float64():
    prog = graphdsl.loads("input x = [1, 2]\nparam w = [3, 4]\nc = [5, 6]\noutput y = x, z = w * c")
    again = pickle.loads(pickle.dumps(prog))
    for leaf in again._schedule.leaves:
        assert not leaf.default.flags.writeable and leaf.default.dtype is np.dtype(np.float64)
    for _, value in again._schedule.constants:
        assert not value.flags.writeable
    res = again.run()
    res.outputs["y"][...] = -1.0  # a result hands out copies: the default does not change
    assert again.run().outputs["y"].tolist() == [1.0, 2.0]
    assert again.defaults()["x"].tolist() == [1.0, 2.0]


def test_results_and_batch_results_pickle():
    prog = graphdsl.loads("input x, y = 2\na = sin(x) * y\noutput f = a * a, g = x + y")
    lazy, full = prog.run(x=0.5), prog.run(x=0.5, check_finite=True)
    for protocol in PROTOCOLS:
        for res in (lazy, full):
            again = pickle.loads(pickle.dumps(res, protocol))
            same(again.outputs, res.outputs)
            same(again.grads, res.grads)
            same(again.values, res.values)
            same(again.node_grads, res.node_grads)
            assert again.of == res.of and again.program.outputs == prog.outputs
            assert "a" in again.program.to_dot(again)
        batch = prog.run_batch(x=np.linspace(-1, 1, 5))
        again = pickle.loads(pickle.dumps(batch, protocol))
        assert (again.rows, again.of) == (5, "f")
        same(again.outputs, batch.outputs)
        same(again.grads, batch.grads)


def test_a_result_and_its_program_travel_together_once():
    prog = graphdsl.loads("input x\noutput f = x * x")
    results = [prog.run(x=float(k)) for k in range(3)]
    again = pickle.loads(pickle.dumps(results))
    assert again[0].program is again[2].program
    assert [r.grads["x"] for r in again] == [0.0, 2.0, 4.0]


@settings(max_examples=60, deadline=None)
@given(graphs(), values, values, values, st.sampled_from(PROTOCOLS))
def test_random_programs_pickle_with_their_numbers(text, x, y, z, protocol):
    prog = graphdsl.loads(text)
    try:
        want = numbers(prog, {"x": x, "y": y, "z": z})
    except graphdsl.GraphError:
        return
    again = pickle.loads(pickle.dumps(prog, protocol))
    for got, expected in zip(numbers(again, {"x": x, "y": y, "z": z}), want):
        same(got, expected)


def test_only_the_registered_gates_pickle_by_name():
    assert pickle.loads(pickle.dumps(GATES["relu"])) is GATES["relu"]
    stranger = Gate("relu", 1, abs, (None,), lambda ts, out, x: None)
    with pytest.raises(TypeError, match="gate 'relu' is not the registered one"):
        pickle.dumps(stranger)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_variadic_gates_record_for_its_count_pickles_by_name(protocol):
    prog = graphdsl.loads("input x: [2] = [1, 2]\noutput f = sum(concat(x, x * 2, x[::-1], axis=0) ** 2)")
    (step,) = [s for s in prog.schedule.steps if s.gate.name == "concat"]
    assert step.gate.arity == 3 and pickle.loads(pickle.dumps(step.gate, protocol)) is step.gate
    again = pickle.loads(pickle.dumps(prog, protocol))
    for got, expected in zip(numbers(again), numbers(prog)):
        same(got, expected)


def _work(prog, x):
    return prog.run(x=x).grads, prog.forward(x=x)


def test_a_program_goes_to_worker_processes():
    prog = graphdsl.loads("input x\nparam w: [3] ~ normal(0, 1)\noutput f = sum(tanh(w * x))", seed=3)
    prog.run(x=1.0)  # compiled here: the workers compile again
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        answers = list(pool.map(_work, [prog] * 3, [0.5, 1.0, 2.0]))
    for (grads, outputs), x in zip(answers, [0.5, 1.0, 2.0]):
        same(grads, prog.run(x=x).grads)
        same(outputs, prog.forward(x=x))
