"""The files graphrun writes (``--dot``, ``--render``, ``train --save``, ``train --plot``):
written whole, and never over a file that holds something else.

A mistyped path must not destroy a model, a data file or a script. An existing file is
replaced only when it already holds what the option writes (DOT text, an image of the same
format, params of the same model) or is empty; a file with a model's, a data file's or a
script's suffix (KEPT_SUFFIXES, even empty), or with any other content, needs ``--force``. Directories,
devices, pipes and the command's own inputs are refused even with ``--force``. A symbolic
link is followed: the file it points to is the one checked and replaced.
"""
from __future__ import annotations

import os
import re
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, NamedTuple

from .console import CommandError, UsageError

KEPT_SUFFIXES = {".graph": "a model", ".csv": "data", ".npz": "data", ".json": "data",
                 ".parquet": "data", ".py": "code"}
_HEAD = 1 << 16  # bytes read to recognise what an existing file holds
_DOT = re.compile(rb"""\s*(?:strict\s+)?(?:di)?graph\s*
    (?:"(?:[^"\\]|\\.)*"|[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*|-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?))?
    \s*\{""", re.IGNORECASE | re.VERBOSE)
_DOT_COMMENT = re.compile(rb"\s*(?://[^\n]*|/\*.*?\*/|\#[^\n]*)", re.DOTALL)
_SVG = re.compile(rb"""\s*(?:(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?[^>]*>)\s*)*<svg[\s>]""",
                  re.DOTALL | re.IGNORECASE)
_MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-", "jpeg": b"\xff\xd8\xff", "jpg": b"\xff\xd8\xff"}


class Output(NamedTuple):
    """What an option writes: ``holds(path, head)`` says whether an existing file (its
    first bytes ``head``) already holds that, so that replacing it loses nothing."""

    option: str  # for messages: "--dot"
    kind: str  # for messages: "DOT text"
    suffixes: tuple  # the option's own suffixes: a KEPT_SUFFIXES one among them is allowed
    holds: Callable[[Path, bytes], bool]


def dot_output(option: str = "--dot") -> Output:
    return Output(option, "DOT text", (".dot", ".gv"), lambda path, head: _is_dot(head))


def image_output(option: str, fmt: str) -> Output:
    """An image of format ``fmt`` (svg, png, pdf, jpeg), recognised by its first bytes."""
    if fmt == "svg":
        holds = lambda path, head: _SVG.match(head.removeprefix(b"\xef\xbb\xbf")) is not None
    else:
        holds = lambda path, head: head.startswith(_MAGIC[fmt])
    return Output(option, f"a {fmt.upper()} image", (f".{fmt}",), holds)


def params_output(option: str, names) -> Output:
    """An .npz archive of params, which may replace an archive holding params of the same
    names only (an earlier --save of this model), never a data file."""
    names = frozenset(names)

    def holds(path: Path, head: bytes) -> bool:
        try:
            with zipfile.ZipFile(path) as archive:
                members = archive.namelist()
        except (OSError, zipfile.BadZipFile, ValueError):
            return False
        return all(m.endswith(".npy") and m[:-4] in names for m in members)

    return Output(option, "params of this model", (".npz",), holds)


def check_target(path, out: Output, *, force: bool = False, protect=()) -> Path:
    """The file to write for ``out`` at ``path`` (a link's target); a UsageError (exit 2)
    when writing there could destroy something."""
    target = Path(os.path.realpath(path))
    link = f" (a link to '{target}')" if os.path.islink(path) else ""
    refuse = f"refusing to overwrite '{path}'{link} with {out.option}"
    if any(keep not in (None, "-") and same_file(target, keep) for keep in protect):
        raise UsageError(f"{refuse}: it is one of the command's inputs")
    try:
        status = target.stat()
    except FileNotFoundError:
        return target
    except OSError as err:
        raise CommandError(f"cannot write '{path}': {err.strerror or err}") from None
    if stat.S_ISDIR(status.st_mode):
        raise UsageError(f"{refuse}: it is a directory")
    if not stat.S_ISREG(status.st_mode):
        stdout = "; '--dot -' writes to standard output" if out.option == "--dot" else ""
        raise UsageError(f"{refuse}: it is not a regular file but a device or a pipe{stdout}")
    if force:
        return target
    suffix = target.suffix.lower()
    if suffix in KEPT_SUFFIXES and suffix not in out.suffixes:  # even empty: an __init__.py
        raise UsageError(f"{refuse}: it is a {suffix} file ({KEPT_SUFFIXES[suffix]}), not "
                         f"{out.kind} (--force replaces it)")
    if status.st_size == 0:
        return target
    try:
        with target.open("rb") as file:
            head = file.read(_HEAD)
    except OSError as err:
        raise UsageError(f"{refuse}: cannot read it to see what it holds ({err.strerror or err}; "
                         f"--force replaces it)") from None
    if not out.holds(target, head):
        raise UsageError(f"{refuse}: it holds something other than {out.kind} (--force replaces it)")
    return target


def write_atomic(path, data, out: Output, *, force: bool = False, protect=(), mode: int | None = None) -> None:
    """Write ``data`` (bytes or str) for ``out`` to ``path`` through a temporary file in the
    same directory, renamed into place: never a half-written file, and never over a file
    that ``check_target`` refuses. ``mode``: its permissions (by default a new file's)."""
    target = check_target(path, out, force=force, protect=protect)
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise CommandError(f"cannot write '{path}': {err.strerror or err}") from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o666 & ~_umask() if mode is None else mode)
        os.replace(temporary, target)
    except OSError as err:
        _remove(temporary)
        raise CommandError(f"cannot write '{path}': {err.strerror or err}") from None
    except BaseException:
        _remove(temporary)
        raise


def same_file(a, b) -> bool:
    """Do two paths name one existing file?"""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _is_dot(head: bytes) -> bool:
    text = head.removeprefix(b"\xef\xbb\xbf")
    at = 0
    while (comment := _DOT_COMMENT.match(text, at)) and comment.end() > at:
        at = comment.end()
    return _DOT.match(text, at) is not None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
