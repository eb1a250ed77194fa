"""graphrun: the command line, the only part of graphdsl that prints and picks exit codes."""
from .graphrun import main  # noqa: F401 -- the graphrun entry point
