"""``linkner infer``: run a trained checkpoint on raw text or a dataset; print entities, write JSONL.

Input, exactly one of: a TEXT argument (``-`` reads stdin), ``--input FILE`` (raw UTF-8 text), or
``--data NAME|PATH`` with ``--split``. Output: a table of entities for raw text, and with ``--out`` the
predictions as JSONL (the contract of :mod:`linkner.models.predict`). ``--metrics FILE`` (labelled data
only) also writes entity P/R/F1, ECE and misclassification AUROC per uncertainty method, timings,
versions and the resolved config (:func:`linkner.evaluation.evaluate_checkpoint`).

Predictions are streamed: ``--out`` receives each chunk of 2,048 sentences as soon as it is decoded
(:meth:`linkner.models.predict.LocalModel.iter_predict_sentences`), so memory does not grow with the input,
and a progress bar with ETA runs on stderr (``--quiet`` hides it). The stream goes to a temporary file
beside ``--out`` that is renamed to ``--out`` only when complete (:func:`linkner.outputs.atomic_output`):
an interrupted run leaves the old file, or none, never a truncated one that looks finished.

The work is :func:`linkner.evaluation.infer.infer`; this skin reads the input (``--input`` with its line
ends as they are, CRLF included, so ``doc_char_*`` offsets index the file's real characters), shows the
progress and prints the table. Everything that can be checked without the model is checked before it is
loaded: the input, the output paths, and the data's labels against the checkpoint's ``labels.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from linkner_cli.common import sentence_progress, user_errors


def _raw_text(text: str | None, input_file: Path | None) -> str | None:
    from linkner.errors import DataError

    if text is not None and input_file is not None:
        raise DataError("give either TEXT or --input, not both")
    if input_file is not None:
        if not input_file.is_file():
            raise DataError(f"input file not found: {input_file}")
        try:
            # bytes, then decode: no newline translation, so offsets count a CRLF as the two characters it is
            text = input_file.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{input_file} is not valid UTF-8 text (byte {exc.start})") from None
        except OSError as exc:
            raise DataError(f"cannot read {input_file}: {exc.strerror or exc}") from None
        if not text.strip():
            raise DataError(f"input file {input_file} is empty")
        return text
    if text == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        try:
            text = buffer.read().decode("utf-8") if buffer is not None else sys.stdin.read()
        except UnicodeDecodeError as exc:
            raise DataError(f"standard input is not valid UTF-8 text (byte {exc.start})") from None
        if not text.strip():
            raise DataError("standard input is empty")
    elif text is not None and not text.strip():
        raise DataError("the input text is empty")
    return text


def _table(sentences) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="entities")
    for col in ("sentence", "chars", "text", "label", "prob", "uncertainty"):
        table.add_column(col)
    for s in sentences:
        base = s.meta.get("char_offset", 0)
        for e in s.entities:
            a, b = s.char_span(e) or (e.start, e.end)
            unc = ", ".join(f"{k} {v:.2f}" for k, v in e.extra.get("uncertainty", {}).items())
            table.add_row(s.id, f"{a + base}-{b + base}", s.surface(e), e.label, f"{e.score:.3f}", unc)
    Console().print(table)


@user_errors(interrupted="interrupted; --out was left as it was (nothing partial is kept); re-run to tag again")
def infer_cmd(
    checkpoint: Path = typer.Argument(..., help="Checkpoint folder written by 'linkner train'."),
    text: str = typer.Argument(None, help="Raw text to tag; '-' reads standard input."),
    data: str = typer.Option(None, "--data", help="Named dataset or file (CoNLL, spanner JSON, JSONL) to tag."),
    split: str = typer.Option("test", "--split", help="Split of a named dataset."),
    input_file: Path = typer.Option(None, "--input", help="Raw UTF-8 text file to tag."),
    out: Path = typer.Option(None, "--out", help="Write predictions as JSONL here."),
    mc_samples: int = typer.Option(0, "--mc-samples", help="MC-dropout passes (0 = off)."),
    mc_seed: int = typer.Option(0, "--mc-seed", help="Seed of the MC-dropout masks (recorded; same seed, same values)."),
    batch_size: int = typer.Option(64, "--batch-size", help="Sentences per inference batch."),
    metrics: Path = typer.Option(None, "--metrics", help="Write an evaluation JSON (labelled --data only)."),
    fit_temperature: str = typer.Option(None, "--fit-temperature",
                                        help="Fit a softmax temperature on this split of --data (e.g. dev) and store it in the checkpoint first."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print the entity table."),
) -> None:
    """Tag raw text or a dataset with a trained checkpoint."""
    from rich.console import Console

    from linkner.evaluation.infer import infer

    err = Console(stderr=True)
    result = infer(checkpoint, text=_raw_text(text, input_file), data=data, split=split, out=out, metrics=metrics,
                   mc_samples=mc_samples, mc_seed=mc_seed, batch_size=batch_size, fit_temperature=fit_temperature,
                   device=device, keep=data is None and not quiet,
                   progress_bar=lambda total, what: sentence_progress(total, what, enabled=not quiet))
    if result.temperature is not None:
        err.print(f"fitted temperature {result.temperature:.3f} on {fit_temperature}; stored in {checkpoint}/calibration.json")
    if result.metrics is not None:
        m = result.metrics["entity"]["micro"]
        err.print(f"{result.source}: P {m['precision']:.4f} R {m['recall']:.4f} F1 {m['f1']:.4f}; metrics → {metrics}")
    if data is not None:
        err.print(f"{result.sentences} sentences, {result.entities} entities predicted")
    elif not quiet:
        _table(result.kept)
    if out is not None:
        err.print(f"predictions → {out}")


def register(app: typer.Typer) -> None:
    app.command("infer")(infer_cmd)
