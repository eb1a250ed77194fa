"""graphrun --batch FILES --dask ADDRESS --out DIR and graphrun train --data FILES --dask, on
the session's two-process LocalCluster: outputs equal run_batch's, written atomically,
one Parquet file per input file; a worker killed mid-run; bad rows named."""
import io
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import graphdsl
from graphdsl.cli.graphrun import main
from graphrun_subprocess import graphrun

pq = pytest.importorskip("pyarrow.parquet", reason="needs graphdsl[dask] (pyarrow)")
pa = pytest.importorskip("pyarrow", reason="needs graphdsl[dask] (pyarrow)")
pytest.importorskip("distributed", reason="needs graphdsl[dask] (distributed)")

MODEL = "input x\ninput v: [2]\nparam w = 2\noutput f = w * sigmoid(x) + sum(v * v)\n"
LINEAR = "input x, y\nparam w = 0, b = 0\noutput loss = mean(square(w * x + b - y))\n"


def _files(folder, sizes, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(exist_ok=True)
    rows = []
    for i, n in enumerate(sizes):
        x, v = rng.normal(size=n), rng.normal(size=(n, 2))
        pq.write_table(pa.table({"x": x, "v[0]": v[:, 0], "v[1]": v[:, 1]}), folder / f"p{i:02d}.parquet")
        rows.append((x, v))
    return rows


def _table(path) -> dict:
    return {name: column.to_numpy() for name, column in zip(pq.read_table(path).column_names,
                                                             pq.read_table(path).columns)}


def test_outputs_and_gradients_per_partition(tmp_path, dask_client, capsys):
    (tmp_path / "m.graph").write_text(MODEL)
    rows = _files(tmp_path / "data", [7, 5, 9])
    (tmp_path / "data" / "q.csv").write_text("x,v,v\n1,2,3\n0.5,1,1\n")
    args = [str(tmp_path / "m.graph"), "--batch", str(tmp_path / "data" / "*"), "--dask",
            dask_client.scheduler.address, "--out", str(tmp_path / "out")]
    assert main(args) == 0
    assert capsys.readouterr().out == f"wrote 4 partitions (23 rows) to {tmp_path / 'out'}\n"
    assert sorted(os.listdir(tmp_path / "out")) == ["p00.parquet", "p01.parquet", "p02.parquet", "q.parquet"]
    prog = graphdsl.loads(MODEL)
    for i, (x, v) in enumerate(rows):
        table, batch = _table(tmp_path / "out" / f"p{i:02d}.parquet"), prog.run_batch(x=x, v=v)
        assert list(table) == ["f", "df/dx", "df/dv[0]", "df/dv[1]", "df/dw"]
        np.testing.assert_array_equal(table["f"], batch.outputs["f"])
        np.testing.assert_array_equal(table["df/dv[1]"], batch.grads["v"][:, 1])
        np.testing.assert_array_equal(table["df/dw"], batch.grads["w"])
    csv = _table(tmp_path / "out" / "q.parquet")
    assert csv["df/dv[0]"].tolist() == [4.0, 2.0] and csv["f"][1] == pytest.approx(2 / (1 + np.exp(-0.5)) + 2)
    # a rerun finds every partition written for this model and these files
    assert main(args) == 0
    assert capsys.readouterr().out == f"wrote 0 partitions to {tmp_path / 'out'}; all 4 already there\n"
    # another param value is another model: written again
    assert main(args + ["--inputs", "w=3", "--no-grad"]) == 0
    assert "wrote 4 partitions" in capsys.readouterr().out
    assert list(_table(tmp_path / "out" / "q.parquet")) == ["f"]


def test_an_interrupted_run_is_completed(tmp_path, dask_client, capsys):
    """What a killed run leaves (finished partitions, a worker's temporary file) is
    completed by a rerun: the temporary file goes, the finished ones are kept."""
    (tmp_path / "m.graph").write_text(MODEL)
    _files(tmp_path / "data", [4, 4, 4])
    args = [str(tmp_path / "m.graph"), "--batch", str(tmp_path / "data" / "*.parquet"), "--dask",
            dask_client.scheduler.address, "--out", str(tmp_path / "out")]
    assert main(args) == 0
    os.remove(tmp_path / "out" / "p01.parquet")
    (tmp_path / "out" / ".p01.parquet.x7f3.tmp").write_bytes(b"PAR1 half")
    kept = os.stat(tmp_path / "out" / "p00.parquet").st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    assert capsys.readouterr().out == f"wrote 1 partition (4 rows) to {tmp_path / 'out'}; 2 already there\n"
    assert sorted(os.listdir(tmp_path / "out")) == ["p00.parquet", "p01.parquet", "p02.parquet"]
    assert os.stat(tmp_path / "out" / "p00.parquet").st_mtime_ns == kept


def test_a_worker_killed_mid_run(tmp_path, dask_client):
    """SIGKILL one of the two workers once the first partition is written: Dask runs its
    tasks again elsewhere, and every partition ends up written whole."""
    (tmp_path / "m.graph").write_text(MODEL)
    rows = _files(tmp_path / "data", [30_000] * 10, seed=3)
    out = tmp_path / "out"
    pids = dask_client.run(os.getpid)
    killed, finished = [], threading.Event()

    def kill_one():
        while not finished.is_set() and not (out.is_dir() and any(n.endswith(".parquet") and not n.startswith(".")
                                                                    for n in os.listdir(out))):
            time.sleep(0.01)
        if finished.is_set():
            return
        victim = next(iter(pids.values()))
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)

    killer = threading.Thread(target=kill_one)
    killer.start()
    # (in a process of its own, as a user runs it: not a second client in the tests' process)
    done = graphrun(str(tmp_path / "m.graph"), "--batch", str(tmp_path / "data" / "*.parquet"), "--dask",
                    dask_client.scheduler.address, "--out", str(out))
    finished.set()
    killer.join()
    assert killed and done.returncode == 0, done.stderr
    assert sorted(os.listdir(out)) == [f"p{i:02d}.parquet" for i in range(10)]
    prog = graphdsl.loads(MODEL)
    for i in (0, 9):
        x, v = rows[i]
        np.testing.assert_array_equal(_table(out / f"p{i:02d}.parquet")["df/dx"], prog.run_batch(x=x, v=v).grads["x"])
    dask_client.wait_for_workers(2, timeout=60)  # the nanny restarts it, for the tests after this one


