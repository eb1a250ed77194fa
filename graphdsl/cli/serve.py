"""``graphrun serve MODEL``: the interactive page of one model, until Ctrl-C."""
from __future__ import annotations

import argparse
import ipaddress
import sys

from . import console
from .console import CommandError, UsageError

EPILOG = """\
examples:
  graphrun serve examples/mul_add.graph --open
  graphrun serve examples/sigmoid_neuron.graph --quiz
  graphrun serve model.graph --port 8080 --inputs 'x=1,W=[[1,2],[3,4]]'

The page follows the file: save it in an editor and the page shows the new model
(or the error, keeping the last good picture). Scripts: POST /api/run with
{"inputs": {...}, "of": "f"} answers what graphrun --json prints, plus "values"
and "node_grads" of every node (see the README).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="graphrun serve", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Serve one model as an interactive page: move an input, watch the values "
                    "and gradients change on the picture.")
    parser.add_argument("model", type=console.file_name, help="the .graph file (never written)")
    parser.add_argument("--port", type=_port, default=8000, help="the port (default 8000; 0: any free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--inputs", action="append", metavar="K=V,...",
                        help="starting values (and what reset returns to), as for graphrun")
    parser.add_argument("--inputs-file", metavar="F", type=console.file_name,
                        help="starting values from a .json object or an .npz archive")
    parser.add_argument("--of", metavar="NAME", help="the output to differentiate first")
    parser.add_argument("--quiz", action="store_true",
                        help="hide the gradients: an answer field per node, check and reveal")
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    console.add_max_nodes(parser)
    return parser


def _port(text: str) -> int:
    port = console.whole_number(0)(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {port}")
    return port


def main(argv) -> int:
    """Entry point of ``graphrun serve``; returns the exit status."""
    return console.run_command(build_parser(), argv, serve, prog="graphrun serve")


def serve(args) -> int:
    """Check the model and the starting values, then serve until interrupted."""
    from ..serve.follow import FollowedFile
    from ..serve.httpd import PageServer
    from ..serve.session import Session

    if args.model == console.STDIN:  # (the page follows the file as it is edited)
        raise UsageError("the page follows a .graph file as it is edited: give its path, not - (standard input)")
    model = FollowedFile(args.model, args.max_nodes)
    if model.error is not None:
        raise model.error
    start = console.read_bindings(args.inputs_file) if args.inputs_file else {}
    start.update(console.parse_inputs(args.inputs))
    if args.of is not None and args.of not in model.program.outputs:
        raise UsageError(f"--of {args.of}: not an output of {args.model} "
                         f"(outputs: {', '.join(model.program.outputs)})")
    session = Session(model, start, args.quiz, args.of)
    # Bad starting values (an unknown name, a wrong shape) are reported now, not on the page.
    model.program.run({**session.start_values(model.program), **start}, of=args.of)
    try:
        server = PageServer(session, args.host, args.port)
    except OSError as err:
        raise CommandError(f"cannot listen on {args.host} port {args.port}: {err.strerror or err}"
                           + (" (choose another with --port)" if args.port else "")) from None
    print(f"graphrun serve: {args.model} at {server.url}  (Ctrl-C to stop)", flush=True)
    if not _loopback(args.host):
        print("graphrun serve: warning: listening beyond this machine: anyone who can reach "
              f"{args.host} can see the page and run the model", file=sys.stderr, flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        print("graphrun serve: stopped", flush=True)
    finally:
        server.server_close()
    return console.EXIT_OK


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() == "localhost"
