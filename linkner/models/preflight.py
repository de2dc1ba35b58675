"""``linkner train``'s checks before the encoder is loaded (see :mod:`linkner.data.schema`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from linkner.data.schema import check_dev_labels, check_labels_within
from linkner.data.types import labels_of
from linkner.outputs import check_output_dir


def check_training_inputs(run: Any, resume: str | Path | None = None) -> None:
    """``linkner train`` before the encoder is loaded: ``--out`` writable, and the dev set's labels within
    the schema the model will have (the training data's, or the resumed checkpoint's).

    A dev file of another dataset (``--data wnut17 --dev conll03/valid.txt``) would otherwise early-stop
    on an F1 that can never rise above zero for its labels.
    """
    from linkner.data.registry import load_split, schema_for, subset

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
