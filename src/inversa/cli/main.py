"""Entry point of the ``inversa`` command."""

from __future__ import annotations

import typer

from inversa.cli import batch, exo, synth, train
from inversa.cli.burst import burst_cmd
from inversa.cli.demo import demo_cmd
from inversa.cli.hdr import hdr_cmd
from inversa.cli.isp import isp_cmd
from inversa.cli.restore import restore_cmd
from inversa.cli.spikes import spikes_cmd

app = typer.Typer(
    help="inversa: physical forward models + learned priors for scientific imaging.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.command("restore")(restore_cmd)
app.command("spikes")(spikes_cmd)
app.command("isp")(isp_cmd)
app.command("burst")(burst_cmd)
app.command("hdr")(hdr_cmd)
app.command("demo")(demo_cmd)
app.add_typer(synth.app, name="synth")
app.add_typer(train.app, name="train")
app.add_typer(exo.app, name="exo")
app.add_typer(batch.app, name="batch")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
