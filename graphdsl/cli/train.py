"""``graphrun train``: fit a model's params to a data file, from the command line.

    graphrun train model.graph --data train.npz --epochs 200 --lr 0.1 --save trained.npz

Prints a summary (or, with --json, the history as JSON); shows progress on a terminal;
exits 0 on success (with a warning on stderr when the loss blew up), 1 for a model, data
or numeric error (a loss that became NaN or infinite), 2 for a usage error.
"""
from __future__ import annotations

import ctypes
import platform

import argparse
import importlib.util
import io
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import console

from . import outfiles
from ..train.datafiles import DataFileError, read_data
from ..errors import DivergenceWarning, GraphError, Span
from ..inspect.numbers import to_json
from ..train.fit import OPTIMIZERS, DataError

PLOT_TYPES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


_positive = console.real_number(lambda v: math.isfinite(v) and v > 0, "a positive number")
_fraction = console.real_number(lambda v: 0.0 <= v < 1.0, "at least 0 and below 1")


def _file_type(*suffixes: str):
    def parse(text: str) -> str:
        console.file_name(text)
        if Path(text).suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(f"'{text}' should end in {' or '.join(suffixes)}")
        return text
    return parse


def _parser() -> argparse.ArgumentParser:
    parser = console.ArgumentParser(
        prog="graphrun train", description="Train every param of a .graph model on a data file: "
        "each epoch shuffles the samples and updates the params on mini-batches of the loss.",
        epilog="exit status: 0 success (a loss that blew up, 100-fold, gets a warning on stderr); "
               "1 a model, data or numeric error (a loss that became NaN or infinite); 2 a usage error.")
    parser.add_argument("model", type=console.file_name,
                        help="the .graph file ('-': read it from standard input)")
    parser.add_argument("--data", required=True, metavar="FILE", type=_file_type(".npz", ".csv", ".json", ".parquet"),
                        help=".npz (arrays named like the inputs, first axis = samples) or .csv "
                             "(a header of input names; repeat a name for the columns of a matrix)")
    parser.add_argument("--dask", metavar="ADDRESS", help="train on the Dask scheduler at ADDRESS (or a "
                        "local cluster: 'local'); --data may then be a glob of .parquet or .csv files")
    parser.add_argument("--inputs", action="append", metavar="K=V,...",
                        help="inputs the data does not hold, one value for every sample, e.g. "
                             "reg=0.01 (as graphrun's --inputs; repeatable)")
    parser.add_argument("--params", metavar="FILE", type=_file_type(".npz", ".json"),
                        help="start from these param values (as --save wrote them): fine-tuning, resuming")
    parser.add_argument("--epochs", type=console.whole_number(0), default=10, help="passes over the data (default 10)")
    parser.add_argument("--batch-size", type=console.whole_number(1), metavar="N",
                        help="samples per update (default: all of them, one update per epoch)")
    parser.add_argument("--lr", type=_positive, default=0.01, help="learning rate (default 0.01)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="default sgd")
    parser.add_argument("--momentum", type=_fraction, default=0.9, help="for --optimizer momentum (default 0.9)")
    parser.add_argument("--seed", type=console.whole_number(0), default=0,
                        help="seeds the params' random initial values and the shuffling (default 0)")
    parser.add_argument("--of", metavar="NAME", help="the output to minimise (default: the first)")
    parser.add_argument("--save", metavar="FILE.npz", type=_file_type(".npz"),
                        help="write every trained param to an .npz archive")
    parser.add_argument("--json", action="store_true", help="print the history as JSON instead")
    parser.add_argument("--plot", metavar="FILE.png", type=_file_type(*PLOT_TYPES),
                        help="draw the loss (and metrics) per epoch (needs matplotlib)")
    parser.add_argument("--force", action="store_true",
                        help="let --save and --plot replace an existing file that holds something "
                             "else (never a directory, a device, the model or the data)")
    return parser


def main(argv) -> int:
    """Run ``graphrun train`` with the arguments that follow ``train``; returns the exit status."""
    return console.run_command(_parser(), argv, _train, prog="graphrun train")


def _train(args) -> int:
    """The command itself: errors in the data are reported here, against the data file;
    everything else is raised for console.guarded to report."""
    prog = _program(args)
    inputs = console.parse_inputs(args.inputs) if args.inputs else None
    outputs = _outputs(args, prog)
    _check_outputs(args, outputs)
    keep_freed_memory()
    try:
        if not args.dask and Path(args.data).suffix.lower() == ".parquet":
            raise console.UsageError("--data: .parquet files are read with --dask (local, or a scheduler's address)")
        if args.dask:
            from . import daskrun

            history = daskrun.train(prog, inputs, args, _fit)
        else:
            history = _fit(prog, read_data(args.data), inputs, args)
    except DataError as err:
        print(_render_data_error(err, args.data), file=sys.stderr)
        return console.EXIT_ERROR
    except DataFileError as err:
        print(_render_file_error(err, args.data), file=sys.stderr)
        return console.EXIT_ERROR
    for path, (data, out) in outputs.items():
        outfiles.write_atomic(path, data(history), out, force=args.force, protect=(args.model, args.data))
    print(json.dumps(to_json(history.as_dict())) if args.json else _summary(history, args))
    return console.EXIT_OK


def _program(args):
    """The model (its random params drawn with --seed), started from --params; --of checked."""
    prog = console.load_model(args.model, seed=args.seed)
    if args.params:
        prog = prog.with_params(console.read_bindings(args.params, (".npz", ".json"), "--params"))
    if args.of is not None and args.of not in prog.outputs:  # a usage error, as for graphrun --of
        raise console.UsageError(f"--of {args.of}: not an output of {console.model_name(args.model)} "
                                 f"(outputs: {', '.join(prog.outputs)})")
    return prog


def _fit(prog, data: dict, inputs, args, client=None):
    progress = _Progress(args.epochs) if sys.stderr.isatty() else None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DivergenceWarning)
            history = prog.fit(data, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                               optimizer=args.optimizer, momentum=args.momentum, seed=args.seed,
                               of=args.of, inputs=inputs, on_epoch=progress, client=client)
    finally:
        if progress is not None:
            progress.close()
    for warning in caught:  # after the progress line, so that they do not mix
        if issubclass(warning.category, DivergenceWarning):
            print(f"graphrun train: warning: {warning.message}", file=sys.stderr)
    return history


