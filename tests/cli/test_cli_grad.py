"""graphrun grad: the derivative program as .graph text, runnable and differentiable again."""
from __future__ import annotations

import json
from pathlib import Path

from graphdsl.cli import graphrun as cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_prints_the_derivative_program(capsys):
    status, out, err = run(capsys, "grad", EXAMPLES / "mul_add.graph")
    assert status == 0 and err == ""
    assert out == ("# f(x, y, z) = (x + y) * z -- the lecture's first backprop example\n"
                   "input x: [] = -2, y: [] = 5, z: [] = -4\n"
                   "q = x + y\n"
                   "f = q * z\n"
                   "df_dx = z  # from line 3: q = x + y\n"
                   "df_dy = z  # from line 3: q = x + y\n"
                   "df_dz = q  # from line 4: f = q * z\n"
                   "output f, df_dx, df_dy, df_dz\n")


def test_the_written_file_runs_to_the_same_numbers(capsys, tmp_path):
    for name in ("mul_add", "logistic_map", "two_layer_net", "sigmoid_neuron"):
        out_file = tmp_path / f"{name}_grad.graph"
        assert run(capsys, "grad", EXAMPLES / f"{name}.graph", "-o", out_file)[0] == 0
        _, model, _ = run(capsys, EXAMPLES / f"{name}.graph", "--json")
        _, derived, _ = run(capsys, out_file, "--json", "--no-grad")
        model, derived = json.loads(model), json.loads(derived)["outputs"]
        of = next(iter(model["outputs"]))
        assert derived[of] == model["outputs"][of]
        for leaf, grad in model["gradients"].items():
            assert derived[f"d{of}_d{leaf}"] == grad


def test_grad_of_a_gradient_file_gives_second_derivatives(capsys, tmp_path):
    first = tmp_path / "first.graph"
    assert run(capsys, "grad", EXAMPLES / "logistic_map.graph", "-o", first)[0] == 0
    status, out, _ = run(capsys, "grad", first, "--of", "df_dx", "--wrt", "x")
    assert status == 0 and out.endswith("output df_dx, ddf_dx_dx\n")
    second = tmp_path / "second.graph"
    second.write_text(out)
    _, result, _ = run(capsys, second, "--json", "--no-grad")
    assert json.loads(result)["outputs"]["ddf_dx_dx"] == -151.90425599999992


def test_errors(capsys, tmp_path):
    status, _, err = run(capsys, "grad", EXAMPLES / "mul_add.graph", "--wrt", "x,w")  # usage errors: exit 2
    assert status == 2 and err.endswith("error: --wrt w: not an input or param of "
                                        f"{EXAMPLES / 'mul_add.graph'} (they are: x, y, z)\n")
    status, _, err = run(capsys, "grad", EXAMPLES / "mul_add.graph", "--of", "g")
    assert status == 2 and "--of g: not an output" in err
    status, _, err = run(capsys, "export", EXAMPLES / "mul_add.graph", "--python", tmp_path / "m.py", "--of", "g")
    assert status == 2 and "--of g: not an output" in err and not (tmp_path / "m.py").exists()
    status, _, err = run(capsys, "grad", EXAMPLES / "mul_add.graph", "--wrt", "x,,y")
    assert status == 2 and "--wrt" in err
    status, _, err = run(capsys, "grad", tmp_path / "missing.graph")
    assert status == 1 and "missing.graph" in err
    bad = tmp_path / "bad.graph"
    bad.write_text("input x\noutput f = x +\n")
    status, _, err = run(capsys, "grad", bad)
    assert status == 1 and "bad.graph:2:" in err and "Traceback" not in err
    status, _, _ = run(capsys, "grad")
    assert status == 2


def test_output_is_written_atomically_and_never_over_the_model(capsys, tmp_path):
    model = tmp_path / "m.graph"
    model.write_text((EXAMPLES / "mul_add.graph").read_text())
    status, _, err = run(capsys, "grad", model, "-o", model)
    assert status == 2 and "inputs" in err
    assert model.read_text() == (EXAMPLES / "mul_add.graph").read_text()
    target = tmp_path / "g.graph"
    assert run(capsys, "grad", model, "-o", target)[0] == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert target.read_text().startswith("# f(x, y, z)")


def test_output_replaces_a_derivative_program_but_no_other_model_without_force(capsys, tmp_path):
    other = tmp_path / "other.graph"
    other.write_text("input a\noutput b = a * 2\n")
    status, _, err = run(capsys, "grad", EXAMPLES / "mul_add.graph", "-o", other)
    assert status == 2 and "--force replaces it" in err and other.read_text() == "input a\noutput b = a * 2\n"
    assert run(capsys, "grad", EXAMPLES / "mul_add.graph", "-o", other, "--force")[0] == 0
    assert "df_dz = q  # from line 4" in other.read_text()
    assert run(capsys, "grad", EXAMPLES / "mul_add.graph", "--of", "f", "-o", other)[0] == 0  # its own kind: rewritten
