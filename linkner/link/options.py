"""Multiple-choice questions for fusion: which options an entity gets, how they are asked, how an answer
maps back to a label, and the local probabilities over the same options.

Each routed entity is asked one multiple-choice question: its options are the local model's top-k
labels for the span (from the entity's ``probs`` table written by ``linkner infer``) plus "not an
entity". Every option has a *key*, the answer that names it, and the option's probability is read from
the first answer token's log-probabilities (:mod:`linkner.link.llamacpp`, :mod:`linkner.link.openai_chat`),
so one forward pass (or one generated token) answers.

Two kinds of key (``--option-keys``):

* ``words`` (the default): the key is the type's own option word (``person``, ``location``, ``none`` for
  not an entity) and its probability is the first-token mass of the tokens that start that word and no
  other (:func:`~linkner.link.first_token.key_of_token`). The question ends with ``Type (person, organization, …, none):``. A small
  LLM maps a letter back to its definition poorly: on the WNUT-17 dev questions the 1.5B Qwen alone, and
  the fused decision, were right more often with words, and the question is shorter, so it is also
  faster. The ``-letters`` ablation runs set both on the same predictions (``results/studies/ablation.json``).
* ``letters``: ``A``…; a label's letter is its position in the full schema whatever k is. The runs made
  before word keys existed used letters, and their prompts are kept byte for byte, so their cached
  answers and their re-runs stay identical.

Either way the whole keyed list with definitions sits in the system message, identical for every
question, so a backend's prefix cache keeps it evaluated once; the user message lists only the keys
offered for this span. Demonstrations answer with keys too.
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass

from linkner.data.types import Entity, Sentence
from linkner.errors import ConfigError
from linkner.link.backend import LinkRequest
from linkner.link.config import OPTION_KEYS
from linkner.link.decision import LABEL, REJECT
from linkner.link.first_token import is_word_keys, key_of_token
from linkner.link.fusion import NONE
from linkner.link.parse import _from_json, parse_answer
from linkner.link.prompts import NONE_OPTION, Schema, marked_sentence, render_case

KEYS = string.ascii_uppercase + string.ascii_lowercase
# How the word-key question ends (see :func:`user_message`). Only ``full`` is used by runs; the two shorter
# wordings exist for the question-wording study (:mod:`linkner.studies.wording`), which measured them on dev.
WORDINGS = ("full", "no-list", "marked-only")
NONE_WORD = "none"  # the word key of "not an entity"
_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_LETTER = re.compile(r"^(?:(?:final answer|answer|option|the answer is)\s*[:=\-]?\s*)?\(?([A-Za-z])\)?(?:[.):,]|\s*$)", re.I)


@dataclass(frozen=True)
class Option:
    key: str  # what the answer says: one letter, or the option word
    label: str  # dataset label, or "O" for not an entity
    text: str  # the option word shown to the LLM


def lettered(schema: Schema) -> list[Option]:
    """Every option of the schema with its stable letter (types in schema order, then not an entity)."""
    n = len(schema.types) + 1
    if n > len(KEYS):
        raise ConfigError(f"--option-keys letters asks with one letter per option, so at most {len(KEYS) - 1} "
                          f"labels; this schema has {n - 1} (use --option-keys words or --decision replace)")
    opts = [Option(KEYS[i], t.label, t.option) for i, t in enumerate(schema.types)]
    return opts + [Option(KEYS[len(schema.types)], NONE, NONE_OPTION)]


def worded(schema: Schema) -> list[Option]:
    """Every option of the schema keyed by its own word (types in schema order, then ``none``).

    Two options whose answers begin with the same word (``Person``/``person``, ``new``/``new york``,
    ``political party``/``political movement``, a type called ``none``) cannot be told apart by a first
    token, so that is a config error, raised before any model is loaded. A word that merely extends
    another (``product``/``production``) is allowed: the whole word ``product`` counts for product, and
    whether some token starts ``production`` alone depends on the tokenizer, which the in-process backend
    checks when the model is loaded (:meth:`linkner.link.llamacpp.LlamaCppBackend._word_tokens`).
    """
    opts = [Option(t.option, t.label, t.option) for t in schema.types] + [Option(NONE_WORD, NONE, NONE_OPTION)]
    for i, a in enumerate(opts):
        for b in opts[i + 1:]:
            x, y = sorted((a.key.lower(), b.key.lower()), key=len)
            if x == y or (y.startswith(x) and not y[len(x)].isalpha()) or x.split()[0] == y.split()[0]:
                # equal; or one is the other plus more words ("new" / "new york"); or they share a first
                # word ("political party" / "political movement"): no first token separates them
                raise ConfigError(f"--option-keys words: the options {a.label!r} ({a.key!r}) and {b.label!r} "
                                  f"({b.key!r}) begin with the same word, so their first tokens cannot tell them "
                                  "apart; use --option-keys letters (or rename one in a --types file)")
    return opts


def keyed(schema: Schema, keys: str = "words") -> list[Option]:
    """Every option of the schema with its key (``keys``: one of :data:`OPTION_KEYS`).

    Built and checked once per schema and key kind: every question and every answer asks for them."""
    if keys not in OPTION_KEYS:
        raise ConfigError(f"option_keys must be one of {', '.join(OPTION_KEYS)}, not {keys!r}")
    return list(_keyed(schema, keys))


@functools.lru_cache(maxsize=64)
def _keyed(schema: Schema, keys: str) -> tuple[Option, ...]:
    return tuple(worded(schema) if keys == "words" else lettered(schema))


def offered(schema: Schema, entity: Entity, k: int | None, keys: str = "words") -> list[Option]:
    """The options for ``entity``: its top-k labels by local probability (all when ``k`` is None; ties in
    schema order), plus not an entity, in schema order."""
    opts = keyed(schema, keys)
    labels = opts[:-1]
    if k is not None and k < len(labels):
        probs = entity.extra.get("probs") or {}
        if probs:
            rank = sorted(range(len(labels)), key=lambda i: (-float(probs.get(labels[i].label, 0.0)), i))
        else:  # no table: the local label first, the others in schema order
            rank = sorted(range(len(labels)), key=lambda i: (labels[i].label != entity.label, i))
        keep = set(rank[:k])
        labels = [o for i, o in enumerate(labels) if i in keep]
    return [*labels, opts[-1]]


def local_distribution(entity: Entity, options: list[Option]) -> dict[str, float]:
    """The local model's probabilities over the offered options, renormalised (key ``"O"``: P(O)).

    Without a ``probs`` table (predictions from elsewhere) the entity's score goes to its label and the
    rest of the mass is spread evenly, so fusion still has something honest to weigh.
    """
    probs = entity.extra.get("probs") or {}
    if probs:
        p = {o.label: max(float(probs.get(o.label, 0.0)), 0.0) for o in options}
    else:
        own = float(entity.score) if entity.score is not None else 0.5
        rest = (1.0 - own) / max(1, len(options) - 1)
        p = {o.label: (own if o.label == entity.label else rest) for o in options}
    total = sum(p.values())
    return {k: v / total for k, v in p.items()} if total > 0 else {k: 1.0 / len(p) for k in p}


def answer_schema(options: list[Option]) -> dict:
    """A valid answer as JSON (for backends that constrain output with a schema, e.g. Ollama)."""
    return {"type": "object", "properties": {"answer": {"type": "string", "enum": [o.key for o in options]}},
            "required": ["answer"], "additionalProperties": False}


def system_message(schema: Schema, fixed_demos: list[str] = (), keys: str = "words") -> str:
    """The shared part of every question: the task, every keyed option with its definition, the format.

    The two key kinds differ only in how options are listed and answered (the letter wording is that of
    the committed letter runs, character for character)."""
    words = keys == "words"
    noun, verdict = ("types", f"answer {NONE_WORD}.") if words else ("options", f'choose "{NONE_OPTION}".')
    lines = [
        "You review the output of a named-entity tagger. You get one sentence in which one span is marked with "
        f"[[ and ]]. Decide what type of named entity the marked span is, using the {noun} below. If the span "
        "is not a complete name of any of these types (an ordinary word, part of a name, or a name with extra "
        f"words), {verdict}",
    ]
    if schema.source_note:
        lines.append(schema.source_note)
    defs = {t.label: t.definition() for t in schema.types}
    opts = keyed(schema, keys)
    if words:
        lines += ["", "Types:"] + [f"- {o.key}: {defs[o.label]}" for o in opts[:-1]]
        lines += [f"- {NONE_WORD}: the span is not a named entity of the types above.", "",
                  "Reply with the type name only."]
    else:
        lines += ["", "Options:"] + [f"{o.key}. {o.text}: {defs[o.label]}" for o in opts[:-1]]
        lines += [f"{opts[-1].key}. {NONE_OPTION}: the span is not a named entity of the types above.", "",
                  "Only some options may be offered for a span. Reply with the letter of one offered option, "
                  "nothing else."]
    if fixed_demos:
        lines += ["", "Solved examples:", "", "\n\n".join(fixed_demos)]
    return "\n".join(lines)


def _is_words(options: list[Option]) -> bool:
    return is_word_keys(o.key for o in options)


def check_wording(wording: str, words: bool, demos: bool = False) -> None:
    """Refuse a wording this question cannot be asked in (:class:`ConfigError`): an unknown one, a short
    one with letter keys (they need the offered options listed) or with demonstrations (those are
    rendered with the full question). One check for :func:`user_message` and, before any call,
    :class:`MultipleChoice`."""
    if wording not in WORDINGS:
        raise ConfigError(f"wording must be one of {', '.join(WORDINGS)}, not {wording!r}")
    if wording != "full" and (not words or demos):
        why = ("letter keys need the offered options listed" if not words
               else "demonstrations are rendered with the full question")
        raise ConfigError(f"the {wording!r} wording needs word keys and no demonstrations: {why}")


def user_message(sentence: Sentence, entity: Entity, options: list[Option], query_demos: list[str] = (),
                 wording: str = "full") -> str:
    """The question: demonstrations if any, the marked sentence, the offered keys (the answer comes next).

    ``wording`` (word keys only; one of :data:`WORDINGS`) is how it ends. ``full``: the span repeated on a
    ``Span:`` line and the offered keys listed, ``Type (person, …, none):``. ``no-list`` drops the list,
    ``marked-only`` also the ``Span:`` line (the span is marked in the sentence). The shorter two evaluate
    fewer prompt tokens, but on dev they were not shown to be as accurate as ``full``
    (``results/wording/question_wording.json``), so runs ask the full question.
    """
    words = _is_words(options)
    check_wording(wording, words)
    parts = []
    if query_demos:
        parts.append("Solved examples:\n\n" + "\n\n".join(query_demos) + "\n\nNow the case to solve:")
    marked = marked_sentence(sentence, entity)
    parts.append(f"<sentence>{marked}</sentence>" if wording == "marked-only"
                 else render_case(marked, sentence.surface(entity)))
    if not words:
        parts.append("Offered options: " + "; ".join(f"{o.key}. {o.text}" for o in options))
        parts.append("Answer (one letter):")
    elif wording == "full":
        parts.append("Type (" + ", ".join(o.key for o in options) + "):")
    else:
        parts.append("Type:")
    return "\n".join(parts)


def render_demos(bank, demos, keys: str = "words") -> list[str]:
    """Demonstrations of a :class:`linkner.link.demos.DemoBank`, answered with their key."""
    key = {o.text: o.key for o in keyed(bank.schema, keys)}
    lead = "Type" if keys == "words" else "Answer"
    return [f"{render_case(marked_sentence(bank.sentences[d.sentence], d.entity), bank.sentences[d.sentence].surface(d.entity))}"
            f"\n{lead}: {key[d.option]}" for d in demos]


def build_request(schema: Schema, sentence: Sentence, entity: Entity, options: list[Option], fixed_demos: list[str] = (),
                  query_demos: list[str] = (), wording: str = "full") -> LinkRequest:
    """The chat request of one question; ``choices`` are the offered keys whose probabilities we want."""
    keys = "words" if _is_words(options) else "letters"
    messages = [{"role": "system", "content": system_message(schema, list(fixed_demos), keys)},
                {"role": "user", "content": user_message(sentence, entity, options, list(query_demos), wording)}]
    req = LinkRequest.of(messages, answer_schema(options))
    return LinkRequest(req.messages, req.answer_schema, tuple(o.key for o in options),
                       tuple(o.key for o in keyed(schema, keys)))


def parse_choice(raw: str | None, options: list[Option], schema: Schema) -> str | None:
    """The offered option an answer names (its label, ``"O"`` for not an entity), or ``None``.

    Accepted: the key (a word key in any case; a letter as ``B``, ``(B)``, ``B.``, ``Answer: B``,
    ``{"answer": "B"}``) or an option word or synonym (``location``); an answer naming an option that was
    not offered is ``None`` (unparsed).
    """
    if raw is None:
        return None
    text = _THINK.sub(" ", raw).strip()
    inner = _from_json(text)
    text = (inner if inner is not None else text).strip().strip("\"'`*")
    by_key = {o.key: o.label for o in options}
    offered_labels = {o.label for o in options}
    if text in by_key:
        return by_key[text]
    if _is_words(options):
        space = {o.key: o.label for o in keyed(schema)}
        k = key_of_token(text, tuple(space))  # "Person", "none.", "organ"
        if k is not None:
            return space[k] if space[k] in offered_labels else None  # a name that was not offered: unparsed
    m = _LETTER.match(text)
    if m:
        letter = m.group(1)
        if letter not in by_key and len(schema.types) < 26:
            letter = letter.upper()  # up to 26 options the keys are capitals; "b" means B
        if letter in by_key:
            return by_key[letter]
        if len(text) <= 3:
            return None  # a letter that was not offered
    d = parse_answer(text, schema)
    if d.kind == LABEL and d.label in offered_labels:
        return d.label
    if d.kind == REJECT:
        return NONE
    return None


def option_probs(record_probs: dict[str, float] | None, options: list[Option]) -> dict[str, float] | None:
    """Key probabilities from a backend, as label probabilities over the offered options (or ``None``)."""
    if not record_probs:
        return None
    p = {o.label: float(record_probs.get(o.key, 0.0)) for o in options}
    total = sum(p.values())
    return {k: v / total for k, v in p.items()} if total > 0 else None


class MultipleChoice:
    """The fuse-mode asker: builds each entity's question and turns answers into fused decisions.

    Holds the run's :class:`~linkner.link.fusion.Fusion` state (w, r): :meth:`fit` sets it from the dev
    answers, :meth:`decide` applies it. When an answer comes without option probabilities (a backend
    without log-probabilities), the fallback to parsed answers is said once, on the ``linkner.link``
    logger, and recorded in :meth:`report`.
    """

    def __init__(self, schema: Schema, k: int | None, fixed_w: float | None, bank=None, keys: str = "words",
                 wording: str = "full"):
        from linkner.link.fusion import Fusion

        keyed(schema, keys)  # too many labels for letters, or two options answered alike, fails here, before any call
        check_wording(wording, keys == "words", bank is not None)
        self.schema, self.k, self.bank, self.keys, self.wording = schema, k, bank, keys, wording
        self.fusion = Fusion(fixed_w)
        self.fixed = render_demos(bank, bank.fixed, keys) if bank is not None and not bank.retrieve else []
        self.note: str | None = None

    def options(self, entity: Entity) -> list[Option]:
        return offered(self.schema, entity, self.k, self.keys)

    def request(self, sentence: Sentence, entity: Entity) -> LinkRequest:
        query = (render_demos(self.bank, self.bank.for_query(sentence), self.keys)
                 if self.bank is not None and self.bank.retrieve else [])
        return build_request(self.schema, sentence, entity, self.options(entity), self.fixed, query, self.wording)

    def choice(self, entity: Entity, answer):
        """The :class:`~linkner.link.fusion.Choice` of one answered entity (``answer``: a LinkAnswer)."""
        from linkner.link.fusion import Choice

        opts = self.options(entity)
        return Choice(local_distribution(entity, opts), option_probs(answer.option_probs, opts),
                      parse_choice(answer.raw, opts, self.schema), entity.label)

    def decide(self, entity: Entity, answer):
        """The fused :class:`~linkner.link.parse.Decision` (a failed request stays an ``error`` decision)."""
        if answer.error is not None:
            return answer.decision
        c = self.choice(entity, answer)
        if c.llm is None and c.answer is not None and self.note is None:
            import logging

            self.note = ("the LLM backend returned no option log-probabilities; fusing its parsed answers, "
                         "weighted by their dev reliability")
            logging.getLogger("linkner.link").warning("linkner link: %s", self.note)
        return self.fusion.decide(c)

    def fit(self, decisions: list, gold: list[str]) -> list:
        """Fit w and r on the answered dev items (``gold``: each item's gold label or ``"O"``); the
        decisions re-fused with them (unrouted and failed items unchanged)."""
        from linkner.link.fusion import fuse

        pairs = [(d.detail, g) for d, g in zip(decisions, gold, strict=True) if d.detail is not None]
        self.fusion.fit([c for c, _ in pairs], [g for _, g in pairs])
        self.fusion.sources.clear()  # from here on, count the test answers only
        return [fuse(d.detail, self.fusion.w, self.fusion.r) if d.detail is not None else d for d in decisions]

    def report(self) -> dict:
        return {"options_k": self.k, "option_keys": self.keys, **self.fusion.report(), "fallback": self.note}
