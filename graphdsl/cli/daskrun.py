"""``graphrun MODEL --batch 'data/*.parquet' --dask local|ADDRESS --out DIR`` and
``graphrun train MODEL --data 'data/*.parquet' --dask ...``: the files' rows on a Dask cluster.

Each input file is one partition and one task: a worker reads it, runs the vectorised
batch evaluator on its rows and writes ``DIR/<its name>.parquet`` through a temporary
file renamed into place, so that a file in DIR is always whole. A rerun skips the
partitions already written for the same model, inputs and options (their Parquet
metadata says so), which is how an interrupted run is completed. Dask, distributed and
pyarrow are imported here only, and only when ``--dask`` is given.
"""
from __future__ import annotations

import glob
import hashlib
import os
import pickle
import re
import sys
import tempfile
import uuid
from pathlib import Path

import numpy as np

from .console import CommandError, UsageError
from ..errors import DataError, DataFileError, GraphError

EXTRA = "--dask needs graphdsl's dask extra, which is not installed: pip install 'graphdsl[dask]'"
SUFFIXES = (".parquet", ".csv")
TAG = b"graphdsl.partition"  # Parquet metadata: what made the file (see _tag)
_COLUMN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$")


def check_options(args) -> None:
    """--dask and --out go together, with --batch (exit 2 otherwise)."""
    if args.dask and not (args.batch and args.out):
        raise UsageError("--dask evaluates the rows of --batch FILES on a cluster: it needs "
                         "--batch and --out DIR")
    if args.out and not args.dask:
        raise UsageError("--out DIR is where --dask writes its Parquet partitions: it needs --dask")
    if args.dask and args.json:
        raise UsageError("--dask writes Parquet files under --out: it cannot be combined with --json")


def client_for(address: str):
    """A distributed Client: a LocalCluster for ``local``, else the scheduler at ADDRESS."""
    try:
        import pyarrow  # noqa: F401  (the workers write Parquet; say so before starting anything)
        from distributed import Client, LocalCluster
    except ImportError:
        raise CommandError(EXTRA) from None
    if address == "local":
        return Client(LocalCluster(dashboard_address=":0", processes=True))
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as err:
        raise CommandError(f"--dask {address}: cannot reach a Dask scheduler there ({err})") from None


def input_files(pattern: str, option: str) -> list:
    """The files of a glob (or one name), sorted; .parquet or .csv only."""
    files = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
    if not files:
        raise CommandError(f"{option} {pattern}: no file matches")
    for name in files:
        if Path(name).suffix.lower() not in SUFFIXES:
            raise UsageError(f"{option} {name}: with --dask the files must be .parquet or .csv")
        if not Path(name).is_file():
            raise CommandError(f"{name}: no such file")
    return files


def run_batch(prog, args, shared: dict) -> int:
    """``graphrun --batch FILES --dask ... --out DIR``: one Parquet file per input file."""
    files = input_files(args.batch, "--batch")
    out = Path(args.out)
    if not out.is_dir():
        if out.exists() or not out.parent.is_dir():
            raise CommandError(f"--out {out}: not a folder (its parent folder must exist)")
        out.mkdir()
    targets = [out / (Path(name).stem + ".parquet") for name in files]
    if len(set(targets)) < len(targets):
        raise UsageError("--batch: two input files have the same name; their outputs would collide in --out")
    for name, target in zip(files, targets):
        if os.path.exists(target) and os.path.samefile(name, target):
            raise UsageError(f"refusing to overwrite '{target}' with --out: it is one of the command's inputs")
    _remove_stale(out)
    model = hashlib.sha256(pickle.dumps((prog, args.of, args.no_grad, sorted(shared.items(), key=str)))).hexdigest()
    todo = []
    for name, target in zip(files, targets):
        tag = _tag(model, name)
        held = _held_tag(target)
        if held == tag:
            continue
        if held is None and target.exists() and not args.force:
            raise UsageError(f"refusing to overwrite '{target}' with --out: it is not a partition graphrun "
                             f"wrote (--force replaces it)")
        todo.append((name, str(target), tag))
    if not todo:
        print(f"wrote 0 partitions to {out}; all {len(files)} already there")
        return 0
    client = client_for(args.dask)
    try:
        rows, problem = _evaluate(client, prog, todo, args, shared)
    finally:
        client.close()
    _remove_stale(out)  # (a worker killed while writing left its temporary file; the task ran again)
    if problem is not None:  # already rendered on the worker, as graphrun reports a data file's error
        print(problem, file=sys.stderr)
        return 1
    skipped = len(files) - len(todo)
    print(f"wrote {len(todo)} partition{'s' * (len(todo) != 1)} ({rows:,} rows) to {out}"
          + (f"; {skipped} already there" if skipped else ""))
    return 0


