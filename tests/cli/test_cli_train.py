"""graphrun train: the summary, --save/--json/--plot, progress on a terminal only, and
every bad data file or flag answered with one clear line (exit 1) or usage (exit 2)."""
from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import graphdsl
from graphdsl.cli import graphrun as cli
from graphdsl.cli import train as cli_train
from graphdsl.train.datafiles import read_data
from graphrun_subprocess import graphrun

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SOFTMAX = str(EXAMPLES / "softmax_classifier.graph")
SPIRAL = str(EXAMPLES / "spiral.npz")


def train(capsys, *argv):
    status = cli.main(["train", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def test_train_prints_a_summary_and_saves_every_param(capsys, tmp_path):
    saved = tmp_path / "trained.npz"
    status, out, err = train(capsys, SOFTMAX, "--data", SPIRAL, "--epochs", 200, "--lr", 1, "--save", saved)
    assert status == 0 and err == ""
    assert out.startswith("trained W, b for 200 epochs (sgd, lr 1, the full batch): loss 0.7")
    assert f"params written to {saved}" in out
    params = read_data(saved)
    expected = graphdsl.load(SOFTMAX).fit(read_data(SPIRAL), epochs=200, lr=1.0).params
    assert set(params) == {"W", "b"}
    np.testing.assert_array_equal(params["W"], expected["W"])
    trained = graphdsl.load(SOFTMAX).with_params(params)
    assert 0.45 <= trained.forward(**read_data(SPIRAL))["accuracy"] <= 0.60


def test_json_prints_the_history_only(capsys):
    status, out, err = train(capsys, SOFTMAX, "--data", SPIRAL, "--epochs", 3, "--batch-size", 100,
                             "--optimizer", "adam", "--lr", 0.1, "--seed", 4, "--json")
    assert status == 0
    history = json.loads(out)
    expected = graphdsl.load(SOFTMAX, seed=4).fit(read_data(SPIRAL), epochs=3, batch_size=100,
                                                 optimizer="adam", lr=0.1, seed=4)
    assert history["of"] == "loss" and history["losses"] == expected.losses
    assert history["metrics"]["accuracy"] == expected.metrics["accuracy"]
    assert np.array_equal(history["params"]["W"], expected.params["W"])


def test_json_writes_a_metric_that_is_nan_as_a_string(capsys, tmp_path):
    model = tmp_path / "m.graph"
    model.write_text("input x\nparam w = 1\noutput loss = mean(square(w * x))\noutput odd = log(-mean(x * x))\n")
    data = tmp_path / "d.csv"
    data.write_text("x\n1\n2\n")
    status, out, _ = train(capsys, model, "--data", data, "--epochs", 2, "--json")
    assert status == 0 and json.loads(out)["metrics"]["odd"] == ["NaN", "NaN"]


def test_of_chooses_the_loss(capsys, tmp_path):
    model = tmp_path / "m.graph"
    model.write_text("input x, y\nparam w = 0\noutput spread = mean(x)\noutput fit = mean(square(w * x - y))\n")
    data = tmp_path / "d.csv"
    data.write_text("x,y\n1,3\n2,6\n")
    status, out, _ = train(capsys, model, "--data", data, "--of", "fit", "--epochs", 100, "--lr", 0.1, "--json")
    assert status == 0
    assert json.loads(out)["params"]["w"] == pytest.approx(3.0)


def test_of_that_is_not_an_output_is_a_usage_error_as_in_graphrun(capsys):
    status, out, err = train(capsys, SOFTMAX, "--data", SPIRAL, "--of", "scores", "--epochs", 1)
    assert (status, out) == (2, "")
    assert err == f"graphrun train: error: --of scores: not an output of {SOFTMAX} (outputs: loss, accuracy)\n"


def test_an_empty_data_file_name_is_a_usage_error(capsys):
    status, out, err = train(capsys, SOFTMAX, "--data", "")
    assert (status, out) == (2, "")
    assert err.endswith("graphrun train: error: argument --data: expected a file name, got an empty string\n")


def test_csv_columns_sharing_a_name_form_a_matrix(capsys, tmp_path):
    X, y = read_data(SPIRAL)["X"], read_data(SPIRAL)["y"]
    data = tmp_path / "spiral.csv"
    data.write_text("X,X,y\n" + "".join(f"{float(a)!r},{float(b)!r},{int(c)}\n" for (a, b), c in zip(X, y)))
    status, out, _ = train(capsys, SOFTMAX, "--data", data, "--epochs", 2, "--json")
    expected = graphdsl.load(SOFTMAX).fit(read_data(SPIRAL), epochs=2)
    assert status == 0 and json.loads(out)["losses"] == expected.losses


def test_plot_draws_the_curve_or_says_how_to_get_matplotlib(capsys, tmp_path):
    plot = tmp_path / "loss.png"
    status, out, err = train(capsys, SOFTMAX, "--data", SPIRAL, "--epochs", 5, "--plot", plot)
    if importlib.util.find_spec("matplotlib") is not None:
        assert status == 0 and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"plot written to {plot}" in out
    else:
        assert status == 1 and "pip install 'graphdsl[plot]'" in err and not plot.exists()


def test_plot_without_matplotlib_says_how_to_install_it(capsys, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    status, out, err = train(capsys, SOFTMAX, "--data", SPIRAL, "--plot", tmp_path / "loss.png")
    assert status == 1 and out == ""
    assert err == ("graphrun train: error: --plot needs matplotlib, which is not installed: "
                   "pip install 'graphdsl[plot]' (or pip install matplotlib)\n")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_line_on_a_terminal_without_tqdm(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now fails
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    status = cli_train.main([SOFTMAX, "--data", SPIRAL, "--epochs", "3"])
    assert status == 0
    shown = terminal.getvalue()
    assert shown.startswith("\repoch 1/3  loss 1.") and "accuracy" in shown
    assert "\repoch 3/3  loss " in shown and shown.endswith("\n")


def test_progress_on_a_terminal_uses_tqdm_when_installed(capsys, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli_train.main([SOFTMAX, "--data", SPIRAL, "--epochs", "3"]) == 0
    if importlib.util.find_spec("tqdm") is not None:
        assert "3/3" in terminal.getvalue() and "epoch/s" in terminal.getvalue()
    else:
        assert "\repoch 3/3" in terminal.getvalue()


def test_silent_when_not_a_terminal(capsys):
    status, out, err = train(capsys, SOFTMAX, "--data", SPIRAL, "--epochs", 3)
    assert status == 0 and err == "" and out.count("\n") == 1


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.fixture
def spiral():
    data = read_data(SPIRAL)
    return data["X"], data["y"]


@pytest.mark.parametrize("case,expected", [
    ("missing_column", "data.npz: error: the data holds no values for input 'y', and its default does not fit"),
    ("counts", "data.npz: error: the data inputs disagree on the number of samples: 'X' has 300, 'y' has 299"),
    ("label_range", "data.npz: error: input 'y' holds the class ids of softmax_cross_entropy (line 20), which "
                    "must be whole numbers from 0 to 2; at index 17 it holds 3"),
    ("nan", "data.npz: error: input 'X' holds NaN at index [5, 1]"),
    ("unknown", "data.npz: error: the data holds 'Y', which is not an input of the graph; did you mean 'y'?"),
])
def test_bad_npz_data_names_the_input(capsys, tmp_path, spiral, case, expected):
    X, y = spiral
    y_bad, X_bad = y.copy(), X.copy()
    y_bad[17], X_bad[5, 1] = 3, np.nan
    arrays = {"missing_column": {"X": X}, "counts": {"X": X, "y": y[:-1]}, "label_range": {"X": X, "y": y_bad},
              "nan": {"X": X_bad, "y": y}, "unknown": {"X": X, "y": y, "Y": y}}[case]
    path = _write_npz(tmp_path / "data.npz", **arrays)
    status, out, err = train(capsys, SOFTMAX, "--data", path)
    assert status == 1 and out == ""
    assert err.startswith(str(tmp_path / expected))
    assert "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize("text,expected", [
    ("X,X,y\n0.1,0.2,0\n0.3,abc,1\n", ":3:5: error: column 'X': 'abc' is not a number\n    0.3,abc,1\n        ^\n"),
    ("X,X,y\n0.1,0.2,0\n\n0.3,nan,1\n", ":4:5: error: input 'X' holds NaN at index [1, 1]\n    0.3,nan,1\n        ^\n"),
    ("X,X,y\n0.1,0.2,0\n0.3,0.4,2.5\n", ":3:9: error: input 'y' holds the class ids of softmax_cross_entropy "
                                         "(line 20), which must be whole numbers from 0 to 2; at index 1 it holds "
                                         "2.5\n    0.3,0.4,2.5\n            ^\n"),
])
def test_bad_csv_cells_are_pointed_at(capsys, tmp_path, text, expected):
    path = tmp_path / "data.csv"
    path.write_text(text)
    status, out, err = train(capsys, SOFTMAX, "--data", path)
    assert status == 1 and err == str(path) + expected


@pytest.mark.parametrize("name,content,expected", [
    ("missing.npz", None, "missing.npz: error: no such file\n"),
    ("empty.csv", "", "empty.csv: error: empty CSV file (expected a header row of input names)\n"),
])
def test_unreadable_data_files(capsys, tmp_path, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    status, out, err = train(capsys, SOFTMAX, "--data", path)
    assert status == 1 and err == f"{tmp_path}/{expected}"


def test_model_errors_are_rendered_with_the_model_line(capsys, tmp_path):
    model = tmp_path / "m.graph"
    model.write_text("input x\noutput loss = mean(x * x)\n")
    data = tmp_path / "d.csv"
    data.write_text("x\n1\n2\n")
    status, out, err = train(capsys, model, "--data", data)
    assert status == 1
    assert err.startswith(f"{model}:2:15: error: the graph has no param to train")
    status, _, err = train(capsys, tmp_path / "nope.graph", "--data", data)
    assert status == 1 and err == f"graphrun train: error: {tmp_path}/nope.graph: no such file\n"


def test_a_diverging_run_exits_1_naming_the_gate(capsys, tmp_path):
    model = tmp_path / "m.graph"
    model.write_text("input x\nparam w = 1\noutput loss = mean(square(w * x - 1))\n")
    data = tmp_path / "d.csv"
    data.write_text("x\n1\n2\n")
    status, _, err = train(capsys, model, "--data", data, "--epochs", 1000, "--lr", 1000)
    assert status == 1 and "error: training diverged in epoch" in err and "Traceback" not in err


@pytest.mark.parametrize("flags,message", [
    (["--epochs", "-1"], "argument --epochs: must be at least 0, got -1"),
    (["--epochs", "ten"], "argument --epochs: expected a whole number, got 'ten'"),
    (["--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
    (["--lr", "0"], "argument --lr: must be a positive number, got 0"),
    (["--lr", "inf"], "argument --lr: must be a positive number, got inf"),
    (["--optimizer", "rmsprop"], "argument --optimizer: invalid choice: 'rmsprop'"),
    (["--momentum", "1.5"], "argument --momentum: must be at least 0 and below 1, got 1.5"),
    (["--save", "out.txt"], "argument --save: 'out.txt' should end in .npz"),
    # as graphrun --inputs-file does: the file's type is part of the command line
    (["--data", "data.txt"], "argument --data: 'data.txt' should end in .npz or .csv or .json"),
    (["--plot", "out.txt"], "argument --plot: 'out.txt' should end in .png"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
])
def test_bad_flags_are_usage_errors(capsys, flags, message):
    status, out, err = train(capsys, SOFTMAX, "--data", SPIRAL, *flags)
    assert status == 2 and out == "" and message in err


def test_data_is_required(capsys):
    status, _, err = train(capsys, SOFTMAX)
    assert status == 2 and "the following arguments are required: --data" in err


def test_help_exits_0(capsys):
    status, out, _ = train(capsys, "--help")
    assert status == 0 and "--batch-size" in out


def test_save_never_overwrites_the_data(capsys, tmp_path):
    data = tmp_path / "spiral.npz"
    data.write_bytes(Path(SPIRAL).read_bytes())
    status, _, err = train(capsys, SOFTMAX, "--data", data, "--epochs", 1, "--save", data)
    assert status == 2 and "refusing to overwrite" in err
    assert data.read_bytes() == Path(SPIRAL).read_bytes()


def test_outputs_into_a_missing_folder_fail_before_training(capsys, tmp_path):
    status, out, err = train(capsys, SOFTMAX, "--data", SPIRAL, "--save", tmp_path / "no" / "t.npz")
    assert status == 1 and "the folder" in err and "does not exist" in err and out == ""


@pytest.mark.parametrize("optimizer,words", [("adam", "adam, lr 0.1"), ("momentum", "momentum 0.9, lr 0.1")])
def test_the_loss_plot_is_titled_with_the_model_and_the_optimizer(capsys, tmp_path, optimizer, words):
    pytest.importorskip("matplotlib", reason="train --plot draws with matplotlib (the plot extra)")
    plot = tmp_path / "loss.png"
    status, _, err = train(capsys, SOFTMAX, "--data", SPIRAL, "--epochs", 3, "--lr", 0.1,
                           "--optimizer", optimizer, "--batch-size", 100, "--plot", plot)
    assert status == 0, err
    title = f"softmax_classifier.graph trained with {words}, batches of 100"
    assert f"tEXtTitle\0{title}".encode() in plot.read_bytes()  # the PNG's Title, as drawn over the plot
    svg = tmp_path / "loss.svg"
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text, to be read back
        assert train(capsys, SOFTMAX, "--data", SPIRAL, "--epochs", 3, "--lr", 0.1, "--optimizer",
                     optimizer, "--batch-size", 100, "--plot", svg)[0] == 0
    drawn = svg.read_text(encoding="utf-8")
    assert f">{title}</text>" in drawn and f"<dc:title>{title}</dc:title>" in drawn


# ---------------------------------------------------------------- through the installed graphrun
def test_help_of_graphrun_leads_to_train_and_train_lists_its_options():
    assert "graphrun train MODEL --data FILE [options]" in graphrun("--help").stdout
    text = graphrun("train", "--help").stdout
    for option in ("--inputs K=V,...", "--params FILE", "--force", "exit status: 0 success"):
        assert option in text


def test_inputs_binds_what_the_data_lacks():
    done = graphrun("train", SOFTMAX, "--data", SPIRAL, "--epochs", 5, "--lr", 1, "--inputs", "reg=0.5", "--json")
    assert done.returncode == 0 and done.stderr == ""
    expected = graphdsl.load(SOFTMAX).fit(read_data(SPIRAL), epochs=5, lr=1.0, inputs={"reg": 0.5})
    assert json.loads(done.stdout)["losses"] == expected.losses
    plain = graphdsl.load(SOFTMAX).fit(read_data(SPIRAL), epochs=5, lr=1.0)
    assert expected.losses != plain.losses
    done = graphrun("train", SOFTMAX, "--data", SPIRAL, "--inputs", "rge=0.5")
    assert done.returncode == 1 and "did you mean 'reg'?" in done.stderr and done.stderr.count("\n") == 1
    done = graphrun("train", SOFTMAX, "--data", SPIRAL, "--inputs", "reg=")
    assert done.returncode == 2 and "'reg=' has no value" in done.stderr


def test_params_resumes_training_where_it_stopped(tmp_path):
    saved = tmp_path / "trained.npz"
    common = ("train", SOFTMAX, "--data", SPIRAL, "--lr", 1, "--save", saved)
    assert graphrun(*common, "--epochs", 4).returncode == 0
    resumed = graphrun(*common, "--epochs", 6, "--params", saved, "--json")  # over its own --params
    assert resumed.returncode == 0, resumed.stderr
    straight = graphdsl.load(SOFTMAX).fit(read_data(SPIRAL), epochs=10, lr=1.0)  # full batch: no shuffle
    assert json.loads(resumed.stdout)["losses"] == straight.losses[4:]
    np.testing.assert_array_equal(read_data(saved)["W"], straight.params["W"])
    done = graphrun("train", SOFTMAX, "--data", SPIRAL, "--params", SPIRAL)
    assert done.returncode == 1 and "is not a param" in done.stderr


def test_a_learning_rate_that_blows_the_loss_up_is_warned_of():
    done = graphrun("train", SOFTMAX, "--data", SPIRAL, "--epochs", 20, "--lr", 1000)
    assert done.returncode == 0 and done.stdout.startswith("trained W, b for 20 epochs")
    with pytest.warns(graphdsl.DivergenceWarning):
        expected = graphdsl.load(SOFTMAX).fit(read_data(SPIRAL), epochs=20, lr=1000.0)
    assert done.stderr.startswith(f"graphrun train: warning: the loss blew up in epoch {expected.diverged_at}: ")
    assert done.stderr.endswith("the learning rate (1000) is probably too large\n") and done.stderr.count("\n") == 1
    json_done = graphrun("train", SOFTMAX, "--data", SPIRAL, "--epochs", 20, "--lr", 1000, "--json")
    assert json.loads(json_done.stdout)["diverged_at"] == expected.diverged_at
    quiet = graphrun("train", SOFTMAX, "--data", SPIRAL, "--epochs", 20, "--lr", 1)
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_save_and_plot_never_replace_what_they_do_not_write(tmp_path):
    data = tmp_path / "data.npz"
    data.write_bytes(Path(SPIRAL).read_bytes())
    other = tmp_path / "other.npz"
    other.write_bytes(Path(SPIRAL).read_bytes())  # another data set, not an input of this run
    script = tmp_path / "plot.png"
    script.write_text("import matplotlib\n")
    for option, path in (("--save", other), ("--plot", script)):
        done = graphrun("train", SOFTMAX, "--data", data, "--epochs", 1, option, path)
        assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
        assert done.stderr.startswith(f"graphrun train: error: refusing to overwrite '{path}' with {option}")
    assert other.read_bytes() == data.read_bytes() and script.read_text() == "import matplotlib\n"
    done = graphrun("train", SOFTMAX, "--data", data, "--epochs", 1, "--save", other, "--force")
    assert done.returncode == 0 and set(read_data(other)) == {"W", "b"}


def test_the_model_can_come_from_standard_input():
    done = graphrun("train", "-", "--data", SPIRAL, "--epochs", 2, "--json", stdin=Path(SOFTMAX).read_text())
    assert done.returncode == 0
    assert json.loads(done.stdout)["losses"] == graphdsl.load(SOFTMAX).fit(read_data(SPIRAL), epochs=2).losses
    done = graphrun("train", "-", "--data", SPIRAL, stdin="param w\noutput loss = w ≥ 0\n")
    assert done.returncode == 1 and done.stderr.startswith("<stdin>:2:17: error: '≥' is not an operator here: write '>='")
