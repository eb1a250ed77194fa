"""``graphrun grad``: write a model's derivative program as ``.graph`` text.

    graphrun grad model.graph                   # to standard output
    graphrun grad model.graph --of loss --wrt W,b -o model_grad.graph

The program has the model's inputs and params, and as outputs the output ``--of`` followed
by its gradient with respect to each name of ``--wrt`` (default: every input and param),
named ``d<of>_d<name>``; each gate of the backward pass is commented with the line of the
gate it differentiates. Running it gives the numbers ``graphrun`` prints for the model, and
``graphrun grad`` of it gives second derivatives. Exit status: 0 done; 1 a model error;
2 a usage error.
"""
from __future__ import annotations

import sys

from . import console
from .console import STDIN
from .outfiles import Output, write_atomic

# -o replaces a derivative program written before (a model): a model is what the file holds.
# Only a derivative program (its statements say "# from line N") is replaced without --force:
# never another model.
_MODEL = Output("-o", "a derivative program written by graphrun grad", (".graph",),
                lambda path, head: b"  # from line " in head)


def _parser():
    parser = console.ArgumentParser(
        prog="graphrun grad", description="Write the derivative program of a .graph file: its output "
        "and the gradients, as gates of the language, each commented with the line it differentiates.")
    parser.add_argument("model", type=console.file_name, help="the .graph file ('-': standard input)")
    parser.add_argument("--of", metavar="NAME", help="the output to differentiate (default: the first)")
    parser.add_argument("--wrt", metavar="X,Y", help="the inputs and params to differentiate with respect "
                        "to, separated by commas (default: every one)")
    parser.add_argument("-o", "--output", metavar="OUT", type=console.file_name,
                        help="write the program to OUT, atomically (default: standard output)")
    console.add_force(parser, "-o")
    console.add_max_nodes(parser)
    return parser


def main(argv) -> int:
    """``graphrun grad ARGS``; returns the exit status."""
    return console.run_command(_parser(), argv, _grad)


def _grad(args) -> int:
    wrt = None
    if args.wrt is not None:
        wrt = [name.strip() for name in args.wrt.split(",")]
        if not all(wrt):
            raise console.UsageError(f"--wrt takes names separated by commas, got '{args.wrt}'")
    program = console.load_model(args.model, args.max_nodes)
    console.check_of(program, args.of, args.model)
    leaves = program.inputs + program.params
    unknown = [name for name in wrt or () if name not in leaves]
    if unknown:
        raise console.UsageError(f"--wrt {unknown[0]}: not an input or param of {args.model} "
                                 f"(they are: {', '.join(leaves)})")
    text = program.grad(of=args.of, wrt=wrt).to_text()
    if args.output is None or args.output == STDIN:
        sys.stdout.write(text)
    else:
        write_atomic(args.output, text, _MODEL, force=args.force, protect=(args.model,))
    return console.EXIT_OK
