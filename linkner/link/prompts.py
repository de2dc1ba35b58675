"""What the LLM is asked: per-dataset entity-type definitions and the chat messages for one entity.

Layout, chosen for llama.cpp/Ollama prefix caching: the system message holds everything that is the
same for every query (task, type definitions, the answer format, fixed demonstrations), so its tokens
are evaluated once and reused; the user message holds what changes (retrieved demonstrations, the
sentence with the span marked, the question). The sentence is fenced by ``<sentence>`` tags and the
answer is a constrained JSON enum, so text inside a sentence cannot change the task.

The definitions are written for this project (the original's wording is not reused). Each type also
lists synonyms that :mod:`linkner.link.parse` accepts in free-text answers. A user's own labels get their
definitions from a types file (:mod:`linkner.link.types_file`), which may add examples and
counter-examples; the built-in schemas have none, so their prompts (and cached answers) are unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from linkner.data.types import Entity, Sentence

NONE_OPTION = "not an entity"
CONTEXT_TOKENS = 80  # tokens kept on each side of the span; very long inputs are windowed


@dataclass(frozen=True)
class TypeInfo:
    """One entity type as the LLM sees it: dataset label, option word, definition, accepted synonyms."""

    label: str
    option: str
    description: str
    synonyms: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    counter_examples: tuple[str, ...] = ()

    def definition(self) -> str:
        """One compact prompt line: description, then examples and counter-examples when there are any.

        Examples are separated by ``;`` rather than quoted, so a counter-example may carry its reason in
        parentheses ("Parliament (an institution, not a party)") and still read naturally.
        """
        text = self.description.strip()
        if self.examples or self.counter_examples:
            text = text if text[-1:] in ".!?" else text + "."
        if self.examples:
            text += " Examples: " + "; ".join(self.examples) + "."
        if self.counter_examples:
            text += " Not this type: " + "; ".join(self.counter_examples) + "."
        return text


@dataclass(frozen=True)
class Schema:
    """The types of one dataset and the text that introduces them."""

    name: str
    source_note: str
    types: tuple[TypeInfo, ...]

    @property
    def labels(self) -> list[str]:
        return [t.label for t in self.types]

    @property
    def options(self) -> list[str]:
        """Answer options, in prompt order, ending with the rejection option."""
        return [t.option for t in self.types] + [NONE_OPTION]

    def option_of(self, label: str) -> str:
        for t in self.types:
            if t.label == label:
                return t.option
        raise KeyError(label)

    def answer_schema(self) -> dict:
        """JSON schema of a valid answer: an object whose ``type`` is one of the options."""
        return {"type": "object", "properties": {"type": {"type": "string", "enum": self.options}},
                "required": ["type"], "additionalProperties": False}


_CONLL = (
    TypeInfo("PER", "person", "a name of a particular human being, real or fictional; a surname or first name used "
             "on its own counts too.", ("people", "human", "individual", "persons", "personal name", "name of a person")),
    TypeInfo("ORG", "organization", "a name of an organised body of people: a company, sports team or club, political "
             "party, ministry or other government body, armed force, university, newspaper or news agency, band.",
             ("organisation", "organizations", "company", "corporation", "institution", "team", "club", "agency",
              "party", "business", "firm")),
    TypeInfo("LOC", "location", "a name of a place: a continent, country, state, region, city, town, river, sea, "
             "mountain, or a named building or venue used as a place (a stadium, an airport).",
             ("place", "places", "country", "city", "geographical location", "geo-location", "gpe", "region")),
    TypeInfo("MISC", "miscellaneous", "a proper name of any other kind: a nationality or other word formed from a "
             "place or group name (\"Dutch\", \"Christian\"), a language, an event or competition, a war, a title of "
             "a book, film or song, a product or brand, an award.",
             ("misc", "other", "nationality", "event", "demonym", "adjective", "product", "work of art")),
)

_WNUT17 = (
    TypeInfo("person", "person", "a name of a particular person or fictional character.",
             ("people", "per", "human", "individual")),
    TypeInfo("location", "location", "a name of a place: country, city, neighbourhood, street, building, landmark or "
             "natural feature.", ("place", "loc", "geo-loc", "country", "city")),
    TypeInfo("corporation", "corporation", "a name of a company or business (including a brand name used for the "
             "company itself).", ("company", "business", "firm", "corp", "organization", "organisation")),
    TypeInfo("group", "group", "a name of a group of people that is not a company: a band, sports team, political "
             "party, club, charity or online community.", ("band", "team", "org", "organisation group")),
    TypeInfo("creative-work", "creative work", "a title of a creative work: a song, album, film, TV series, book, "
             "video game, painting.", ("creative-work", "creative_work", "work", "title", "movie", "song", "film")),
    TypeInfo("product", "product", "a name of a product or service you can buy or use: a device, car, app, software, "
             "drink or food brand as a product.", ("item", "device", "app", "software")),
)

_WNUT16 = (
    TypeInfo("company", "company", "a name of a business or brand acting as a company.",
             ("corporation", "business", "firm", "brand")),
    TypeInfo("facility", "facility", "a name of a building or installation: stadium, airport, shop, restaurant, "
             "museum, school building, hospital.", ("building", "venue", "fac")),
    TypeInfo("geo-loc", "geo-location", "a name of a geographical or political place: country, state, city, "
             "neighbourhood, river, mountain.", ("geo-loc", "location", "place", "loc", "country", "city")),
    TypeInfo("movie", "movie", "a title of a film.", ("film", "movie title")),
    TypeInfo("musicartist", "music artist", "a name of a musician, singer, rapper, DJ or band.",
             ("musicartist", "music-artist", "musician", "singer", "band", "artist")),
    TypeInfo("other", "other", "a named entity of any kind not listed here: an event, holiday, organisation that is "
             "not a company or team, a title that is not a film or TV show.", ("misc", "miscellaneous")),
    TypeInfo("person", "person", "a name of a person who is not primarily a music artist: athlete, actor, "
             "politician, a friend.", ("people", "per", "human", "individual")),
    TypeInfo("product", "product", "a name of a product: phone, software, video game, car, food or drink.",
             ("item", "device", "app")),
    TypeInfo("sportsteam", "sports team", "a name of a sports team or club.", ("sportsteam", "sports-team", "team", "club")),
    TypeInfo("tvshow", "tv show", "a title of a television series or programme.", ("tvshow", "tv-show", "television show", "show")),
)

_TWITTER = (
    TypeInfo("PER", "person", "a name of a particular person or fictional character, or a user name that stands for "
             "a person.", ("people", "human", "individual")),
    TypeInfo("LOC", "location", "a name of a place: country, city, region, street, building or natural feature.",
             ("place", "country", "city", "geo-location")),
    TypeInfo("ORG", "organization", "a name of an organised body: company, sports team, band, school, government "
             "body, news outlet; or a user name that stands for one.",
             ("organisation", "company", "corporation", "institution", "team", "club", "band")),
    TypeInfo("OTHER", "other", "a named entity of any other kind: an event, product, title of a work, nationality, "
             "holiday.", ("misc", "miscellaneous", "event", "product")),
)

_NEWS = "The sentence comes from a news article."
_SOCIAL = "The sentence comes from social media, so spelling, casing and grammar may be informal."

SCHEMAS: dict[str, Schema] = {
    "conll03": Schema("conll03", _NEWS, _CONLL),
    "wnut17": Schema("wnut17", _SOCIAL, _WNUT17),
    "wnut16": Schema("wnut16", _SOCIAL, _WNUT16),
    "twitterner": Schema("twitterner", _SOCIAL, _TWITTER),
}


def option_word(label: str) -> str:
    """The answer word derived from a label name (``creative_work`` → ``creative work``)."""
    return label.lower().replace("_", " ").replace("-", " ")


def generic_type(label: str) -> TypeInfo:
    """What the LLM gets for a label nobody described: its name, and nothing else."""
    return TypeInfo(label, option_word(label), f"an entity of the type called \"{label}\".")


def generic_schema(labels: list[str]) -> Schema:
    """A schema for an unknown dataset, built from its label names alone."""
    return Schema("generic", "", tuple(generic_type(lab) for lab in sorted(labels)))


def resolve_schema(dataset: str | None, labels: list[str]) -> Schema:
    """The schema of ``dataset`` (``conll03-typos`` etc. share CoNLL's), or one matching ``labels``.

    Falling back to a generic schema is safe because the options and parsing are built from it.
    """
    if dataset:
        for name, schema in SCHEMAS.items():
            if dataset == name or dataset.startswith(name + "-"):
                return schema
    wanted = set(labels)
    for schema in SCHEMAS.values():
        if wanted and wanted == set(schema.labels):
            return schema
    if dataset and not wanted:
        return generic_schema([])
    return generic_schema(labels)


# --- rendering ---------------------------------------------------------------------------------------

def _fence(text: str) -> str:
    # A sentence must not be able to close its own fence.
    return text.replace("<sentence>", "< sentence>").replace("</sentence>", "</ sentence>")


def marked_sentence(sentence: Sentence, entity: Entity) -> str:
    """The sentence with the span wrapped in ``[[ ]]``, windowed to ``CONTEXT_TOKENS`` on each side."""
    lo = max(0, entity.start - CONTEXT_TOKENS)
    hi = min(len(sentence), entity.end + CONTEXT_TOKENS)
    if sentence.text is not None and sentence.token_offsets is not None:
        t, off = sentence.text, sentence.token_offsets
        a, b = off[entity.start][0], off[entity.end - 1][1]
        left, right = t[off[lo][0]:a], t[b:off[hi - 1][1]]
        body = f"{left}[[{t[a:b]}]]{right}"
    else:
        toks = sentence.tokens
        body = " ".join([*toks[lo:entity.start], "[[" + " ".join(toks[entity.start:entity.end]) + "]]", *toks[entity.end:hi]])
    prefix, suffix = ("… " if lo > 0 else ""), (" …" if hi < len(sentence) else "")
    return prefix + _fence(body) + suffix


def answer_json(option: str) -> str:
    return json.dumps({"type": option})


def render_case(sentence_text: str, span_text: str) -> str:
    return f"<sentence>{sentence_text}</sentence>\nSpan: \"{span_text}\""


def render_demo(sentence_text: str, span_text: str, option: str) -> str:
    return f"{render_case(sentence_text, span_text)}\nAnswer: {answer_json(option)}"


def system_message(schema: Schema, fixed_demos: list[str]) -> str:
    """The part of the prompt shared by every query (evaluated once, then served from the prefix cache)."""
    lines = [
        "You review the output of a named-entity tagger. You get one sentence in which one span is marked with "
        "[[ and ]]. Decide what type of named entity the marked span is, using the definitions below. If the span "
        "is not a complete name of any of these types (an ordinary word, part of a name, or a name with extra "
        "words), answer \"" + NONE_OPTION + "\".",
    ]
    if schema.source_note:
        lines.append(schema.source_note)
    lines.append("")
    lines.append("Types:")
    lines.extend(f"- {t.option}: {t.definition()}" for t in schema.types)
    lines.append(f"- {NONE_OPTION}: the span is not a named entity of the types above.")
    lines.append("")
    lines.append('Reply with JSON only: {"type": "<one of: ' + ", ".join(schema.options) + '>"}.')
    if fixed_demos:
        lines += ["", "Solved examples:", ""]
        lines.append("\n\n".join(fixed_demos))
    return "\n".join(lines)


def user_message(schema: Schema, sentence: Sentence, entity: Entity, query_demos: list[str]) -> str:
    """The query: optional retrieved demonstrations, then the marked sentence and the question."""
    parts = []
    if query_demos:
        parts.append("Solved examples:\n\n" + "\n\n".join(query_demos) + "\n\nNow the case to solve:")
    parts.append(render_case(marked_sentence(sentence, entity), sentence.surface(entity)))
    parts.append("Options: " + ", ".join(schema.options))
    parts.append("Answer:")
    return "\n".join(parts)


def build_messages(schema: Schema, sentence: Sentence, entity: Entity, fixed_demos: list[str] = (),
                   query_demos: list[str] = ()) -> list[dict]:
    """Chat messages for one routed entity (fixed part first, the sentence and question last)."""
    return [{"role": "system", "content": system_message(schema, list(fixed_demos))},
            {"role": "user", "content": user_message(schema, sentence, entity, list(query_demos))}]
