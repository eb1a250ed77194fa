"""graphrun: the command line (graphrun.py), the only part of graphdsl that prints and picks exit codes."""
