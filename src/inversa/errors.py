"""Errors raised on bad input.

Every user-facing failure caused by the input (a missing file, a wrong shape, a negative
noise level...) raises :class:`InputError`, whose message names the file or field and what
was expected. The CLI turns it into one line on stderr and exit status 2.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: the message names the file/field and what was expected."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None):
        self.source = source
        self.field = field
        where = ", ".join(p for p in (source, field) if p)
        super().__init__(f"{where}: {message}" if where else message)


def existing_file(path, expected: str = "a file"):
    """``Path(path)`` if it names an existing file; :class:`InputError` otherwise."""
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise InputError("no such file", source=str(p))
    if p.is_dir():
        raise InputError(f"is a folder, expected {expected}", source=str(p))
    return p
