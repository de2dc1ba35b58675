"""The ``linkner`` command line: a thin Typer skin over the :mod:`linkner` library."""
