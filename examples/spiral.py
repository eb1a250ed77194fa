"""The spiral data set of the CS231n case study "Putting it together: minimal neural
network": K = 3 classes of N = 100 points in D = 2 dimensions, each class an arm of a
spiral (radius 0 -> 1, angle over 4 radians, Gaussian noise 0.2 on the angle).

Seeded, so the file it writes is the same on every machine:

    python examples/spiral.py            # writes examples/spiral.npz (X: [300, 2], y: [300])
    python examples/spiral.py --csv F    # also a .csv with columns X, X, y
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

POINTS_PER_CLASS, CLASSES, SEED = 100, 3, 0


def spiral(points_per_class: int = POINTS_PER_CLASS, classes: int = CLASSES, seed: int = SEED):
    """``X`` of shape [N*K, 2] and integer class ids ``y`` of shape [N*K]."""
    rng = np.random.default_rng(seed)
    radius = np.linspace(0.0, 1.0, points_per_class)
    X, y = [], []
    for k in range(classes):
        angle = np.linspace(4.0 * k, 4.0 * (k + 1), points_per_class) + 0.2 * rng.normal(size=points_per_class)
        X.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
        y.append(np.full(points_per_class, k))
    return np.concatenate(X), np.concatenate(y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--out", type=Path, default=here / "spiral.npz")
    parser.add_argument("--csv", type=Path, help="also write the samples as CSV (header X,X,y)")
    args = parser.parse_args()
    X, y = spiral()
    np.savez(args.out, X=X, y=y)
    if args.csv:
        rows = np.column_stack([X, y])
        np.savetxt(args.csv, rows, delimiter=",", header="X,X,y", comments="", fmt=["%.17g", "%.17g", "%d"])
    print(f"wrote {args.out}: X {list(X.shape)}, y {list(y.shape)} ({CLASSES} classes)")


if __name__ == "__main__":
    main()
