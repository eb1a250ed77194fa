"""``graphrun fmt``: rewrite .graph files in the canonical form (docs/language.md).

    graphrun fmt model.graph other.graph     # in place, atomically
    graphrun fmt --check models/             # exit 1, listing the files that would change
    graphrun fmt --diff model.graph          # a unified diff; nothing written
    graphrun fmt - < model.graph             # stdin to stdout

A file with an error is reported as ``graphrun`` reports it and left untouched; the
other files are still formatted. Exit status: 0 done (or nothing to change), 1 an
error or, with --check, a file that would change; 2 a usage error.
"""
from __future__ import annotations

import argparse
import difflib
import os
import re
import stat
import sys

from . import console
from ..graph.build import build_model
from ..lang.canonical import check, format_text
from .console import STDIN
from .outfiles import Output, write_atomic
from ..lang.parse import parse

# fmt replaces the model it has just read and checked: a model is what the file holds.
_MODEL = Output("graphrun fmt", "a model", (".graph",), lambda path, head: True)


def _parser() -> argparse.ArgumentParser:
    parser = console.ArgumentParser(
        prog="graphrun fmt", description="Rewrite .graph files in the canonical form, in place: "
        "one statement per line, inputs and params first, every comment kept.")
    parser.add_argument("files", nargs="+", metavar="FILE", type=console.file_name,
                        help="a .graph file, a folder (every .graph file in it), or - (stdin to stdout)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; list the files that would change and exit 1 if any would")
    parser.add_argument("--diff", action="store_true",
                        help="write nothing; print what would change as a unified diff")
    console.add_max_nodes(parser)
    return parser


def main(argv) -> int:
    """``graphrun fmt ARGS``; returns the exit status."""
    args, status = console.parse_args(_parser(), argv)
    if args is None:
        return status
    status = console.EXIT_OK
    for name in _files(args.files):
        shown = console.model_name(name)
        done = console.guarded(lambda: _format(name, shown, args), file=shown)
        if done not in (console.EXIT_OK, console.EXIT_ERROR):  # interrupted
            return done
        status = max(status, done)
    return status


def _files(names: list) -> list:
    """The files named; for a folder, every .graph file under it, in sorted order, but
    not in hidden folders (.git, .venv)."""
    found = []
    for name in names:
        if name == STDIN or not os.path.isdir(name):
            found.append(name)
            continue
        for folder, subfolders, files in os.walk(name):
            subfolders[:] = sorted(sub for sub in subfolders if not sub.startswith("."))
            found.extend(os.path.join(folder, file) for file in sorted(files) if file.endswith(".graph"))
    return found


def _format(name: str, shown: str, args) -> int:
    original = console.read_model(name)
    text = original.removeprefix("\ufeff")  # as loads reads it
    module = parse(text, shown)
    build_model(module, max_nodes=args.max_nodes)  # every error graphrun would report
    formatted = format_text(text, shown, module)
    changed = formatted != original
    if changed:
        check(module, text, formatted)  # never write a file that means something else
    if args.diff and changed:
        sys.stdout.write(_diff(original, formatted, shown))
    if args.check:
        if changed:
            print(shown)
        return console.EXIT_ERROR if changed else console.EXIT_OK
    if args.diff:
        return console.EXIT_OK
    if name == STDIN:
        sys.stdout.write(formatted)
    elif changed:
        _write(name, formatted)
        print(f"reformatted {name}", file=sys.stderr)
    return console.EXIT_OK


def _write(name: str, text: str) -> None:
    """In place through a temporary file renamed over the file (a symlink's target: the
    link stays a link), keeping the file's permissions."""
    write_atomic(name, text, _MODEL, mode=stat.S_IMODE(os.stat(name).st_mode))


def _diff(before: str, after: str, shown: str) -> str:
    lines = difflib.unified_diff(_lines(before), _lines(after), fromfile=shown, tofile=shown)
    # A last line without a newline is marked as diff and patch expect.
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)


def _lines(text: str) -> list:
    """The lines of a text, each with its '\n': split there only (str.splitlines would also
    split at form feeds and other separators, which the language reads as spaces)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)
