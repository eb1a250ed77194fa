"""The page's files, shipped inside the package (graphdsl/serve/static/).

The front end is one JavaScript module, ``view.js``, made of the parts in
``static/js/`` joined in name order: the page imports it, and the Jupyter widget hands
the same text to anywidget as its module, so the two views share every line. The
parts share one scope (they are joined, not imported), and ``static/js/99_exports.js``
is the module's exports.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import NamedTuple


class Asset(NamedTuple):
    content: bytes
    content_type: str


_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8"}
_PATHS = {"/": "index.html", "/index.html": "index.html", "/static/page.js": "page.js",
          "/static/view.css": "view.css", "/static/view.js": None}


def asset(path: str):
    """``(200, Asset)`` for a path of the page, or None: only these few names are served."""
    if path not in _PATHS:
        return None
    name = _PATHS[path]
    if name is None:
        return 200, Asset(view_module().encode("utf-8"), _TYPES[".js"])
    return 200, Asset(_static(name).encode("utf-8"), _TYPES["." + name.rsplit(".", 1)[1]])


@lru_cache(maxsize=None)
def view_module() -> str:
    """The front end's one module: the parts of static/js/, joined."""
    folder = resources.files(__package__) / "static" / "js"
    parts = sorted((part for part in folder.iterdir() if part.name.endswith(".js")),
                   key=lambda part: part.name)
    return "\n".join(f"// ---- {part.name}\n{part.read_text(encoding='utf-8')}" for part in parts)


def stylesheet() -> str:
    return _static("view.css")


@lru_cache(maxsize=None)
def _static(name: str) -> str:
    return (resources.files(__package__) / "static" / name).read_text(encoding="utf-8")
