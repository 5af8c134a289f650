"""All-or-nothing writes: write to a temporary name in the destination folder, then rename.

A failure (bad input found late, a full disk, Ctrl-C) never leaves a half-written file or
folder under the final name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from inversa.errors import InputError


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp_path)`` then rename to ``path`` (same folder, same suffix)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix,
                               dir=path.parent if str(path.parent) else ".")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_new_folder(path: str | os.PathLike) -> Path:
    """A folder we may create: absent or empty, inside an existing parent."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError("parent folder does not exist", source=str(parent))
    if p.exists() and (not p.is_dir() or any(p.iterdir())):
        raise InputError("output folder exists and is not empty", source=str(p))
    return p


def atomic_folder(path: Path, fill: Callable[[Path], object]) -> None:
    """Call ``fill(tmp_dir)`` then rename the folder to ``path`` (absent or empty)."""
    path = check_new_folder(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        fill(tmp)
        if path.exists():
            path.rmdir()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
