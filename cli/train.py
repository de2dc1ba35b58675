"""``linkner train``: fine-tune the local span model (SpanNER or E-NER) and keep the best checkpoint.

Configuration is layered: defaults, then ``--config`` (TOML/YAML/JSON with ``[model]`` and
``[train]`` tables), then the flags given on the command line. With ``--resume DIR`` the base is the
config saved in DIR, and training continues after the last finished epoch (into DIR unless ``--out``).
"""

from __future__ import annotations

from pathlib import Path

import typer

from linkner_cli.common import fail, user_errors


def run_config(config: Path | None, resume: Path | None, flags: dict):
    """defaults < the resumed checkpoint's saved config < ``--config`` < the flags given
    (:func:`linkner.configio.layered`); with ``--resume`` and no ``--out`` training continues in place."""
    from linkner.configio import layered, read_config_file
    from linkner.errors import ModelError
    from linkner.models.config import RunConfig

    base = None
    if resume is not None:
        saved = resume / "config.json"
        if not saved.is_file():
            raise ModelError(f"--resume {resume}: not a LinkNER checkpoint folder (no config.json)")
        base = read_config_file(saved)
        if flags["train"].get("out") is None:
            flags["train"]["out"] = str(resume)
    return layered(RunConfig, flags, config, base)


@user_errors
def train_cmd(
    data: str = typer.Option(None, "--data", help="Named dataset (conll03, wnut17, …) or a training file."),
    model: str = typer.Option(None, "--model", help="ener (evidential loss, default) or spanner (cross-entropy)."),
    encoder: str = typer.Option(None, "--encoder", help="minilm (default), mpnet, a model folder or a hub name."),
    out: str = typer.Option(None, "--out", help="Checkpoint folder to write (default runs/model)."),
    config: Path = typer.Option(None, "--config", help="TOML/YAML/JSON config with `model` and `train` tables."),
    epochs: int = typer.Option(None, "--epochs", help="Maximum epochs (default: planned from the data size)."),
    min_steps: int = typer.Option(None, "--min-steps", help="Minimum optimiser steps when epochs are planned (default 600)."),
    batch_size: int = typer.Option(None, "--batch-size", help="Sentences per batch (length-bucketed)."),
    lr: float = typer.Option(None, "--lr", help="Encoder learning rate."),
    head_lr: float = typer.Option(None, "--head-lr", help="Span-head learning rate."),
    max_train_sentences: int = typer.Option(None, "--max-train-sentences", help="Train on a seeded random subset."),
    max_dev_sentences: int = typer.Option(None, "--max-dev-sentences", help="Early-stop on a seeded dev subset."),
    dev_split: str = typer.Option(None, "--dev", help="Dev split name or file."),
    patience: int = typer.Option(None, "--patience", help="Dev scorings without F1 gain (once above 0) before stopping."),
    allow_zero: bool = typer.Option(False, "--allow-zero", help="Exit 0 even if dev F1 stayed 0."),
    bf16: bool = typer.Option(None, "--bf16/--no-bf16", help="bf16 autocast (fast on AMX CPUs and GPUs)."),
    resume: Path = typer.Option(None, "--resume", help="Continue training from this checkpoint folder."),
    seed: int = typer.Option(None, "--seed", help="Random seed (default 123123)."),
    threads: int = typer.Option(None, "--threads", help="torch CPU threads."),
    device: str = typer.Option(None, "--device", help="auto, cpu or cuda."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a live progress bar."),
) -> None:
    """Train a span NER model with uncertainty; the best dev-F1 checkpoint is kept in --out."""
    from rich.console import Console

    console = Console(stderr=True)
    run = run_config(config, resume, {
        "model": {"loss": model, "encoder": encoder},
        "train": {"data": data, "out": out, "epochs": epochs, "batch_size": batch_size, "lr": lr, "head_lr": head_lr,
                  "min_steps": min_steps, "max_train_sentences": max_train_sentences,
                  "max_dev_sentences": max_dev_sentences, "dev_split": dev_split, "patience": patience, "bf16": bf16,
                  "seed": seed, "threads": threads, "device": device, "progress": progress}})
    from linkner.models.preflight import check_training_inputs
    from linkner.models.train import train

    check_training_inputs(run, resume)  # --out, dev labels vs the model's schema: before any encoder load
    console.print(f"training {run.model.loss} span model on {run.train.data} with encoder {run.model.encoder} → {run.train.out}")
    metrics = train(run, resume=resume, log=console.print)
    if metrics["zero_f1"]:
        from linkner.models.train import zero_f1_advice

        if not allow_zero:
            raise fail(zero_f1_advice(metrics))
        console.print(f"warning (--allow-zero): {zero_f1_advice(metrics)}")
    console.print(f"best dev F1 {metrics['best_dev_f1']:.4f} at epoch {metrics['best_epoch']}; checkpoint in {metrics['out']}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
