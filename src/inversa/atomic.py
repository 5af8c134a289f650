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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(tmp: Path, final: Path, is_dir: bool = False) -> None:
    """Give the temporary the permissions of a normally created file, then rename it."""
    os.chmod(tmp, (0o777 if is_dir else 0o666) & ~_umask())
    os.replace(tmp, final)


def check_parent(path: str | os.PathLike) -> Path:
    """``Path(path)`` if the folder it would be written into exists."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError("output folder does not exist", source=str(parent))
    return p


def check_new_folder(path: str | os.PathLike) -> Path:
    """A folder we may create: absent or empty, inside an existing parent."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError("parent folder does not exist", source=str(parent))
    if p.exists() and (not p.is_dir() or any(p.iterdir())):
        raise InputError("output folder exists and is not empty", source=str(p))
    return p


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp_path)`` then rename to ``path`` (same folder, same suffix)."""
    with Staged() as st:
        st.stage(path, write)
        st.commit()


def atomic_folder(path: Path, fill: Callable[[Path], object]) -> None:
    """Call ``fill(tmp_dir)`` then rename the folder to ``path`` (absent or empty)."""
    with Staged() as st:
        st.stage_folder(path, fill)
        st.commit()


class Staged:
    """Several outputs that appear together or not at all.

    ``stage(path, write)`` writes to a temporary name now; ``commit()`` renames them all
    (a fast, local operation); leaving the ``with`` block on an error removes the
    temporaries.
    """

    def __init__(self) -> None:
        self._items: list[tuple[Path, Path, bool]] = []

    def __enter__(self) -> Staged:
        return self

    def stage(self, path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix,
                                   dir=path.parent if str(path.parent) else ".")
        os.close(fd)
        self._items.append((Path(tmp), path, False))
        write(Path(tmp))
        return path

    def stage_folder(self, path: str | os.PathLike, fill: Callable[[Path], object]) -> Path:
        path = check_new_folder(path)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        self._items.append((tmp, path, True))
        fill(tmp)
        return path

    def commit(self) -> None:
        for tmp, final, is_dir in self._items:
            if is_dir and final.exists():
                final.rmdir()
            _publish(tmp, final, is_dir)
        self._items = []

    def __exit__(self, *exc) -> None:
        for tmp, _, is_dir in self._items:
            if is_dir:
                shutil.rmtree(tmp, ignore_errors=True)
            elif tmp.exists():
                tmp.unlink()
        self._items = []
