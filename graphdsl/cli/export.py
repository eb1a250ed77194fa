"""``graphrun export``: a model as a standalone Python module that needs only numpy.

    graphrun export model.graph --python model.py [--of loss]

The module has ``forward(**inputs) -> dict`` and ``value_and_grad(**inputs) -> (outputs,
grads)`` (the gradients of ``--of``, by default the first output), the defaults as
default arguments, straight-line code commented with the .graph lines. Exit status: 0
done; 1 a model error; 2 a usage error.
"""
from __future__ import annotations

from . import console
from .outfiles import Output, write_atomic

# --python replaces a module exported before: recognised by the first line export writes.
_MODULE = Output("--python", "an exported module", (".py",),
                 lambda path, head: b"exported by graphdsl" in head.split(b"\n", 1)[0])


def _parser():
    parser = console.ArgumentParser(
        prog="graphrun export", description="Write a .graph model as a standalone Python module "
        "(numpy only): forward(**inputs) and value_and_grad(**inputs).")
    parser.add_argument("model", type=console.file_name, help="the .graph file ('-': standard input)")
    parser.add_argument("--python", metavar="OUT.py", type=console.file_name, required=True,
                        help="the module to write, atomically")
    parser.add_argument("--of", metavar="NAME", help="the output value_and_grad differentiates "
                        "(default: the first)")
    console.add_force(parser, "--python")
    console.add_max_nodes(parser)
    return parser


def main(argv) -> int:
    """``graphrun export ARGS``; returns the exit status."""
    return console.run_command(_parser(), argv, _export)


def _export(args) -> int:
    program = console.load_model(args.model, args.max_nodes)
    console.check_of(program, args.of, args.model)
    write_atomic(args.python, program.to_python(of=args.of), _MODULE, force=args.force, protect=(args.model,))
    return console.EXIT_OK