# ---------------------------------------------------------------- results
def _outputs(args, prog) -> dict:
    """path -> (what to write, given the History; what it is) for --save and --plot."""
    outputs = {}
    if args.save:
        outputs[args.save] = (_archive, outfiles.params_output("--save", prog.params))
    if args.plot:
        kind = Path(args.plot).suffix[1:].lower()
        outputs[args.plot] = (lambda history: _plot(history, kind, plot_title(args)),
                              outfiles.image_output("--plot", kind))
    return outputs


def _check_outputs(args, outputs: dict) -> None:
    """Problems with --save and --plot, found before training rather than after it."""
    for path, (_, out) in outputs.items():
        if not Path(path).resolve().parent.is_dir():
            raise console.CommandError(f"{out.option} {path}: the folder {Path(path).parent} does not exist")
        outfiles.check_target(path, out, force=args.force, protect=(args.model, args.data))
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise console.CommandError("--plot needs matplotlib, which is not installed: "
                                   "pip install 'graphdsl[plot]' (or pip install matplotlib)")


def _archive(history) -> bytes:
    archive = io.BytesIO()
    np.savez(archive, **{name: np.asarray(v) for name, v in history.params.items()})
    return archive.getvalue()


def _summary(history, args) -> str:
    batch = f"batches of {args.batch_size}" if args.batch_size else "the full batch"
    lines = [f"trained {', '.join(history.params)} for {len(history.losses)} epochs "
             f"({args.optimizer}, lr {args.lr:g}, {batch})"]
    if history.losses:
        tail = "".join(f", {name} {values[-1]:.4g}" for name, values in history.metrics.items())
        lines[0] += f": {history.of} {history.losses[-1]:.4g}{tail} in the last epoch"
    lines += [f"{what} written to {path}" for what, path in (("params", args.save), ("plot", args.plot)) if path]
    return "\n".join(lines)


def plot_title(args) -> str:
    """What the loss plot shows: the model, and how it was trained."""
    optimizer = args.optimizer + (f" {args.momentum:g}" if args.optimizer == "momentum" else "")
    batch = f"batches of {args.batch_size}" if args.batch_size else "full batch"
    return f"{Path(args.model).name} trained with {optimizer}, lr {args.lr:g}, {batch}"


