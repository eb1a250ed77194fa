"""The Python API of SPEC §3: load/loads, Program, Result, the error classes."""
import pathlib

import networkx as nx
import numpy as np
import pytest

import graphdsl
from graphdsl import BindingError

MUL_ADD = "input x = -2, y = 5, z = -4\nq = x + y\nf = q * z\noutput f\n"


def test_spec_example(tmp_path):
    path = tmp_path / "model.graph"
    path.write_text(MUL_ADD)
    for prog in (graphdsl.load(str(path)), graphdsl.load(path)):
        res = prog.run(x=-2, y=5, z=-4)
        assert res.outputs["f"] == -12.0
        assert (res.grads["x"], res.grads["z"]) == (-4.0, 3.0)


def test_description():
    prog = graphdsl.loads("param b = 1\ninput y, x\noutput g = x * b, f = y + x\n")
    assert prog.inputs == ("y", "x") and prog.params == ("b",) and prog.outputs == ("g", "f")
    assert isinstance(prog.graph, nx.DiGraph)
    assert prog.forward_order[:3] == ("b", "y", "x")  # leaves in declaration order
    assert set(prog.forward_order) == set(prog.graph.nodes)
    assert prog.backward_order == ("g",)
    assert "g" in repr(prog)


def test_the_graph_is_made_once_when_first_asked_for():
    prog = graphdsl.loads("input x\nparam w = 2\noutput f = sin(x * w)")
    assert prog._model._graph is None  # loading and running never need it
    prog.run(x=1.0)
    assert prog._model._graph is None
    graph = prog.graph
    assert nx.is_frozen(graph) and prog.graph is graph
    assert prog.with_params({"w": 3.0}).graph is graph  # same model, same graph
    assert graph.nodes["f"]["args"] == ("f#1",) and graph.graph["params"] == ("w",)


def test_graph_edges_run_from_operand_to_gate_and_orders_are_topological():
    prog = graphdsl.loads(MUL_ADD)
    assert ("x", "q") in prog.graph.edges and ("q", "f") in prog.graph.edges
    position = {n: i for i, n in enumerate(prog.forward_order)}
    assert all(position[a] < position[b] for a, b in prog.graph.edges)
    assert prog.backward_order == ("f", "q")


def test_program_is_immutable():
    prog = graphdsl.loads(MUL_ADD)
    with pytest.raises(nx.NetworkXError):
        prog.graph.add_node("intruder")
    with pytest.raises(AttributeError):
        prog.inputs = ("a",)


def test_scalars_are_floats_and_arrays_are_ndarrays():
    prog = graphdsl.loads("input x, v\noutput f = x * v, s = sum(v)")
    res = prog.run(x=2, v=[1, 2, 3])
    assert type(res.outputs["s"]) is float and type(res.grads["x"]) is float
    assert isinstance(res.outputs["f"], np.ndarray) and res.outputs["f"].dtype == np.float64
    assert all(type(v) in (float, np.ndarray) for v in res.values.values())
    res.grads["v"] += 1  # a user may change what they got back


def test_values_and_node_grads_by_node_id():
    prog = graphdsl.loads("input x = 3, y = -4, z = 2, w = -1\noutput f = 2 * (x * y + max(z, w))")
    res = prog.run()
    assert set(res.values) == set(prog.graph.nodes)
    assert res.values["f#2"] == -12.0 and res.values["f#3"] == 2.0
    assert res.node_grads["f#4"] == 2.0 and res.node_grads["f#3"] == 2.0  # add distributes
    assert "f#1" not in res.node_grads  # the constant 2 needs no gradient


def test_non_scalar_output_is_seeded_with_ones():
    prog = graphdsl.loads("input v\noutput y = v * v")
    res = prog.run(v=[1.0, 2.0, 3.0])
    np.testing.assert_array_equal(res.grads["v"], [2.0, 4.0, 6.0])


def test_fan_out_gradients_add_up():
    prog = graphdsl.loads("input x = 3\na = x * 2\nb = exp(x)\noutput f = a + b + x * x")
    assert prog.run().grads["x"] == pytest.approx(2 + np.exp(3.0) + 6)


