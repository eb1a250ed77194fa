"""Resource bounds: graphs too big to build are refused before they are built, with the
size and the way to raise the limit; deep nesting and long chains work without
recursion; loading time grows linearly with the file."""
from __future__ import annotations

import time

import numpy as np
import pytest

import graphdsl
from graphdsl.compiled import runner as runner_module
from graphdsl.graph.build import DEFAULT_MAX_NODES
from graphdsl.graph.expand import MAX_GATE_DEPTH
from graphrun_subprocess import graphrun
from tracing import peak_bytes

N = 100_000


def error(text: str, **options) -> graphdsl.GraphError:
    with pytest.raises(graphdsl.GraphError) as caught:
        graphdsl.loads(text, "big.graph", **options)
    return caught.value


# ---------------------------------------------------------------- the node limit
def test_a_huge_repeat_is_refused_with_its_size_and_how_to_raise_the_limit():
    started = time.perf_counter()
    err = error("input x = 1\noutput y = repeat(exp, 1000000000000, x)")
    assert time.perf_counter() - started < 1
    assert isinstance(err, graphdsl.GraphLimitError) and (err.line, err.column) == (2, 12)
    assert "about 1,000,000,000,001 nodes" in err.message  # x and 10**12 exp nodes
    assert f"the limit of {DEFAULT_MAX_NODES:,}" in err.message
    assert "--max-nodes N" in err.message and "max_nodes=N" in err.message


def test_compound_gates_that_double_at_each_level_are_refused_before_they_are_built():
    gates = ["gate g0(a) { return a + 1 }"] + [f"gate g{i}(a) {{ return g{i - 1}(g{i - 1}(a)) }}"
                                               for i in range(1, 40)]
    started = time.perf_counter()
    err = error("\n".join(gates) + "\ninput x = 1\noutput y = g39(x)")
    assert time.perf_counter() - started < 2
    size = 2 * 2**39  # g0 makes a constant and an add; each g(i) calls g(i-1) twice
    assert isinstance(err, graphdsl.GraphLimitError) and (err.line, err.column) == (42, 12)
    assert f"about {size + 1:,} nodes" in err.message  # and the input


def test_astronomical_sizes_are_said_without_hundreds_of_digits():
    gates = ["gate g0(a) { return repeat(exp, 1e300, a) }",
             "gate g1(a) { return repeat(g0, 1e300, a) }"]
    err = error("\n".join(gates) + "\ninput x = 1\noutput y = g1(x)")
    assert "more than 10^30 nodes" in err.message and len(err.message) < 200


def test_max_nodes_raises_and_lowers_the_limit():
    text = "input x = 1\noutput y = repeat(sin, 50, x)"
    assert "about 51 nodes, more than the limit of 20" in error(text, max_nodes=20).message
    assert graphdsl.loads(text, max_nodes=60).run().outputs["y"] == pytest.approx(0.233914, abs=1e-6)


def test_graphrun_max_nodes(tmp_path):
    model = tmp_path / "m.graph"
    model.write_text("input x = 1\noutput y = repeat(sin, 50, x)\n")
    refused = graphrun(model, "--max-nodes", "20")
    assert refused.returncode == 1 and "m.graph:2:12: error:" in refused.stderr
    assert "--max-nodes" in refused.stderr and "Traceback" not in refused.stderr
    assert graphrun(model, "--max-nodes", "60").returncode == 0


def test_a_param_drawn_at_random_counts_against_the_limit():
    err = error("param W: [100000, 100000] ~ normal(0, 1)\noutput y = sum(W)")
    assert isinstance(err, graphdsl.GraphLimitError) and (err.line, err.column) == (1, 7)
    assert "about 10,000,000,000 numbers" in err.message and "max_nodes=N" in err.message
    assert graphdsl.loads("param W: [3, 4] ~ zeros()\noutput y = sum(W)").run().outputs["y"] == 0


def test_a_uniform_range_numpy_cannot_draw_from_is_refused_at_its_place():
    err = error("param w: [2] ~ uniform(-1e308, 1e308)\noutput y = sum(w)")
    assert (err.line, err.column) == (1, 16) and "hi - lo" in err.message


# ---------------------------------------------------------------- nesting of compound gates
def _chain(depth: int) -> str:
    gates = ["gate g0(a) { return a + 1 }"] + [f"gate g{i}(a) {{ return g{i - 1}(a) }}" for i in range(1, depth)]
    return "\n".join(gates) + f"\ninput x = 1\noutput y = g{depth - 1}(x)"


def test_gates_may_nest_up_to_the_depth_limit():
    prog = graphdsl.loads(_chain(MAX_GATE_DEPTH))
    assert prog.run().outputs["y"] == 2.0
    assert len(prog.graph.nodes["y"]["scope"]) == MAX_GATE_DEPTH


