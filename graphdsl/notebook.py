"""``%load_ext graphdsl`` in IPython and Jupyter: the cell magic ``%%graph NAME``.

The cell is the text of a ``.graph`` file; it is loaded into a Program bound to NAME
in the notebook. A mistake in it is shown as graphrun shows it (``<cell NAME>:LINE:COL:
error: ...``, the line, a caret), without a traceback, and NAME keeps its old value.
IPython is imported only by ``%load_ext``.
"""
from __future__ import annotations

import keyword
import sys

from .errors import GraphError
from .program import loads

USAGE = "usage: %%graph NAME, then the .graph text in the rest of the cell (NAME: a Python identifier)"


def load_ipython_extension(ipython) -> None:
    """Register ``%%graph`` with ``ipython`` (called by ``%load_ext graphdsl``)."""

    def graph(line: str, cell: str):
        """%%graph NAME: load the cell's .graph text into a graphdsl Program named NAME."""
        name = line.strip()
        if not name.isidentifier() or keyword.iskeyword(name):
            print(USAGE if not name else f"%%graph {name}: not a Python name; {USAGE}", file=sys.stderr)
            return
        try:
            program = loads(cell, name=f"<cell {name}>")
        except GraphError as err:
            print(err.render(), file=sys.stderr)
            return
        ipython.user_ns[name] = program

    ipython.register_magic_function(graph, magic_kind="cell", magic_name="graph")
