"""Nothing lost: the arrays a caller binds are never modified, results never alias them
(nor the Program's defaults and constants), a Program never changes after it is
built, data files that cannot be read give clear errors, and graphrun never
damages a file."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import graphdsl
from graphdsl.train.datafiles import DataFileError, read_data
from graphdsl.inspect.explain import explain
from graphrun_subprocess import graphrun

MODEL = """\
input x, W: [2, 3], b = [0.5, -0.5]
param v = [1, 2]
h = tanh(W @ x + b)
output loss = sum(h * v) + sum(x), hidden = h, same = x
"""


def bindings() -> dict:
    rng = np.random.default_rng(0)
    big = rng.normal(size=(4, 6))
    return {"x": np.array([0.5, -1.0, 2.0], dtype=np.float32),  # converted, not modified
            "W": big[::2, ::2],  # a non-contiguous view into a larger array
            "b": np.array([1, 2], dtype=np.int64)}


def snapshot(values: dict) -> dict:
    return {name: np.array(value, copy=True) for name, value in values.items()}


def test_no_entry_point_modifies_the_arrays_it_is_given():
    prog = graphdsl.loads(MODEL)
    given = bindings()
    before = snapshot(given)
    result = prog.run(**given)
    prog.run(of="hidden", check_finite=True, **given)
    prog.forward(**given)
    prog.jvp(given, {"x": given["x"], "W": given["W"]})
    prog.check_gradients(**given)
    prog.run_batch(**{name: np.stack([value, value]) for name, value in given.items()})
    prog.to_dot(result)
    explain(result)
    for name, value in given.items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
        assert value.flags.writeable  # still the caller's own, writable array


def test_results_are_copies_that_the_caller_may_change():
    prog = graphdsl.loads("input x = [1, 2]\nconst = [5, 6]\noutput x2 = x, c = const, y = x * const")
    first = prog.run()
    for array in (first.outputs["x2"], first.outputs["c"], first.values["x"], first.grads["x"],
                  prog.defaults()["x"]):
        array[...] = -99.0
    again = prog.run()
    np.testing.assert_array_equal(again.outputs["y"], [5.0, 12.0])
    np.testing.assert_array_equal(again.outputs["c"], [5.0, 6.0])
    np.testing.assert_array_equal(prog.defaults()["x"], [1.0, 2.0])


@pytest.mark.parametrize("text", ["input x\noutput y = x", "input x\nz = x\noutput y = transpose(z)",
                                  "gate same(a) { return a }\ninput x\noutput y = same(x), w = sum(x)"])
def test_an_output_that_is_an_input_does_not_alias_the_callers_array(text):
    given = np.array([[1.0, 2.0]])
    prog = graphdsl.loads(text)
    for _ in range(3):  # the first runs and the compiled ones
        for outputs in (prog.run(x=given).outputs, prog.forward(x=given), prog.jvp({"x": given}, {})[0],
                        prog.run_batch(x=given[None]).outputs):
            outputs["y"][...] = 100.0
            np.testing.assert_array_equal(given, [[1.0, 2.0]])


@pytest.mark.parametrize("text", ["input x: [2]\nparam w: [2]\noutput f = sum(w * x)",
                                  "input x: [2]\nparam w: [2]\noutput f = sum(reshape(w, shape=[2, 1]) * "
                                  "reshape(x, shape=[2, 1]))",
                                  "input x: [2]\nparam w: [2]\noutput f = sum(x * transpose(w))"])
def test_a_gradient_that_equals_a_bound_array_is_a_copy_of_it(text):
    # d/dw sum(w * x) is x itself: the gradient handed out must not be the caller's array.
    x, w = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    prog = graphdsl.loads(text)
    for _ in range(3):
        for result in (prog.run(x=x, w=w), prog.run({"x": x, "w": w}), prog.run(x=x, w=w, check_finite=True)):
            np.testing.assert_array_equal(result.grads["w"], [1.0, 2.0])
            result.grads["w"][...] = 100.0
            result.grads["x"][...] = 100.0
        _, grads = prog.function()(x, w)
        grads[0][...] = grads[1][...] = 100.0
        _, tangents = prog.jvp({"x": x, "w": w}, {"w": x})
        assert tangents["f"] == 5.0
        np.testing.assert_array_equal(x, [1.0, 2.0])
        np.testing.assert_array_equal(w, [3.0, 4.0])


def test_a_program_does_not_change_when_the_arrays_it_was_given_do():
    weights = np.array([3.0, 4.0])
    trained = graphdsl.loads("param w = [1, 2]\noutput y = sum(w)").with_params({"w": weights})
    weights[0] = 100.0
    assert trained.run().outputs["y"] == 7.0


def test_training_leaves_the_program_and_the_data_alone():
    prog = graphdsl.loads("input x, y\nparam w = [0.5, 0.5]\noutput loss = mean(square(sum(w * x) - y))")
    data = {"x": np.array([[1.0, 2.0], [2.0, 1.0]]), "y": np.array([1.0, 2.0])}
    before = snapshot(data)
    history = prog.fit(data, epochs=5, lr=0.05)
    assert history.params["w"][0] != 0.5
    np.testing.assert_array_equal(prog.defaults()["w"], [0.5, 0.5])
    for name in data:
        np.testing.assert_array_equal(data[name], before[name])


@pytest.mark.parametrize("name, content, message", [
    ("missing.json", None, "missing.json: no such file"),
    ("bad.json", b'{"x": [1, 2', "invalid JSON"),
    ("list.json", b"[1, 2]", "expected a JSON object"),
    ("text.json", b'{"x": "one"}', "'x' holds \"one\", not a number (NaN and infinities are written"),
    # numpy would read these as NaN, 1 and 1: a typo must not become a number
    ("null.json", b'{"x": [1, null]}', "null.json: 'x' holds null, not a number"),
    ("bool.json", b'{"x": true}', "bool.json: 'x' holds true, not a number"),
    ("quoted.json", b'{"x": "1"}', "quoted.json: 'x' holds \"1\", not a number"),
    ("object.json", b'{"x": {"a": 1}}', "object.json: 'x' holds {\"a\": 1}, not a number"),
    ("ragged.json", b'{"x": [[1, 2], [3]]}', "'x' is not a number or a rectangular array of numbers"),
    ("binary.json", b"\xff\xfe\x00", "not UTF-8 text"),
    ("broken.npz", b"PK\x03\x04garbage", "not a readable .npz archive"),
    ("empty.npz", b"", "empty.npz: not an .npz archive (a zip of .npy arrays, as numpy.savez writes)"),
    # not a zip: np.load would try a pickle, and the message would talk of allow_pickle
    ("pickle.npz", b"\x80\x04K\x01.", "pickle.npz: not an .npz archive (a zip of .npy arrays"),
    ("json.npz", b'{"x": 1}', "json.npz: not an .npz archive (a zip of .npy arrays"),
    ("array.npz", b"\x93NUMPY\x01\x00", "array.npz: not an .npz archive (a zip of .npy arrays"),
    ("rows.csv", b"x,y\n1,2\n3,four\n", "column 'y': 'four' is not a number"),
    ("data.txt", b"x=1", "unsupported data file type '.txt'"),
    ("deep.json", b'{"x": ' + b"[" * 100_000 + b"1" + b"]" * 100_000 + b"}", "the JSON nests too deeply"),
    ("wide.csv", b"x\n" + b"1" * 200_000 + b"\n", "not readable as CSV: field larger than field limit"),
])
def test_a_data_file_that_cannot_be_read_gives_a_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataFileError) as caught:
        read_data(path)
    assert message in str(caught.value)


def test_json_reads_back_the_nonfinite_strings_that_graphrun_json_writes(tmp_path):
    path = tmp_path / "inputs.json"
    path.write_text('{"x": ["NaN", "Infinity", "-Infinity", 2], "y": NaN}')
    data = read_data(path)
    assert str(data["x"].tolist()) == "[nan, inf, -inf, 2.0]" and str(data["y"]) == "nan"


def test_graphrun_reports_an_unreadable_inputs_file_and_keeps_the_model(tmp_path):
    model = tmp_path / "m.graph"
    text = "input x\noutput y = x * 2\n"
    model.write_text(text)
    (tmp_path / "bad.json").write_text('{"x": [1, 2')
    for args, message in [(["--inputs-file", tmp_path / "bad.json"], "invalid JSON"),
                          (["--inputs-file", tmp_path / "none.json"], "no such file"),
                          (["--inputs-file", tmp_path], "--inputs-file takes a .json or .npz file"),
                          (["--inputs", "x=1", "--dot", model], "refusing to overwrite"),
                          (["--inputs", "x=1", "--render", model], "")]:
        done = graphrun(model, *args)
        assert done.returncode in (1, 2) and message in done.stderr and "Traceback" not in done.stderr
    assert model.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "m.graph"]  # no debris


def test_array_subclasses_are_taken_as_plain_arrays():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        matrix = np.matrix([[1.0, 2.0], [3.0, 4.0]])  # for np.matrix, '*' is a matrix product
    prog = graphdsl.loads("input x\noutput y = sum(x * x)")
    assert prog.run(x=matrix).outputs["y"] == 30.0
    assert prog.run(x=np.ma.array([1.0, 2.0], mask=[False, False])).outputs["y"] == 5.0


@pytest.mark.parametrize("value, message", [
    (10**400, "'x' holds a number too large for a float64"),
    ([1, 10**400], "'x' holds a number too large for a float64"),
    (np.ma.array([1.0, 2.0], mask=[False, True]), "'x' has masked entries"),
])
def test_values_that_are_not_plain_float64_numbers_are_binding_errors(value, message):
    prog = graphdsl.loads("input x\noutput y = sum(x * x)")
    with pytest.raises(graphdsl.BindingError, match=message):
        prog.run(x=value)
