"""The Hugging Face baseline: the same MiniLM encoder as LinkNER with a linear BIO tag head
(``AutoModelForTokenClassification``), fine-tuned on the same CoNLL-2003 train data.

It is what a user gets from the standard transformers recipe, trained with a plain torch loop
(no ``Trainer``, so no ``accelerate``) that matches LinkNER's training where it can: length-bucketed
batches of 32 sentences (:func:`linkner.models.train.bucket_batches`), AdamW (fused when available) with
linear warm-up and decay, gradient clipping, the best dev-F1 epoch kept. Every subword is labelled
(continuation pieces of a ``B-X`` word get ``I-X``) so that the pipeline's ``"simple"`` aggregation,
which groups subword predictions, sees consistent tags.

Train once (about 3–4 min per epoch with MiniLM on 2 idle cores, plus ~15 s of dev scoring)::

    python -m linkner.baselines.hf_tagger --out runs/hf-tagger-minilm

The folder is a normal transformers model (``from_pretrained`` / ``pipeline`` load it) plus
``train_log.jsonl`` and ``train_metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from linkner.data.spans import entities_to_tags
from linkner.data.types import Sentence
from linkner.errors import DataError


@dataclass
class HFTaggerConfig:
    data: str = "conll03"  # a named dataset, or a file (then also give dev)
    train_split: str = "train"
    dev_split: str = "dev"
    encoder: str = "minilm"
    out: str = "runs/hf-tagger-minilm"
    epochs: int = 6  # as runs/train_all.sh trains E-NER
    batch_size: int = 32
    eval_batch_size: int = 64
    lr: float = 1e-4
    warmup: float = 0.1
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    patience: int = 3  # dev scorings without F1 gain, counted once dev F1 is above 0 (as linkner train)
    # Minimum optimiser steps (0: off, exactly ``epochs``): when set, epochs are raised to reach it, at
    # most ``epoch_cap``, and dev is scored every ceil(epochs / dev_evals) epochs, the same rule
    # (linkner.models.schedule.plan) as linkner train, so a small-data comparison gives both the same updates.
    min_steps: int = 0
    epoch_cap: int = 100
    dev_evals: int = 25
    seed: int = 123123
    bucket_factor: int = 50
    max_train_sentences: int | None = None
    max_dev_sentences: int | None = None
    threads: int | None = None


def bio_labels(types: list[str]) -> list[str]:
    return ["O", *[f"{p}-{t}" for t in types for p in ("B", "I")]]


def word_tags(sentence: Sentence) -> list[str]:
    """IOB2 tag per word from the sentence's entities."""
    return entities_to_tags(len(sentence), sentence.entities)


def subword_labels(word_ids: list[int | None], tags: list[str], label_to_id: dict[str, int]) -> list[int]:
    """Label of every subword: its word's tag, ``I-X`` for later pieces of a ``B-X`` word, -100 for
    special tokens (ignored by the loss)."""
    out, prev = [], None
    for wid in word_ids:
        if wid is None:
            out.append(-100)
        else:
            tag = tags[wid]
            if wid == prev and tag.startswith("B-"):
                tag = "I-" + tag[2:]
            out.append(label_to_id[tag])
        prev = wid
    return out


def _max_length(tokenizer: Any) -> int:
    n = getattr(tokenizer, "model_max_length", 512)
    return min(n, 512) if isinstance(n, int) and n > 0 else 512


def encode(tokenizer: Any, sentences: list[Sentence], label_to_id: dict[str, int] | None = None) -> list[dict]:
    """Per sentence: ``input_ids``, ``word_ids`` and (with ``label_to_id``) subword ``labels``."""
    out = []
    for i in range(0, len(sentences), 256):
        chunk = sentences[i : i + 256]
        enc = tokenizer([list(s.tokens) for s in chunk], is_split_into_words=True, truncation=True,
                        max_length=_max_length(tokenizer), verbose=False)
        for j, s in enumerate(chunk):
            item = {"input_ids": enc["input_ids"][j], "word_ids": enc.word_ids(j)}
            if label_to_id is not None:
                item["labels"] = subword_labels(item["word_ids"], word_tags(s), label_to_id)
            out.append(item)
    return out


