"""The ``inversa`` command line (typer): one module per command group."""