def test_bad_rows_are_named(tmp_path, dask_client, capsys):
    (tmp_path / "m.graph").write_text(MODEL)
    (tmp_path / "bad.csv").write_text("x,v,v\n1,2,3\n0.5,oops,1\n")
    address = dask_client.scheduler.address
    assert main([str(tmp_path / "m.graph"), "--batch", str(tmp_path / "bad.csv"), "--dask", address,
                 "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{tmp_path / 'bad.csv'}:3:5: error: column 'v': 'oops' is not a number", "    0.5,oops,1", "        ^"]
    pq.write_table(pa.table({"x": pa.array([1.0, None, 2.0]), "v[0]": [1.0, 2, 3], "v[1]": [1.0, 2, 3]}),
                   tmp_path / "nulls.parquet")
    assert main([str(tmp_path / "m.graph"), "--batch", str(tmp_path / "nulls.parquet"), "--dask", address,
                 "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == f"{tmp_path / 'nulls.parquet'}: error: row 1: column 'x' is empty (null)\n"
    assert os.listdir(tmp_path / "out") == []  # nothing half-written


def test_usage_errors(tmp_path):
    model = str(tmp_path / "m.graph")
    (tmp_path / "m.graph").write_text(MODEL)
    for args, message in (([model, "--dask", "local"], "--dask evaluates the rows of --batch FILES"),
                          ([model, "--batch", "x.csv", "--dask", "local"], "it needs --batch and --out DIR"),
                          ([model, "--batch", "x.csv", "--out", "o"], "--out DIR is where --dask writes")):
        done = graphrun(*args)
        assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1


def test_a_progress_bar_on_a_terminal(tmp_path, dask_client, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    (tmp_path / "m.graph").write_text(MODEL)
    _files(tmp_path / "data", [3, 4])
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main([str(tmp_path / "m.graph"), "--batch", str(tmp_path / "data" / "*.parquet"), "--dask",
                 dask_client.scheduler.address, "--out", str(tmp_path / "out")]) == 0
    shown = terminal.getvalue()
    assert shown.startswith("\r[" + "." * 30 + "] 0/2 partitions, 0 rows")
    assert shown.endswith("\r[" + "#" * 30 + "] 2/2 partitions, 7 rows\n")
    assert capsys.readouterr().out == f"wrote 2 partitions (7 rows) to {tmp_path / 'out'}\n"
    done = graphrun("train", tmp_path / "m.graph", "--data", tmp_path / "data" / "p00.parquet")
    assert done.returncode == 2 and done.stderr == (
        "graphrun train: error: --data: .parquet files are read with --dask (local, or a scheduler's address)\n")


def test_without_the_extra(tmp_path):
    """--dask without dask installed says which extra to install, in one line (exit 1)."""
    (tmp_path / "m.graph").write_text(MODEL)
    _files(tmp_path / "data", [3])
    script = ("import sys\nsys.modules['distributed'] = None\nsys.modules['dask'] = None\n"
              "from graphdsl.cli.graphrun import main\n"
              f"sys.exit(main([{str(tmp_path / 'm.graph')!r}, '--batch', {str(tmp_path / 'data' / '*')!r}, "
              f"'--dask', 'local', '--out', {str(tmp_path / 'out')!r}]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == ("graphrun: error: --dask needs graphdsl's dask extra, which is not installed: "
                           "pip install 'graphdsl[dask]'\n")


def test_train_on_files(tmp_path, dask_client):
    (tmp_path / "lin.graph").write_text(LINEAR)
    rng = np.random.default_rng(1)
    (tmp_path / "tr").mkdir()
    xs, ys = [], []
    for i in range(3):
        x = rng.normal(size=40)
        y = 2 * x - 1 + 0.1 * rng.normal(size=40)
        pq.write_table(pa.table({"x": x, "y": y}), tmp_path / "tr" / f"p{i}.parquet")
        xs.append(x)
        ys.append(y)
    history = graphdsl.loads(LINEAR).fit({"x": np.concatenate(xs), "y": np.concatenate(ys)}, epochs=2,
                                         batch_size=40, lr=0.1)
    done = graphrun("train", tmp_path / "lin.graph", "--data", tmp_path / "tr" / "*.parquet", "--dask",
                    dask_client.scheduler.address, "--epochs", 2, "--batch-size", 40, "--lr", 0.1,
                    "--save", tmp_path / "w.npz")
    assert done.returncode == 0, done.stderr
    saved = np.load(tmp_path / "w.npz")
    for name in ("w", "b"):
        assert float(saved[name]) == pytest.approx(history.params[name], rel=1e-9)
    x = np.concatenate(xs)
    x[50] = np.nan
    pq.write_table(pa.table({"x": x[40:80], "y": np.concatenate(ys)[40:80]}), tmp_path / "tr" / "p1.parquet")
    done = graphrun("train", tmp_path / "lin.graph", "--data", tmp_path / "tr" / "*.parquet", "--dask",
                    dask_client.scheduler.address, "--batch-size", 40)
    assert done.returncode == 1
    assert done.stderr == (f"{tmp_path / 'tr' / '*.parquet'}: error: input 'x' holds nan at sample 50 "
                           f"({tmp_path / 'tr' / 'p1.parquet'}, row 10)\n")
