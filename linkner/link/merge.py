"""Merge the LLM's decisions into the local predictions, and score the result.

Merge rule: a routed entity takes the decided label (replace mode: the LLM's answer; fuse mode: the
argmax of the pooled local and LLM probabilities, :mod:`linkner.link.fusion`); "not an entity" removes
it; an unparseable answer or a failed request keeps the local label (and is counted). Boundaries always come from the local
model: the LLM only re-types or rejects.

Two scoring protocols, recorded in every result:

* ``honest`` (default): entity-level P/R/F1 (:mod:`linkner.metrics`, equal to seqeval) of the final
  entity set against every gold entity;
* ``paper``: the original ``link_metrics`` counts over the exported items (decoded entities plus gold
  spans predicted O, method notes §7.7): a rejection (``Non``) and an unparseable answer (``['O']``)
  still count as predictions, gold not exported is not counted, and F1 carries the 1e-5 smoothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace

from linkner.data.types import Entity, Sentence
from linkner.link.decision import ERROR, LABEL, NOT_ROUTED, REJECT, UNPARSED, Decision
from linkner.link.routing import DECODED, Item
from linkner.metrics import score_entity_sets

LOCAL, LLM, REJECTED, KEPT_UNPARSED, KEPT_ERROR = "local", "llm", "llm_rejected", "local_unparsed", "local_error"
FUSED = "fused"  # fuse mode: the label is the argmax of the pooled local and LLM probabilities
Span = tuple[int, int, str]


def outcome(item: Item, decision: Decision) -> tuple[str | None, str, str | None]:
    """``(final label or None if removed, source, llm label)`` of one item."""
    local = item.entity.label if item.entity.label != "O" else None
    if decision.detail is not None and decision.kind in (LABEL, REJECT):  # fused: llm label = the LLM's own choice
        return decision.label, (FUSED if decision.kind == LABEL else REJECTED), decision.detail.llm_answer
    if decision.kind == LABEL:
        return decision.label, LLM, decision.label
    if decision.kind == REJECT:
        return None, REJECTED, "O"
    if decision.kind == UNPARSED:
        return local, KEPT_UNPARSED, None
    if decision.kind == ERROR:
        return local, KEPT_ERROR, None
    return local, LOCAL, None


def merge(sentences: list[Sentence], items: list[Item], decisions: list[Decision], method: str) -> list[Sentence]:
    """The linked sentences: final entities (with local/LLM labels, u, routed flag, source), and the
    entities the LLM removed under ``meta["rejected"]``. Items the local model did not output (the paper
    protocol's extra candidate and gold-scored spans) appear only when the LLM labelled them, so with
    nothing routed the output is exactly the local one."""
    finals: dict[int, list[Entity]] = defaultdict(list)
    rejected: dict[int, list[dict]] = defaultdict(list)
    for item, d in zip(items, decisions, strict=True):
        label, source, llm_label = outcome(item, d)
        e = item.entity
        extra = {**e.extra, "local_label": e.label, "llm_label": llm_label, "u": item.u, "uncertainty_method": method,
                 "routed": d is not NOT_ROUTED, "source": source}
        if item.origin != DECODED:
            extra["origin"] = item.origin
        if d.detail is not None:  # fuse: the option probabilities behind the decision
            extra["fusion"] = d.detail.record()
        if label is None:
            if source == REJECTED:
                rejected[item.sentence].append({"start": e.start, "end": e.end, "label": e.label, **extra})
            continue
        if item.origin != DECODED and source in (LOCAL, KEPT_UNPARSED, KEPT_ERROR):
            # a span the local model scored but did not output (the paper protocol's dropped candidates and
            # gold-scored spans) enters the output only with an LLM's label; kept "as it was", it stays out
            continue
        # "prob" stays the local model's probability, of the final label where the table has it
        prob = (e.extra.get("probs") or {}).get(label, e.score) if label != e.label else e.score
        finals[item.sentence].append(Entity(e.start, e.end, label, prob, extra))
    out = []
    for i, s in enumerate(sentences):
        meta = {k: v for k, v in s.meta.items() if k != "rejected"}
        meta["rejected"] = rejected.get(i, [])
        out.append(replace(s, entities=sorted(finals.get(i, [])), meta=meta))
    return out


# --- scoring -----------------------------------------------------------------------------------------

def gold_label(item: Item, gold: list[set[Span]]) -> str:
    """The gold label of the item's exact span, or ``O``."""
    e = item.entity
    for (a, b, lab) in gold[item.sentence]:
        if a == e.start and b == e.end:
            return lab
    return "O"


def contributions(item: Item, decision: Decision, gold: list[set[Span]], protocol: str) -> tuple[int, int]:
    """Item's ``(true positives, predictions)`` under ``protocol`` after merging ``decision``."""
    answer = gold_label(item, gold)
    if protocol == "paper":
        if decision.kind in (REJECT, UNPARSED, ERROR):
            return 0, 1  # 'Non' and ['O'] are counted as predictions, never correct
        pred = decision.label if decision.kind == LABEL else item.entity.label
        return int(pred == answer and pred != "O"), int(pred != "O")
    label, _, _ = outcome(item, decision)
    return (int(label == answer), 1) if label is not None else (0, 0)


def n_gold_for(items: list[Item], gold: list[set[Span]], protocol: str) -> int:
    """Gold count of the protocol: every gold entity (honest) or the exported gold items (paper)."""
    if protocol == "paper":
        return sum(gold_label(it, gold) != "O" for it in items)
    return sum(len(g) for g in gold)


def paper_scores(items: list[Item], decisions: list[Decision], gold: list[set[Span]]) -> dict:
    """The original's link_metrics (and the same counts for the local labels), smoothing included."""
    def prf(pairs):
        tp = sum(t for t, _ in pairs)
        n_pred = sum(p for _, p in pairs)
        n_gold = n_gold_for(items, gold, "paper")
        p, r = tp / (n_pred + 1e-5), tp / (n_gold + 1e-5)
        return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r + 1e-5), "tp": tp, "n_pred": n_pred, "n_gold": n_gold}

    local = [contributions(it, NOT_ROUTED, gold, "paper") for it in items]
    linked = [contributions(it, d, gold, "paper") for it, d in zip(items, decisions)]
    return {"local": prf(local), "linkner": prf(linked)}


