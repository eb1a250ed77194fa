"""What graphrun's commands share: exit statuses, error reports, ``--inputs`` parsing,
reading the model and data files (writing them: outfiles).

A command is a function that raises; :func:`guarded` turns what it raises into
one report on stderr and an exit status (0 ok, 1 model/binding/numeric/data
error, 2 usage error), so no user mistake ever ends in a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import numpy as np

from ..graph.build import DEFAULT_MAX_NODES
from ..train.datafiles import DataFileError, json_int, read_data, text_number, unreadable
from ..errors import CommandError, GraphError, UsageError, shorten

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
STDIN, STDIN_NAME = "-", "<stdin>"  # the model path that means standard input, and its name in errors
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(inf|infinity|nan)", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NONFINITE_WORD = re.compile(r"(?<![\w.])(nan|inf|infinity)(?!\w)", re.IGNORECASE)


def print_error(err: GraphError, file: str | None = None, prog: str = "graphrun") -> None:
    """Report a GraphError on stderr: ``FILE:LINE:COL: error: ...``, the line and a caret."""
    if err.span is None and file is None:
        print(f"{prog}: {err.render()}", file=sys.stderr)
    else:
        print(err.render(file=file), file=sys.stderr)


def guarded(command, file: str | None = None, prog: str = "graphrun") -> int:
    """Run ``command()`` and return its exit status, reporting any error in one place.

    Set GRAPHDSL_DEBUG=1 to see the traceback of an unexpected error.
    """
    try:
        return command()
    except GraphError as err:
        # A data file's error names that file itself; others without a place blame the model.
        print_error(err, None if isinstance(err, DataFileError) else file, prog)
        return EXIT_ERROR
    except CommandError as err:
        print(f"{prog}: error: {err.message}", file=sys.stderr)
        return err.status
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `graphrun ... | head` closed our stdout: not an error
        sys.stdout = None
        return EXIT_OK
    except MemoryError:
        print(f"{prog}: error: out of memory", file=sys.stderr)
        return EXIT_ERROR
    except OSError as err:  # e.g. stdout on a full disk: the machine's trouble, not a bug
        where = f"{err.filename}: " if err.filename else ""
        print(f"{prog}: error: {where}{err.strerror or err}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as err:  # a bug in graphdsl, not the user's mistake
        if os.environ.get("GRAPHDSL_DEBUG"):
            raise
        print(f"{prog}: internal error: {type(err).__name__}: {err}\n"
              f"{prog}: this is a bug in graphdsl; set GRAPHDSL_DEBUG=1 to see where",
              file=sys.stderr)
        return EXIT_ERROR


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, with its error messages (which quote what was typed) bounded."""

    def error(self, message: str):
        super().error(shorten(message))


# ---------------------------------------------------------------- parsing
def add_max_nodes(parser) -> None:
    """Every command's --max-nodes N."""
    parser.add_argument("--max-nodes", type=whole_number(1), default=DEFAULT_MAX_NODES, metavar="N",
                        help=f"refuse graphs that expand to more than N nodes (default {DEFAULT_MAX_NODES:,})")


def parse_args(parser, argv) -> tuple:
    """``(args, None)``, or ``(None, exit status)`` once argparse has ended the command
    (--help, --version, or a usage error it has printed)."""
    try:
        return parser.parse_args(argv), None
    except SystemExit as done:
        return None, int(done.code or 0)


def run_command(parser, argv, body, prog: str = "graphrun") -> int:
    """A command on one model: parse ``argv``, then ``body(args)`` under ``guarded``, its
    errors named by the model file; returns the exit status."""
    args, status = parse_args(parser, argv)
    if args is None:
        return status
    return guarded(lambda: body(args), file=model_name(args.model), prog=prog)


def add_force(parser, what: str) -> None:
    parser.add_argument("--force", action="store_true",
                        help=f"let {what} replace an existing file that holds something else")


def check_of(prog, of, model: str) -> None:
    """--of names an output of the model (a usage error, exit 2, otherwise)."""
    if of is not None and of not in prog.outputs:
        raise UsageError(f"--of {of}: not an output of {model} (outputs: {', '.join(prog.outputs)})")


# ---------------------------------------------------------------- reading
def whole_number(least: int):
    """An argparse type: a whole number of at least ``least``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value
    return parse


def real_number(accept, wording: str):
    """An argparse type: a number for which ``accept(value)`` holds; ``wording`` says which."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {wording}, got {text}")
        return value
    return parse


