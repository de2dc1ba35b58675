"""The answer parser against the messy replies LLMs really give (a table, no LLM needed)."""

from __future__ import annotations

import pytest

from linkner.link.decision import LABEL, REJECT, UNPARSED
from linkner.link.parse import parse_answer, vocabulary
from linkner.link.prompts import SCHEMAS, generic_schema

CONLL = SCHEMAS["conll03"]

CASES = [
    # constrained JSON, as llama.cpp / Ollama return it
    ('{"type": "location"}', "LOC"),
    ('{ "type": "person"}', "PER"),
    ('{"type":"not an entity"}', None),
    ('{"Type": "ORGANIZATION"}', "ORG"),
    ('```json\n{"type": "miscellaneous"}\n```', "MISC"),
    ('{"label": "LOC"}', "LOC"),
    ('{"answer": null}', None),
    ('{"entity_type": "Organisation"}', "ORG"),
    ('"person"', "PER"),
    # bare words: case, whitespace, punctuation, quotes, brackets
    ("Location", "LOC"),
    ("  location.\n", "LOC"),
    ("'Person'", "PER"),
    ("<Organization>", "ORG"),
    ("[MISC]", "MISC"),
    ("**Miscellaneous**", "MISC"),
    ("PER", "PER"),
    ("loc", "LOC"),
    # prefixes and sentences
    ("Answer: organisation", "ORG"),
    ("Entity type: Location", "LOC"),
    ("The entity type is Person.", "PER"),
    ("Berlin is a city, so the answer is location.", "LOC"),
    ("It is not a person but a location.", "LOC"),
    # synonyms
    ("company", "ORG"),
    ("Organisation", "ORG"),
    ("people", "PER"),
    ("nationality", "MISC"),
    ("place", "LOC"),
    ("country", "LOC"),
    # rejections
    ("None", None),
    ("not an entity", None),
    ("Not an entity.", None),
    ("Non-entity", None),
    ("O", None),
    ("no entity", None),
    ("N/A", None),
    ("This span is not a named entity.", None),
    # thinking models
    ("<think>Berlin could be a person or a place... it's the capital.</think>\nlocation", "LOC"),
    ("<think>hmm</think>{\"type\": \"organization\"}", "ORG"),
]

UNPARSEABLE = [
    "",
    "   ",
    None,
    "I am not sure.",
    "<think>still thinking about whether this is a person",
    "Either a person or a location.",
    "BUSH EMPEROR",
    '{"type": "banana"}',
    "{not json",
]


@pytest.mark.parametrize("raw, label", CASES)
def test_parses_messy_answers(raw, label):
    d = parse_answer(raw, CONLL)
    if label is None:
        assert d.kind == REJECT, (raw, d)
    else:
        assert (d.kind, d.label) == (LABEL, label), raw


@pytest.mark.parametrize("raw", UNPARSEABLE)
def test_unparseable_answers_are_reported_not_guessed(raw):
    assert parse_answer(raw, CONLL).kind == UNPARSED


def test_table_is_big_enough():
    assert len(CASES) + len(UNPARSEABLE) >= 30


@pytest.mark.parametrize(
    "schema, raw, label",
    [
        ("wnut17", "creative work", "creative-work"),
        ("wnut17", "Creative-Work", "creative-work"),
        ("wnut17", '{"type": "corporation"}', "corporation"),
        ("wnut17", "company", "corporation"),
        ("wnut17", "band", "group"),
        ("wnut16", "geo-loc", "geo-loc"),
        ("wnut16", "music artist", "musicartist"),
        ("wnut16", "TV show", "tvshow"),
        ("wnut16", "sports team", "sportsteam"),
        ("twitterner", "Other", "OTHER"),
        ("twitterner", "organisation", "ORG"),
    ],
)
def test_other_schemas(schema, raw, label):
    d = parse_answer(raw, SCHEMAS[schema])
    assert (d.kind, d.label) == (LABEL, label)


def test_generic_schema_from_label_names():
    schema = generic_schema(["DRUG", "GENE_OR_PROTEIN"])
    assert schema.options == ["drug", "gene or protein", "not an entity"]
    assert parse_answer('{"type": "gene or protein"}', schema).label == "GENE_OR_PROTEIN"
    assert parse_answer("Gene_or_protein", schema).label == "GENE_OR_PROTEIN"
    assert parse_answer("none", schema).kind == REJECT


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_option_parses_to_its_own_label(name):
    """The enum the LLM is constrained to must always parse back, and no spelling maps to two types."""
    schema = SCHEMAS[name]
    for t in schema.types:
        for raw in (t.option, f'{{"type": "{t.option}"}}', t.label):
            assert parse_answer(raw, schema).label == t.label, (name, raw)
    spellings = [{w.lower().replace("_", " ") for w in (t.option, t.label, *t.synonyms)} for t in schema.types]
    for i, a in enumerate(spellings):
        for b in spellings[i + 1:]:
            assert not a & b, (name, a & b)
    assert len(vocabulary(schema)) >= len(schema.types)
    assert parse_answer('{"type": "not an entity"}', schema).kind == REJECT
