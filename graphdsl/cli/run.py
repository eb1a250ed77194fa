"""``graphrun MODEL``: run a model once (or once per row of ``--batch``) and report it.

Everything here raises (GraphError, CommandError); ``console.guarded`` reports.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from . import console

from ..run import interpret as execute, numeric

from . import outfiles
from ..run.bindings import bind
from .console import UsageError
from ..inspect.dot import to_dot
from ..errors import NumericError
from ..inspect.explain import explain
from ..inspect.gradcheck import check_gradients
from ..inspect.report import json_object
from ..inspect.numbers import LARGE, format_number, format_value, shape_text, to_json
from ..program import Result
from ..inspect.render import FORMATS, RenderError, render


def run(args) -> int:
    """Run the model of ``args`` (parsed by ``cli.build_parser``); returns the exit status."""
    check_options(args)
    prog = _program(args)
    bindings = _bindings(args)
    if args.dask:
        from . import daskrun

        return daskrun.run_batch(prog, args, bindings)
    if args.batch:
        return _run_batch(prog, args, bindings)
    if args.no_grad:
        result = _forward_only(prog, args.of, args.check_finite, bindings)
    else:
        result = prog.run(bindings, of=args.of, check_finite=args.check_finite)
    if args.dot == "-":
        sys.stdout.write(to_dot(prog, result, gradients=not args.no_grad))
        return console.EXIT_OK
    # check_gradients' own keywords (of, eps, tolerance) would take inputs of those names
    report = check_gradients(prog, args.of or prog.outputs[0], 1e-6, 1e-5, bindings) if args.check else None
    steps = explain(result) if args.explain else None
    undrawn = _write_pictures(prog, result, args)
    if args.json:
        _print_json(result, args, steps, report)
    else:
        _print_human(result, args, steps, report)
    if undrawn is not None:
        raise undrawn
    if report is not None and not report.ok:
        raise NumericError(f"gradient check of {report.of} failed: largest relative error "
                           f"{report.max_rel_error:.3g} is above the tolerance {report.tolerance:g}")
    return console.EXIT_OK


def check_options(args) -> None:
    """Refuse combinations of options that cannot be honoured together (exit 2)."""
    if args.dask or args.out:
        from . import daskrun

        daskrun.check_options(args)
    conflicts = [("--no-grad", args.no_grad, "--explain", args.explain),
                 ("--no-grad", args.no_grad, "--check", args.check)]
    for other, flag in (("--json", args.json), ("--explain", args.explain), ("--check", args.check),
                        ("--batch", args.batch), ("--render", args.render)):
        conflicts.append(("--dot -", args.dot == "-", other, flag))
    for other, flag in (("--dot", args.dot), ("--render", args.render), ("--explain", args.explain),
                        ("--check", args.check), ("--check-finite", args.check_finite)):
        conflicts.append(("--batch", args.batch, other, flag))
    for first, a, second, b in conflicts:
        if a and b:
            raise UsageError(f"{first} cannot be combined with {second}")
    if args.render and Path(args.render).suffix.lower() not in FORMATS:
        raise UsageError(f"--render {args.render}: the file name must end in .svg, .png or .pdf")
    if args.dpi is not None and Path(args.render or "").suffix.lower() != ".png":
        raise UsageError("--dpi sets the resolution of a PNG picture: it needs --render FILE.png")
    if args.dot and args.render and Path(args.dot).resolve() == Path(args.render).resolve():
        raise UsageError("--dot and --render name the same file")
    for path, out in _picture_files(args):  # before the run: refuse early, not after it
        outfiles.check_target(path, out, force=args.force, protect=_inputs(args))


def _program(args):
    """The model, with the params of ``--params``; ``--of`` checked against its outputs."""
    prog = console.load_model(args.model, args.max_nodes)
    if args.params:
        prog = prog.with_params(console.read_bindings(args.params, (".npz", ".json"), "--params"))
    console.check_of(prog, args.of, args.model)
    return prog


def _bindings(args) -> dict:
    bindings = console.read_bindings(args.inputs_file) if args.inputs_file else {}
    bindings.update(console.parse_inputs(args.inputs))
    return bindings


def _forward_only(prog, of, check_finite: bool, bindings: dict) -> Result:
    """A Result with values only: ``--no-grad`` never runs (or fails in) the backward pass."""
    sched = prog.schedule
    with np.errstate(all="ignore"):
        values = execute.forward(sched, bind(sched.leaves, bindings))
    problem = numeric.first_nonfinite(sched, values) if check_finite else None
    if problem:
        raise problem
    return Result(prog, values, [None] * len(values), of or prog.outputs[0])


def _write_pictures(prog, result, args) -> console.CommandError | None:
    """Write --dot and --render; a picture Graphviz could not draw is handed back, to be
    reported after the run's numbers (which do not need Graphviz)."""
    source = to_dot(prog, result, gradients=not args.no_grad) if args.dot or args.render else None
    for path, out in _picture_files(args):
        if path == args.dot:
            data = source
        else:
            try:
                data = render(source, FORMATS[Path(path).suffix.lower()], dpi=args.dpi)
            except RenderError as err:
                return console.CommandError(f"--render {path}: {err.message}")
        outfiles.write_atomic(path, data, out, force=args.force, protect=_inputs(args))
    return None