def test_gates_nesting_beyond_the_depth_limit_are_refused_with_the_chain():
    started = time.perf_counter()
    err = error(_chain(5000))
    assert time.perf_counter() - started < 10
    assert isinstance(err, graphdsl.GraphLimitError) and err.line == 5002
    assert "5,000 levels deep (g4999 -> g4998 -> g4997 -> ... -> g0)" in err.message
    assert f"the limit of {MAX_GATE_DEPTH}" in err.message


# ---------------------------------------------------------------- deep and wide text
@pytest.mark.parametrize("name, text, expected", [
    ("parentheses", "input x = 1\noutput y = " + "(" * N + "x" + ")" * N, 1.0),
    ("unary minus", "input x = 1\noutput y = " + "-" * N + "x", 1.0),
    ("nested calls", "input x = 0.5\noutput y = " + "sin(" * N + "x" + ")" * N, 0.0054771),
    ("a long sum", "input x = 1\noutput y = " + " + ".join(["x"] * N), float(N)),
    ("a power tower", "input x = 1\noutput y = " + " ** ".join(["x"] * N), 1.0),
    ("a wide array", "input x = [" + ", ".join(["1"] * N) + "]\noutput y = sum(x)", float(N)),
])
def test_deep_or_wide_text_of_100000_levels_loads_and_runs(name, text, expected):
    prog = graphdsl.loads(text)
    result = prog.run(check_finite=True)  # the interpreter: compiling 100,000 steps is tested below
    assert result.outputs["y"] == pytest.approx(expected, rel=1e-4), name
    assert np.all(np.isfinite(result.grads["x"]))


@pytest.mark.parametrize("text, message", [
    ("input x = " + "[" * N + "1" + "]" * N + "\noutput y = sum(x)",
     "array literal nests 100,000 levels deep, more dimensions than numpy allows"),
    ("input x = 1\noutput y = " + "(" * N, "'(' is never closed"),
    ("input x = 1\noutput y = " + "[" * N + "x", "'[' is never closed"),
    ("input x = 1\noutput y = " + "exp(" * N + "x" + ")" * (N - 1), "'(' is never closed"),
])
def test_deep_text_that_cannot_work_fails_with_a_clear_error(text, message):
    err = error(text)
    assert message in err.message and err.line is not None


def test_a_chain_of_100000_nodes_loads_runs_and_differentiates():
    lines = ["input x = 0.5", "a0 = x"] + [f"a{i} = sin(a{i - 1})" for i in range(1, N)]
    prog = graphdsl.loads("\n".join(lines + [f"output y = a{N - 1}"]))
    assert len(prog.forward_order) == N + 2  # x, a0 ... a99999 and y
    result = prog.run()
    outputs, tangents = prog.jvp({"x": 0.5}, {"x": 1.0})
    assert tangents["y"] == pytest.approx(result.grads["x"], rel=1e-12)
    report = prog.check_gradients()
    assert report.ok and report.rules == () and report.modes.ok


def test_loading_time_grows_linearly_with_the_file():
    def seconds(lines: int) -> float:
        text = "input x = 0.5\nv0 = x * 1\n" + "".join(
            f"v{i} = tanh(v{i - 1}) * 0.5 + 0.25  # step {i}\n" for i in range(1, lines)) + \
            f"output y = v{lines - 1}\n"
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            graphdsl.loads(text)
            best = min(best, time.perf_counter() - started)
        return best

    small, large = seconds(1_500), seconds(6_000)
    assert large / small < 8, (small, large)  # 4 when linear, 16 when quadratic


# ---------------------------------------------------------------- messages stay short
def test_an_error_in_a_very_long_line_shows_the_part_around_it():
    text = "input x = [" + ", ".join(["1"] * N) + "]]\noutput y = x"
    rendered = error(text).render()
    head, line, caret = rendered.split("\n")
    assert head == f"big.graph:1:{len(text.split(chr(10))[0])}: error: unmatched ']'"
    assert len(line) < 120 and line.startswith("    ...") and line.endswith("1]]")
    assert caret.index("^") == len(line) - 1


LONG = "n" * 20_000


@pytest.mark.parametrize("text,column", [
    (f"input x\noutput y = {LONG} + x", 12),  # not defined
    (f"input x\noutput y = {LONG}(x)", 12),  # unknown gate
    (f"input x\noutput y = x {LONG}", 14),  # two operands in a row
    (f"input x\noutput y = x + {'9' * 20_000}", 16),  # a number beyond float64
    (f"input {LONG}\n{LONG} = 3\noutput {LONG}", 1),  # defined twice
])
def test_a_huge_name_in_a_message_is_cut_and_the_caret_stays_in_place(text, column):
    err = error(text)
    assert len(err.message) < 250 and "...[19,9" in err.message and len(str(err)) < 300
    head, line, caret = err.render().split("\n")
    assert f":{column}: error: " in head and len(head) < 300 and len(line) < 120
    shown = line[4:].removeprefix("...")
    skipped = len(line) - 4 - len(shown)
    source = text.split("\n")[err.line - 1]
    start = source.index(shown.removesuffix("..."))  # where the window starts in the source
    assert caret.index("^") - 4 - skipped + start == column - 1


