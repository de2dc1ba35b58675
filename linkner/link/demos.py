"""In-context demonstrations: k per entity type plus k "not an entity" cases, from a file with gold.

Two ways to choose them, both deterministic for a seed:

* **fixed** (default): one seeded draw, shared by every query — they sit in the system message, so the
  prefix cache keeps them evaluated once;
* **retrieved** (``retrieve=True``): per query, the k examples of each type whose sentences are most
  similar to the query sentence by TF-IDF cosine over lower-cased tokens (an inverted index keeps
  this fast on CoNLL-sized pools; no extra dependencies).

Unlike the original (gold entities only, redrawn at random per query, so the LLM never saw a rejection),
the pool holds negatives: random spans that are not gold entities and overlap none, preferring
capitalised starts because that is what a local tagger's false positives look like. A type with fewer
than k examples in the pool is an error, not a silent shortfall.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass

from linkner.data.predictions import gold_entities as predicted_gold
from linkner.data.types import Entity, Sentence
from linkner.errors import ConfigError, DataError
from linkner.link.prompts import NONE_OPTION, Schema, marked_sentence, render_demo


@dataclass(frozen=True)
class Demo:
    sentence: int  # index into the pool's sentences
    entity: Entity
    option: str


def gold_entities(s: Sentence) -> list[Entity]:
    """Gold of a pool sentence: its ``gold`` field when it is a predictions file, else its entities."""
    gold = predicted_gold(s)
    return list(s.entities) if gold is None else list(gold)


def _negative(s: Sentence, gold: list[Entity], rng: random.Random) -> Entity | None:
    spans = []
    for length in (1, 2, 3):
        for a in range(0, len(s) - length + 1):
            e = Entity(a, a + length, "O")
            if not any(e.overlaps(g) for g in gold) and any(ch.isalpha() for ch in s.tokens[a]):
                spans.append(e)
    if not spans:
        return None
    capital = [e for e in spans if s.tokens[e.start][:1].isupper()]
    return rng.choice(capital or spans)


class DemoBank:
    """The demonstration pool for one schema, and the selection policy."""

    def __init__(self, sentences: list[Sentence], schema: Schema, k: int, seed: int = 13, retrieve: bool = False,
                 source: str = "demonstrations"):
        self.sentences, self.schema, self.k, self.retrieve = sentences, schema, k, retrieve
        rng = random.Random(seed)
        labels = set(schema.labels)
        self.by_option: dict[str, list[Demo]] = defaultdict(list)
        unknown = Counter()
        for i, s in enumerate(sentences):
            gold = gold_entities(s)
            for e in gold:
                if e.label in labels:
                    self.by_option[schema.option_of(e.label)].append(Demo(i, e, schema.option_of(e.label)))
                else:
                    unknown[e.label] += 1
            neg = _negative(s, gold, rng)
            if neg is not None:
                self.by_option[NONE_OPTION].append(Demo(i, neg, NONE_OPTION))
        short = {o: len(self.by_option[o]) for o in schema.options if len(self.by_option[o]) < k}
        if short:
            extra = f" (labels outside the schema: {', '.join(sorted(unknown))})" if unknown else ""
            raise ConfigError(f"{source} has too few examples for {k}-shot: "
                              + ", ".join(f"{o}: {n}" for o, n in short.items()) + extra)
        self.fixed = self._draw(rng) if not retrieve else []
        if retrieve:
            self._index()

    def _draw(self, rng: random.Random) -> list[Demo]:
        out = []
        for option in self.schema.options:
            out += rng.sample(self.by_option[option], self.k)
        return out

    def _index(self) -> None:
        df = Counter()
        self._tf = []
        for s in self.sentences:
            tf = Counter(t.lower() for t in s.tokens)
            self._tf.append(tf)
            df.update(tf.keys())
        n = len(self.sentences)
        self._idf = {t: math.log((1 + n) / (1 + c)) + 1.0 for t, c in df.items()}
        self._norm = [math.sqrt(sum((v * self._idf[t]) ** 2 for t, v in tf.items())) or 1.0 for tf in self._tf]
        self._postings: dict[str, list[int]] = defaultdict(list)
        for i, tf in enumerate(self._tf):
            for t in tf:
                self._postings[t].append(i)

    def similarity(self, tokens: list[str]) -> dict[int, float]:
        """Cosine similarity of ``tokens`` to every pool sentence sharing a token with it."""
        q = Counter(t.lower() for t in tokens)
        qw = {t: v * self._idf.get(t, 0.0) for t, v in q.items()}
        qn = math.sqrt(sum(w * w for w in qw.values())) or 1.0
        scores: dict[int, float] = defaultdict(float)
        for t, w in qw.items():
            if w:
                for i in self._postings.get(t, ()):
                    scores[i] += w * self._tf[i][t] * self._idf[t]
        return {i: v / (qn * self._norm[i]) for i, v in scores.items()}

    def for_query(self, sentence: Sentence) -> list[Demo]:
        """k demonstrations per option for this query (retrieval mode), most similar sentences first.

        A pool sentence identical to the query is skipped, so demos drawn from the evaluated file cannot
        hand the answer over.
        """
        sims = self.similarity(sentence.tokens)
        out = []
        for option in self.schema.options:
            ranked = sorted(self.by_option[option], key=lambda d: (-sims.get(d.sentence, 0.0), d.sentence, d.entity))
            ranked = [d for d in ranked if self.sentences[d.sentence].tokens != sentence.tokens]
            out += ranked[: self.k]
        return out

    def render(self, demos: list[Demo]) -> list[str]:
        return [render_demo(marked_sentence(self.sentences[d.sentence], d.entity),
                            self.sentences[d.sentence].surface(d.entity), d.option) for d in demos]


# The share of the evaluated sentences another file may hold before it is refused as a leak. Not 0: real
# splits share boilerplate (CoNLL-2003 test shares 50 of its 3,453 sentences with dev and 126 with train,
# e.g. "SOCCER - ENGLISH LEAGUE STANDINGS ."), and refusing those would refuse the standard files. A
# user error (the test file passed as dev, a pool that contains the test set) shares nearly all of them.
SHARED_TOLERANCE = 0.10


def shared_sentences(pool: list[Sentence], evaluated: list[Sentence]) -> int:
    """How many evaluated sentences (counted with repeats) also occur in ``pool``, by token tuple."""
    held = {tuple(s.tokens) for s in pool}
    return sum(tuple(s.tokens) in held for s in evaluated)


def refuse_leak(pool: list[Sentence], evaluated: list[Sentence], flag: str, source: str) -> dict:
    """Refuse ``pool`` (dev predictions, demonstrations) if it holds the evaluated sentences; else the
    overlap found, for the run record.

    Runs before any LLM call: tuning on, or showing the LLM, the very sentences being scored would make
    the score a leak, whatever the protocol says.
    """
    n = shared_sentences(pool, evaluated)
    if n > SHARED_TOLERANCE * len(evaluated):
        raise DataError(f"{flag} {source} holds {n} of the {len(evaluated)} evaluated sentences (same tokens); "
                        f"it must not contain the sentences being linked (more than {SHARED_TOLERANCE:.0%} shared "
                        "is refused) — pass a dev or train file, not the test file")
    return {"file": str(source), "shared_sentences": n, "evaluated_sentences": len(evaluated)}


def load_bank(path: str, schema: Schema, k: int, seed: int, retrieve: bool) -> DemoBank:
    """Read a demonstration file (any format the readers know, or a dataset name: its train split)."""
    from linkner.data.registry import load

    try:
        sentences = load(path, split="train")
    except DataError as exc:
        raise DataError(f"--demos-from: {exc}") from None
    return DemoBank(sentences, schema, k, seed, retrieve, source=str(path))
