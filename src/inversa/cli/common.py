"""Shared CLI helpers: one-line errors with exit status 2."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import typer

from inversa.errors import InputError


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn :class:`InputError` (and unreadable files) into one line on stderr, exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as e:
            print(f"inversa: error: {e}", file=sys.stderr)
            raise typer.Exit(2) from None
        except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
            print(f"inversa: error: {e.filename}: {e.strerror}", file=sys.stderr)
            raise typer.Exit(2) from None

    return wrapper


def noise_option(spec: str, burst):
    """``--noise``: ``auto`` (the burst's metadata, else estimated), ``blind`` (estimated:
    ``None``) or ``SHOT,READ``."""
    from inversa.camera.noise import NoiseLevels

    if spec == "auto":
        return burst.noise
    if spec == "blind":
        return None
    return NoiseLevels.parse(spec)
