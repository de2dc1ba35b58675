"""Checks that run before the first model load or LLM call, shared by the CLI, the demo and the API.

Everything that can be known from the inputs alone is checked here first: output paths (see
:mod:`linkner.outputs`) and, above all, **label schemas**. A model trained on one schema and fed data,
dev sets, predictions or type definitions of another does not fail by itself: it trains against a dev
set whose labels it can never produce, or links CoNLL-labelled predictions with WNUT-17's definitions and
quietly mixes the two label sets (F1 72 → 38 in the issue that asked for these checks). One comparison,
:func:`check_labels_within`, gives all of these cases the same clear message.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from linkner.data.types import Sentence, labels_of
from linkner.errors import DataError, LLMError
from linkner.outputs import check_output_dir


def _listing(labels: Iterable[str]) -> str:
    labels = sorted(labels)
    return ", ".join(labels) if labels else "none"


def check_labels_within(labels: Iterable[str], schema: Iterable[str], what: str, schema_what: str, hint: str = "") -> None:
    """Raise :class:`DataError` if ``labels`` (those used by ``what``) fall outside ``schema`` (that of
    ``schema_what``), naming the labels on both sides."""
    extra = sorted(set(labels) - set(schema))
    if extra:
        raise DataError(f"{what} uses label(s) {_listing(extra)} that {schema_what} does not have "
                        f"(its labels: {_listing(schema)}){'; ' + hint if hint else ''}")


# ------------------------------------------------------------------------------------------ training
def check_training_inputs(run: Any, resume: str | Path | None = None) -> None:
    """``linkner train`` before the encoder is loaded: ``--out`` writable, and the dev set's labels within
    the schema the model will have (the training data's, or the resumed checkpoint's).

    A dev file of another dataset (``--data wnut17 --dev conll03/valid.txt``) would otherwise early-stop
    on an F1 that can never rise above zero for its labels.
    """
    from linkner.data.registry import schema_for
    from linkner.train import load_split, subset

    cfg = run.train
    check_output_dir(cfg.out, "--out")
    train = subset(load_split(cfg.data, cfg.train_split), cfg.max_train_sentences, cfg.seed)
    train_what = f"the training data ({cfg.data}, {cfg.train_split})"
    if resume is not None:
        from linkner.models.checkpoint import checkpoint_labels

        schema, schema_what = checkpoint_labels(resume)[1:], f"checkpoint {resume}"
        check_labels_within(labels_of(train), schema, train_what, schema_what)
    else:
        schema, schema_what = schema_for(cfg.data, train), train_what
    dev = subset(load_split(cfg.data, cfg.dev_split), cfg.max_dev_sentences, cfg.seed)
    check_dev_labels(dev, schema, f"the dev set ({cfg.dev_split})", schema_what)


def check_dev_labels(dev: list[Sentence], schema: Iterable[str], dev_what: str, schema_what: str) -> None:
    """The dev set's labels must be ones the trained model can output (call it once both splits are read)."""
    check_labels_within(labels_of(dev), schema, dev_what, schema_what,
                        "the model could never predict them, so early stopping would be blind; give the dev split "
                        "of the same dataset")


# ------------------------------------------------------------------------------------------ linking
def prediction_labels(sentences: list[Sentence]) -> tuple[set[str], bool]:
    """The labels a predictions file speaks, and whether that set is the model's complete schema (it is
    when entities carry probability tables: those list every label the model has)."""
    labels: set[str] = set()
    complete = False
    for s in sentences:
        model = s.meta.get("model") or {}
        if isinstance(model.get("labels"), list):
            labels.update(model["labels"])
            complete = True
        for e in s.entities:
            labels.add(e.label)
            probs = e.extra.get("probs")
            if isinstance(probs, dict) and probs:
                labels.update(probs)
                complete = True
    labels.discard("O")
    return labels, complete


def dataset_labels(dataset: str) -> list[str] | None:
    """The labels of a dataset with built-in type definitions (``conll03-typos`` shares CoNLL's); ``None``
    for any other name (a file path, say), for which the definitions are built from the labels."""
    from linkner.link.prompts import SCHEMAS

    for name, schema in SCHEMAS.items():
        if dataset == name or dataset.startswith(name + "-"):
            return schema.labels
    return None


def check_link_inputs(predictions: str | Path, cfg: Any, out: str | Path | None = None) -> None:
    """``linkner link`` before any backend exists: ``--out`` a writable folder; the predictions' labels
    within ``--dataset``'s types (unless ``--types`` replaces them); dev predictions from a model of the
    same schema."""
    from linkner.data.readers import read_jsonl

    if out is not None:
        check_output_dir(out, "--out")
    labels, complete = prediction_labels(read_jsonl(predictions))
    if cfg.dataset and not cfg.types:
        known = dataset_labels(cfg.dataset)
        if known is not None:
            check_labels_within(labels, known, f"predictions {predictions}", f"--dataset {cfg.dataset}",
                                "give the dataset the model was trained on, or leave --dataset out")
    if cfg.dev_predictions and Path(cfg.dev_predictions).is_file():
        dev, dev_complete = prediction_labels(read_jsonl(cfg.dev_predictions))
        differ = dev != labels if complete and dev_complete else (dev and labels and not dev & labels)
        if differ:
            raise DataError(f"dev predictions {cfg.dev_predictions} (labels {_listing(dev)}) and predictions "
                            f"{predictions} (labels {_listing(labels)}) come from models of different label schemas; "
                            "tune on dev predictions of the same model")


# ------------------------------------------------------------------------------------------ evaluation
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
        raise DataError(f"{pred_what} uses label(s) {_listing(pred)}, none of which the gold {gold} has "
                        f"(its labels: {_listing(gold_labels)}); are these predictions for another dataset?")


# ------------------------------------------------------------------------------------------ LLM model
def check_llm_model(backend: str, model: str) -> None:
    """For the in-process backend: ``model`` is an installed preset or a GGUF file (checked without
    loading or hashing it). Server backends are checked by their health check."""
    if backend != "llama-cpp":
        return
    from linkner.link.gguf import PRESETS, part_paths

    if model in PRESETS:
        part_paths(PRESETS[model])  # raises with the exact install command when a package is missing
        return
    path = Path(model).expanduser()
    if path.is_file():
        with path.open("rb") as fh:
            if fh.read(4) != b"GGUF":
                raise LLMError(f"{path} is not a GGUF file (llama.cpp needs GGUF weights)")
        return
    raise LLMError(f"LLM model {model!r} is neither a GGUF file nor a preset; presets: {', '.join(PRESETS)}")
