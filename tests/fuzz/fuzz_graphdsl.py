"""Coverage-guided fuzzing of graphdsl's entry points with atheris (by hand, not in CI).

    pip install atheris
    GRAPHDSL_FUZZ_TARGET=text python tests/fuzz/fuzz_graphdsl.py -max_total_time=600 CORPUS_DIR

Targets (GRAPHDSL_FUZZ_TARGET): ``text`` (the default) loads the input as a .graph
file and, when it loads, runs run/forward/jvp/check_gradients/run_batch on it;
``cli`` runs graphrun in-process on a command line made from the input; ``data``
reads the input as a .json, .csv or .npz data file. An empty CORPUS_DIR is seeded
with the examples. Anything but success or a GraphError (API), or an exit status
of 0, 1 or 2 without "internal error" (CLI), is a crash that atheris reports with
the input that caused it; libFuzzer's last line says how many inputs it ran
("Done N runs in T second(s)").
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["graphdsl", "lark"]):
    import numpy as np

    import graphdsl
    from graphdsl.cli import graphrun as cli
    from graphdsl.train.datafiles import read_data

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MAX_NODES = 20_000  # keeps every input fast; the limit itself is tested in test_limits
WORKSPACE = Path(tempfile.mkdtemp(prefix="graphdsl-fuzz-"))


def fuzz_text(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        prog = graphdsl.loads(text, "fuzz.graph", max_nodes=MAX_NODES)
    except graphdsl.GraphError:
        return
    bindings = {name: 0.5 for name in prog.inputs + prog.params if name not in prog.defaults()}
    everything = {**prog.defaults(), **bindings}
    tangents = {k: np.ones_like(v) for k, v in everything.items()}
    for entry in (lambda: prog.run(bindings), lambda: prog.run(bindings, check_finite=True),
                  lambda: prog.forward(bindings), lambda: prog.jvp(everything, tangents),
                  lambda: prog.check_gradients(bindings),
                  lambda: prog.run_batch({k: np.stack([v, v]) for k, v in everything.items()})):
        try:
            entry()
        except graphdsl.GraphError:
            pass


FLAGS = ["--inputs", "--inputs-file", "--params", "--batch", "--of", "--no-grad", "--json", "--explain",
         "--check", "--check-finite", "--dot", "--render", "--max-nodes", "--version", "-", "train",
         "--epochs", "--batch-size", "--lr", "--optimizer", "--data", "--save", "--seed", "--plot"]
VALUES = ["x=1", "x=[1,2]", "x=nan", "W=[[1,2],[3,4]]", "model.graph", "data.json", "rows.csv",
          "out.dot", "out.svg", "-", "2", "0", "-1", "sgd", "adam", "f"]
SEEDS = [path.read_text(encoding="utf-8") for path in sorted(EXAMPLES.glob("*.graph"))]


def fuzz_cli(data: bytes) -> None:
    """graphrun on an example (or fuzzed) model, with a fuzzed list of flags and values."""
    fdp = atheris.FuzzedDataProvider(data)
    model = fdp.PickValueInList(SEEDS) if fdp.ConsumeBool() else fdp.ConsumeUnicodeNoSurrogates(300)
    (WORKSPACE / "model.graph").write_text(model, encoding="utf-8")
    (WORKSPACE / "data.json").write_text('{"x": [1, 2]}', encoding="utf-8")
    (WORKSPACE / "rows.csv").write_text("x\n1\n2\n", encoding="utf-8")
    argv = ["model.graph"]
    for _ in range(fdp.ConsumeIntInRange(0, 6)):
        argv.append(fdp.PickValueInList(FLAGS))
        if fdp.ConsumeBool():
            argv.append(fdp.PickValueInList(VALUES) if fdp.ConsumeBool() else
                        fdp.ConsumeUnicodeNoSurrogates(12).replace("\x00", ""))
    argv += ["--max-nodes", str(MAX_NODES)] if argv[1:2] != ["train"] else ["--epochs", "2"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(argv)
    if status not in (0, 1, 2, 130) or "internal error" in err.getvalue() or "Traceback" in err.getvalue():
        raise AssertionError(f"graphrun {argv!r} -> {status}: {err.getvalue()}")


def fuzz_data(data: bytes) -> None:
    suffix = (".json", ".csv", ".npz")[data[0] % 3] if data else ".json"
    path = WORKSPACE / f"data{suffix}"
    path.write_bytes(data[1:])
    try:
        read_data(path)
    except graphdsl.GraphError:
        pass


TARGETS = {"text": fuzz_text, "cli": fuzz_cli, "data": fuzz_data}


def main() -> None:
    target = TARGETS[os.environ.get("GRAPHDSL_FUZZ_TARGET", "text")]

    def one_input(data: bytes) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a numpy warning reaching the user is a bug too
            target(data)

    argv = [sys.argv[0]]
    for arg in sys.argv[1:]:  # corpus directories: absolute, created, seeded with the examples
        if not arg.startswith("-"):
            arg = str(Path(arg).resolve())
            Path(arg).mkdir(parents=True, exist_ok=True)
            if not any(Path(arg).iterdir()):
                for example in EXAMPLES.glob("*.graph"):
                    shutil.copy(example, arg)
        argv.append(arg)
    os.chdir(WORKSPACE)  # graphrun may write --dot/--render files: keep them here
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