def collate(items: list[dict], pad_id: int, with_labels: bool = True) -> dict:
    import torch

    T = max(len(it["input_ids"]) for it in items)
    ids = torch.full((len(items), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), T), dtype=torch.long)
    labels = torch.full((len(items), T), -100, dtype=torch.long)
    for i, it in enumerate(items):
        n = len(it["input_ids"])
        ids[i, :n] = torch.tensor(it["input_ids"])
        mask[i, :n] = 1
        if with_labels:
            labels[i, :n] = torch.tensor(it["labels"])
    batch = {"input_ids": ids, "attention_mask": mask}
    if with_labels:
        batch["labels"] = labels
    return batch


def predict(model: Any, tokenizer: Any, sentences: list[Sentence], batch_size: int = 64, encoded: list[dict] | None = None,
            bf16: bool = False) -> list[Sentence]:
    """Entities from the model directly (no pipeline): length-sorted batches, the first subword's
    argmax tag per word, chunked conlleval-style. Words cut off by truncation are tagged O."""
    import torch

    from linkner.data.spans import tags_to_entities

    id2label = {int(k): v for k, v in model.config.id2label.items()}
    items = encoded if encoded is not None else encode(tokenizer, sentences)
    order = sorted(range(len(items)), key=lambda i: len(items[i]["input_ids"]))
    tags: list[list[str] | None] = [None] * len(items)
    was_training = model.training
    model.eval()
    pad = tokenizer.pad_token_id or 0
    try:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for i in range(0, len(order), batch_size):
                idx = order[i : i + batch_size]
                batch = collate([items[j] for j in idx], pad, with_labels=False)
                pred = model(**batch).logits.argmax(-1).tolist()
                for j, row in zip(idx, pred):
                    t = ["O"] * len(sentences[j].tokens)
                    prev = None
                    for pos, wid in enumerate(items[j]["word_ids"]):
                        if wid is not None and wid != prev:
                            t[wid] = id2label[row[pos]]
                        prev = wid
                    tags[j] = t
    finally:
        model.train(was_training)
    return [s.with_entities(tags_to_entities(t)) for s, t in zip(sentences, tags)]


def _optimizer(model: Any, cfg: HFTaggerConfig) -> Any:
    from linkner.models.train import adamw, decays

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if decays(name, p) else no_decay).append(p)
    return adamw([{"params": decay, "weight_decay": cfg.weight_decay, "lr": cfg.lr},
                  {"params": no_decay, "weight_decay": 0.0, "lr": cfg.lr}])


def _split(data: str, split: str, n: int | None, seed: int) -> list[Sentence]:
    from linkner.data.registry import load_split, subset

    return subset(load_split(data, split), n, seed)