def file_name(text: str) -> str:
    """An argparse type for a file name: an empty one would pass for "not given" (or,
    as a path, for the current folder)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got an empty string")
    return text


def load_model(path: str, max_nodes: int = DEFAULT_MAX_NODES, seed: int = 0):
    """``graphdsl.load`` with file-system problems turned into one-line errors; the path
    ``-`` reads the model from standard input, named ``<stdin>`` in errors."""
    from ..program import loads

    return loads(read_model(path), model_name(path), max_nodes=max_nodes, seed=seed)


def read_model(path: str) -> str:
    """The text of the model at ``path`` (``-``: standard input), with file-system problems
    turned into one-line errors."""
    from ..lang.source import read_text

    if path != STDIN:
        try:
            with Path(path).open("rb") as file:
                return read_text(file, path)
        except OSError as err:
            raise CommandError(unreadable(path, err, "a .graph file")) from None
    if sys.stdin is None:  # started with standard input closed
        raise CommandError("no standard input to read the model from")
    try:
        stream = getattr(sys.stdin, "buffer", None)  # None for a text stand-in (a test's StringIO)
        return sys.stdin.read() if stream is None else read_text(stream, STDIN_NAME)
    except OSError as err:
        raise CommandError(f"{STDIN_NAME}: cannot read: {err.strerror or err}") from None


def model_name(path: str) -> str:
    """How errors name the model of ``path``."""
    return STDIN_NAME if path == STDIN else path


def read_bindings(path: str, allowed=(".json", ".npz"), option: str = "--inputs-file") -> dict:
    """Named numbers from a data file whose type ``option`` accepts."""
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise UsageError(f"{option} takes a {' or '.join(allowed)} file, not '{path}'")
    return read_data(path)


def parse_inputs(texts) -> dict:
    """Bindings from ``--inputs`` texts such as ``x=-2,W=[[1,2],[3,4]]`` (never eval'd).

    >>> parse_inputs(["x=-2, W=[[1, 2], [3, 4]]"])["W"].shape
    (2, 2)
    """
    bindings: dict = {}
    for text in texts or ():
        for item in _split_top_level(text):
            name, value = _binding(item)
            if name in bindings:
                raise UsageError(f"--inputs: '{name}' is given twice")
            bindings[name] = value
    return bindings


def _split_top_level(text: str) -> list:
    """Split at commas outside brackets; complain about unbalanced brackets."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise UsageError(f"--inputs: unmatched ']' in '{text}'")
        elif char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    if depth:
        raise UsageError(f"--inputs: '[' is never closed in '{text}'")
    items.append(text[start:])
    return [item.strip() for item in items if item.strip()]


def _binding(item: str):
    name, equals, value = (part.strip() for part in item.partition("="))
    example = "write NAME=NUMBER or NAME=[1, 2], e.g. x=-2,W=[[1,2],[3,4]]"
    if not equals:
        raise UsageError(f"--inputs: '{item}' has no '=' ({example})")
    if not name:
        raise UsageError(f"--inputs: '{item}' has no name before '=' ({example})")
    if not _NAME.fullmatch(name):
        raise UsageError(f"--inputs: '{name}' is not a name ({example})")
    if not value:
        raise UsageError(f"--inputs: '{name}=' has no value ({example})")
    if _NUMBER.fullmatch(value):
        try:
            return name, text_number(value)
        except OverflowError as err:
            raise UsageError(f"--inputs: the value of '{name}': {err}") from None
    if not value.startswith("["):
        raise UsageError(f"--inputs: the value of '{name}' is not a number: '{value}' ({example})")
    return name, _array(name, value)


def _array(name: str, text: str):
    # The words a scalar binding accepts (nan, inf, -inf) work inside arrays too; JSON
    # itself (in Python's reading) spells them NaN and Infinity only.
    spelled = _NONFINITE_WORD.sub(lambda m: "NaN" if m.group(1).lower() == "nan" else "Infinity", text)
    try:
        data = json.loads(spelled, parse_float=text_number, parse_int=json_int)
    except OverflowError as err:
        raise UsageError(f"--inputs: the array given for '{name}': {err}") from None
    except json.JSONDecodeError as err:
        raise UsageError(f"--inputs: the value of '{name}' is not a JSON array: {err.msg} "
                         f"at character {err.pos + 1} of '{text}'") from None
    except RecursionError:  # json's decoder recurses once per level of nesting
        raise UsageError(f"--inputs: the array given for '{name}' nests too deeply") from None
    if not _numeric_list(data):
        raise UsageError(f"--inputs: the array given for '{name}' must hold numbers only")
    try:
        return np.array(data, dtype=np.float64)
    except ValueError:
        raise UsageError(f"--inputs: the array given for '{name}' is not rectangular") from None


def _numeric_list(data) -> bool:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool) or not isinstance(item, (int, float)):
            return False
    return True
