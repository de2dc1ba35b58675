"""``linkner demo``: the whole pipeline on embedded defaults (about ten minutes on two CPU cores)."""

from __future__ import annotations

from pathlib import Path

import typer

from linkner.studies.demo import DemoConfig
from linkner_cli.common import option, user_errors

_D = DemoConfig()


@user_errors
def demo(
    out: Path = option(_D.out, "Output folder (model, predictions, linked entities, figure)."),
    data: str = option(_D.data, "Named dataset (see `linkner data list`); WNUT-17 ships with the repo, CoNLL-2003 "
                       "needs `linkner data fetch conll03`."),
    train_sentences: int = option(None, "Training sentences (seeded subset; default: the whole split)."),
    dev_sentences: int = option(_D.dev_sentences, "Dev sentences for early stopping and tuning τ (seeded subset)."),
    test_sentences: int = option(None, "Test sentences to link (seeded subset; default: the whole split)."),
    epochs: int = option(_D.epochs, "Training epochs."),
    llm_model: str = option(_D.llm_model, "In-process LLM preset or GGUF path."),
    max_routed: float = option(_D.max_routed, "At most this fraction of entities goes to the LLM."),
) -> None:
    """Train E-NER → predict with uncertainty → route → link to an in-process LLM → scores and a figure."""
    flags = {k: str(v) if isinstance(v, Path) else v for k, v in locals().items()}
    from rich.console import Console
    from rich.table import Table

    from linkner.configio import layered
    from linkner.studies.demo import run_demo

    cfg = layered(DemoConfig, flags)
    console = Console()
    s = run_demo(cfg, say=console.print)
    table = Table("", "value", title=f"LinkNER demo ({cfg.data} test, honest protocol)")
    table.add_row("local E-NER F1", f"{100 * s['local_f1']:.2f}")
    table.add_row("LinkNER F1", f"{100 * s['linkner_f1']:.2f}")
    table.add_row("Δ F1", delta_text(s["delta_f1"], s.get("delta_f1_ci95")))
    table.add_row("routed", f"{s['routed']}/{s['entities']} entities ({100 * s['routed_fraction']:.1f} %), τ = "
                  + ("+∞ (no dev cut was supported by the bootstrap)" if s["tau"] is None else f"{s['tau']:.3f}"))
    spr = s["seconds_per_routed_entity"]
    table.add_row("LLM cost", f"{spr:.2f} s per routed entity" if spr else "no LLM call")
    table.add_row("time", ", ".join(f"{k} {v:.0f} s" for k, v in s["timings"].items()))
    table.add_row("figure", s["figure"][0])
    console.print(table)


def delta_text(delta: float, ci: list[float] | None) -> str:
    """ΔF1 in points with its paired-bootstrap 95 % CI and what the CI allows one to say."""
    if not ci:
        return f"{100 * delta:+.2f}"
    lo, hi = ci
    verdict = "a gain" if lo > 0 else "a loss" if hi < 0 else "no difference the CI can tell from zero"
    return f"{100 * delta:+.2f} (95 % CI {100 * lo:+.2f} to {100 * hi:+.2f}: {verdict})"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