def test_differentiate_another_output_with_of():
    prog = graphdsl.loads("input x = 2, y = 3\noutput f = x * y, g = x + y * y")
    assert prog.run().grads == {"x": 3.0, "y": 2.0}
    res = prog.run(of="g")
    assert res.grads == {"x": 1.0, "y": 6.0} and res.of == "g"
    assert res.outputs == {"f": 6.0, "g": 11.0}
    with pytest.raises(BindingError, match="not an output"):
        prog.run(of="h")


def test_an_input_that_does_not_reach_the_output_gets_a_zero_of_its_shape():
    prog = graphdsl.loads("input x = 1, v = [1, 2], u\noutput f = x * 2, g = sum(v) * u")
    grads = prog.run(u=1.0).grads
    assert grads["x"] == 2.0 and grads["u"] == 0.0
    np.testing.assert_array_equal(grads["v"], [0.0, 0.0])


def test_params_get_gradients_like_inputs():
    prog = graphdsl.loads("param w = [2, -3]\ninput x = [1, 2]\noutput f = sum(w * x)")
    res = prog.run()
    np.testing.assert_array_equal(res.grads["w"], [1.0, 2.0])
    np.testing.assert_array_equal(res.grads["x"], [2.0, -3.0])


def test_forward_returns_outputs_only():
    assert graphdsl.loads(MUL_ADD).forward(x=1) == {"f": -24.0}


def test_run_is_reentrant_over_a_thousand_bindings():
    prog = graphdsl.loads("input x, y\nq = x * y + sin(x)\noutput f = q * q")
    rng = np.random.default_rng(0)
    results = [(x, y, prog.run(x=x, y=y)) for x, y in rng.normal(size=(1000, 2))]
    for x, y, res in results:
        q = x * y + np.sin(x)
        assert res.outputs["f"] == pytest.approx(q * q, rel=1e-14)
        assert res.grads["x"] == pytest.approx(2 * q * (y + np.cos(x)), rel=1e-12)
        assert res.grads["y"] == pytest.approx(2 * q * x, rel=1e-12)


def test_jvp_forward_mode():
    prog = graphdsl.loads("input x = 3, y = -4, z = 2, w = -1\noutput f = 2 * (x * y + max(z, w)), g = x * z")
    outputs, tangents = prog.jvp({"x": 3, "y": -4, "z": 2, "w": -1}, {"x": 1.0})
    assert outputs == {"f": -20.0, "g": 6.0}
    assert tangents == {"f": -8.0, "g": 2.0}
    _, none = prog.jvp({}, {})
    assert none == {"f": 0.0, "g": 0.0}
    with pytest.raises(BindingError):
        prog.jvp({}, {"nope": 1.0})


def test_jvp_agrees_with_the_gradient_on_arrays():
    prog = graphdsl.loads("input W: [2, 3], x: [3]\noutput f = sum(tanh(W @ x) ** 2)")
    rng = np.random.default_rng(1)
    W, x, dW, dx = rng.normal(size=(2, 3)), rng.normal(size=3), rng.normal(size=(2, 3)), rng.normal(size=3)
    res = prog.run(W=W, x=x)
    _, tangents = prog.jvp({"W": W, "x": x}, {"W": dW, "x": dx})
    assert tangents["f"] == pytest.approx(np.sum(res.grads["W"] * dW) + res.grads["x"] @ dx, rel=1e-12)


def test_check_gradients_report():
    prog = graphdsl.loads("input x = 0.3, W = [[1, 2], [3, 4]]\noutput f = sum(sigmoid(W * x))")
    report = prog.check_gradients()
    assert report.ok and report.max_rel_error < 1e-7
    assert report.worst is not None and report.worst.name in ("x", "W")
    assert "ok" in str(report)
    assert prog.check_gradients(eps=1e-4).ok


def test_check_gradients_refuses_a_step_or_tolerance_that_is_not_positive():
    prog = graphdsl.loads(MUL_ADD)
    for settings in ({"eps": 0}, {"eps": -1e-6}, {"eps": float("nan")}, {"eps": "1e-6"},
                     {"tolerance": 0}, {"tolerance": float("inf")}):
        with pytest.raises(ValueError, match="must be a positive number"):
            prog.check_gradients(**settings)
    assert prog.check_gradients(eps=np.float32(1e-3)).ok