def test_graphrun_prints_a_few_hundred_bytes_for_a_huge_name(tmp_path):
    model = tmp_path / "big.graph"
    model.write_text(f"input x = 1\noutput y = x * {LONG}\n")
    done = graphrun(model)
    assert done.returncode == 1 and len(done.stderr.encode()) < 600, len(done.stderr)
    head, line, caret, _ = done.stderr.split("\n")
    assert head.startswith(f"{model}:2:16: error: '{'n' * 50}") and "characters]" in head
    assert line == "    output y = x * " + "n" * 85 + "..." and caret == " " * 19 + "^"
    done = graphrun(model, "--of", LONG)
    assert done.returncode == 1 and len(done.stderr) < 600  # the model's error comes first
    done = graphrun(tmp_path / f"{'m' * 200}.graph", "--inputs", f"{LONG}=1")
    assert done.returncode == 1 and len(done.stderr) < 600, done.stderr
    done = graphrun("train", model, "--data", "d.csv", "--optimizer", LONG)
    assert done.returncode == 2 and len(done.stderr) < 1200 and "invalid choice" in done.stderr


def test_a_cycle_through_many_names_is_spelled_briefly():
    n = 20_000
    text = "\n".join(f"a{i} = a{(i + 1) % n} + 1" for i in range(n)) + "\noutput y = a0"
    err = error(text)
    assert err.message.startswith("cycle: a0 -> a1 -> a2 -> a3 -> ... -> a19998 -> a19999 -> a0 (defined: "
                                  "'a0' at line 1, ")
    assert err.message.endswith("20,000 names in all)") and len(err.message) < 300


def test_an_unknown_binding_among_many_inputs_lists_a_few():
    prog = graphdsl.loads("input " + ", ".join(f"x{i}" for i in range(1000)) + "\noutput y = x0")
    with pytest.raises(graphdsl.BindingError) as caught:
        prog.run(zz=1)
    assert caught.value.message.endswith("x106 and 990 more)") and len(caught.value.message) < 200


def test_graphs_beyond_the_compile_limit_run_on_the_interpreter(monkeypatch):
    text = "input x, W: [2, 2]\nh = tanh(W @ x)\noutput y = sum(h * h) + sum(x)"
    bindings = {"x": np.array([0.5, -1.0]), "W": np.array([[1.0, 2.0], [0.5, -0.5]])}
    compiled = graphdsl.loads(text)
    expected = [compiled.run(**bindings) for _ in range(2)][-1]
    monkeypatch.setattr(runner_module, "COMPILE_LIMIT", 2)  # this graph has 6 steps
    interpreted = graphdsl.loads(text)
    for _ in range(2):
        result = interpreted.run(**bindings)
        assert result.outputs == pytest.approx(expected.outputs, rel=1e-12)
        np.testing.assert_allclose(result.grads["W"], expected.grads["W"], rtol=1e-12)
    batch = interpreted.run_batch(x=np.stack([bindings["x"]] * 3), W=np.stack([bindings["W"]] * 3))
    np.testing.assert_allclose(batch.outputs["y"], [expected.outputs["y"]] * 3, rtol=1e-12)
    assert interpreted._kernels["y"].func == interpreted._runner.interpret  # no code was generated


def test_a_graph_beyond_the_compile_limit_holds_each_value_once(monkeypatch):
    """The interpreter keeps the leaves' gradients only, so a chain of arrays that the
    backward pass must keep (tanh reads its own value) costs one set of arrays."""
    n, size = 2000, 1000
    monkeypatch.setattr(runner_module, "COMPILE_LIMIT", 10)
    prog = graphdsl.loads(f"input x\ny = repeat(tanh, {n}, x)\noutput s = sum(y)")
    x = np.random.default_rng(8).normal(size=size)
    prog.run(x=x)
    peak = peak_bytes(lambda: prog.run(x=x))
    result = prog.run(x=x)
    assert peak < 1.3 * n * x.nbytes, peak / (n * x.nbytes)  # twice that kept every gradient
    expected = x.copy()
    grad = np.ones(size)
    values = [x]
    for _ in range(n):
        values.append(np.tanh(values[-1]))
    for v in reversed(values[1:]):
        grad = grad * (1.0 - v * v)
    assert result.outputs["s"] == float(np.sum(values[-1]))
    np.testing.assert_array_equal(result.grads["x"], grad)
    assert len(result.node_grads) == n + 2 and result.values["x"].tolist() == expected.tolist()
