"""The ``linkner`` application. Each pipeline step lives in its own module and registers itself here.

Only typer is imported at start-up; torch and transformers are imported inside the commands that
need them, so ``linkner --help`` stays instant.
"""

from __future__ import annotations

import typer

from linkner import __version__

app = typer.Typer(
    name="linkner",
    help="LinkNER: local span NER with uncertainty, linked to an LLM for the entities it is unsure of.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"linkner {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version.")) -> None:
    """LinkNER command line."""


def _register() -> None:
    from linkner_cli import bench, data, demo, evaluate, figures, infer, link, train

    for module in (data, train, infer, link, evaluate, figures, demo, bench):
        module.register(app)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