def test_to_dot_takes_only_a_result_of_the_same_program():
    prog, other = graphdsl.loads(MUL_ADD), graphdsl.loads(MUL_ADD)
    for wrong in (5, "result", other.run()):
        with pytest.raises(TypeError, match="to_dot takes a Result of this program's run"):
            prog.to_dot(wrong)
    assert "-12" in prog.to_dot(prog.run())


def test_loads_takes_text_not_bytes():
    with pytest.raises(TypeError, match="got bytes .decode it first, or use load.path.."):
        graphdsl.loads(MUL_ADD.encode())


def test_max_nodes_must_be_a_whole_number_of_at_least_one():
    for wrong in (0, -1, 1.5, "10", True):
        with pytest.raises(ValueError, match=f"max_nodes must be a whole number >= 1, got {wrong!r}"):
            graphdsl.loads(MUL_ADD, max_nodes=wrong)
    assert graphdsl.loads(MUL_ADD, max_nodes=5).run().outputs["f"] == -12.0


def test_what_is_not_bindings_or_an_output_is_a_clear_type_error():
    prog = graphdsl.loads(MUL_ADD)
    for call in (lambda: prog.run(3), lambda: prog.run([("x", 1)]), lambda: prog.check_gradients(3),
                 lambda: prog.run_batch(3), lambda: prog.forward(3)):
        with pytest.raises(TypeError, match="takes the bindings as a mapping of name -> value, "
                                            r"(run|check_gradients|run_batch|forward)\(\{'x': 1.0\}\), or as "
                                            "keywords, .*got (int|list)"):
            call()
    for call in (lambda: prog.run(of={"x": 1}), lambda: prog.run(of=3, check_finite=True)):
        with pytest.raises(TypeError, match="of must be the name of an output, got (dict|int); bindings "
                                            r"go as keywords, run\(x=1.0\), or as a mapping"):
            call()
    with pytest.raises(TypeError, match="jvp takes tangents as a dict of name -> value, got list"):
        prog.jvp({"x": 1}, [1])
    with pytest.raises(TypeError, match="with_params takes params as a dict of name -> value, got list"):
        prog.with_params([1])
    assert prog.run("f").outputs == {"f": -12.0}  # the output, positional as it always was


def test_run_batch_is_run_per_row_stacked():
    prog = graphdsl.loads("input x, y = 2\noutput f = x * y + sin(x)")
    xs = np.array([0.0, 1.0, 2.0])
    batch = prog.run_batch(x=xs)
    np.testing.assert_allclose(batch.outputs["f"], xs * 2 + np.sin(xs))
    np.testing.assert_allclose(batch.grads["x"], 2 + np.cos(xs))
    np.testing.assert_allclose(batch.grads["y"], xs)
    with pytest.raises(BindingError):
        prog.run_batch(x=xs, y=np.ones(2))


def test_run_batch_checks_each_binding_as_run_does():
    prog = graphdsl.loads("input x, y = 2\noutput f = x * y", "m.graph")
    for value, words in [([[1, 2], [3]], "must be a number or a rectangular array of numbers"),
                         ([1, None], "must be a number or a rectangular array of numbers"),
                         ("ab", "must be a number or an array, got str")]:
        with pytest.raises(BindingError) as caught:
            prog.run_batch(x=value)
        assert str(caught.value) == f"m.graph:1:7: 'x' {words}"
    assert prog.run_batch(x=[1, 2]).outputs["f"].tolist() == [2.0, 4.0]


def test_with_params_gives_a_new_program():
    prog = graphdsl.loads("param w = 2\ninput x = 3\noutput f = w * x")
    trained = prog.with_params({"w": 5})
    assert trained.run().outputs["f"] == 15.0 and prog.run().outputs["f"] == 6.0
    with pytest.raises(BindingError):
        prog.with_params({"x": 1})


