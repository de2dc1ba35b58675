"""Entity-level precision, recall and F1, micro and per type.

The numbers are, by construction and by test, identical to seqeval's default (conlleval-compatible)
mode on the same tag sequences: entities are exact (start, end, label) matches, every gold entity
counts (none is dropped for being long or truncated), and F1 is computed from precision and recall
exactly as seqeval does, so even the last floating-point digit agrees.

:func:`paired_bootstrap` puts a 95 % interval on the difference between two systems on the same
sentences (resampling sentences), with the counts of entities one fixed and the other broke.
:func:`counts_record` stores the per-sentence counts a bootstrap resamples in a compact, diffable form,
so two outputs written by different runs on the same sentences can be compared later from their files
alone (:func:`bootstrap_counts`), without the outputs or the gold.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from linkner.data.types import Entity, Sentence
from linkner.errors import DataError


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float
    tp: int
    n_pred: int
    n_gold: int

    @classmethod
    def from_counts(cls, tp: int, n_pred: int, n_gold: int) -> PRF:
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_gold if n_gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return cls(p, r, f, tp, n_pred, n_gold)


@dataclass(frozen=True)
class Scores:
    micro: PRF
    per_type: dict[str, PRF] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"micro": asdict(self.micro), "per_type": {k: asdict(v) for k, v in self.per_type.items()}}


def score_entity_sets(gold: list[set[tuple[int, int, str]]], pred: list[set[tuple[int, int, str]]]) -> Scores:
    """Score aligned per-sentence sets of ``(start, end, label)``."""
    tp, n_pred, n_gold = Counter(), Counter(), Counter()
    for g, p in zip(gold, pred, strict=True):
        for (_, _, lab) in g:
            n_gold[lab] += 1
        for (_, _, lab) in p:
            n_pred[lab] += 1
        for (_, _, lab) in g & p:
            tp[lab] += 1
    types = sorted(set(n_gold) | set(n_pred))
    per_type = {t: PRF.from_counts(tp[t], n_pred[t], n_gold[t]) for t in types}
    micro = PRF.from_counts(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    return Scores(micro, per_type)


def _key(e: Entity) -> tuple[int, int, str]:
    return (e.start, e.end, e.label)


def check_aligned(gold: list[Sentence], pred: list[Sentence], gold_source: str = "gold",
                  pred_source: str = "predictions") -> None:
    """Raise :class:`DataError` unless ``pred`` holds the same sentences as ``gold``, token for token.

    Comparing counts alone is not enough: predictions for *other* sentences of the same lengths would
    score silently (and meaninglessly). The first difference is reported with both files, the sentence
    (1-based, with its id and, for CoNLL gold, its line) and the token.
    """
    if len(gold) != len(pred):
        raise DataError(f"{gold_source} has {len(gold)} sentences but {pred_source} has {len(pred)}; "
                        "they must be the same sentences")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if g.tokens == p.tokens:
            continue
        line = g.meta.get("line")
        at = f"sentence {i + 1} (id {g.id}{f', line {line}' if isinstance(line, int) else ''})"
        if len(g) != len(p):
            raise DataError(f"{pred_source} does not match {gold_source} at {at}: gold has {len(g)} tokens, the "
                            f"prediction (id {p.id}) has {len(p)}; the files are not aligned")
        k = next(j for j, (a, b) in enumerate(zip(g.tokens, p.tokens)) if a != b)
        raise DataError(f"{pred_source} does not match {gold_source} at {at}: token {k + 1} is {p.tokens[k]!r} in the "
                        f"prediction (id {p.id}) but {g.tokens[k]!r} in gold; these are predictions for other sentences")


def evaluate(gold: list[Sentence], pred: list[Sentence], gold_source: str = "gold", pred_source: str = "predictions") -> Scores:
    """Score predicted sentences against gold ones, aligned by position.

    The two lists must describe the same sentences, token for token (:func:`check_aligned`), else
    :class:`DataError` (a silent misalignment would produce a meaningless score).
    """
    check_aligned(gold, pred, gold_source, pred_source)
    return score_entity_sets([{_key(e) for e in s.entities} for s in gold], [{_key(e) for e in s.entities} for s in pred])


# --- paired bootstrap over sentences --------------------------------------------------------------------

BOOTSTRAP_RESAMPLES = 1000
_BLOCK = 250  # resamples per vectorised block: bounds memory at ~block × sentences counts


def sentence_counts(gold: list[set], pred: list[set]) -> np.ndarray:
    """Per-sentence ``[true positives, predictions, gold]`` (shape ``(n, 3)``), the unit the bootstrap resamples."""
    return np.array([[len(g & p), len(p), len(g)] for g, p in zip(gold, pred, strict=True)], dtype=np.int64).reshape(-1, 3)


def _f1(tp: np.ndarray, n_pred: np.ndarray, n_gold: np.ndarray) -> np.ndarray:
    """Micro F1 from summed counts, vectorised: 2·tp / (pred + gold), which is 2PR/(P+R) whenever that is defined."""
    denom = n_pred + n_gold
    return np.divide(2.0 * tp, denom, out=np.zeros(np.broadcast(tp, denom).shape), where=denom > 0)


def bootstrap_deltas(a: np.ndarray, b: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> np.ndarray:
    """ΔF1 (B − A) of every resample: ``a`` is ``(n, 3)`` counts, ``b`` is ``(n, 3)`` or ``(n, 3, k)`` for k
    systems B compared with the same A; the result is ``(resamples,)`` or ``(resamples, k)``.

    Each resample draws n sentences with replacement (``numpy.random.default_rng(seed)``); both systems
    are scored on the same draw (paired), so what varies between them is only what differs per sentence.
    A draw is a multiplicity vector, and a resample's summed counts are one matrix product, so all the k
    systems share the same draws (common random numbers: comparisons between them are not blurred).
    """
    n = a.shape[0]
    single = b.ndim == 2
    bk = b[:, :, None] if single else b
    if n == 0:
        out = np.zeros((resamples, bk.shape[2]))
        return out[:, 0] if single else out
    rng = np.random.default_rng(seed)
    flat = bk.reshape(n, -1).astype(np.float64)
    chunks = []
    for start in range(0, resamples, _BLOCK):
        r = min(_BLOCK, resamples - start)
        idx = rng.integers(0, n, size=(r, n)) + (np.arange(r) * n)[:, None]
        w = np.bincount(idx.ravel(), minlength=r * n).reshape(r, n).astype(np.float64)
        sa = w @ a.astype(np.float64)  # (r, 3)
        sb = (w @ flat).reshape(r, 3, -1)  # (r, 3, k)
        fa = _f1(sa[:, 0], sa[:, 1], sa[:, 2])[:, None]
        chunks.append(_f1(sb[:, 0], sb[:, 1], sb[:, 2]) - fa)
    out = np.concatenate(chunks)
    return out[:, 0] if single else out


def bootstrap_counts(a: np.ndarray, b: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = 0) -> tuple[float, float, float]:
    """ΔF1 (B − A) from per-sentence counts alone, with its 95 % percentile interval: ``(delta, lo, hi)``.

    What :func:`paired_bootstrap` computes when only the counts are at hand (two runs' committed files):
    the same draws for the same seed, so the interval equals the one computed from the entity sets.
    """
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != 3:
        raise DataError(f"paired bootstrap needs [tp, pred, gold] counts of the same sentences: shapes {a.shape} "
                        f"and {b.shape}")
    if resamples < 1:
        raise DataError("the bootstrap needs at least one resample")
    point = PRF.from_counts(*(int(x) for x in b.sum(0))).f1 - PRF.from_counts(*(int(x) for x in a.sum(0))).f1
    lo, hi = percentile_ci(bootstrap_deltas(a, b, resamples, seed))
    return point, float(lo), float(hi)


COUNT_COLUMNS = ("tp", "pred", "gold")


def counts_record(local: np.ndarray, linked: np.ndarray) -> dict:
    """Per-sentence ``[tp, pred, gold]`` of a local and a linked output, for later paired comparisons.

    ``local`` holds every sentence as ``"tp,pred,gold"`` triples separated by spaces (one line of JSON,
    not one line per number); ``linked_changes`` only the sentences whose counts linking changed, as
    ``"index:tp,pred,gold"`` (linking touches a few sentences, so this stays small). Two link runs of the
    same predictions share ``local``; their linked counts then give a paired ΔF1 between the two runs.
    """
    if local.shape != linked.shape:
        raise DataError(f"per-sentence counts differ in length: {local.shape[0]} local, {linked.shape[0]} linked")
    triple = lambda row: ",".join(str(int(x)) for x in row)  # noqa: E731
    changed = [i for i in range(local.shape[0]) if not np.array_equal(local[i], linked[i])]
    return {"columns": list(COUNT_COLUMNS), "sentences": int(local.shape[0]),
            "local": " ".join(triple(r) for r in local),
            "linked_changes": " ".join(f"{i}:{triple(linked[i])}" for i in changed)}


def _triple(text: str) -> list[int]:
    fields = text.split(",")
    if len(fields) != 3:
        raise ValueError(f"{text!r} is not tp,pred,gold")
    return [int(x) for x in fields]


def counts_from_record(record: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(local, linked)`` per-sentence counts back from :func:`counts_record`; :class:`DataError` if malformed.

    Checked, because a paired comparison trusts them: every item is three integers, changed sentences are
    listed once and exist, and every row is a possible count (0 ≤ tp ≤ pred, tp ≤ gold) with the same gold
    on both sides (linking never changes the gold; a different gold means different sentences).
    """
    try:
        if tuple(record["columns"]) != COUNT_COLUMNS:
            raise ValueError(f"columns {record['columns']}")
        n = record["sentences"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"sentences = {n!r}")
        items = record["local"].split()
        if len(items) != n:
            raise ValueError(f"{len(items)} local triples for {n} sentences")
        local = np.array([_triple(t) for t in items], dtype=np.int64).reshape(-1, 3)
        linked = local.copy()
        seen = set()
        for item in record["linked_changes"].split():
            i, _, triple = item.partition(":")
            i = int(i)
            if not 0 <= i < n or i in seen:
                raise ValueError(f"changed sentence {i} (of {n}) out of range or listed twice")
            seen.add(i)
            linked[i] = _triple(triple)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise DataError(f"malformed per-sentence counts: {e}") from None
    for name, c in (("local", local), ("linked", linked)):
        if (c < 0).any() or (c[:, 0] > c[:, 1]).any() or (c[:, 0] > c[:, 2]).any():
            raise DataError(f"malformed per-sentence counts: impossible {name} counts (need 0 <= tp <= pred, tp <= gold)")
    if not np.array_equal(local[:, 2], linked[:, 2]):
        raise DataError("malformed per-sentence counts: the linked gold differs from the local gold")
    return local, linked


def percentile_ci(deltas: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of the bootstrap distribution (per column)."""
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(deltas, [tail, 100 - tail], axis=0)
    return lo, hi


@dataclass(frozen=True)
class PairedBootstrap:
    """ΔF1 of system B over system A on the same sentences, its 95 % percentile interval, and what changed.

    ``fixed``: gold entities B gets exactly right that A does not; ``broken``: the reverse. ``fp_removed``
    / ``fp_added``: A's false positives that B no longer predicts / B's false positives A did not have.
    Together: Δtp = fixed − broken and Δfp = fp_added − fp_removed, so the counts explain ΔF1 honestly.
    ``counts``: the per-sentence ``[tp, pred, gold]`` of A and B that were resampled (for
    :func:`counts_record`; not part of :meth:`as_dict`).
    """

    delta_f1: float
    delta_f1_ci95: tuple[float, float]
    fixed: int
    broken: int
    fp_removed: int
    fp_added: int
    resamples: int
    seed: int
    sentences: int
    counts: tuple[np.ndarray, np.ndarray] = field(default=(), repr=False, compare=False)

    def as_dict(self) -> dict:
        return {"delta_f1": self.delta_f1, "delta_f1_ci95": list(self.delta_f1_ci95), "fixed": self.fixed,
                "broken": self.broken, "fp_removed": self.fp_removed, "fp_added": self.fp_added,
                "bootstrap": {"resamples": self.resamples, "seed": self.seed, "unit": "sentence", "sentences": self.sentences}}


def paired_bootstrap(gold: list[set], pred_a: list[set], pred_b: list[set], resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = 0) -> PairedBootstrap:
    """Paired bootstrap over sentences of ΔF1 = F1(B) − F1(A) against the same gold.

    The point estimate is computed exactly as :func:`score_entity_sets` does (so it equals the reported
    ΔF1 to the last digit); the interval is the 2.5th–97.5th percentile of the resampled ΔF1. Sentences,
    not entities, are resampled because entities of one sentence are decided together (one decoding, one
    context), so they are not independent.
    """
    if not len(gold) == len(pred_a) == len(pred_b):
        raise DataError(f"paired bootstrap needs the same sentences: {len(gold)} gold, {len(pred_a)} A, {len(pred_b)} B")
    if resamples < 1:
        raise DataError("the bootstrap needs at least one resample")
    ca, cb = sentence_counts(gold, pred_a), sentence_counts(gold, pred_b)
    point, lo, hi = bootstrap_counts(ca, cb, resamples, seed)
    fixed = broken = fp_removed = fp_added = 0
    for g, a, b in zip(gold, pred_a, pred_b):
        fixed += len((b & g) - a)
        broken += len((a & g) - b)
        fp_removed += len((a - g) - b)
        fp_added += len((b - g) - a)
    return PairedBootstrap(point, (lo, hi), fixed, broken, fp_removed, fp_added, resamples, seed, len(gold), (ca, cb))
