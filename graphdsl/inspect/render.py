"""DOT source -> SVG, PNG or PDF through Graphviz's ``dot`` program, and the notebook
pictures of Program and Result (SVG, or the DOT text when Graphviz is absent)."""
from __future__ import annotations

import argparse
import shutil
import subprocess

from ..errors import RenderError

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
INSTALL_HINT = ("install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; Fedora: "
                "sudo dnf install graphviz; macOS: brew install graphviz; conda: conda install "
                "graphviz), or write the DOT source with --dot and render it elsewhere")
TIMEOUT = 300  # seconds; a picture of a very large graph can take Graphviz a long time
PICTURE_LIMIT = 2000  # nodes: a notebook does not draw bigger graphs
DEFAULT_DPI, MIN_DPI, MAX_DPI = 96, 10, 600  # a PNG's resolution: Graphviz's default, and bounds


def find_dot() -> str | None:
    """The path of Graphviz's ``dot`` program, or None."""
    return shutil.which("dot")


def dpi(text: str) -> int:
    """An argparse type for ``--dpi``: a whole number from MIN_DPI to MAX_DPI."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of dots per inch, got '{text}'") from None
    if not MIN_DPI <= value <= MAX_DPI:
        raise argparse.ArgumentTypeError(f"must be from {MIN_DPI} to {MAX_DPI} dots per inch, got {value}")
    return value


def render(dot_source: str, fmt: str = "svg", dpi: int | None = None) -> bytes:
    """The picture of ``dot_source`` in ``fmt`` (svg, png or pdf), drawn by Graphviz;
    ``dpi`` sets a PNG's resolution (Graphviz's default: 96 dots per inch)."""
    program = find_dot()
    if program is None:
        raise RenderError(f"cannot draw the picture: Graphviz's 'dot' program is not on PATH; "
                          f"{INSTALL_HINT}")
    command = [program, f"-T{fmt}"] + ([f"-Gdpi={dpi}"] if dpi is not None else [])
    try:
        done = subprocess.run(command, input=dot_source.encode("utf-8"),
                              capture_output=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise RenderError(f"Graphviz took more than {TIMEOUT} s to draw the picture; "
                          f"write the DOT source with --dot instead") from None
    except OSError as err:
        raise RenderError(f"cannot run Graphviz's 'dot' ({program}): {err.strerror or err}") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"Graphviz failed to draw the picture: {detail[-1] if detail else 'no reason given'}")
    return done.stdout


def mimebundle(program, result=None) -> dict:
    """What a notebook shows for a Program (or a Result): the SVG picture; the DOT source
    when Graphviz is absent; just the repr for graphs too large to draw usefully."""
    text = repr(program if result is None else result)
    if len(program.forward_order) > PICTURE_LIMIT:
        return {"text/plain": text}
    dot_source = program.to_dot(result)
    if find_dot() is None:
        return {"text/plain": dot_source}
    try:
        svg = render(dot_source, "svg").decode("utf-8")
    except RenderError:
        return {"text/plain": dot_source}
    return {"image/svg+xml": svg, "text/plain": text}