def test_param_initializers_are_seeded_and_reproducible():
    text = "param W: [3, 2] ~ normal(0, 0.01), b: [2] ~ zeros(), u ~ uniform(-1, 1)\noutput f = sum(W) + sum(b) + u"
    a, b = graphdsl.loads(text).defaults(), graphdsl.loads(text).defaults()
    np.testing.assert_array_equal(a["W"], b["W"])
    assert a["W"].shape == (3, 2) and np.all(a["b"] == 0) and -1 <= a["u"] <= 1
    assert not np.array_equal(graphdsl.loads(text, seed=1).defaults()["W"], a["W"])


def test_load_reports_non_utf8_files_with_a_position(tmp_path):
    path = tmp_path / "bad.graph"
    path.write_bytes(b"input x\ny = x\xff\n")
    with pytest.raises(graphdsl.GraphSyntaxError) as info:
        graphdsl.load(path)
    assert (info.value.line, info.value.column) == (2, 6)


def test_error_classes_form_one_tree():
    for cls in (graphdsl.GraphSyntaxError, graphdsl.GraphDefinitionError, graphdsl.BindingError):
        assert issubclass(cls, graphdsl.GraphError)
    err = graphdsl.GraphError("boom")
    assert err.line is None and err.column is None


def test_public_names():
    for name in ("load", "loads", "Program", "Result", "GraphError", "GraphSyntaxError",
                 "GraphDefinitionError", "BindingError"):
        assert hasattr(graphdsl, name)
    assert pathlib.Path(graphdsl.__file__).parent.joinpath("__init__.py").exists()


def test_node_values_of_a_run_whose_bound_array_was_changed_are_refused_not_made_up():
    prog = graphdsl.loads("input x: [3]\nq = x * 2\noutput f = sum(q)")
    x = np.array([1.0, 2.0, 3.0])
    kept = prog.run(x=x)
    assert kept.values["q"].tolist() == [2.0, 4.0, 6.0]  # computed before the change: kept
    changed = prog.run(x=x)
    x[0] = 100.0
    assert changed.outputs["f"] == 12.0 and kept.values["f"] == 12.0
    with pytest.raises(graphdsl.BindingError, match="changed in place after it"):
        changed.values
    with pytest.raises(graphdsl.BindingError, match="changed in place after it"):
        prog.to_dot(changed)


def test_node_values_are_given_when_the_compiled_code_differs_from_the_interpreter_by_an_ulp():
    # math.exp (the float code) and numpy's exp differ in the last bit at this x: the
    # output is a cancellation, 1.8e-15 against 0.0, and no binding was changed.
    prog = graphdsl.loads("input x\noutput y = exp(x) - 11.826599323380835")
    result = prog.run(x=2.4703511745671616)
    assert result.values["x"] == 2.4703511745671616
    assert result.node_grads["x"] == pytest.approx(result.grads["x"], rel=1e-15)
    x = np.array([2.4703511745671616, 1.0])
    changed = prog.run(x=x)
    x[1] = 3.0
    with pytest.raises(graphdsl.BindingError, match="changed in place after it"):
        changed.values


@pytest.mark.parametrize("check_finite", [False, True])
def test_no_two_results_share_an_array(check_finite):
    """A cotangent that + passes on unchanged, and outputs that are views of one value,
    are handed out as separate arrays: changing one in place leaves the others alone."""
    prog = graphdsl.loads("input x: [3], w: [3]\nq = x * 2\noutput f = sum(x + w)\n"
                          "output a = identity(q), b = identity(q), t = transpose(q)")
    ones = np.ones(3)
    for result in [prog.run(x=ones, w=ones, check_finite=check_finite),
                   prog.run("a", x=ones, w=ones, check_finite=check_finite),
                   prog.run_batch(x=np.ones((2, 3)), w=np.ones((2, 3))),
                   prog.run_batch("a", x=np.ones((2, 3)), w=np.ones((2, 3)))]:
        arrays = [v for v in [*result.outputs.values(), *result.grads.values()] if isinstance(v, np.ndarray)]
        for i, first in enumerate(arrays):
            for second in arrays[i + 1:]:
                assert not np.shares_memory(first, second)
        result.grads["x"] *= 10
        assert np.all(result.grads["w"] == (1.0 if result.of == "f" else 0.0))
