"""Training cost: seconds per CoNLL-2003 epoch for SpanNER (cross-entropy) and E-NER (evidential),
against the bare encoder's forward + backward on the same batches.

Per case (``spanner``, ``ener``; a fresh process each): featurise the train split as ``linkner train``
does, cut the epoch's length-bucketed batches (:func:`linkner.models.train.bucket_batches`, batch 32), and
time ``train_warmup_steps`` untimed then ``train_steps`` timed optimiser steps — the exact step of
:func:`linkner.models.train.train` (forward, loss, backward, clipping, fused AdamW, schedule). Each step is
followed, on the same batch, by the bare encoder (same architecture and dropout, a separate copy):
forward + backward of a dummy loss, no optimiser. The batches are shuffled, so the timed ones are a
random sample of the epoch: **seconds per epoch = mean step time × steps per epoch** (an
extrapolation, not a measured epoch), plus dev scoring extrapolated from ``train_dev_sentences``.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from linkner.bench.common import BenchConfig, load_split, median, ratio, rnd, timed

NAME = "training"


def cases(cfg: BenchConfig) -> list[str]:
    return ["spanner", "ener"]


def _case(cfg: BenchConfig, loss: str) -> dict:
    import numpy as np
    import torch

    from linkner.data.registry import schema_for
    from linkner.models.config import ModelConfig, TrainConfig
    from linkner.models.encoders import load_encoder
    from linkner.models.features import collate
    from linkner.models.predict import make_featurizer
    from linkner.models.span_model import SpanModel, move_batch
    from linkner.models.train import bucket_batches, evaluate_model, make_optimizer, make_scheduler, set_seed

    mcfg = ModelConfig(encoder=cfg.train_encoder, loss=loss)
    tcfg = TrainConfig(batch_size=cfg.train_batch_size)
    set_seed(tcfg.seed)
    train_all = load_split(cfg.data, cfg.train_split)
    train_s = train_all[: cfg.train_sentences] if cfg.train_sentences else train_all
    dev_all = load_split(cfg.data, cfg.dev_split)
    dev_s = dev_all[: cfg.train_dev_sentences]
    labels = ["O", *[x for x in schema_for(cfg.data, train_all) if x != "O"]]
    tok, encoder, _ = load_encoder(mcfg.encoder, dropout=mcfg.encoder_dropout)
    model = SpanModel(encoder, mcfg, len(labels))
    _, raw_enc, _ = load_encoder(mcfg.encoder, dropout=mcfg.encoder_dropout)
    feat = make_featurizer(model, tok, labels, tcfg.neg_span_weight)
    encoded, featurize_s = timed(lambda: feat.encode(train_s))
    lengths = [e.n_subwords for e in encoded]
    batches = bucket_batches(lengths, tcfg.batch_size, np.random.default_rng(tcfg.seed), tcfg.bucket_factor)
    steps_per_epoch = len(batches)
    opt = make_optimizer(model, tcfg)
    sched = make_scheduler(opt, steps_per_epoch * (tcfg.epochs or 20), tcfg.warmup)  # 20: TrainConfig's planned bound
    pad = tok.pad_token_id or 0
    model.train()
    raw_enc.train()

    def step(batch) -> None:
        logits = model(batch).float()
        lo = model.loss(logits, batch, 1)  # epoch 1: a_t > 0, so E-NER's KL and uncertainty terms are computed
        lo.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)

    def raw(batch) -> None:
        h = raw_enc(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        h.float().pow(2).mean().backward()
        raw_enc.zero_grad(set_to_none=True)

    n_warm = min(cfg.train_warmup_steps, max(0, len(batches) - 1))
    n_steps = min(cfg.train_steps, len(batches) - n_warm)
    linkner_s, raw_s, sizes = [], [], []
    for k, idx in enumerate(batches[: n_warm + n_steps]):
        batch = move_batch(collate([encoded[i] for i in idx], pad), "cpu")
        t_l = timed(lambda b=batch: step(b))[1]
        t_r = timed(lambda b=batch: raw(b))[1]
        if k >= n_warm:
            linkner_s.append(t_l)
            raw_s.append(t_r)
            sizes.append({"sentences": len(idx), "windows": int(batch["input_ids"].shape[0]),
                          "subwords": int(batch["attention_mask"].sum()), "spans": int(batch["labels"].shape[0])})
    if dev_s:
        evaluate_model(model, feat, dev_s[:4], labels, tcfg.eval_batch_size)  # warm-up: first inference after training
    dev_s_time = timed(lambda: evaluate_model(model, feat, dev_s, labels, tcfg.eval_batch_size))[1] if dev_s else 0.0
    mean_l, mean_r = statistics.fmean(linkner_s), statistics.fmean(raw_s)
    train_epoch = mean_l * steps_per_epoch
    dev_epoch = dev_s_time / len(dev_s) * len(dev_all) if dev_s else 0.0
    return {
        "loss": loss, "encoder": cfg.train_encoder, "batch_size": tcfg.batch_size, "train_sentences": len(train_s),
        "steps_per_epoch": steps_per_epoch, "timed_steps": n_steps, "warmup_steps": n_warm,
        "step_seconds": linkner_s, "raw_fwd_bwd_seconds": raw_s, "batch_sizes": sizes,
        "mean_step_s": mean_l, "median_step_s": median(linkner_s), "mean_raw_fwd_bwd_s": mean_r,
        "step_over_raw": median([a / b for a, b in zip(linkner_s, raw_s)]),
        "featurize_s": featurize_s, "dev_sentences_timed": len(dev_s), "dev_sentences": len(dev_all),
        "seconds_per_epoch": {"train_steps": train_epoch, "dev_scoring": dev_epoch, "total": train_epoch + dev_epoch,
                              "raw_encoder_fwd_bwd": mean_r * steps_per_epoch},
        "extrapolated": True,
    }


def _observed(cfg: BenchConfig, loss: str) -> dict | None:
    """The checkpoint's own training log, when it was trained with this loss (measured at another time)."""
    import json

    ckpt = Path(cfg.checkpoint)
    try:
        saved = json.loads((ckpt / "config.json").read_text())
        log = [json.loads(x) for x in (ckpt / "train_log.jsonl").read_text().splitlines() if x.strip()]
    except (OSError, ValueError):
        return None
    if saved.get("model", {}).get("loss") != loss or not log:
        return None
    try:
        n_train = json.loads((ckpt / "train_metrics.json").read_text()).get("train_sentences")
    except (OSError, ValueError):
        n_train = None
    return {"checkpoint": str(ckpt), "train_sentences": n_train, "train_seconds_per_epoch": [e.get("train_seconds") for e in log],
            "seconds_per_epoch": [e.get("seconds") for e in log]}