def train(cfg: HFTaggerConfig, log: Any = print) -> dict:
    """Fine-tune, keep the best dev-F1 epoch in ``cfg.out``, return the metrics (also written)."""
    import torch
    from transformers import AutoModelForTokenClassification

    from linkner.data.registry import schema_for
    from linkner.metrics import evaluate
    from linkner.models.encoders import _quiet_transformers, load_tokenizer, resolve
    from linkner.models.schedule import plan
    from linkner.models.train import bucket_batches, make_scheduler, set_seed, train_epoch
    from linkner.provenance import run_info

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    set_seed(cfg.seed)
    train_s = _split(cfg.data, cfg.train_split, cfg.max_train_sentences, cfg.seed)
    dev_s = _split(cfg.data, cfg.dev_split, cfg.max_dev_sentences, cfg.seed)
    if not train_s:
        raise DataError("the training split holds no sentences")
    labels = bio_labels(schema_for(cfg.data, train_s))
    label_to_id = {lab: i for i, lab in enumerate(labels)}
    source = resolve(cfg.encoder)
    _quiet_transformers()
    tok = load_tokenizer(source)
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the load report lists the new head as "missing": expected here
    try:
        model = AutoModelForTokenClassification.from_pretrained(
            source, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label_to_id)
    finally:
        hf_logging.set_verbosity(level)
    encoded = encode(tok, train_s, label_to_id)
    dev_enc = encode(tok, dev_s)
    lengths = [len(e["input_ids"]) for e in encoded]
    sch = plan(len(encoded), cfg.batch_size, None if cfg.min_steps else cfg.epochs, cfg.min_steps, cfg.epoch_cap,
               cfg.warmup, cfg.dev_evals if cfg.min_steps else max(cfg.epochs, 1), cfg.lr, cfg.lr, base_epochs=cfg.epochs)
    steps = sch.steps_per_epoch
    opt = _optimizer(model, cfg)
    sched = make_scheduler(opt, sch.total_steps, cfg.warmup)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_log.jsonl").write_text("", encoding="utf-8")
    pad = tok.pad_token_id or 0
    best, best_epoch, bad, history = -1.0, 0, 0, []
    log(f"HF tagger: {len(train_s)} train / {len(dev_s)} dev sentences, labels {labels}, {steps} steps per epoch → {out}")
    for epoch in range(sch.epochs):
        if bad >= cfg.patience:
            break
        t0 = time.perf_counter()
        model.train()
        batches = bucket_batches(lengths, cfg.batch_size, np.random.default_rng(cfg.seed + epoch), cfg.bucket_factor)
        mean_loss = train_epoch(model, batches, lambda idx: model(**collate([encoded[i] for i in idx], pad)).loss,
                                opt, sched, cfg.grad_clip, epoch)
        train_seconds = time.perf_counter() - t0
        scored = sch.scores_dev_after(epoch + 1)
        f1 = None
        if scored:
            f1 = evaluate(dev_s, predict(model, tok, dev_s, cfg.eval_batch_size, dev_enc)).micro.f1 if dev_s else 0.0
        entry = {"epoch": epoch + 1, "loss": mean_loss, "dev_f1": f1, "train_seconds": train_seconds,
                 "seconds": time.perf_counter() - t0, "best": f1 is not None and f1 > best}
        if entry["best"]:
            best, best_epoch, bad = f1, epoch + 1, 0
            model.save_pretrained(str(out))
            tok.save_pretrained(str(out))
        elif f1 is not None and best > 0:
            bad += 1  # patience starts once dev F1 has left 0
        history.append(entry)
        with (out / "train_log.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
        if f1 is not None:
            log(f"epoch {epoch + 1}: loss {entry['loss']:.4f}  dev F1 {f1:.4f}{'  *best*' if entry['best'] else ''}  {entry['seconds']:.0f}s")
    metrics = {"best_dev_f1": best, "best_epoch": best_epoch, "epochs_run": len(history), "labels": labels,
               "train_sentences": len(train_s), "dev_sentences": len(dev_s), "steps_per_epoch": steps, "schedule": sch.to_dict(),
               "train_seconds_per_epoch": [h["train_seconds"] for h in history],
               "seconds_per_epoch": [h["seconds"] for h in history], "config": asdict(cfg), "run": run_info()}
    (out / "train_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return metrics


def load(path: str | Path) -> tuple[Any, Any]:
    """``(model, tokenizer)`` of a trained tagger folder, in eval mode."""
    from transformers import AutoModelForTokenClassification

    from linkner.errors import ModelError
    from linkner.models.encoders import _quiet_transformers, load_tokenizer

    p = Path(path)
    if not (p / "config.json").is_file():
        raise ModelError(f"{p} is not a trained HF tagger (no config.json); train one with "
                         f"python -m linkner.baselines.hf_tagger --out {p}")
    _quiet_transformers()
    return AutoModelForTokenClassification.from_pretrained(str(p)).eval(), load_tokenizer(str(p))


def main(argv: list[str] | None = None) -> None:
    d = HFTaggerConfig()
    ap = argparse.ArgumentParser(prog="python -m linkner.baselines.hf_tagger", description=__doc__.split("\n\n")[0])
    for name, default in asdict(d).items():
        flag = "--" + name.replace("_", "-")
        kind = int if name in ("max_train_sentences", "max_dev_sentences", "threads") else type(default)
        ap.add_argument(flag, type=kind, default=default, help=f"default: {default}")
    args = ap.parse_args(argv)
    metrics = train(HFTaggerConfig(**vars(args)))
    print(f"best dev F1 {metrics['best_dev_f1']:.4f} at epoch {metrics['best_epoch']}; model in {args.out}")


if __name__ == "__main__":
    main()
