"""Batched inference of a trained span model on datasets and raw text.

Output contract (consumed by the linking step; kept stable):

* ``Sentence.entities``: the greedy-decoded, non-overlapping non-O spans (highest probability first),
  each ``Entity(start, end, label, score=prob, extra={"uncertainty": {...}, "probs": {label: p}})``;
* ``meta["candidates"]``: the non-O spans decoding dropped, as dicts
  ``{start, end, label, prob, uncertainty, probs}``;
* ``meta["near_miss"]``: spans decoded as O whose entity probability ``1 − P(O)`` is at least
  :data:`NEAR_MISS_FLOOR` (0.05) and that overlap no decoded entity, the :data:`NEAR_MISS_MAX` (8) most
  probable per sentence, as the same dicts plus ``entity_prob`` (a span dropped by greedy decoding always
  overlaps a kept one, so it never qualifies). The floor and the cap keep files small: linking tunes its
  q at or above the floor (:mod:`linkner.link.candidates`);
* ``meta["boundary"]``: the ±1-token variants (one end moved by one token) of every decoded entity that
  the model scored (inside the sentence, at most L words) and that overlap no *other* decoded entity,
  as the same dicts plus ``entity_prob`` and ``of`` (``[start, end]`` of their entity), at most 4 each;
* for labelled input, ``meta["gold"]`` (``[{start, end, label}]``) and ``meta["gold_scored"]``: the
  model's record (label = its argmax, possibly "O") of every gold span of at most L words whose
  boundaries are not among the decoded entities. Only the original paper's protocol reads these;
  honest routing never does.
* ``meta["model"]`` = ``{path, loss, uncertainty_methods, max_span_len, labels, dataset[, mc_seed]}``: the
  checkpoint's complete label schema (without ``O``) and its training data, so that linking knows the
  schema and the type definitions without being told (:class:`linkner.data.predictions.ModelInfo`).

Files written before ``near_miss``/``boundary`` existed stay readable: every reader treats them as absent.

Always run with ``model.eval()``; MC dropout switches only the dropout layers back on, for its T
extra passes (the original ran every evaluation with dropout on by accident, §11.4). Its dropout masks
come from a private generator seeded with ``mc_seed`` (default :data:`MC_SEED`, recorded in
``meta["model"]``), so two identical runs write identical ``mc_dropout`` values and the global torch
random state is left as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from linkner.data.predictions import ScoredSpan
from linkner.data.spans import Candidate, greedy_decode
from linkner.data.text import split_sentences
from linkner.data.types import Entity, Sentence
from linkner.errors import DataError, ModelError
from linkner.uncertainty.estimators import span_uncertainties


@dataclass
class SpanScores:
    """Model output for one sentence: its enumerated spans and per-span arrays."""

    spans: np.ndarray  # (n, 2) [start, end)
    probs: np.ndarray  # (n, K)
    uncertainty: dict[str, np.ndarray]
    logits: np.ndarray | None = None


def window_length(model: Any, tokenizer: Any, max_subwords: int) -> int:
    """Encoder window: config limit, the encoder's position limit and the tokenizer's, whichever is least."""
    n = max_subwords
    pos = getattr(model.encoder.config, "max_position_embeddings", None)
    if isinstance(pos, int) and pos > 0:
        # RoBERTa/MPNet-style position ids start after padding_idx; leave room for that offset.
        offset = 2 if getattr(model.encoder.config, "model_type", "") in ("roberta", "mpnet", "xlm-roberta", "camembert") else 0
        n = min(n, pos - offset)
    tmax = getattr(tokenizer, "model_max_length", None)
    if isinstance(tmax, int) and 0 < tmax < 100_000:
        n = min(n, tmax)
    return n


def make_featurizer(model: Any, tokenizer: Any, labels: list[str], neg_span_weight: float = 1.0):
    from linkner.models.features import Featurizer

    cfg = model.cfg
    return Featurizer(tokenizer, {lab: i for i, lab in enumerate(labels)}, cfg.max_span_len,
                      window_length(model, tokenizer, cfg.max_subwords), cfg.max_word_subwords, neg_span_weight)


# Windows per encoder call and spans per head call at inference. 64 windows keep the matmuls large
# enough to run at full speed on a CPU (16 were ~15 % slower here: `raw_chunk16` in
# results/bench/inference.json as of commit 23ae372) while bounding the
# activations of one very long document; the span chunk bounds the head's (spans × hidden) buffers
# (4,096 × 1,028 floats = 17 MB each; larger chunks raised peak RSS in a one-off check here, the heap
# fragmenting around the results kept between batches; `linkner bench` reports the peak RSS).
WINDOW_CHUNK = 64
SPAN_CHUNK = 4096
# Sentences featurised, scored and decoded together by ``iter_predict_sentences``: enough to fill
# length-sorted batches well, few enough that the per-span arrays of a huge input are never all held.
PREDICT_CHUNK = 2048
# Default seed of the MC-dropout masks: fixed, so `--mc-samples T` is reproducible run to run.
MC_SEED = 0
# Near-miss spans written per sentence: entity probability floor and how many at most (see the docstring).
NEAR_MISS_FLOOR = 0.05
NEAR_MISS_MAX = 8


def _set_dropout(model: Any, on: bool) -> None:
    """Dropout on/off for MC passes: train mode on every module.

    Toggling only ``nn.Dropout`` modules is not enough: HF attention layers pass their dropout
    probability to the fused attention kernel only when the *attention module* is in train mode.
    Transformer encoders have no batch-norm statistics, so train mode changes nothing but dropout.
    """
    model.train(on)


def score_sentences(model: Any, featurizer: Any, sentences: list[Sentence], batch_size: int = 64,
                    temperature: float = 1.0, mc_samples: int = 0, bf16: bool = False,
                    keep_logits: bool = False, mc_seed: int = MC_SEED) -> list[SpanScores]:
    """Span probabilities and uncertainties for every sentence (in input order), eval mode.

    MC-dropout passes draw their masks from torch's generator seeded with ``mc_seed`` inside a forked
    random state: the same call gives the same values, and callers' random streams are untouched.
    """
    import torch

    from linkner.models.features import collate, inference_batches
    from linkner.models.span_model import move_batch

    device = next(model.parameters()).device
    encoded = featurizer.encode(sentences, with_labels=False)
    results: list[SpanScores | None] = [None] * len(encoded)
    pad = featurizer.tok.pad_token_id or 0
    was_training = model.training
    model.eval()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    fork = torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else [], enabled=mc_samples > 0)
    try:
        with fork, torch.inference_mode(), autocast:
            if mc_samples > 0:
                torch.manual_seed(mc_seed)
            for idx in inference_batches(encoded, batch_size):
                batch = move_batch(collate([encoded[j] for j in idx], pad), device)
                logits = model(batch, window_chunk=WINDOW_CHUNK, span_chunk=SPAN_CHUNK).float()
                probs = model.probabilities(logits, temperature)
                vac = model.vacuity(logits, temperature)
                mc = None
                if mc_samples > 0:
                    _set_dropout(model, True)
                    mc = sum(model.probabilities(model(batch, WINDOW_CHUNK, SPAN_CHUNK).float(), temperature)
                             for _ in range(mc_samples)) / mc_samples
                    _set_dropout(model, False)
                parts = batch["n_spans"]
                probs_np = probs.cpu().numpy()
                logits_np = logits.cpu().numpy() if keep_logits else None
                # uncertainties for the whole batch at once, then sliced per sentence (views, no copies)
                unc = span_uncertainties(probs_np, None if mc is None else mc.cpu().numpy(),
                                         None if vac is None else vac.cpu().numpy())
                off = 0
                for j, n in zip(idx, parts):
                    sl = slice(off, off + n)
                    results[j] = SpanScores(encoded[j].spans, probs_np[sl], {k: u[sl] for k, u in unc.items()},
                                            None if logits_np is None else logits_np[sl])
                    off += n
    finally:
        model.train(was_training)
    return results  # type: ignore[return-value]


def _record(scores: SpanScores, j: int, labels: list[str], entity_prob: bool = False,
            of: tuple[int, int] | None = None) -> dict:
    """Span ``j`` as the one record shape every scored span is written in (:class:`ScoredSpan`)."""
    sp = ScoredSpan(int(scores.spans[j, 0]), int(scores.spans[j, 1]),
                    {lab: float(p) for lab, p in zip(labels, scores.probs[j])},
                    {m: float(u[j]) for m, u in scores.uncertainty.items()}, of)
    return sp.record(with_entity_prob=entity_prob)


def _free(span: tuple[int, int], kept: set[tuple[int, int]]) -> bool:
    return all(span[1] <= a or b <= span[0] for a, b in kept)


def _entity_prob(scores: SpanScores, labels: list[str]) -> np.ndarray:
    return 1.0 - scores.probs[:, labels.index("O")]


def near_misses(scores: SpanScores, pred: np.ndarray, labels: list[str], kept: set[tuple[int, int]],
                floor: float = NEAR_MISS_FLOOR, at_most: int = NEAR_MISS_MAX) -> list[dict]:
    """Spans decoded as O with ``1 − P(O) >= floor`` overlapping no kept span, most probable first."""
    ent = _entity_prob(scores, labels)
    o = labels.index("O")
    pick = [int(j) for j in np.nonzero((pred == o) & (ent >= floor))[0]
            if _free((int(scores.spans[j, 0]), int(scores.spans[j, 1])), kept)]
    pick.sort(key=lambda j: (-float(ent[j]), int(scores.spans[j, 0]), int(scores.spans[j, 1])))
    return [_record(scores, j, labels, entity_prob=True) for j in pick[:at_most]]


def boundary_variants(scores: SpanScores, labels: list[str], kept: set[tuple[int, int]],
                      index: dict[tuple[int, int], int], n_tokens: int) -> list[dict]:
    """The scored ±1-token variants of every kept span (inside the sentence, not overlapping another kept
    span); a span the model did not score (longer than L words) is not in ``index`` and is left out."""
    out = []
    for s, e in sorted(kept):
        others = kept - {(s, e)}
        for a, b in ((s - 1, e), (s + 1, e), (s, e - 1), (s, e + 1)):
            if 0 <= a < b <= n_tokens and (a, b) in index and _free((a, b), others):
                j = index[(a, b)]
                out.append(_record(scores, j, labels, entity_prob=True, of=(s, e)))
    return out


def decode(sentence: Sentence, scores: SpanScores, labels: list[str], model_meta: dict, has_gold: bool) -> Sentence:
    """Build the output :class:`Sentence` (see the module docstring for the contract)."""
    pred = scores.probs.argmax(axis=-1)
    nonO = np.nonzero(pred > 0)[0]
    index = {(int(scores.spans[j, 0]), int(scores.spans[j, 1])): int(j) for j in nonO}
    cands = [Candidate(int(scores.spans[j, 0]), int(scores.spans[j, 1]), labels[pred[j]], float(scores.probs[j, pred[j]]))
             for j in nonO]
    kept = greedy_decode(cands)
    kept_spans = {(c.start, c.end) for c in kept}
    entities = []
    for c in kept:
        rec = _record(scores, index[(c.start, c.end)], labels)
        entities.append(Entity(c.start, c.end, c.label, score=rec["prob"],
                               extra={"uncertainty": rec["uncertainty"], "probs": rec["probs"]}))
    meta = dict(sentence.meta)
    meta["candidates"] = [_record(scores, j, labels) for j in nonO
                          if (int(scores.spans[j, 0]), int(scores.spans[j, 1])) not in kept_spans]
    all_index = {(int(a), int(b)): i for i, (a, b) in enumerate(scores.spans)}
    meta["near_miss"] = near_misses(scores, pred, labels, kept_spans)
    meta["boundary"] = boundary_variants(scores, labels, kept_spans, all_index, len(sentence.tokens))
    if has_gold:
        meta["gold"] = [{"start": e.start, "end": e.end, "label": e.label} for e in sentence.entities]
        # Gold spans longer than L words were never scored and cannot appear here.
        meta["gold_scored"] = [
            _record(scores, all_index[(e.start, e.end)], labels)
            for e in sentence.entities
            if (e.start, e.end) not in kept_spans and (e.start, e.end) in all_index
        ]
    meta["model"] = model_meta
    return Sentence(list(sentence.tokens), sorted(entities), id=sentence.id, text=sentence.text,
                    token_offsets=sentence.token_offsets, meta=meta)


class LocalModel:
    """A loaded checkpoint ready for inference: ``predict(texts)`` and ``predict_sentences(sentences)``."""

    def __init__(self, path: str | Path, device: str = "cpu", bf16: bool = False) -> None:
        from linkner.models.checkpoint import load_checkpoint

        self.path = str(path)
        self.model, self.tokenizer, self.run, self.labels, self.temperature = load_checkpoint(path, device)
        self.bf16 = bf16
        self.featurizer = make_featurizer(self.model, self.tokenizer, self.labels)

    @property
    def loss(self) -> str:
        return self.run.model.loss

    @property
    def entity_labels(self) -> list[str]:
        return self.labels[1:]

    def uncertainty_methods(self, mc_samples: int = 0) -> list[str]:
        methods = ["confidence", "entropy"]
        if mc_samples > 0:
            methods.append("mc_dropout")
        if self.model.evidential:
            methods.append("evidential")
        return methods

    def check_labels(self, sentences: list[Sentence], source: str = "data") -> None:
        """Raise :class:`ModelError` if the data uses labels the checkpoint cannot predict."""
        extra = sorted({e.label for s in sentences for e in s.entities} - set(self.labels[1:]))
        if extra:
            raise ModelError(
                f"{source} uses label(s) {', '.join(extra)} that checkpoint {self.path} does not know "
                f"(its labels: {', '.join(self.labels[1:])}); train on this schema or map the labels"
            )

    def score(self, sentences: list[Sentence], mc_samples: int = 0, batch_size: int = 64, keep_logits: bool = False,
              mc_seed: int = MC_SEED) -> list[SpanScores]:
        return score_sentences(self.model, self.featurizer, sentences, batch_size, self.temperature, mc_samples,
                               self.bf16, keep_logits, mc_seed)

    def predict_sentences(self, sentences: list[Sentence], mc_samples: int = 0, batch_size: int = 64,
                          has_gold: bool | None = None, mc_seed: int = MC_SEED) -> list[Sentence]:
        """Predict tokenized sentences. ``has_gold`` (default: any sentence has entities) adds gold meta."""
        return list(self.iter_predict_sentences(sentences, mc_samples, batch_size, has_gold, mc_seed=mc_seed))

    def iter_predict_sentences(self, sentences: list[Sentence], mc_samples: int = 0, batch_size: int = 64,
                               has_gold: bool | None = None, chunk: int = PREDICT_CHUNK,
                               progress: Callable[[int], None] | None = None,
                               mc_seed: int = MC_SEED) -> Iterator[Sentence]:
        """Like :meth:`predict_sentences`, but yields predictions (in input order) ``chunk`` sentences
        at a time, so a caller that writes them out keeps memory flat on inputs of any size.
        ``progress(n)`` is called after each chunk with the number of sentences it held. MC dropout of
        the chunk starting at sentence i is seeded with ``mc_seed + i``: reproducible, and no two chunks
        share a mask stream.

        A sentence's prediction does not depend on what else is in its batch (padding is masked),
        so chunking changes nothing but memory: every chunk is still length-sorted into batches.
        """
        # checked here, not lazily in the generator: bad input fails before a caller opens its output
        if mc_samples < 0:
            raise DataError("mc_samples must be 0 (off) or a positive number of passes")
        if chunk < 1:
            raise DataError("chunk must be at least 1 sentence")
        sentences = list(sentences)
        if has_gold is None:
            has_gold = any(s.entities for s in sentences)
        if has_gold:
            self.check_labels(sentences)
        if isinstance(mc_seed, bool) or not isinstance(mc_seed, int):
            raise DataError(f"mc_seed must be an integer, not {mc_seed!r}")
        meta = {"path": self.path, "loss": self.loss, "uncertainty_methods": self.uncertainty_methods(mc_samples),
                "max_span_len": self.featurizer.L, "labels": list(self.labels[1:]), "dataset": self.run.train.data}
        if mc_samples > 0:
            meta["mc_seed"] = mc_seed

        def chunks() -> Iterator[Sentence]:
            for i in range(0, len(sentences), chunk):
                part = sentences[i : i + chunk]
                scores = self.score(part, mc_samples, batch_size, mc_seed=mc_seed + i)
                yield from (decode(s, sc, self.labels, meta, has_gold) for s, sc in zip(part, scores))
                if progress is not None:
                    progress(len(part))

        return chunks()

    def predict(self, texts: list[str] | str, mc_samples: int = 0, batch_size: int = 64, mc_seed: int = MC_SEED) -> list[Sentence]:
        """Predict raw texts. Each text is split into sentences; every sentence's ``text`` is its own
        slice of the input and ``token_offsets`` index that slice (``meta["char_offset"]`` is where
        the slice starts in the input, ``meta["doc"]`` the input's index). Empty texts give nothing.
        """
        return self.predict_sentences(text_sentences(texts), mc_samples, batch_size, has_gold=False, mc_seed=mc_seed)


def text_sentences(texts: list[str] | str) -> list[Sentence]:
    """Raw texts → tokenized sentences that keep their character offsets (see :meth:`LocalModel.predict`)."""
    if isinstance(texts, str):
        texts = [texts]
    sentences = []
    for d, text in enumerate(texts):
        for k, toks in enumerate(split_sentences(text)):
            base, end = toks[0][1], toks[-1][2]
            sentences.append(Sentence(
                [t for t, _, _ in toks], id=f"{d}:{k}", text=text[base:end],
                token_offsets=[(a - base, b - base) for _, a, b in toks], meta={"doc": d, "char_offset": base},
            ))
    return sentences


def load(path: str | Path, device: str = "cpu", bf16: bool = False) -> LocalModel:
    """Load a checkpoint folder written by ``linkner train``."""
    return LocalModel(path, device, bf16)


def timed_predict(model: LocalModel, sentences: list[Sentence], **kw: Any) -> tuple[list[Sentence], float]:
    t0 = time.perf_counter()
    out = model.predict_sentences(sentences, **kw)
    return out, time.perf_counter() - t0
