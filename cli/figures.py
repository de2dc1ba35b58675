"""``linkner figures``: regenerate every figure from the committed results JSON (no retraining)."""

from __future__ import annotations

from pathlib import Path

import typer

from linkner_cli.common import user_errors


@user_errors
def figures(
    results: Path = typer.Option(Path("results"), help="Folder holding the results JSON."),
    out: Path = typer.Option(Path("figures"), help="Where to write NAME.png / .pdf / .json."),
    name: list[str] = typer.Option(None, "--name", help="Only these figures (default: all)."),
) -> None:
    """Redraw the paper's figures from results JSON, byte-for-byte reproducibly."""
    from linkner.errors import ConfigError
    from linkner.studies.figures import FIGURES, make_all, make_figure

    if name:
        unknown = sorted(set(name) - set(FIGURES))
        if unknown:
            raise ConfigError(f"unknown figure(s) {', '.join(unknown)}; known: {', '.join(FIGURES)}")
        done = {n: make_figure(n, results, out) for n in name}
    else:
        done = make_all(results, out)
    for n, paths in done.items():
        typer.echo(f"{n}: {paths if isinstance(paths, str) else ', '.join(str(p) for p in paths)}")


def register(app: typer.Typer) -> None:
    app.command("figures")(figures)
