"""graphrun: the only place that prints and picks exit codes."""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from . import __version__, load
from .errors import GraphError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphrun", description="Run a .graph file forward and backward.")
    parser.add_argument("model")
    parser.add_argument("--inputs", default="")
    parser.add_argument("--of")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-grad", action="store_true")
    parser.add_argument("--version", action="version", version=f"graphrun {__version__}")
    return parser


def _bindings(text: str) -> dict:
    out = {}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        out[name.strip()] = json.loads(value)
    return out


def _plain(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:  # graphrun train ...: the training command lives in cli_train
        from .cli_train import main as train_main
        return train_main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        prog = load(args.model)
        res = prog.run(of=args.of, **_bindings(args.inputs))
    except GraphError as err:
        print(err.render(), file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"outputs": {k: _plain(v) for k, v in res.outputs.items()},
                          "gradients": {k: _plain(v) for k, v in res.grads.items()}}))
        return 0
    for name, value in res.outputs.items():
        print(f"{name} = {value}")
    if not args.no_grad:
        for name, value in res.grads.items():
            print(f"d{res.of}/d{name} = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
