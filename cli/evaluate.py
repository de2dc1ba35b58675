"""``linkner evaluate``: entity-level P/R/F1 of predictions against gold, in any supported format."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from linkner_cli.common import user_errors

console = Console()


@user_errors
def evaluate(
    gold: str = typer.Argument(..., help="Gold: a dataset name (e.g. conll03) or a file."),
    pred: Path = typer.Argument(..., help="Predictions file (JSONL from `linkner infer`/`link`, CoNLL or spanner)."),
    split: str = typer.Option("test", help="Split of a named gold dataset."),
    gold_format: str = typer.Option(None, help="Gold file format (default: guessed)."),
    pred_format: str = typer.Option(None, help="Prediction file format (default: guessed)."),
    json_out: Path = typer.Option(None, "--json", help="Write the scores as JSON here."),
) -> None:
    """Score predictions exactly like conlleval/seqeval: micro and per-type precision, recall, F1."""
    from linkner.data.readers import read
    from linkner.data.registry import load
    from linkner.data.schema import check_eval_labels
    from linkner.metrics import evaluate as score
    from linkner.outputs import atomic_output, check_output_file

    if json_out:
        check_output_file(json_out, "--json")
    gold_sents = load(gold, split, gold_format)
    pred_sents = read(pred, pred_format)
    gold_source = f"{gold}/{split}" if not Path(gold).exists() else str(gold)
    scores = score(gold_sents, pred_sents, gold_source, str(pred))
    check_eval_labels(gold, gold_sents, pred_sents, f"predictions {pred}")
    table = Table("type", "precision", "recall", "F1", "gold", "pred", title=f"{pred} vs {gold}")
    for name, prf in [*scores.per_type.items(), ("micro", scores.micro)]:
        table.add_row(name, f"{100 * prf.precision:.2f}", f"{100 * prf.recall:.2f}", f"{100 * prf.f1:.2f}", str(prf.n_gold), str(prf.n_pred))
    console.print(table)
    if json_out:
        with atomic_output(json_out) as tmp:
            tmp.write_text(json.dumps({"gold": gold, "split": split, "pred": str(pred), **scores.as_dict()}, indent=2) + "\n",
                           encoding="utf-8")


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