def train(prog, inputs, args, fit):
    """``graphrun train --data FILES --dask ...``: ``fit(prog, data, inputs, args, client)``
    on a dask DataFrame of the files; a bad sample is named with its file and row."""
    files = input_files(args.data, "--data")
    kinds = {Path(name).suffix.lower() for name in files}
    if len(kinds) > 1:
        raise UsageError("--data: give .parquet files or .csv files, not both")
    client = client_for(args.dask)
    try:
        import dask.dataframe as dd

        data = dd.read_parquet(files) if ".parquet" in kinds else dd.read_csv(files)
        try:
            return fit(prog, data, inputs, args, client)
        except DataError as err:
            if err.row is None:
                raise
            raise DataError(f"{err.message} ({_row_in(files, err.row)})", err.input, err.row) from None
        except (ValueError, TypeError) as err:  # pandas' and pyarrow's: a cell that is no number
            raise CommandError(f"--data {args.data}: not numbers: {str(err).splitlines()[0]}") from None
    finally:
        client.close()


def _row_in(files: list, row: int) -> str:
    """Which file, and which row of it, sample ``row`` of all the files is."""
    start = 0
    for name in files:
        if name.lower().endswith(".parquet"):
            import pyarrow.parquet as pq

            count = pq.read_metadata(name).num_rows
        else:
            with open(name, "rb") as file:
                count = sum(1 for line in file if line.strip()) - 1
        if row < start + count:
            return f"{name}, row {row - start}"
        start += count
    return f"sample {row}"


def _evaluate(client, prog, todo: list, args, shared: dict) -> int:
    from distributed import as_completed

    # Pickled once, into a task of its own that gives it back: each worker fetches its result
    # once, and a worker that dies with it does not lose it (scattered data would be lost).
    program = client.submit(_given, prog, key=f"graphdsl-program-{uuid.uuid4().hex}")
    futures = [client.submit(partition, program, name, target, tag, args.of, args.no_grad, shared,
                             key=f"graphdsl-partition-{tag.hex()}", retries=1) for name, target, tag in todo]
    bar = _Bar(len(todo)) if sys.stderr.isatty() else None
    rows = 0
    try:
        for future in as_completed(futures):
            try:
                status, value = future.result()
            except Exception as err:  # the cluster's own failure (its retries spent): no traceback
                client.cancel(futures)
                raise CommandError(f"the Dask cluster failed ({type(err).__name__}: {err}); the partitions "
                                   f"written so far are whole, and a rerun completes the rest") from None
            if status == "error":
                client.cancel(futures)
                return rows, value
            rows += value
            if bar:
                bar.advance(rows)
    finally:
        if bar:
            bar.close()
    return rows, None


class _Bar:
    def __init__(self, total: int):
        self.total, self.done = total, 0
        self.advance(0, count=False)

    def advance(self, rows: int, count: bool = True) -> None:
        self.done += count
        width = 30
        filled = width * self.done // max(self.total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                         f"partitions, {rows:,} rows")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


def _remove_stale(out: Path) -> None:
    """The temporary files of workers killed while writing (never a partition: those are
    renamed into place whole)."""
    for stale in out.glob(".*.parquet.*.tmp"):
        stale.unlink(missing_ok=True)


def _tag(model: str, name: str) -> bytes:
    """What a partition's output is made of: the model and options, the input file's bytes
    (by size and change time)."""
    status = os.stat(name)
    return hashlib.sha256(f"{model}:{os.path.abspath(name)}:{status.st_size}:{status.st_mtime_ns}"
                          .encode()).hexdigest().encode()


def _held_tag(target: Path):
    """The tag of an output written earlier; b"" for a Parquet file of graphrun's with
    another tag; None when there is no such file."""
    if not target.is_file():
        return None
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(target).metadata or {}
    except Exception:  # not a Parquet file at all
        return None
    return metadata.get(TAG, None if TAG not in metadata else b"")


