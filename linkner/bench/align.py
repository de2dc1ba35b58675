"""Turn other tools' output into CoNLL token spans so that every system is scored by linkner.metrics.

* Hugging Face's ``pipeline("token-classification", aggregation_strategy="simple")`` returns entities
  as character offsets into the text it was given. The benchmark gives it the CoNLL tokens joined by
  single spaces, so each token's offsets are known; an entity covers every token its characters
  overlap (a word-piece entity such as "Ger" of "German" covers the whole word). Where two entities
  then claim the same token, the higher-scoring one wins.
* spaCy runs on the CoNLL words themselves (``Doc(nlp.vocab, words=tokens)``), so its token indices
  are CoNLL indices; only its OntoNotes labels need mapping (:data:`SPACY_TO_CONLL`).
"""

from __future__ import annotations

from linkner.data.types import Entity

# OntoNotes-5 (spaCy en_core_web_*) → CoNLL-2003. Numeric/temporal types have no CoNLL counterpart
# and are dropped. FAC (buildings, airports, bridges) is a location in CoNLL's guidelines; NORP
# (nationalities, religious/political groups), events, products, works of art, laws and languages are
# all CoNLL MISC.
SPACY_TO_CONLL: dict[str, str | None] = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC", "LOC": "LOC", "FAC": "LOC",
    "NORP": "MISC", "EVENT": "MISC", "PRODUCT": "MISC", "WORK_OF_ART": "MISC", "LAW": "MISC", "LANGUAGE": "MISC",
    "DATE": None, "TIME": None, "PERCENT": None, "MONEY": None, "QUANTITY": None, "ORDINAL": None, "CARDINAL": None,
}


def map_spacy_label(label: str) -> str | None:
    """The CoNLL type of an OntoNotes label, ``None`` when it has none (unknown labels: ``None``)."""
    return SPACY_TO_CONLL.get(label)


def spacy_entities(ents: list[tuple[int, int, str]]) -> list[Entity]:
    """``(start_token, end_token, ontonotes_label)`` → CoNLL entities (unmapped types dropped)."""
    out = []
    for start, end, label in ents:
        mapped = map_spacy_label(label)
        if mapped is not None and end > start:
            out.append(Entity(int(start), int(end), mapped))
    return sorted(out)


def char_spans_to_entities(offsets: list[tuple[int, int]], spans: list[tuple[int, int, str, float]]) -> list[Entity]:
    """Character spans ``(start, end, label, score)`` → token entities over tokens at ``offsets``.

    A token belongs to a span when their character ranges overlap. Spans overlapping no token
    (whitespace only) are dropped; of spans that claim a common token the higher score is kept
    (ties: the earlier span), so the result never overlaps.
    """
    cands = []
    for k, (cs, ce, label, score) in enumerate(spans):
        toks = [i for i, (ts, te) in enumerate(offsets) if ts < ce and cs < te]
        if toks and label:
            cands.append((-(score if score is not None else 0.0), k, toks[0], toks[-1] + 1, label))
    taken: set[int] = set()
    out = []
    for _, _, s, e, label in sorted(cands):
        if taken.isdisjoint(range(s, e)):
            taken.update(range(s, e))
            out.append(Entity(s, e, label))
    return sorted(out)


def pipeline_entities(offsets: list[tuple[int, int]], found: list[dict]) -> list[Entity]:
    """Entities of one ``pipeline(..., aggregation_strategy="simple")`` result (dicts with
    ``entity_group``, ``start``, ``end``, ``score``) as token entities."""
    spans = [(int(d["start"]), int(d["end"]), str(d.get("entity_group") or d.get("entity") or ""), float(d.get("score") or 0.0))
             for d in found if d.get("start") is not None and d.get("end") is not None]
    return char_spans_to_entities(offsets, spans)
