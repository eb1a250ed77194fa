"""graphrun: the only place that prints and picks exit codes.

``main`` parses the command line and hands the run to :func:`console.guarded`,
which turns every error into one report on stderr and an exit status. Running a
model lives in ``cli/run.py``; each subcommand (``graphrun train ...``) is a module with
a ``main(argv)`` and one entry in SUBCOMMANDS, which also puts it in ``--help``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__

from . import run as cli_run

from . import console

from ..inspect import render

# name: (module, its arguments in the usage line, what it does)
SUBCOMMANDS = {
    "train": ("train", "MODEL --data FILE [options]", "train the params on data (graphrun train --help)"),
    "fmt": ("fmt", "FILE... [--check] [--diff]", "rewrite files in the canonical layout (graphrun fmt --help)"),
    "serve": ("serve", "MODEL [--port N] [--quiz] [options]",
              "the interactive page: move an input, watch values and gradients (graphrun serve --help)"),
    "grad": ("grad", "MODEL [--of f] [--wrt x,y] [-o OUT]",
             "write the derivative program as .graph text (graphrun grad --help)"),
    "export": ("export", "MODEL --python OUT.py [--of f]",
               "a standalone Python module of the model (numpy only) (graphrun export --help)"),
}

USAGE = "graphrun MODEL [options]\n" + "".join(
    f"       graphrun {name} {synopsis}\n" for name, (_, synopsis, _) in SUBCOMMANDS.items())

COMMANDS = "commands:\n" + "".join(f"  {'graphrun ' + name:<27} {what}\n" for name, what in (
    [("MODEL ...", "run a model: its outputs and gradients (the options above)")]
    + [(f"{name} ...", what) for name, (_, _, what) in SUBCOMMANDS.items()]))

EPILOG = COMMANDS + """
examples:
  graphrun examples/mul_add.graph --inputs x=-2,y=5,z=-4
  graphrun model.graph --inputs 'W=[[1,2],[3,4]],x=[1,0]' --json
  graphrun model.graph --explain --check
  graphrun model.graph --render picture.svg
  graphrun model.graph --params trained.npz --inputs-file test.npz
  graphrun model.graph --batch rows.csv
  graphrun model.graph --batch 'data/*.parquet' --dask local --out results
  cat model.graph | graphrun - --json
  graphrun train model.graph --data train.npz --epochs 200 --lr 0.1 --save trained.npz
  graphrun fmt model.graph

exit status: 0 success; 1 a model, binding, numeric or data error; 2 a usage error.
In --json output NaN and infinities are the strings "NaN", "Infinity", "-Infinity".
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``graphrun``."""
    parser = console.ArgumentParser(
        prog="graphrun", usage=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Run a .graph file: its outputs, and the gradient of one output with "
                    "respect to every input and param.")
    parser.add_argument("model", type=console.file_name,
                        help="the .graph file ('-': read it from standard input)")
    bind = parser.add_argument_group("values")
    bind.add_argument("--inputs", action="append", metavar="K=V,...",
                      help="bindings: a number or a JSON array per name, e.g. x=-2,W=[[1,2],[3,4]] "
                           "(repeatable; wins over --inputs-file)")
    bind.add_argument("--inputs-file", metavar="F", type=console.file_name,
                      help="bindings from a .json object or an .npz archive")
    bind.add_argument("--params", metavar="F", type=console.file_name,
                      help="param values from an .npz or .json file (e.g. saved by graphrun train --save)")
    bind.add_argument("--batch", metavar="F", type=console.file_name,
                      help="one run per row of a .csv (header = input names) or an .npz (leading "
                           "axis = rows); prints a CSV table, or JSON with --json")
    bind.add_argument("--dask", metavar="ADDRESS",
                      help="evaluate --batch's .parquet/.csv files (a glob) on the Dask scheduler at "
                           "ADDRESS, or on a local cluster for 'local'; needs --out (graphdsl[dask])")
    bind.add_argument("--out", metavar="DIR", type=console.file_name,
                      help="with --dask: the folder for one Parquet file of outputs and gradients per input file")
    what = parser.add_argument_group("what to compute and print")
    what.add_argument("--of", metavar="NAME", help="the output to differentiate (default: the first)")
    what.add_argument("--no-grad", action="store_true", help="forward pass only")
    what.add_argument("--json", action="store_true",
                      help='print {"outputs": {...}, "gradients": {...}} (arrays as nested lists)')
    what.add_argument("--explain", action="store_true",
                      help="print the backward pass step by step: local gradient × upstream = gradient")
    what.add_argument("--check", action="store_true",
                      help="compare the gradients with central differences; exit 1 when they disagree")
    what.add_argument("--check-finite", action="store_true",
                      help="stop at the first node whose value or gradient is NaN or infinite (exit 1)")
    pics = parser.add_argument_group("pictures")
    pics.add_argument("--dot", metavar="PATH", type=console.file_name,
                      help="write Graphviz DOT, edges labelled with values and gradients "
                           "('-': stdout, instead of the results)")
    pics.add_argument("--render", metavar="PATH", type=console.file_name,
                      help="draw the picture to a .svg, .png or .pdf with Graphviz's dot")
    pics.add_argument("--dpi", metavar="N", type=render.dpi,
                      help=f"the resolution of a --render .png, in dots per inch (default "
                           f"{render.DEFAULT_DPI}; {render.MIN_DPI} to {render.MAX_DPI})")
    pics.add_argument("--force", action="store_true",
                      help="let --dot and --render replace an existing file that holds something else "
                           "(never a directory, a device or one of the inputs)")
    console.add_max_nodes(parser)
    parser.add_argument("--version", action="version", version=f"graphrun {__version__}")
    return parser


def main(argv=None) -> int:
    """Entry point of ``graphrun``; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    _tolerant_streams()
    # Subcommands (graphrun train ...) dispatch here, before the model parser sees argv;
    # a model file named like one is run as ./train.
    if argv and argv[0] in SUBCOMMANDS:
        module = importlib.import_module(f".{SUBCOMMANDS[argv[0]][0]}", __package__)
        return module.main(argv[1:])
    return console.run_command(build_parser(), argv, cli_run.run)


def _tolerant_streams() -> None:
    # A terminal that cannot show '∂' or 'σ' should get an escape, not a crash.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


if __name__ == "__main__":
    sys.exit(main())
