"""``linkner data``: list the named datasets, show statistics, convert between formats, fetch CoNLL-2003."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from linkner_cli.common import user_errors

data_app = typer.Typer(help="List, inspect, convert and fetch datasets.", no_args_is_help=True)
console = Console()


@data_app.command("list")
@user_errors
def list_datasets() -> None:
    """The named datasets, their label schemas, and whether their files are found here."""
    from linkner.data.registry import DATASETS, data_roots, find

    table = Table("name", "labels", "splits found", "description")
    for name, spec in DATASETS.items():
        found = [split for split in spec.splits if find(name, split) is not None]
        hint = f"`linkner data fetch {name}`" if spec.hub else "set LINKNER_DATA_DIR"
        table.add_row(name, ", ".join(spec.labels), ", ".join(found) or f"[red]none ({hint})[/red]", spec.description)
    console.print(table)
    console.print("searched, in order: " + escape(", ".join(str(r) for r in data_roots())))


@data_app.command("stats")
@user_errors
def stats(
    source: str = typer.Argument(..., help="A dataset name (see `linkner data list`) or a file."),
    split: str = typer.Option(None, help="Split of a named dataset (default: all splits)."),
    fmt: str = typer.Option(None, "--format", help="File format: conll, spanner, jsonl, hf (default: guessed)."),
    json_out: Path = typer.Option(None, "--json", help="Also write the statistics as JSON here."),
) -> None:
    """Sentences, tokens, entities per type and the entity-length histogram."""
    from linkner.data.registry import DATASETS, load
    from linkner.data.stats import compute_stats

    splits = ([split] if split else list(DATASETS[source].splits)) if source in DATASETS else [split or "test"]
    result = {}
    for sp in splits:
        st = compute_stats(load(source, sp, fmt))
        result[sp] = st.as_dict()
        table = Table(title=escape(f"{source} [{sp}]") if source in DATASETS else escape(source))
        table.add_column("what")
        table.add_column("count", justify="right")
        for k in ("sentences", "tokens", "entities"):
            table.add_row(k, f"{getattr(st, k):,}")
        for label, n in st.per_type.items():
            table.add_row(f"  {label}", f"{n:,}")
        for length, n in st.length_histogram.items():
            table.add_row(f"  length {length}", f"{n:,}")
        console.print(table)
    if json_out:
        from linkner.outputs import write_text_atomic

        write_text_atomic(json_out, json.dumps(result, indent=2) + "\n")


@data_app.command("convert")
@user_errors
def convert(
    source: str = typer.Argument(..., help="Input file or dataset name."),
    out: Path = typer.Argument(..., help="Output file."),
    to: str = typer.Option(..., "--to", help="Output format: conll, jsonl or spanner."),
    fmt: str = typer.Option(None, "--from", help="Input format (default: guessed)."),
    split: str = typer.Option("test", help="Split, for a named dataset."),
) -> None:
    """Convert between CoNLL (IOB2), JSONL and the original spanner JSON."""
    from linkner.data.registry import load
    from linkner.data.writers import write

    sentences = load(source, split, fmt)
    write(sentences, out, to)
    console.print(f"wrote {len(sentences):,} sentences to {out} ({to})")


@data_app.command("fetch")
@user_errors
def fetch(
    name: str = typer.Argument(..., help="Dataset to fetch: conll03 (the only one on the Hugging Face hub)."),
    source: Path = typer.Option(None, "--from", help="Convert this local copy in the hub's format instead of "
                                "downloading (a save_to_disk folder or a folder of Parquet files)."),
    out: Path = typer.Option(None, "--out", help="Write under this folder instead of the data cache "
                             "($LINKNER_DATA_CACHE, else $XDG_CACHE_HOME/linkner/data, else ~/.cache/linkner/data)."),
    force: bool = typer.Option(False, "--force", help="Fetch again even if the dataset is already found."),
) -> None:
    """Download CoNLL-2003 with the `datasets` library and write it as the CoNLL files the registry reads."""
    from linkner.data.fetch import fetch as fetch_dataset

    paths = fetch_dataset(name, source, out, force, say=lambda m: console.print(escape(m)))
    for split, path in paths.items():
        console.print(escape(f"{name} [{split}]: {path}"))


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
