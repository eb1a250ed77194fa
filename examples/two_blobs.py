"""A two-class problem for logistic_regression.graph: two Gaussian blobs in the plane,
centred at (-1, -1) and (1, 1) with standard deviation 0.8, 100 points each.
They overlap a little, so no line classifies every point (the best line gets about 96%).

Seeded, so the file it writes is the same on every machine:

    python examples/two_blobs.py        # writes examples/two_blobs.csv (columns x0, x1, y)
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

POINTS_PER_CLASS, SPREAD, SEED = 100, 0.8, 0


def two_blobs(points_per_class: int = POINTS_PER_CLASS, spread: float = SPREAD, seed: int = SEED):
    """Coordinates ``x0``, ``x1`` and labels ``y`` (0 or 1), one entry per point."""
    rng = np.random.default_rng(seed)
    centres = np.repeat([[-1.0, -1.0], [1.0, 1.0]], points_per_class, axis=0)
    points = centres + spread * rng.normal(size=centres.shape)
    labels = np.repeat([0, 1], points_per_class)
    return points[:, 0], points[:, 1], labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "two_blobs.csv")
    args = parser.parse_args()
    x0, x1, y = two_blobs()
    with open(args.out, "w") as out:
        out.write("x0,x1,y\n")
        for a, b, label in zip(x0, x1, y):
            out.write(f"{a:.6f},{b:.6f},{label}\n")
    print(f"wrote {args.out}: {len(y)} points, 2 classes")


if __name__ == "__main__":
    main()