def run_case(case: str, cfg: BenchConfig) -> dict:
    loss = {"spanner": "ce", "ener": "edl"}[case]
    out = _case(cfg, loss)
    out["observed_in_checkpoint_log"] = _observed(cfg, loss)
    return out


def summarize(results: dict[str, dict], cfg: BenchConfig) -> dict:
    table = {}
    for case in cases(cfg):
        r = results.get(case) or {}
        if "seconds_per_epoch" not in r:
            continue
        spe = r["seconds_per_epoch"]
        obs = r.get("observed_in_checkpoint_log") or {}
        table[case] = {"seconds_per_epoch": spe["total"], "train_steps_s": spe["train_steps"], "dev_scoring_s": spe["dev_scoring"],
                       "raw_encoder_fwd_bwd_s": spe["raw_encoder_fwd_bwd"], "step_over_raw": r["step_over_raw"],
                       "mean_step_s": r["mean_step_s"], "steps_per_epoch": r["steps_per_epoch"], "timed_steps": r["timed_steps"],
                       "featurize_s": r["featurize_s"], "peak_rss_mb": r.get("peak_rss_mb"),
                       "observed_train_seconds_per_epoch": median(obs.get("train_seconds_per_epoch") or []),
                       "observed_train_sentences": obs.get("train_sentences"), "train_sentences": r["train_sentences"]}
    return rnd({"table": table, "cases": results,
                "method": f"{cfg.train_steps} timed steps (after {cfg.train_warmup_steps} warm-up) of a shuffled length-bucketed "
                          "epoch; seconds per epoch = mean step × steps per epoch + dev scoring extrapolated from "
                          f"{cfg.train_dev_sentences} dev sentences; raw = bare encoder forward+backward on the same batches",
                "ratio_ener_over_spanner": ratio((table.get("ener") or {}).get("seconds_per_epoch"),
                                                 (table.get("spanner") or {}).get("seconds_per_epoch")),
                "steps_per_epoch_check": {c: math.ceil(v["train_sentences"] / v["batch_size"]) for c, v in results.items()
                                          if "train_sentences" in v}})