def entity_sets(sentences: list[Sentence]) -> list[set[Span]]:
    return [{(e.start, e.end, e.label) for e in s.entities} for s in sentences]


def llm_accuracy(items: list[Item], decisions: list[Decision], gold: list[set[Span]]) -> dict:
    """How the LLM did on the routed items, against gold and against the local labels they replaced."""
    per = defaultdict(Counter)
    confusion: dict[str, Counter] = defaultdict(Counter)
    for it, d in zip(items, decisions):
        if d is NOT_ROUTED:
            continue
        g = gold_label(it, gold)
        llm_ok = (d.kind == LABEL and d.label == g) or (d.kind == REJECT and g == "O")
        local_ok = it.entity.label == g
        answered = d.kind in (LABEL, REJECT)
        c = per[g]
        c["n"] += 1
        c["llm_correct"] += llm_ok
        c["local_correct"] += local_ok
        c["answered"] += answered
        c["fixed"] += answered and llm_ok and not local_ok
        c["broken"] += answered and local_ok and not llm_ok
        if d.detail is not None:  # fuse: how the LLM alone (its own argmax, w = 1) would have done
            c["fused"] += 1
            c["llm_alone_correct"] += d.detail.llm_answer == g
        confusion[g][d.label if d.kind == LABEL else ("O" if d.kind == REJECT else d.kind)] += 1

    def summary(c: Counter) -> dict:
        n = c["n"]
        out = {"n": n, "answered": c["answered"], "llm_accuracy": c["llm_correct"] / n if n else None,
               "local_accuracy": c["local_correct"] / n if n else None, "fixed": c["fixed"], "broken": c["broken"]}
        if c["fused"]:  # fuse mode: llm_accuracy is the fused decision's; this is the LLM's own answer's
            out["llm_alone_accuracy"] = c["llm_alone_correct"] / n
        return out

    total = sum(per.values(), Counter())
    return {"micro": summary(total), "per_type": {g: summary(c) for g, c in sorted(per.items())},
            "confusion": {g: dict(sorted(c.items())) for g, c in sorted(confusion.items())}}


def score(sentences: list[Sentence], linked: list[Sentence], items: list[Item], decisions: list[Decision],
          gold: list[set[Span]], protocol: str) -> dict:
    """Local-only and LinkNER scores (micro and per type), LLM accuracy on the routed items."""
    local, final = score_entity_sets(gold, entity_sets(sentences)), score_entity_sets(gold, entity_sets(linked))
    out = {"protocol": protocol, "local": local.as_dict(), "linkner": final.as_dict(),
           "delta_f1": final.micro.f1 - local.micro.f1, "llm_on_routed": llm_accuracy(items, decisions, gold)}
    if protocol == "paper":
        out["paper"] = paper_scores(items, decisions, gold)
        out["note"] = ("'paper' = the original link_metrics counts (rejections and unparsed answers count as "
                       "predictions; gold spans predicted O are routed); 'local'/'linkner' = honest entity F1 of "
                       "the same run's final entity sets")
    return out

