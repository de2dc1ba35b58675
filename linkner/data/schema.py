"""Label-schema checks, run before any model load or LLM call.

A model trained on one schema and fed data, dev sets, predictions or type definitions of another does
not fail by itself: it trains against a dev set whose labels it can never produce, or links
CoNLL-labelled predictions with WNUT-17's definitions and quietly mixes the two label sets (F1 72 → 38
in the issue that asked for these checks). One comparison, :func:`check_labels_within`, gives every
stage's case (training in :mod:`linkner.models.preflight`, linking in :mod:`linkner.link.preflight`,
evaluation here) the same clear message.
"""

from __future__ import annotations

from collections.abc import Iterable

from linkner.data.types import Sentence, labels_of
from linkner.errors import DataError


def listing(labels: Iterable[str]) -> str:
    labels = sorted(labels)
    return ", ".join(labels) if labels else "none"


def check_labels_within(labels: Iterable[str], schema: Iterable[str], what: str, schema_what: str, hint: str = "") -> None:
    """Raise :class:`DataError` if ``labels`` (those used by ``what``) fall outside ``schema`` (that of
    ``schema_what``), naming the labels on both sides."""
    extra = sorted(set(labels) - set(schema))
    if extra:
        raise DataError(f"{what} uses label(s) {listing(extra)} that {schema_what} does not have "
                        f"(its labels: {listing(schema)}){'; ' + hint if hint else ''}")


def check_dev_labels(dev: list[Sentence], schema: Iterable[str], dev_what: str, schema_what: str) -> None:
    """The dev set's labels must be ones the trained model can output (call it once both splits are read)."""
    check_labels_within(labels_of(dev), schema, dev_what, schema_what,
                        "the model could never predict them, so early stopping would be blind; give the dev split "
                        "of the same dataset")


def check_eval_labels(gold: str, gold_sentences: list[Sentence], pred_sentences: list[Sentence], pred_what: str) -> None:
    """Predictions scored against gold must speak its schema: the declared one of a named dataset, and
    for a file at least one shared label (disjoint label sets mean the wrong file, not a bad model)."""
    from linkner.data.registry import DATASETS

    pred = set(labels_of(pred_sentences))
    if gold in DATASETS:
        check_labels_within(pred, DATASETS[gold].labels, pred_what, f"dataset {gold}")
        return
    gold_labels = set(labels_of(gold_sentences))
    if pred and gold_labels and not pred & gold_labels:
        raise DataError(f"{pred_what} uses label(s) {listing(pred)}, none of which the gold {gold} has "
                        f"(its labels: {listing(gold_labels)}); are these predictions for another dataset?")
