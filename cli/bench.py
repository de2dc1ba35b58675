"""``linkner bench``: speed, memory and accuracy against the alternatives, measured side by side on
this machine (results/bench/*.json and the ``bench`` figure)."""

from __future__ import annotations

from pathlib import Path

import typer

from linkner_cli.common import user_errors


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@user_errors
def bench(
    checkpoint: Path = typer.Option(Path("runs/conll03-ener-minilm"), help="E-NER (MiniLM) checkpoint from `linkner train`."),
    hf_checkpoint: Path = typer.Option(Path("runs/hf-tagger-minilm"), help="HF token tagger from `python -m linkner.baselines.hf_tagger`."),
    out: Path = typer.Option(Path("results/bench"), help="Folder for {part}.json and summary.json."),
    figure_dir: Path = typer.Option(Path("figures"), help="Where the `bench` figure goes."),
    only: str = typer.Option(None, "--only", help="Comma-separated parts: inference,baselines,scaling,linking,training."),
    quick: bool = typer.Option(False, "--quick", help="Smoke-check sizes (≤ 50 sentences, 2 repeats, tiny LLM)."),
    data: str = typer.Option("conll03", help="Dataset name, or a CoNLL/JSONL file used for every split."),
    sentences: int = typer.Option(None, help="Use the first N test sentences (default: all)."),
    repeats: int = typer.Option(5, help="Timed repeats per measurement (medians are reported)."),
    threads: int = typer.Option(None, help="torch threads (default: torch's choice, the cores)."),
    llm_threads: int = typer.Option(None, "--llm-threads",
                                    help="llama.cpp threads, in process and for the server (default: half the cores)."),
    llm_models: str = typer.Option(None, "--llm-models", help="Comma-separated LLM presets (default: every installed one)."),
    link_entities: int = typer.Option(100, help="Entities asked per LLM."),
    server: bool = typer.Option(True, "--server/--no-server", help="Benchmark python -m llama_cpp.server too."),
    server_model: str = typer.Option(None, help="Preset served (default qwen2.5-coder-0.5b if installed)."),
    train_steps: int = typer.Option(20, help="Timed optimiser steps per model (the epoch time is extrapolated)."),
    in_process: bool = typer.Option(False, "--in-process", help="Run cases in this process (no per-case peak RSS)."),
) -> None:
    """Benchmark LinkNER against its raw encoder, a Hugging Face tagger/pipeline and spaCy; scaling, LLM and training cost."""
    from linkner.bench.common import PARTS, BenchConfig
    from linkner.bench.runner import run_bench

    cfg = BenchConfig(
        checkpoint=str(checkpoint), hf_checkpoint=str(hf_checkpoint), out=str(out), parts=tuple(_csv(only) or PARTS),
        data=data, sentences=sentences, repeats=repeats, threads=threads, llm_threads=llm_threads,
        llm_models=_csv(llm_models),
        link_entities=link_entities, server=server, server_model=server_model, train_steps=train_steps,
        isolate=not in_process, quick=quick,
    )
    needs_ckpt = set(cfg.parts) & {"inference", "baselines", "scaling", "linking"}
    if needs_ckpt and not (checkpoint / "config.json").is_file():
        from linkner.errors import ModelError

        raise ModelError(f"{checkpoint} is not a LinkNER checkpoint (parts {', '.join(sorted(needs_ckpt))} need one); "
                         "train it with `linkner train --data conll03 --model ener --out runs/conll03-ener-minilm`")
    res = run_bench(cfg, figure_dir=figure_dir, say=lambda m: typer.echo(m, err=True))
    for part, doc in res["parts"].items():
        typer.echo(f"{part}: {out / (part + '.json')}")
        targets = doc["numbers"].get("targets")
        if targets:
            typer.echo("  targets: " + ", ".join(f"{k}={'met' if v else 'MISSED' if v is False else 'n/a'}" for k, v in targets.items()))
    if "figure" in res["summary"]:
        typer.echo(f"figure: {res['summary']['figure'][0]}")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
