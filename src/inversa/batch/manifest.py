"""Manifests: one observation or burst per row (CSV/ECSV), or a glob of files.

Columns: ``id, cube, angles, psf`` (exo; ``angles``/``psf`` may be empty for a
multi-extension FITS) or ``id, burst`` (bursts: a ``.npz`` or a folder of raw files).
Paths are relative to the manifest's folder, or absolute. Optional per-row parameters
override the command's options: ``method``, ``threshold``, ``ncomp`` (exo); ``scale``,
``method``, ``prior``, ``frames`` (burst). Other columns are kept in the summary only.
A glob (``'archive/*.fits'``, ``'bursts/*.npz'``) makes one item per file, named by its
stem.
"""

from __future__ import annotations

import glob as _glob
import re
from dataclasses import dataclass, field
from pathlib import Path

from inversa.errors import InputError

REQUIRED = {"exo": ("id", "cube"), "burst": ("id", "burst")}
PATHS = {"exo": ("cube", "angles", "psf"), "burst": ("burst",)}
PARAMS = {"exo": {"method": str, "threshold": float, "ncomp": int},
          "burst": {"scale": int, "method": str, "prior": str, "frames": int}}
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True)
class Item:
    """One row: its id (the output folder's name), input paths and parameter overrides."""

    id: str
    paths: dict[str, str]
    params: dict[str, object] = field(default_factory=dict)


def _check_id(value: str, where: str) -> str:
    if not _SAFE.match(value):
        raise InputError(f"id {value!r} must start with a letter or digit and hold only "
                         "letters, digits and . _ + -", source=where, field="id")
    return value


def read_manifest(spec: str, kind: str) -> list[Item]:
    """Items of a manifest file or a glob pattern."""
    if kind not in REQUIRED:
        raise InputError(f"unknown batch kind {kind!r}")
    if any(ch in spec for ch in "*?["):
        files = sorted(_glob.glob(spec))
        if not files:
            raise InputError("the pattern matches no file", source=spec)
        col = PATHS[kind][0]
        items = [Item(id=_check_id(Path(f).stem, spec), paths={col: str(Path(f).resolve())})
                 for f in files]
        _unique(items, spec)
        return items
    p = Path(spec)
    if not p.is_file():
        raise InputError("no such manifest file", source=spec)
    from astropy.table import Table

    fmt = "ascii.ecsv" if p.suffix.lower() == ".ecsv" else "ascii.csv"
    try:
        table = Table.read(p, format=fmt)
    except Exception as e:
        raise InputError(f"cannot read the manifest as {fmt} ({e})", source=spec) from None
    missing = [c for c in REQUIRED[kind] if c not in table.colnames]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}; a {kind} manifest needs "
                         f"{', '.join(REQUIRED[kind])}", source=spec)
    base = p.resolve().parent
    items = []
    for row in table:
        rid = _check_id(str(row["id"]).strip(), spec)
        paths = {}
        for col in PATHS[kind]:
            if col in table.colnames and not _empty(row[col]):
                q = Path(str(row[col]).strip())
                paths[col] = str(q if q.is_absolute() else base / q)
        params = {}
        for col, typ in PARAMS[kind].items():
            if col in table.colnames and not _empty(row[col]):
                try:
                    params[col] = typ(row[col])
                except (TypeError, ValueError):
                    raise InputError(f"row {rid}: {col} must be {typ.__name__}",
                                     source=spec) from None
        items.append(Item(id=rid, paths=paths, params=params))
    if not items:
        raise InputError("the manifest has no rows", source=spec)
    _unique(items, spec)
    return items


def _empty(v) -> bool:
    import numpy as np

    if v is None or (hasattr(np, "ma") and v is np.ma.masked):
        return True
    s = str(v).strip()
    return s == "" or s == "--"


def _unique(items: list[Item], spec: str) -> None:
    seen: set[str] = set()
    for it in items:
        if it.id in seen:
            raise InputError(f"duplicate id {it.id!r}", source=spec, field="id")
        seen.add(it.id)
