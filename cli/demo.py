"""``linkner demo``: the whole pipeline on embedded defaults (about ten minutes on two CPU cores)."""

from __future__ import annotations

from pathlib import Path

import typer

from linkner_cli.common import user_errors


@user_errors
def demo(
    out: Path = typer.Option(Path("results/demo"), help="Output folder (model, predictions, linked entities, figure)."),
    train_sentences: int = typer.Option(3000, help="CoNLL-2003 training sentences (seeded subset)."),
    dev_sentences: int = typer.Option(400, help="Dev sentences for early stopping and tuning τ (seeded subset)."),
    test_sentences: int = typer.Option(800, help="Test sentences to link (seeded subset)."),
    epochs: int = typer.Option(2, help="Training epochs."),
    llm_model: str = typer.Option("qwen2.5-coder-0.5b", help="In-process LLM preset or GGUF path."),
    max_routed: float = typer.Option(0.1, help="At most this fraction of entities goes to the LLM."),
) -> None:
    """Train E-NER → predict with uncertainty → route → link to an in-process LLM → scores and a figure."""
    from rich.console import Console
    from rich.table import Table

    from linkner.demo import DemoConfig, run_demo

    console = Console()
    cfg = DemoConfig(out=str(out), train_sentences=train_sentences, dev_sentences=dev_sentences,
                     test_sentences=test_sentences, epochs=epochs,
                     llm_model=llm_model, max_routed=max_routed)
    s = run_demo(cfg, say=console.print)
    table = Table("", "value", title="LinkNER demo (CoNLL-2003 test subset, honest protocol)")
    table.add_row("local E-NER F1", f"{100 * s['local_f1']:.2f}")
    table.add_row("LinkNER F1", f"{100 * s['linkner_f1']:.2f} ({100 * s['delta_f1']:+.2f})")
    table.add_row("routed", f"{s['routed']}/{s['entities']} entities ({100 * s['routed_fraction']:.1f} %), τ = {s['tau']:.3f}")
    spr = s["seconds_per_routed_entity"]
    table.add_row("LLM cost", f"{spr:.2f} s per routed entity" if spr else "no LLM call")
    table.add_row("time", ", ".join(f"{k} {v:.0f} s" for k, v in s["timings"].items()))
    table.add_row("figure", s["figure"][0])
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
