"""Program.to_python and graphrun export: a standalone module (numpy only) that gives
run()'s numbers, also in a fresh environment without graphdsl."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphdsl
from graphdsl.cli import graphrun as cli
from tests.gate_cases import PROGRAMS

ROOT = Path(__file__).resolve().parents[2]


EXAMPLES = sorted((ROOT / "examples").glob("*.graph"))


def module(prog, of=None) -> dict:
    namespace: dict = {}
    exec(compile(prog.to_python(of=of), prog.file, "exec"), namespace)  # noqa: S102 -- our own output
    return namespace


def same(got, want) -> None:
    """The same bits; a transcendental step may differ by an ulp (it does not here)."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape
    if not np.array_equal(got, want, equal_nan=True):
        np.testing.assert_array_max_ulp(got, want, maxulp=1)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_gives_the_numbers_of_run(path):
    prog = graphdsl.load(path)
    mod = module(prog)
    result = prog.run()
    for name, value in mod["forward"]().items():
        same(value, result.outputs[name])
    outputs, grads = mod["value_and_grad"]()
    assert list(outputs) == [prog.outputs[0]] and list(grads) == list(prog.inputs + prog.params)
    same(outputs[prog.outputs[0]], result.outputs[prog.outputs[0]])
    for name in grads:
        same(grads[name], result.grads[name])


@pytest.mark.parametrize("case", range(len(PROGRAMS)))
def test_bindings_and_every_output(case):
    text, bindings = PROGRAMS[case]
    prog = graphdsl.loads(text)
    for of in prog.outputs:
        outputs, grads = module(prog, of)["value_and_grad"](**bindings)
        result = prog.run(bindings, of=of)
        same(outputs[of], result.outputs[of])
        for name in grads:
            same(grads[name], result.grads[name])


def test_the_code_reads_straight_down_with_its_lines():
    source = graphdsl.load(ROOT / "examples" / "mul_add.graph").to_python()
    assert "import graphdsl" not in source and "from graphdsl" not in source
    assert "def forward(x=-2.0, y=5.0, z=-4.0):" in source
    assert "    q = x + y  # line 3: q = x + y\n" in source
    assert "# from line 4: f = q * z" in source
    mod = module(graphdsl.load(ROOT / "examples" / "mul_add.graph"))
    assert mod["forward"](x=1.0) == {"f": -24.0}
    assert mod["value_and_grad"](z=2.0) == ({"f": 6.0}, {"x": 2.0, "y": 2.0, "z": 3.0})


def test_inputs_without_defaults_come_first():
    prog = graphdsl.loads("input a = 2, b\nparam w = 0.5\noutput f = a * b * w")
    mod = module(prog)
    assert mod["forward"](3.0) == {"f": 3.0}
    assert mod["value_and_grad"](b=3.0)[1] == {"a": 1.5, "b": 1.0, "w": 6.0}


def test_export_writes_the_module(capsys, tmp_path):
    out = tmp_path / "norm.py"
    assert cli.main(["export", str(ROOT / "examples" / "vector_norm.graph"), "--python", str(out)]) == 0
    assert out.read_text() == graphdsl.load(ROOT / "examples" / "vector_norm.graph").to_python()
    assert cli.main(["export", str(ROOT / "examples" / "mul_add.graph"), "--python", str(out), "--of", "f"]) == 0
    other = tmp_path / "mine.py"
    other.write_text("print('mine')\n")
    assert cli.main(["export", str(ROOT / "examples" / "mul_add.graph"), "--python", str(other)]) == 2
    assert other.read_text() == "print('mine')\n"
    assert cli.main(["export", str(ROOT / "examples" / "mul_add.graph"), "--python", str(out), "--of", "g"]) == 2  # a usage error
    assert cli.main(["export", str(ROOT / "examples" / "mul_add.graph")]) == 2
    err = capsys.readouterr().err
    assert "--of g: not an output" in err and "--python" in err and "Traceback" not in err


@pytest.fixture(scope="session")
def numpy_only(tmp_path_factory):
    """A fresh virtual environment with numpy alone (no graphdsl, no site packages)."""
    where = tmp_path_factory.mktemp("numpy_only") / "venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, capture_output=True, timeout=120)
        subprocess.run([str(where / "bin" / "python"), "-m", "pip", "install", "-q", "numpy"], check=True,
                       capture_output=True, timeout=300)
    except (subprocess.SubprocessError, OSError) as err:
        pytest.skip(f"cannot make a virtual environment with numpy here: {err}")
    return where / "bin" / "python"


@pytest.mark.parametrize("name", ["mul_add", "two_layer_net", "logistic_map"])
def test_the_module_runs_where_only_numpy_is(numpy_only, tmp_path, name):
    path = ROOT / "examples" / f"{name}.graph"
    (tmp_path / "model.py").write_text(graphdsl.load(path).to_python())
    script = ("import json, numpy as np, model\n"
              "try:\n    import graphdsl\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit('graphdsl is here')\n"
              "out, grads = model.value_and_grad()\n"
              "print(json.dumps({k: np.asarray(v).tolist() for k, v in {**out, **grads}.items()}))\n")
    done = subprocess.run([str(numpy_only), "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    result = graphdsl.load(path).run()
    of = graphdsl.load(path).outputs[0]
    same(got[of], result.outputs[of])
    for leaf, grad in result.grads.items():
        same(got[leaf], grad)


def test_names_that_python_or_the_module_reserve_are_renamed():
    prog = graphdsl.loads("input x = 2\nlambda = x * 3\n_out = lambda + 1\nnp = _out * x\nUB = np - 1\noutput f = UB * UB")
    outputs, grads = module(prog)["value_and_grad"](x=1.5)
    result = prog.run(x=1.5)
    assert outputs == {"f": result.outputs["f"]} and grads == {"x": result.grads["x"]}