def _plot(history, kind: str, title: str) -> bytes:
    """The loss per epoch, and the metrics below it, as a picture of type ``kind`` (png,
    svg...) titled ``title`` (also the file's Title metadata, where the format has one)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no window, no display needed
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history.losses) + 1)
    rows = 2 if history.metrics else 1
    fig, axes = plt.subplots(rows, 1, sharex=True, figsize=(6.4, 2.4 + 2.0 * rows), squeeze=False)
    axes[0, 0].plot(epochs, history.losses)
    axes[0, 0].set_ylabel(history.of if history.of == "loss" else f"loss ({history.of})")
    for name, values in history.metrics.items():
        axes[-1, 0].plot(epochs, values, label=name)
    if history.metrics:
        axes[-1, 0].legend()
    axes[-1, 0].set_xlabel("epoch")
    axes[0, 0].set_title(title, fontsize=10)
    fig.tight_layout()
    picture = io.BytesIO()
    metadata = {"Title": title} if kind in ("png", "svg", "pdf") else None
    try:
        fig.savefig(picture, format="jpeg" if kind == "jpg" else kind, metadata=metadata)
    finally:
        plt.close(fig)
    return picture.getvalue()


class _Progress:
    """Epoch, loss and metrics on stderr: a tqdm bar when tqdm is installed, else one
    line redrawn with a carriage return at most ten times a second."""

    def __init__(self, epochs: int):
        self.epochs, self.last, self.bar = epochs, 0.0, None
        try:
            from tqdm import tqdm
        except ImportError:
            return
        if _width(sys.stderr) > 0:  # tqdm draws nothing on a terminal that reports 0 columns
            self.bar = tqdm(total=epochs, unit="epoch", file=sys.stderr, dynamic_ncols=True)

    def __call__(self, epoch: int, loss: float, metrics: dict) -> None:
        text = f"loss {loss:.4g}" + "".join(f"  {name} {value:.4g}" for name, value in metrics.items())
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(1)
            return
        now = time.monotonic()
        if now - self.last >= 0.1 or epoch == self.epochs:
            self.last = now
            sys.stderr.write(f"\repoch {epoch}/{self.epochs}  {text}\033[K")
            sys.stderr.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.last:
            sys.stderr.write("\n")


def _width(stream) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 80  # not a real file (a test's stand-in): assume an ordinary terminal


# ---------------------------------------------------------------- errors in data files
def _render_data_error(err: DataError, data_path: str) -> str:
    """``FILE: error: ...``, or ``FILE:LINE:COL: error: ...`` and a caret for a CSV cell."""
    span = None
    if err.row is not None and Path(data_path).suffix.lower() == ".csv":
        span = _csv_cell(data_path, err.row, err.input, err.item)
    if span is None:
        return f"{data_path}: error: {err.message}"
    return GraphError(err.message, span).render()


def _render_file_error(err: DataFileError, data_path: str) -> str:
    if err.span is not None:
        return err.render()
    prefix = f"{data_path}: "
    message = err.message[len(prefix):] if err.message.startswith(prefix) else err.message
    return f"{data_path}: error: {message}"


def _csv_cell(path: str, row: int, column: str | None, item: int = 0) -> Span | None:
    """Where sample ``row`` of input ``column`` (its ``item``-th column, for a matrix) sits in
    a CSV file, skipping blank lines as the reader does."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").split("\n")
    except (OSError, UnicodeDecodeError):
        return None
    filled = [i for i, line in enumerate(lines) if any(cell.strip() for cell in line.split(","))]
    if len(filled) < row + 2:
        return None
    header = [cell.strip() for cell in lines[filled[0]].split(",")]
    line = lines[filled[row + 1]].rstrip("\r")
    cells = [i for i, name in enumerate(header) if name == column]
    cell = cells[item] if item < len(cells) else 0
    column_at = sum(len(c) + 1 for c in line.split(",")[:cell]) + 1
    return Span(path, filled[row + 1] + 1, column_at, line)


_KEPT = []  # set once per process by keep_freed_memory


def keep_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse instead of returning it to the system.

    A training step allocates the same arrays every time. With glibc's defaults, arrays
    over 128 KB are mapped afresh and the freed top of the heap is handed back after
    each step, so every step faults in its pages anew: a two-layer net on 300 samples
    spent as long in those page faults as in its arithmetic. Raising the thresholds
    makes the second step reuse the first step's memory. Process-wide, so graphrun
    train (a program) sets it, never the library's fit; once; a no-op where the C
    library is not glibc."""
    if _KEPT:
        return
    _KEPT.append(True)
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # the largest glibc accepts
    mallopt(_M_TRIM_THRESHOLD, 64 << 20)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