def _picture_files(args) -> list:
    """(path, what is written there) for --dot and --render."""
    files = [(args.dot, outfiles.dot_output())] if args.dot and args.dot != "-" else []
    if args.render:
        files.append((args.render, outfiles.image_output("--render", FORMATS[Path(args.render).suffix.lower()])))
    return files


def _inputs(args) -> tuple:
    return (args.model, args.inputs_file, args.params, args.batch)


# ---------------------------------------------------------------- printing one run
def _print_human(result, args, steps, report) -> None:
    for line in aligned(result.outputs.items()):
        print(line)
    if not args.no_grad:
        for line in aligned((f"d{result.of}/d{name}", value) for name, value in result.grads.items()):
            print(line)
    if steps:
        print(f"\nbackward pass of {result.of}, step by step:")
        for step in steps:
            print("  " + step.text)
    if report is not None:
        print(("\n" if steps else "") + str(report))
        if report.skipped:
            print(f"(no gradient of {report.of} reaches {', '.join(report.skipped)}: not checked)")


def _print_json(result, args, steps, report) -> None:
    print(json.dumps(json_object(result, not args.no_grad, steps, report), allow_nan=False))


def aligned(pairs) -> list:
    """``name = value`` lines with the ``=`` signs aligned; arrays continue on indented lines,
    large ones introduced by their shape."""
    pairs = list(pairs)
    width = max((len(name) for name, _ in pairs), default=0)
    lines = []
    for name, value in pairs:
        text = format_value(value)
        if isinstance(value, np.ndarray) and value.size > LARGE:
            text = f"shape {shape_text(value.shape)}\n{text}"
        first, *rest = text.split("\n")
        lines.append(f"{name.ljust(width)} = {first}")
        lines.extend(" " * (width + 3) + line for line in rest)
    return lines


# ---------------------------------------------------------------- --batch
def _run_batch(prog, args, shared: dict) -> int:
    rows = console.read_bindings(args.batch, (".csv", ".npz"), "--batch")
    if not rows:
        raise console.CommandError(f"{args.batch}: no columns: --batch needs one array per input, "
                                   "one row per run")
    for name, value in rows.items():
        if not np.ndim(value):
            raise console.CommandError(f"{args.batch}: '{name}' is a single number, not one row per run")
    both = sorted(set(rows) & set(shared))
    if both:
        raise UsageError(f"{', '.join(both)} given both by --batch and by --inputs/--inputs-file")
    # run_batch's rule (batch.split), with the values given once shared by every row
    batch = prog.run_batch(rows, of=args.of, shared=shared)
    outputs = {name: batch.outputs.get(name) for name in prog.outputs}
    grads = {} if args.no_grad else {name: batch.grads.get(name) for name in prog.inputs + prog.params}
    if args.json:
        print(json.dumps({"outputs": to_json(_rows_or_empty(outputs)),
                          "gradients": to_json(_rows_or_empty(grads))}, allow_nan=False))
        return console.EXIT_OK
    columns = {**outputs, **{f"d{batch.of}/d{name}": value for name, value in grads.items()}}
    header, cells = [], []
    for name, value in columns.items():
        names, flat = _flatten(name, value, batch.rows)
        header += names
        cells.append(flat)
    print(",".join(header))
    for i in range(batch.rows):
        print(",".join(format_number(x, digits=None) for block in cells for x in block[i]))
    return console.EXIT_OK


def _rows_or_empty(columns: dict) -> dict:
    return {name: (np.zeros(0) if value is None else value) for name, value in columns.items()}


def _flatten(name: str, value, rows: int):
    """Column names and a (rows, k) array for one output or gradient of a batch."""
    if value is None:  # zero rows
        return [name], np.zeros((rows, 1))
    value = np.asarray(value)
    per_row = value.shape[1:]
    if not per_row:
        return [name], value.reshape(rows, 1)
    names = [name + "".join(f"[{i}]" for i in index) for index in np.ndindex(per_row)]
    return names, value.reshape(rows, -1)
