"""Run the installed ``graphrun`` in a real subprocess, as a user would."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def graphrun_path() -> str:
    """The graphrun installed next to the Python running the tests (else the one on PATH)."""
    beside = Path(sys.executable).parent / "graphrun"
    if beside.exists():
        return str(beside)
    found = shutil.which("graphrun")
    assert found, "graphrun is not installed: pip install -e '.[test]'"
    return found


def graphrun(*args, cwd=ROOT, env=None, path=None, stdin=None) -> subprocess.CompletedProcess:
    """``graphrun ARGS`` with text output; ``path`` replaces PATH (to hide Graphviz);
    ``stdin``, a str, is its standard input."""
    environment = dict(os.environ if env is None else env)
    bin_dir = str(Path(graphrun_path()).parent)
    environment["PATH"] = bin_dir + os.pathsep + (environment.get("PATH", "") if path is None else path)
    environment.pop("GRAPHDSL_DEBUG", None)
    return subprocess.run([graphrun_path(), *map(str, args)], capture_output=True, text=True,
                          encoding="utf-8", cwd=cwd, env=environment, timeout=120, input=stdin)