# ---------------------------------------------------------------- on a worker
def _given(value):
    return value


def partition(program, name: str, target: str, tag: bytes, of, no_grad: bool, shared: dict) -> tuple:
    """Read one input file, evaluate its rows, write its outputs: ``("ok", rows)`` or
    ``("error", one line)`` (errors travel as text: the client prints them)."""
    try:
        rows = read_rows(name)
        batch = program.run_batch(rows, of=of, shared=shared)
    except DataFileError as err:
        return "error", err.render() if err.span is not None else \
            f"{name}: error: {err.message.removeprefix(name + ': ')}"
    except GraphError as err:
        return "error", f"{name}: error: {err.message}"
    columns = {name: batch.outputs[name] for name in program.outputs}
    if not no_grad:
        columns.update({f"d{batch.of}/d{leaf}": batch.grads[leaf] for leaf in program.inputs + program.params})
    write_parquet(target, columns, batch.rows, {TAG: tag, b"graphdsl.source": os.path.abspath(name).encode()})
    return "ok", batch.rows


def read_rows(name: str) -> dict:
    """An input file's columns: ``x``, or ``X[0]``, ``X[1]``... (the entries of each row's
    X) for Parquet; CSV as ``graphrun --batch`` reads it (a name repeated per column)."""
    if name.lower().endswith(".csv"):
        from ..train.datafiles import read_csv

        return read_csv(name)
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(name)
    except Exception as err:  # pyarrow's own errors: a file that is not Parquet
        raise DataFileError(f"{name}: not a readable Parquet file ({err})") from None
    groups: dict = {}
    for column in table.column_names:
        match = _COLUMN.match(column)
        if match is None:
            raise DataFileError(f"{name}: bad column name '{column}' (expected an input name, or "
                                f"name[i] for an entry of each row's array)")
        values = table.column(column)
        if values.null_count:
            row = int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0])
            raise DataFileError(f"row {row}: column '{column}' is empty (null)")
        try:
            array = values.to_numpy().astype(np.float64)
        except (ValueError, TypeError):
            raise DataFileError(f"{name}: column '{column}' holds {values.type}, not numbers") from None
        index = tuple(int(i) for i in re.findall(r"\d+", match.group(2)))
        groups.setdefault(match.group(1), []).append((index, array))
    rows = {}
    for base, entries in groups.items():
        if len(entries) == 1 and entries[0][0] == ():
            rows[base] = entries[0][1]
            continue
        shape = tuple(max(index[d] for index, _ in entries) + 1 for d in range(len(entries[0][0])))
        if len(entries) != int(np.prod(shape)) or any(len(index) != len(shape) for index, _ in entries):
            raise DataFileError(f"{name}: the columns of '{base}' do not fill an array of shape {list(shape)}")
        stacked = np.empty((table.num_rows,) + shape)
        for index, array in entries:
            stacked[(slice(None),) + index] = array
        rows[base] = stacked
    return rows


def _flatten(name: str, value, rows: int) -> tuple:
    """Column names as --batch's CSV header has them (f, df/dv[0]) and a (rows, k) array."""
    value = np.asarray(value)
    per_row = value.shape[1:]
    if not per_row:
        return [name], value.reshape(rows, 1)
    return [name + "".join(f"[{i}]" for i in index) for index in np.ndindex(per_row)], value.reshape(rows, -1)


def write_parquet(target: str, columns: dict, rows: int, metadata: dict) -> None:
    """Columns named as ``--batch``'s CSV header, written to a temporary file renamed into place."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names, arrays = [], []
    for name, value in columns.items():
        header, flat = _flatten(name, value, rows)
        for k, column in enumerate(header):
            names.append(column)
            arrays.append(pa.array(np.ascontiguousarray(flat[:, k], dtype=np.float64)))
    table = pa.Table.from_arrays(arrays, names=names).replace_schema_metadata(metadata)
    folder, base = os.path.split(target)
    handle, temporary = tempfile.mkstemp(dir=folder or ".", prefix=f".{base}.", suffix=".tmp")
    os.close(handle)
    try:
        pq.write_table(table, temporary)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)  # as a new file's (mkstemp's are private)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
