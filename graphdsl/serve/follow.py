"""The one model a page shows: a file followed on disk (reloaded when an editor saves it,
the last good Program kept while the file does not load), or a fixed Program (Jupyter).

The file is only ever opened for reading.
"""
from __future__ import annotations

import os
import threading
import time

from ..build import DEFAULT_MAX_NODES
from ..datafiles import unreadable
from ..errors import GraphError
from ..program import load

_RECHECK = 0.1  # seconds: a burst of polls stats the file once


class FixedModel:
    """A Program that never changes (``graphdsl.widget``)."""

    follows = False

    def __init__(self, program):
        self.program, self.error, self.version, self.file = program, None, 1, program.file

    def refresh(self) -> None:
        """Nothing to follow."""


class FollowedFile:
    """A ``.graph`` file reloaded whenever what ``os.stat`` says of it changes.

    ``program`` is the last Program that loaded (None before the first); ``error`` the
    GraphError of the current file, or None; ``version`` counts the changes seen.
    """

    follows = True

    def __init__(self, path: str, max_nodes: int = DEFAULT_MAX_NODES):
        self.file, self.max_nodes = str(path), max_nodes
        self.program, self.error, self.version = None, None, 0
        self._stamp, self._checked = None, 0.0
        self._lock = threading.Lock()
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        """Reload the file if it changed since the last look (at most every 0.1 s)."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._checked < _RECHECK:
                return
            self._checked = now
            stamp = self._stat()
            if stamp == self._stamp and not force:
                return
            self._stamp = stamp
            self._reload()

    def _stat(self):
        try:
            info = os.stat(self.file)
        except OSError as err:
            return ("missing", type(err).__name__)
        return (info.st_mtime_ns, info.st_size, info.st_ino, info.st_ctime_ns)

    def _reload(self) -> None:
        try:
            program = load(self.file, max_nodes=self.max_nodes)
        except GraphError as err:
            self.error = err
        except OSError as err:
            self.error = GraphError(unreadable(self.file, err, "a .graph file"))
        except RecursionError:
            self.error = GraphError(f"{self.file}: nests too deeply to be a model")
        else:
            self.program, self.error = program, None
        self.version += 1
