"""Regenerate the pictures the README shows: ``python docs/make_figures.py``.

Each figure is an example from ``examples/`` run on its default inputs, written
as DOT (the source of truth, compared by ``tests/test_docs.py``) and as SVG
drawn by Graphviz.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures"
EXAMPLES = ("mul_add", "backward_patterns", "sigmoid_gate", "vector_norm", "logistic_map")


def figure_dot(example: str) -> str:
    """The DOT source of one example's picture, with values and gradients."""
    import graphdsl

    program = graphdsl.load(ROOT / "examples" / f"{example}.graph")
    return program.to_dot(program.run())


def main() -> int:
    from graphdsl.render import render

    FIGURES.mkdir(parents=True, exist_ok=True)
    for example in EXAMPLES:
        source = figure_dot(example)
        (FIGURES / f"{example}.dot").write_text(source, encoding="utf-8")
        (FIGURES / f"{example}.svg").write_bytes(render(source, "svg"))
        print(f"wrote docs/figures/{example}.dot and .svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
