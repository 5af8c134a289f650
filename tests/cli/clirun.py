"""What every CLI test checks: a command that works exits 0; one that is refused gives one
line ``inversa: error: ...`` on stderr, exit status 2, and writes nothing."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from inversa.cli.main import app

runner = CliRunner()


def ok(args):
    """Run ``inversa ARGS``; it must succeed. Returns the result (``.output``)."""
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res


def fails(args, folder: Path, match: str | None = None, before: set | None = None):
    """Run ``inversa ARGS``; it must be refused in one line mentioning ``match``, and leave
    ``folder`` as it was (``before``: its files to compare with, default: now)."""
    before = set(folder.rglob("*")) if before is None else before
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("inversa: error:"), res.output
    if match:
        assert match in lines[0], lines[0]
    assert set(folder.rglob("*")) == before, "something was written"
    return res
