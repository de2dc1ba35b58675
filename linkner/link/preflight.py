"""``linkner link``'s checks before any backend exists: output folder, label schemas of the
predictions, the dev predictions and ``--dataset``, and the in-process LLM's weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from linkner.data.predictions import model_info
from linkner.data.schema import check_labels_within, listing
from linkner.data.types import Sentence
from linkner.errors import DataError, LLMError
from linkner.outputs import check_output_dir


def prediction_labels(sentences: list[Sentence]) -> tuple[set[str], bool]:
    """The labels a predictions file speaks, and whether that set is the model's complete schema (it is
    when entities carry probability tables: those list every label the model has)."""
    labels: set[str] = set()
    complete = False
    for s in sentences:
        model = model_info(s)
        if model.labels is not None:
            labels.update(model.labels)
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
            raise DataError(f"dev predictions {cfg.dev_predictions} (labels {listing(dev)}) and predictions "
                            f"{predictions} (labels {listing(labels)}) come from models of different label schemas; "
                            "tune on dev predictions of the same model")


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
